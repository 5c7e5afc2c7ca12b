# SPDX-License-Identifier: GPL-3.0-or-later
"""The SLURM backend: ``DIR/_farm/job.sbatch``, a job array with one chunk per index, and
``DIR/_farm/merge.sbatch``, the worker's ``merge`` submitted to run after it
(``afterany``: it also lists the frames of a partly failed run, and names the rest).

A chunk runs the same ``render`` as on Ray, again up to ``--max-retries`` times when it
fails (a refusal, status 2 or 3, is final); ``--requeue`` puts it back in the queue when
its node fails. The driver submits both with ``sbatch`` and follows the run until the
merge job ends; ``--dry-run`` only writes the files.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from ..core.frames import format_frames
from ..exporters.atomic import atomic_path
from ..exporters.chunks import ChunkReports
from . import plan
from .progress import FarmError, FarmProgress

# A job array's indices run below the cluster's MaxArraySize (1001 where slurm.conf sets
# none); longer runs are several arrays of the same script, each told where it starts.
DEFAULT_MAX_ARRAY = 1001
OFFSET = "GROUND_TRUTH_CHUNK_OFFSET"
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL"}


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _header(args: argparse.Namespace, name: str, output: str, cpus: int) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --cpus-per-task={cpus}"]
    lines.append(f"#SBATCH --output={output}")
    if args.partition:
        lines.append(f"#SBATCH --partition={args.partition}")
    return lines


def _environment(worker: plan.Worker) -> list[str]:
    return [f"export {key}={shlex.quote(value)}" for key, value in worker.env().items()]


def write_jobs(
    args: argparse.Namespace, chunks: list[list[int]], frames: list[int], array_size: int = DEFAULT_MAX_ARRAY
) -> tuple[Path | None, Path]:
    """Write the job array's script (None when no frame is left to render; its first
    array takes up to ``array_size`` chunks, see :func:`arrays`) and the merge job."""
    farm = plan.farm_dir(args.out).resolve()
    (farm / "logs").mkdir(parents=True, exist_ok=True)
    worker = plan.worker(args)
    job = None
    if chunks:
        listing = farm / "chunks.txt"
        _write(listing, "".join(f"{format_frames(c)}\t{plan.manifest_path(args.out, c)}\n" for c in chunks))
        render = shlex.join(worker.command("render", plan.render_argv(args)))
        lines = _header(args, "ground_truth", f"{farm}/logs/slurm-%A_%a.out", args.cpus_per_task)
        lines += [f"#SBATCH --array=0-{min(len(chunks), array_size) - 1}", "#SBATCH --requeue"]
        if args.gpus_per_task:
            lines.append(f"#SBATCH --gres=gpu:{args.gpus_per_task}")
        lines += [
            "",
            f"# Chunk number n = SLURM_ARRAY_TASK_ID + {OFFSET} (set for the arrays after the first)",
            f"# is line n + 1 of {listing.name}: its frames and its manifest. The worker's render runs again",
            f"# up to {args.max_retries} times; a refusal (status 2: bad arguments, 3: refused before rendering)",
            "# is final.",
            *_environment(worker),
            f"IFS=$'\\t' read -r frames manifest < <(sed -n \"$((SLURM_ARRAY_TASK_ID + ${{{OFFSET}:-0}} + 1))p\" "
            + shlex.quote(str(listing))
            + ")",
            "status=1",
            f"for attempt in $(seq 0 {args.max_retries}); do",
            f'    {render} --frames "$frames" --chunk-manifest "$manifest"',
            "    status=$?",
            "    case $status in 0|2|3) exit $status ;; esac",
            '    echo "ground_truth: frames $frames failed with status $status (attempt $attempt)" >&2',
            "done",
            "exit $status",
        ]
        job = farm / "job.sbatch"
        _write(job, "\n".join(lines) + "\n")
    merge = farm / "merge.sbatch"
    lines = _header(args, "ground_truth-merge", f"{farm}/logs/merge-%j.out", 1)
    lines += ["", "# meta.json, coco.json and the contact sheet, once; exit 1 names the frames not complete."]
    lines += [*_environment(worker), "exec " + shlex.join(worker.command("merge", plan.merge_argv(args, frames)))]
    _write(merge, "\n".join(lines) + "\n")
    return job, merge


def arrays(job: Path, count: int, size: int) -> list[list[str]]:
    """``sbatch`` arguments of each job array for ``count`` chunks, ``size`` at most each:
    the script as written for the first, and for each later one its indices and where it
    starts."""
    found = [[str(job)]]
    for first in range(size, count, size):
        found.append([f"--array=0-{min(size, count - first) - 1}", f"--export=ALL,{OFFSET}={first}", str(job)])
    return found


def max_array_size() -> int:
    """The cluster's MaxArraySize, or SLURM's default where ``scontrol`` cannot say."""
    try:
        done = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return DEFAULT_MAX_ARRAY
    found = re.search(r"^MaxArraySize\s*=\s*(\d+)", done.stdout, re.MULTILINE)
    return int(found.group(1)) if found and int(found.group(1)) > 0 else DEFAULT_MAX_ARRAY


def _slurm(*argv: str) -> str:
    """Run a SLURM command; its standard output, or :class:`FarmError` with its own words."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise FarmError(f"{argv[0]} not found: run the SLURM backend where SLURM's commands are") from None
    if done.returncode != 0:
        raise FarmError(f"{argv[0]} failed: {(done.stderr.strip() or done.stdout.strip()).splitlines()[-1]}")
    return done.stdout.strip()


def _state(job_id: str) -> str:
    """The job's state (``ENDED`` states once it is over or forgotten by SLURM)."""
    done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return "COMPLETED" if "Invalid job id" in done.stderr else "UNKNOWN"
    states = re.findall(r"JobState=(\S+)", done.stdout)
    return "RUNNING" if any(s not in ENDED for s in states) else (states[-1] if states else "UNKNOWN")


def run_slurm(args: argparse.Namespace, chunks: list[list[int]], frames: list[int], progress: FarmProgress) -> None:
    """Write and submit the jobs, and follow them until the merge ends (with ``--dry-run``
    print the ``sbatch`` line instead); failed frames go to ``progress.failed``."""
    size = max_array_size()
    job, merge = write_jobs(args, chunks, frames, size)
    submissions = arrays(job, len(chunks), size) if job else []
    if args.dry_run:
        names = [f"job{i or ''}" for i in range(len(submissions))]
        submit = "".join(
            f"{n}=$(sbatch --parsable {shlex.join(a)}) && " for n, a in zip(names, submissions, strict=True)
        )
        dependency = ":".join(f"${{{n}%%;*}}" for n in names)
        print(f"{submit}sbatch " + (f"--dependency=afterany:{dependency} " if names else "") + str(merge))
        return
    reports = ChunkReports(Path(args.out).absolute())
    reports.read_new()  # an earlier run's reports: not this run's progress
    job_ids = [_slurm("sbatch", "--parsable", *a).split(";")[0] for a in submissions]
    dependency = [f"--dependency=afterany:{':'.join(job_ids)}"] if job_ids else []
    plan.merge_report_path(args.out).unlink(missing_ok=True)
    merge_id = _slurm("sbatch", "--parsable", *dependency, str(merge)).split(";")[0]
    named = ", ".join(job_ids) or "(nothing to render)"
    print(f"submitted: job array{'s' if len(job_ids) > 1 else ''} {named}, merge job {merge_id}", file=sys.stderr)
    left = {frame for chunk in chunks for frame in chunk}
    rendered: dict[str, tuple[str, int]] = {}  # a chunk's frames: its (last) report's host and count
    try:
        while True:  # progress from the chunk reports: each poll reads only the new ones
            state = _state(merge_id)
            for report in reports.read_new():
                rendered[report["frames"]] = (report["host"], report["exported"])
                for frame in left.intersection(report["complete"]):
                    progress.frame(frame, exported=True)
                    left.discard(frame)
            progress.show()
            if state in ENDED:
                break
            time.sleep(2.0)
    except KeyboardInterrupt:
        subprocess.run(["scancel", *job_ids, merge_id], capture_output=True, timeout=120)
        raise
    progress.failed = sorted(left)
    for host, count in rendered.values():
        progress.hosts[host] = progress.hosts.get(host, 0) + count
    if plan.read_merge_report(args.out) is None:
        log = plan.farm_dir(args.out) / "logs" / f"merge-{merge_id}.out"
        raise FarmError(f"the merge job {merge_id} ended {state} and wrote no meta.json (log: {log})")
    if left:
        reasons = _errors(plan.farm_dir(args.out) / "logs", job_ids)
        if reasons:
            print(f"last worker error: {reasons[-1]}", file=sys.stderr)
    elif state != "COMPLETED":
        raise FarmError(f"the merge job {merge_id} ended {state} (log: {plan.farm_dir(args.out) / 'logs'})")


def _errors(logs: Path, job_ids: list[str]) -> list[str]:
    found = []
    for log in sorted(p for job_id in job_ids for p in logs.glob(f"slurm-{job_id}_*.out")):
        found += [line for line in log.read_text(errors="replace").splitlines() if "ground_truth: error:" in line]
    return found
