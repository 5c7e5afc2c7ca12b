# SPDX-License-Identifier: GPL-3.0-or-later
"""The same scene exported on every Blender of the matrix gives the same files, metadata
keys and arrays (within render noise) as on the reference version.

Run by tools/matrix.py, which exports the scene with each version and sets
GT_MATRIX_EXPORTS; in an ordinary test run these tests are skipped.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

EXPORTS = os.environ.get("GT_MATRIX_EXPORTS")
REFERENCE = os.environ.get("GT_MATRIX_REFERENCE", "5.2.3")
pytestmark = pytest.mark.skipif(not EXPORTS, reason="run by tools/matrix.py (GT_MATRIX_EXPORTS)")
VERSIONS = sorted(p.name for p in Path(EXPORTS).iterdir() if p.is_dir() and p.name != REFERENCE) if EXPORTS else []
# Keys whose values name the run, not the scene.
RUN_KEYS = {"blender_version", "addon"}


def folder(version):
    return Path(EXPORTS) / version / "ground_truth"


def files(version):
    root = folder(version)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(params=VERSIONS)
def version(request):
    return request.param


def test_same_files(version):
    assert files(version) == files(REFERENCE)


def test_same_metadata(version):
    meta = json.loads((folder(version) / "meta.json").read_text())
    reference = json.loads((folder(REFERENCE) / "meta.json").read_text())
    assert meta.keys() == reference.keys()
    assert {k: v for k, v in meta.items() if k not in RUN_KEYS} == {
        k: v for k, v in reference.items() if k not in RUN_KEYS
    }


@pytest.mark.parametrize("frame", [1, 2, 3])
def test_same_arrays_within_render_noise(version, frame):
    a = np.load(folder(version) / "npz" / f"{frame:06d}.npz")
    b = np.load(folder(REFERENCE) / "npz" / f"{frame:06d}.npz")
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
    np.testing.assert_allclose(a["K"], b["K"], atol=1e-9)
    np.testing.assert_allclose(a["world_to_camera"], b["world_to_camera"], atol=1e-6)
    assert a["frame"] == b["frame"] == frame

    both = np.isfinite(a["depth"]) & np.isfinite(b["depth"])
    assert (np.isfinite(a["depth"]) == np.isfinite(b["depth"])).mean() > 0.995
    relative = np.abs(a["depth"][both] - b["depth"][both]) / b["depth"][both]
    assert np.median(relative) < 1e-5 and np.quantile(relative, 0.99) < 1e-2
    for key in ("object_index", "material_index", "occlusion_forward", "occlusion_backward"):
        assert (a[key] == b[key]).mean() > 0.995, key
    cosine = np.sum(a["normal"][both] * b["normal"][both], axis=-1)
    assert np.median(np.degrees(np.arccos(np.clip(cosine, -1, 1)))) < 0.1
    for key in ("flow_forward", "flow_backward"):
        defined = np.isfinite(a[key][..., 0]) & np.isfinite(b[key][..., 0])
        error = np.linalg.norm(a[key][defined] - b[key][defined], axis=-1)
        assert np.median(error) < 0.02, key  # the accuracy bound against geometry
    assert np.median(np.abs(a["emission"] - b["emission"])) < 0.01
    np.testing.assert_array_equal(a["box_index"], b["box_index"])
    assert np.abs(a["boxes"].astype(int) - b["boxes"]).max() <= 1


@pytest.mark.parametrize("frame", [1, 3])
def test_exr_matches_npz_on_every_version(frame):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import conftest  # noqa: F401  (the add-on's source as ground_truth)
    from ground_truth.exporters.frame_io import load_frame

    for version in [*VERSIONS, REFERENCE]:
        npz = load_frame(folder(version) / "npz" / f"{frame:06d}.npz")
        exr = load_frame(folder(version) / "exr" / f"{frame:06d}.exr")
        assert sorted(npz) == sorted(exr)
        for key in npz:
            np.testing.assert_array_equal(npz[key], exr[key], err_msg=f"{version} {key}")
