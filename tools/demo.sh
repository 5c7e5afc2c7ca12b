#!/usr/bin/env bash
# Set up .venv if needed, then build the demo scene and export its ground truth into
# demo_output/ (see README). Extra arguments go to tools/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
.venv/bin/python tools/demo.py "$@"
