# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the path of a Python of the given minor version (``3.11``, ``3.13``).

Looks at ``GT_PYTHON<major><minor>`` (e.g. ``GT_PYTHON313``), then ``python3.X`` on PATH,
then pyenv's versions. Exits 1 with one line when there is none.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys


def find_python(version: str) -> str | None:
    candidates = [os.environ.get(f"GT_PYTHON{version.replace('.', '')}"), shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        check = f"import sys; assert sys.version_info[:2] == {tuple(map(int, version.split('.')))}"
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


if __name__ == "__main__":
    found = find_python(sys.argv[1])
    if found is None:
        sys.exit(
            f"find_python: Python {sys.argv[1]} not found (install it, or set GT_PYTHON{sys.argv[1].replace('.', '')})"
        )
    print(found)
