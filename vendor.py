# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenEXR for the loader (reading EXR frames inside Blender), where it can be had.

Blender 4.2+ installs the extension's bundled wheels itself. A legacy add-on has no such
step, so on enable the wheel in ``wheels/`` that matches this Python and platform is
unpacked once into ``_vendor/<tag>/`` next to this file and put on ``sys.path``.

Some Blender builds (Debian's) link a system OpenEXR library; a second OpenEXR in the
same process crashes Blender when used. There the module is not loaded at all: the data
path reads the compositor's EXR and writes the exported one with numpy and zlib alone.
"""

from __future__ import annotations

import platform
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _platform_words() -> tuple[str, ...]:
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        return ("manylinux", "aarch64" if machine in ("aarch64", "arm64") else "x86_64")
    if sys.platform == "win32":
        return ("win_amd64",)
    return ("macosx", "arm64" if machine == "arm64" else "x86_64")


def system_openexr_in(maps: str) -> bool:
    """Whether a process map (``/proc/<pid>/maps``) holds a distribution's OpenEXR library
    (under /usr or /lib). Blender's own copies (the bpy wheel's ``bpy/lib``) live with
    Blender and get on with the OpenEXR module; Debian's system library does not."""
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        if "libOpenEXR" in path and path.startswith(("/usr/", "/lib")):
            return True
    return False


def _system_openexr_loaded() -> bool:
    try:
        return system_openexr_in(Path("/proc/self/maps").read_text())
    except OSError:
        return False


def ensure_openexr() -> None:
    """Make ``import OpenEXR`` work where it is safe; raise ImportError saying which wheel
    is missing when no bundled one fits."""
    if "OpenEXR" not in sys.modules and _system_openexr_loaded():
        return
    try:
        import OpenEXR
    except ImportError:
        pass
    else:
        return
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    words = _platform_words()
    wheels = [w for w in sorted((HERE / "wheels").glob("openexr-*.whl")) if f"-{python}-" in w.name]
    wheels = [w for w in wheels if all(word in w.name for word in words)]
    if not wheels:
        raise ImportError(f"Ground Truth needs OpenEXR: no bundled wheel for {python} on {' '.join(words)}")
    target = HERE / "_vendor" / wheels[-1].stem
    if not target.is_dir():
        with zipfile.ZipFile(wheels[-1]) as archive:
            archive.extractall(target)
    sys.path.insert(0, str(target))
    import OpenEXR  # noqa: F401
