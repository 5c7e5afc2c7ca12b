#!/usr/bin/env bash
# Set up .venv if needed, then lint and run every test (bpy-free core and real-Blender
# integration). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
