"""Build the installable extension zip: fetch the bundled wheels, then let Blender's own
extension builder pack the repository (tests and dev files excluded by the manifest).

    python tools/build.py [--output-dir dist]

Needs the ``bpy`` module in this Python (its bundled ``blender_ext.py`` does the build)
and pip access to PyPI for the wheels the manifest lists (cached in ``wheels/``).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fetch_wheels() -> None:
    """Download every wheel the manifest lists that ``wheels/`` does not hold yet."""
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    for entry in manifest.get("wheels", []):
        wheel = (ROOT / entry).resolve()
        if wheel.exists():
            continue
        name, version, python, _abi, platform = wheel.stem.split("-")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                platform,
                "--python-version",
                python.removeprefix("cp"),
                "--implementation",
                "cp",
                "--dest",
                str(wheel.parent),
                f"{name}=={version}",
            ],
            check=True,
        )
        if not wheel.exists():
            sys.exit(f"build: pip did not produce {wheel.name}")


def blender_ext_script() -> Path:
    """``blender_ext.py`` from the bpy module installed in this Python."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("build: the bpy module is not installed in this Python (pip install bpy)")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        sys.exit("build: blender_ext.py not found in the bpy module")
    return found[-1]


def build(output_dir: Path) -> Path:
    """Build the zip into ``output_dir`` and return its path."""
    fetch_wheels()
    output_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            str(blender_ext_script()),
            "build",
            "--source-dir",
            str(ROOT),
            "--output-dir",
            str(output_dir),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"build: blender_ext.py failed:\n{done.stdout}{done.stderr}")
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    return output_dir / f"{manifest['id']}-{manifest['version']}.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    print(build(parser.parse_args().output_dir))


if __name__ == "__main__":
    main()
