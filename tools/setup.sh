#!/usr/bin/env bash
# Create (or refresh) .venv: Python 3.13 with the pinned bpy 5.2 LTS module, OpenEXR,
# pytest and ruff from requirements-dev.txt. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate
  for candidate in "${GT_PYTHON:-}" python3.13 \
      "$(command -v pyenv >/dev/null && pyenv root)"/versions/3.13*/bin/python3.13; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "setup: Python 3.13 not found (install it, or set GT_PYTHON to its path)" >&2
  exit 1
}

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python=$(find_python)
echo "setup: creating .venv with $("$python" --version) and requirements-dev.txt"
"$python" -m venv --clear .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$want" > "$stamp"
