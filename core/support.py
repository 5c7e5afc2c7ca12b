"""Which Blender versions the add-on supports and has been tested on."""

from __future__ import annotations

MINIMUM = (4, 2)
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
