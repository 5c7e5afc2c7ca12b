"""Integration tests: the real ``bpy`` module, with the add-on installed from its built
zip into a throwaway Blender user folder, driven through its public operators."""

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

# Before bpy is imported: nothing of the developer's Blender set-up may leak in or out.
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="gt_blender_user_")
sys.path.insert(0, str(Path(__file__).parent))

import bpy
import scenes

ROOT = Path(__file__).resolve().parents[2]
ADDON_MODULE = "bl_ext.user_default.ground_truth"


def _build_zip(output_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location("gt_build", ROOT / "tools" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.build(output_dir)


@pytest.fixture(scope="session")
def addon(tmp_path_factory):
    """The extension, built and installed as a user would; yields the zip path."""
    zip_path = _build_zip(tmp_path_factory.mktemp("dist"))
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    assert ADDON_MODULE in bpy.context.preferences.addons
    return zip_path


@pytest.fixture
def scene(addon, tmp_path):
    """An empty Cycles scene at 160×120, exporting into ``tmp_path/out``."""
    return scenes.new_scene(tmp_path / "out")
