"""OpenEXR for legacy add-on installs (Blender 3.4–4.1).

Blender 4.2+ installs the extension's bundled wheels itself. A legacy add-on has no such
step, so on enable the wheel in ``wheels/`` that matches this Python and platform is
unpacked once into ``_vendor/<tag>/`` next to this file and put on ``sys.path``.
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


def ensure_openexr() -> None:
    """Make ``import OpenEXR`` work, or raise ImportError saying which wheel is missing."""
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
