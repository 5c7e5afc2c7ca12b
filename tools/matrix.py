# SPDX-License-Identifier: GPL-3.0-or-later
"""The version matrix: the whole test suite on every supported Blender, the same scene
exported on each and compared with Blender 5.2 LTS, the panel in a real Blender 3.4
window (tests/gui, Debian's blender under Xvfb), and the farm on a real SLURM.

    tools/matrix.sh [--versions 4.2.23,5.2.3]

Each version gets a virtual environment with its pinned ``bpy`` wheel, kept under
``$GT_CACHE`` (default ``~/.cache/ground_truth``) so that later runs on the same machine
reuse it. Prints a table; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from find_python import find_python

ROOT = Path(__file__).resolve().parents[1]
# Blender (bpy wheel) → its Python. The README's support table lists the same.
MATRIX = {"4.2.23": "3.11", "4.5.15": "3.11", "5.0.1": "3.11", "5.1.2": "3.13", "5.2.3": "3.13"}
REFERENCE = "5.2.3"
# The rays' fallback route (Blender's BVH, where no Embree wheel exists): this version's
# whole suite casts with it; the others take Embree, from the extension's wheels.
BVH_VERSION = "4.5.15"
PINS = [
    "OpenEXR==3.5.3",
    "pytest==9.2.0",
    "pycocotools==2.0.11",
    "pypng==0.20220715.0",
    "pycolmap==4.2.1",
    "pillow==13.0.0",
]


# PyTorch's CPU build (a file on these machines, for Python 3.11) in one environment: the
# dataset class under the real DataLoader (tests/core/test_dataset.py, with GT_TORCH=1).
TORCH_VERSION, TORCH = "5.0.1", "torch==2.13.0"


def ensure_venv(version: str, python_version: str) -> Path:
    """The cached virtual environment for ``bpy==version``; made when missing or stale."""
    cache = Path(os.environ.get("GT_CACHE", Path.home() / ".cache" / "ground_truth"))
    venv = cache / "venvs" / f"bpy-{version}"
    wanted = " ".join([f"bpy=={version}", *PINS, *([TORCH] if version == TORCH_VERSION else [])])
    stamp = venv / ".requirements"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv / "bin" / "python"
    python = find_python(python_version)
    if python is None:
        sys.exit(f"matrix: Python {python_version} (for bpy {version}) not found")
    print(f"matrix: making {venv} ({wanted})", flush=True)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted.split()],
        check=True,
    )
    stamp.write_text(wanted)
    return venv / "bin" / "python"


def run(command: list, log: Path, env: dict | None = None) -> tuple[bool, str, float]:
    """Run ``command`` with its output in ``log``; return (ok, pytest's summary, seconds)."""
    started = time.perf_counter()
    with open(log, "w") as stream:
        done = subprocess.run(command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT, env=env)
    text = log.read_text(errors="replace")
    summary = re.findall(r"=+ (.*(?:passed|failed|error).*?) in [\d.]+s", text)
    return done.returncode == 0, summary[-1] if summary else "", time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default=",".join(MATRIX), help="comma-separated bpy versions")
    parser.add_argument(
        "--export-only",
        default="",
        metavar="VERSIONS",
        help="comma-separated versions whose suite has run already (tools/test.sh runs it on 5.2.3): "
        "only their export, for the comparison",
    )
    args = parser.parse_args()
    versions, export_only = args.versions.split(","), set(filter(None, args.export_only.split(",")))
    unknown = [v for v in versions if v not in MATRIX]
    if unknown:
        sys.exit(f"matrix: not in the matrix: {', '.join(unknown)} (known: {', '.join(MATRIX)})")
    work = Path(tempfile.mkdtemp(prefix="gt_matrix_"))
    rows, failed = [], False
    for version in versions:
        python = ensure_venv(version, MATRIX[version])
        if version in export_only:
            tests_ok, tests, tests_s = True, "run by tools/test.sh", 0.0
        else:
            env = {**os.environ, "GROUND_TRUTH_RAYS": "bvh"} if version == BVH_VERSION else dict(os.environ)
            if version == TORCH_VERSION:
                env["GT_TORCH"] = "1"
            tests_ok, tests, tests_s = run(
                [python, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not scale and not farm"],
                work / f"tests-{version}.log",
                env,
            )
        export_ok, _, _ = run(
            [python, "tools/matrix_export.py", "--out", work / version], work / f"export-{version}.log"
        )
        rays = "BVH" if version == BVH_VERSION else "Embree"
        rows.append(
            [version, MATRIX[version], rays, tests or "no summary", f"{tests_s:.0f} s", "ok" if export_ok else "FAILED"]
        )
        failed |= not (tests_ok and export_ok)
        print(f"matrix: bpy {version} ({rays}): {rows[-1][3]}, export {rows[-1][5]}", flush=True)

    # The panel in a real window: Debian's Blender 3.4 (legacy add-on) under Xvfb.
    gui_ok, gui, seconds = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/gui"],
        work / "gui.log",
        {**os.environ, "GT_GUI": "1"},
    )
    rows.append(["3.4 (Debian, GUI)", "3.11", "BVH", gui or "no summary", f"{seconds:.0f} s", "–"])
    failed |= not gui_ok
    print(f"matrix: Blender 3.4 GUI: {rows[-1][3]}", flush=True)

    # SLURM (Debian's, installed here when missing) running the farm's job array and merge.
    subprocess.run(["bash", "tools/install_slurm.sh"], cwd=ROOT, check=True)
    slurm_ok, slurm, seconds = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "slurm", "tests/blender/test_farm.py"],
        work / "slurm.log",
        {**os.environ, "GT_SLURM": "1"},
    )
    rows.append(["5.2 farm on SLURM (Debian 22.05)", "3.13", "Embree", slurm or "no summary", f"{seconds:.0f} s", "–"])
    failed |= not slurm_ok or "1 passed" not in slurm
    print(f"matrix: farm on SLURM: {rows[-1][3]}", flush=True)

    compared = [v for v in versions if v != REFERENCE and (work / v / "ground_truth" / "meta.json").exists()]
    if REFERENCE in versions and compared:
        env = {**os.environ, "GT_MATRIX_EXPORTS": str(work), "GT_MATRIX_REFERENCE": REFERENCE}
        ok, summary, _ = run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "tests/matrix"],
            work / "compare.log",
            env,
        )
        failed |= not ok
        print(f"matrix: {', '.join(compared)} against {REFERENCE}: {summary or 'no summary'}", flush=True)

    print("\n| Blender (bpy) | Python | rays | test suite | time | demo export |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nlogs: {work}")
    if failed:
        for log in sorted(work.glob("*.log")):
            if "FAILED" in log.read_text(errors="replace") or "Error" in log.read_text(errors="replace"):
                print(f"--- {log.name} (last lines)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
        sys.exit(1)


if __name__ == "__main__":
    main()
