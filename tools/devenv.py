# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender as a user has it, for the demo and the integration tests: a throwaway user
folder, and the extension built from this checkout and installed from its zip."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import build  # tools/build.py: tools/ is on sys.path for the demo and the tests

ADDON_MODULE = "bl_ext.user_default.ground_truth"


def import_bpy():
    """Import ``bpy`` with ``BLENDER_USER_RESOURCES`` in a new temporary folder, so that
    nothing of the developer's own Blender set-up leaks in or out. The folder (about
    120 MB with the extension installed) is removed when the process exits: a test run
    left dozens behind, and filled a disk."""
    if "bpy" not in sys.modules:
        folder = tempfile.mkdtemp(prefix="gt_blender_user_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # before bpy's own: runs after them
        os.environ["BLENDER_USER_RESOURCES"] = folder
    import bpy

    return bpy


def disable_extension() -> None:
    """Disable the extension again (bpy 4.2 crashes at exit with its handlers registered)."""
    import addon_utils

    addon_utils.disable(ADDON_MODULE)


def install_extension(dist_dir: Path) -> Path:
    """Build the extension zip into ``dist_dir``, install and enable it; return the zip."""
    bpy = import_bpy()
    zip_path = build.build(dist_dir)
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    if ADDON_MODULE not in bpy.context.preferences.addons:
        raise RuntimeError(f"{zip_path.name} installed but {ADDON_MODULE} is not enabled")
    return zip_path
