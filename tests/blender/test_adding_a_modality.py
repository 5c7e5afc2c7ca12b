# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's "Adding a modality" example, applied to a copy of the source as it is
written there (its RenderPass, its Modality, its conversion: the registry and
core/convert.py, nothing else), exports Blender's Mist pass from the command line."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import scenes

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> tuple[str, str, str]:
    """The example's three pieces of code, from the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Adding a modality", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    pieces = re.findall(r"`(RenderPass\(\"mist\".*?\))`|`(Modality\(\"mist\".*?\))`|`(def mist_arrays.*?)`", section)
    found = [next(filter(None, groups)) for groups in pieces]
    assert len(found) == 3, found
    return tuple(found)


def source_with_the_example(folder: Path) -> Path:
    """A copy of the add-on's source with the example added; returns the folder to put
    on ``PYTHONPATH``."""
    package = folder / "ground_truth"
    skip = shutil.ignore_patterns(".git", ".venv", "tests", "bench", "tools", "wheels", "test_artifacts", "docs")
    shutil.copytree(ROOT, package, ignore=skip)
    render_pass, modality, conversion = readme_example()
    passes = package / "core" / "registry.py"
    text = passes.read_text(encoding="utf-8")
    marker = "\nPASSES = {\n    p.key: p\n    for p in (\n"
    assert marker in text
    passes.write_text(text.replace(marker, f"{marker}{render_pass},\n", 1), encoding="utf-8")
    registry = package / "core" / "modalities.py"
    text = registry.read_text(encoding="utf-8")
    start = text.index("\nMODALITIES = (\n")
    end = text.index("\n)\n", start)
    registry.write_text(text[:end] + f"\n    {modality}," + text[end:], encoding="utf-8")
    convert = package / "core" / "convert.py"
    convert.write_text(convert.read_text(encoding="utf-8") + f"\n\n{conversion}\n", encoding="utf-8")
    changed = {p.relative_to(package).as_posix() for p in (passes, registry, convert)}
    assert changed == {"core/registry.py", "core/modalities.py", "core/convert.py"}
    return folder


def test_the_readme_s_mist_modality_exports_from_the_registry_and_its_conversion(scene, tmp_path):
    scenes.add_camera(scene, (0, -6, 1), (80, 0, 0))
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, 0), scale=20.0)
    scenes.add_mesh(scene, "Near", "cube", (-1.5, -2, 0.8), scale=0.6)
    scenes.add_mesh(scene, "Far", "ico", (2, 6, 1.0))
    scenes.add_sun(scene)
    scene.world = bpy.data.worlds.new("World")
    mist = scene.world.mist_settings
    mist.start, mist.depth, mist.falloff = 0.0, 40.0, "QUADRATIC"
    blend = tmp_path / "mist.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)

    packages = source_with_the_example(tmp_path / "packages")
    out = tmp_path / "mist_out"
    command = [sys.executable, "-m", "ground_truth.cli", "render", "--blend", str(blend), "--out", str(out)]
    command += ["--modalities", "depth,mist", "--frames", "1"]
    env = {**os.environ, "PYTHONPATH": str(packages)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    with np.load(out / "npz" / "000001.npz") as frame:
        mist, depth, K = frame["mist"], frame["depth"], frame["K"]
    assert mist.shape == depth.shape and mist.dtype == np.float32
    assert (out / "preview" / "mist" / "000001.png").is_file()
    # Blender's mist at the distance d from the camera (the ray's length, from the depth
    # through each pixel centre): ((d - start) / depth)², clamped to [0, 1], with the
    # quadratic falloff; pixels at objects' edges mix two distances.
    rows, cols = np.nonzero(np.isfinite(depth))
    rays = np.linalg.inv(K) @ np.stack([cols, rows, np.ones_like(cols)]).astype(np.float64)
    distance = depth[rows, cols] * np.linalg.norm(rays, axis=0)
    error = np.abs(mist[rows, cols] - np.clip(distance / 40.0, 0.0, 1.0) ** 2)
    assert np.median(error) < 1e-4 and np.mean(error < 1e-3) > 0.9
