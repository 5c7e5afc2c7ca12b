#!/usr/bin/env bash
# Set up .venv if needed, then run the benchmark (bench/bench.py) and print its table.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
.venv/bin/python bench/bench.py "$@"
