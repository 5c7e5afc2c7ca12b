# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests: the real ``bpy`` module, with the add-on installed from its built
zip into a throwaway Blender user folder, driven through its public operators."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(Path(__file__).parent), str(ROOT / "tools")]

import devenv  # noqa: E402

bpy = devenv.import_bpy()  # before anything else imports bpy

import scenes  # noqa: E402


@pytest.fixture(scope="session")
def addon(tmp_path_factory):
    """The extension, built and installed as a user would; yields the zip path."""
    yield devenv.install_extension(tmp_path_factory.mktemp("dist"))
    devenv.disable_extension()


@pytest.fixture
def scene(addon, tmp_path):
    """An empty Cycles scene at 160×120, exporting into ``tmp_path/out``."""
    return scenes.new_scene(tmp_path / "out")
