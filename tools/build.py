# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the installable zips: fetch the bundled wheels, then let Blender's own extension
builder pack the repository (tests and dev files excluded by the manifest); and, from the
same files, the pip wheel for machines without Blender (:func:`build_wheel`).

    python tools/build.py [--output-dir dist] [--legacy]

``--legacy`` also makes ``ground_truth-<version>-legacy.zip`` for Blender 3.4–4.1, which
install add-ons from a zip holding one ``ground_truth/`` folder: the same files plus
OpenEXR wheels for Python 3.10 (OpenEXR 3.5 has none; 3.4.17 has the same API).

Needs the ``bpy`` module in this Python (its bundled ``blender_ext.py`` does the build)
and pip access to PyPI for the wheels the manifest lists (cached in ``wheels/``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEGACY_OPENEXR = "3.4.17"  # the newest OpenEXR with wheels for Python 3.10


def _manifest() -> dict:
    return tomllib.loads((ROOT / "blender_manifest.toml").read_text())


def legacy_wheels() -> list[Path]:
    """The Python 3.10 counterparts of the manifest's Python 3.11 OpenEXR wheels, kept in
    ``wheels/legacy/`` (which the manifest keeps out of the extension zip). Embree has no
    Python 3.10 wheels: the legacy add-on casts its rays with Blender's BVH."""
    out = []
    for entry in _manifest().get("wheels", []):
        name = Path(entry).name
        if name.startswith("openexr-") and "-cp311-cp311-" in name:
            name = name.replace("-cp311-cp311-", "-cp310-cp310-").replace(name.split("-")[1], LEGACY_OPENEXR, 1)
            out.append(ROOT / "wheels" / "legacy" / name)
    return out


def fetch_wheels(wheels: list[Path]) -> None:
    """Download every wheel in ``wheels`` that ``wheels/`` does not hold yet."""
    for wheel in wheels:
        if wheel.exists():
            continue
        wheel.parent.mkdir(parents=True, exist_ok=True)
        name, version, python, _abi, platforms = wheel.stem.split("-")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                *(f"--platform={platform}" for platform in platforms.split(".")),  # manylinux_2_27_x86_64.manylinux_…
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
    """Build the extension zip into ``output_dir`` and return its path."""
    fetch_wheels([(ROOT / entry).resolve() for entry in _manifest().get("wheels", [])])
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
    manifest = _manifest()
    return output_dir / f"{manifest['id']}-{manifest['version']}.zip"


def build_legacy(extension_zip: Path) -> Path:
    """The legacy add-on zip: the extension's files under ``ground_truth/``, plus the
    Python 3.10 wheels."""
    extra = legacy_wheels()
    fetch_wheels(extra)
    legacy = extension_zip.with_name(extension_zip.stem + "-legacy.zip")
    with zipfile.ZipFile(extension_zip) as source, zipfile.ZipFile(legacy, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if not item.filename.startswith(("wheels/embreex-", "wheels/isal-")):  # Python 3.11+ only: BVH, zlib
                target.writestr(f"ground_truth/{item.filename}", source.read(item))
        for wheel in extra:
            target.write(wheel, f"ground_truth/wheels/{wheel.name}")
    return legacy


# The wheel's dependencies: numpy for the loader and the dataset class, Pillow for the
# RGB pictures they read; the rest as extras.
WHEEL_REQUIRES = ("numpy>=1.24", "pillow>=9")
WHEEL_EXTRAS = {"exr": ("OpenEXR>=3.3",), "view": ("rerun-sdk>=0.41",), "farm": ("ray>=2.9",)}


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(extension_zip: Path) -> Path:
    """The same modules as a pure-Python wheel beside the extension zip, for machines
    without Blender (training code, farm drivers): ``ground_truth.loader`` with numpy
    and Pillow, and the ``ground-truth`` command (``render`` and ``merge`` also need the
    bpy module there). Extras: ``exr`` (reading EXR folders), ``view`` (the 3D view),
    ``farm`` (Ray); PyTorch is the user's own."""
    manifest = _manifest()
    name, version = manifest["id"], manifest["version"]
    info = f"{name}-{version}.dist-info"
    files = {}
    with zipfile.ZipFile(extension_zip) as source:
        for item in source.infolist():
            if not item.is_dir() and not item.filename.startswith("wheels/"):  # Blender's bundled wheels: pip's job
                files[f"{name}/{item.filename}"] = source.read(item)
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {manifest['tagline']}",
        f"License: {manifest['license'][0].removeprefix('SPDX:')}",
        "Requires-Python: >=3.11",
        *(f"Requires-Dist: {requirement}" for requirement in WHEEL_REQUIRES),
    ]
    for extra, requirements in WHEEL_EXTRAS.items():
        metadata += [f"Provides-Extra: {extra}", *(f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements)]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    wheel_file = ["Wheel-Version: 1.0", "Generator: tools/build.py", "Root-Is-Purelib: true", "Tag: py3-none-any"]
    files[f"{info}/WHEEL"] = ("\n".join(wheel_file) + "\n").encode()
    files[f"{info}/entry_points.txt"] = f"[console_scripts]\nground-truth = {name}.cli:main\n".encode()
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = extension_zip.with_name(f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as target:
        for path, data in files.items():
            target.writestr(path, data)
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--legacy", action="store_true", help="also build the legacy add-on zip (Blender 3.4-4.1)")
    args = parser.parse_args()
    extension = build(args.output_dir)
    print(extension)
    print(build_wheel(extension))
    if args.legacy:
        print(build_legacy(extension))


if __name__ == "__main__":
    main()
