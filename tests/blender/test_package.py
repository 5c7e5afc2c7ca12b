# SPDX-License-Identifier: GPL-3.0-or-later
"""The installable zips hold what a user's Blender needs and nothing else."""

import subprocess
import sys
import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import build
import numpy as np
from synthetic_run import write_view

ROOT = Path(__file__).resolve().parents[2]


def manifest_wheels() -> set[str]:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    return {Path(entry).name for entry in manifest["wheels"]}


def test_the_extension_zip_holds_the_add_on_and_exactly_the_manifest_wheels(addon):
    with zipfile.ZipFile(addon) as archive:
        names = archive.namelist()
    assert not [name for name, count in Counter(names).items() if count > 1]
    assert {"blender_manifest.toml", "__init__.py", "cli.py", "loader.py"} <= set(names)
    assert {Path(name).name for name in names if name.endswith(".whl")} == manifest_wheels()
    # Top level: modules, packages, the manifest, the README and the wheels; no dev files.
    packages = {name.split("/")[0] for name in names if name.count("/") == 1 and name.endswith("/__init__.py")}
    stray = {name.split("/")[0] for name in names} - packages - {"wheels", "README.md", "blender_manifest.toml"}
    assert stray == {name for name in stray if name.endswith(".py")}, stray


def test_the_legacy_zip_is_one_folder_with_python_3_10_wheels_added_and_no_embree_or_isal(addon, tmp_path):
    """Blender 3.4–4.1 unpack OpenEXR only (vendor.py), cast rays with the BVH and deflate
    with zlib: the Embree and ISA-L wheels stay out of the legacy zip."""
    copy = tmp_path / addon.name
    copy.write_bytes(addon.read_bytes())
    legacy = build.build_legacy(copy)
    with zipfile.ZipFile(legacy) as archive:
        names = archive.namelist()
    assert not [name for name, count in Counter(names).items() if count > 1]
    assert all(name.startswith("ground_truth/") for name in names)
    wheels = {Path(name).name for name in names if name.endswith(".whl")}
    cp310 = {name for name in wheels if "-cp310-" in name}
    openexr = {name for name in manifest_wheels() if name.startswith("openexr-")}
    assert wheels == openexr | cp310 and len(cp310) == 5  # Linux ×2, Windows, macOS ×2
    assert any(name.startswith("embreex-") for name in manifest_wheels())
    assert any(name.startswith("isal-") for name in manifest_wheels())


def test_the_wheel_installs_where_blender_is_not_and_reads_a_folder(addon, tmp_path):
    """A fresh virtual environment, no bpy: pip installs the wheel (numpy and Pillow from
    the index), the dataset class reads a folder this suite wrote (arrays and RGB), and the ``ground-truth`` command
    lists its subcommands and says in one line what render needs."""
    copy = tmp_path / addon.name
    copy.write_bytes(addon.read_bytes())
    wheel = build.build_wheel(copy)
    assert wheel.name == "ground_truth-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "ground_truth/loader.py" in names and not [n for n in names if n.endswith(".whl") or "/tests/" in n]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, command = venv / "bin" / "python", venv / "bin" / "ground-truth"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600)
    folder = tmp_path / "run"
    truth = write_view(folder)
    script = (
        "import importlib.util, sys, numpy as np\n"
        "from ground_truth.loader import GroundTruthDataset\n"
        "assert importlib.util.find_spec('bpy') is None\n"
        "item = GroundTruthDataset(sys.argv[1])[1]\n"
        "np.savez(sys.argv[2], **{k: v for k, v in item.items() if isinstance(v, np.ndarray)})\n"
    )
    done = subprocess.run(
        [python, "-c", script, folder, tmp_path / "item.npz"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "item.npz") as item, np.load(folder / "npz" / "000002.npz") as written:
        assert set(written.files) <= set(item.files)
        for key in written.files:
            np.testing.assert_array_equal(item[key], written[key])
    np.testing.assert_allclose(item_centre(tmp_path / "item.npz"), truth[2]["centre"], atol=1e-9)
    with np.load(tmp_path / "item.npz") as item:
        np.testing.assert_array_equal(item["rgb"], truth[2]["rgb"])
    done = subprocess.run([command, "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and all(name in done.stdout for name in ("render", "merge", "farm", "view"))
    done = subprocess.run([command, "render", "--out", tmp_path], env=env, capture_output=True, text=True)
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "needs Blender" in done.stderr, done.stderr


def item_centre(path: Path) -> np.ndarray:
    """The camera centre of a saved item, from its pose."""
    with np.load(path) as item:
        pose = item["world_to_camera"]
    return -pose[:3, :3].T @ pose[:3, 3]
