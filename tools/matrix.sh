#!/usr/bin/env bash
# The version matrix (see tools/matrix.py): the suite on Blender 4.2, 4.5, 5.0, 5.1 and
# 5.2, and the same export compared across them. Extra arguments go to tools/matrix.py.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
.venv/bin/python tools/matrix.py "$@"
