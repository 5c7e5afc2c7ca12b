# SPDX-License-Identifier: GPL-3.0-or-later
"""The installable zips hold what a user's Blender needs and nothing else."""

import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import build

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
