#!/usr/bin/env bash
# Create (or refresh) .venv: Python 3.13 with the pinned bpy 5.2 LTS module, OpenEXR,
# pytest and ruff from requirements-dev.txt. Python 3.13 comes from PATH, pyenv or
# GT_PYTHON313. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python=$(python3 tools/find_python.py 3.13)
echo "setup: creating .venv with $("$python" --version) and requirements-dev.txt"
"$python" -m venv --clear .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$want" > "$stamp"
