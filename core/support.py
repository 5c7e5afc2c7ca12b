# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Blender versions the add-on supports and has been tested on."""

from __future__ import annotations

import re
from pathlib import Path

_MANIFEST = Path(__file__).resolve().parents[1] / "blender_manifest.toml"

MINIMUM = (3, 4)  # 3.4-4.1 install the package as a legacy add-on, 4.2+ as an extension
# (major, minor) that tools/matrix.py runs the whole test suite on.
TESTED = ((4, 2), (4, 5), (5, 0), (5, 1), (5, 2))


def _name(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version[:2]))


def support_message(version: tuple[int, ...], addon_version: str) -> tuple[bool, str | None]:
    """``(usable, message)`` for Blender ``version``: below the minimum the add-on cannot
    run; on a version outside the tested ones it runs with a warning."""
    tested = ", ".join(_name(v) for v in TESTED)
    if tuple(version[:2]) < MINIMUM:
        return False, f"Ground Truth {addon_version} needs Blender {_name(MINIMUM)} or newer; this is {_name(version)}"
    if tuple(version[:2]) not in TESTED:
        return True, (
            f"Ground Truth {addon_version} is tested on Blender {tested}; {_name(version)} is not tested, "
            "check its arrays before relying on them"
        )
    return True, None


def addon_version() -> str:
    """The add-on's version, from the shipped ``blender_manifest.toml`` (read without
    tomllib, which the Python of Blender 3.x lacks; Blender hides ``bl_info`` from
    extensions, so that is no source at run time)."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', _MANIFEST.read_text(encoding="utf-8"), re.MULTILINE)
    return match.group(1) if match else "unknown"
