# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the add-on's source importable as ``ground_truth`` (the repository root is the
package, whatever the checkout's folder is called), and the helpers beside this file
(``recording``) importable by every test."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


def _load_source_package() -> None:
    if "ground_truth" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "ground_truth", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ground_truth"] = module
    spec.loader.exec_module(module)


_load_source_package()


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory) -> Path:
    """A folder where ``ground_truth`` is importable the ordinary way (a link to the
    source), for other processes: on their PYTHONPATH or sys.path."""
    folder = tmp_path_factory.mktemp("packages")
    (folder / "ground_truth").symlink_to(ROOT)
    return folder
