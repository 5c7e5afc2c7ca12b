# SPDX-License-Identifier: GPL-3.0-or-later
"""``ground_truth farm``: the driver. It needs no Blender; each chunk of frames is one
``render`` of a worker Blender on the cluster (see docs/contract.md, "Farms")."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field

from ..cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, PROG, bar, frame_list, output_options, positive
from ..core.frames import format_frames
from . import plan


def _retries(text: str) -> int:
    if not (text.isdigit() and int(text) <= 100):
        raise argparse.ArgumentTypeError(f"bad retry count {text!r} (want 0 to 100)")
    return int(text)


def add_farm_parser(commands, parents: list[argparse.ArgumentParser]) -> None:
    farm = commands.add_parser(
        "farm",
        parents=parents,
        help="split frames into chunks and render them on a Ray cluster or SLURM (needs no Blender)",
    )
    farm.add_argument("--backend", choices=("ray", "slurm"), default="ray", help="default: ray")
    farm.add_argument("--blend", required=True, help="the .blend, at a path every node reads")
    farm.add_argument("--out", required=True, help="output folder, on storage every node shares")
    farm.add_argument("--frames", type=frame_list, required=True, help="e.g. 1-240, 1-240:4, 1,5,9")
    farm.add_argument("--chunk", type=positive, default=10, help="frames per task (default 10)")
    worker = farm.add_mutually_exclusive_group(required=True)
    worker.add_argument("--blender", metavar="PATH", help="the worker: a Blender with the extension installed")
    worker.add_argument("--worker-python", metavar="PATH", help="the worker: a Python with the bpy module")
    farm.add_argument("--max-retries", type=_retries, default=2, help="times a failed chunk is run again (default 2)")
    farm.add_argument(
        "--cpus-per-task", type=positive, default=1, help="CPUs a task takes and renders with (default 1)"
    )
    farm.add_argument(
        "--gpus-per-task",
        type=int,
        choices=(0, 1),
        help="GPUs a task takes (default: 1 with a GPU --device, else 0)",
    )
    farm.add_argument("--address", help="Ray: the cluster to join (default: RAY_ADDRESS, else a local Ray)")
    farm.add_argument("--partition", help="SLURM: the partition (default: the cluster's)")
    farm.add_argument("--dry-run", action="store_true", help="SLURM: write the job scripts, do not submit them")


@dataclass
class FarmProgress:
    """Frames done of total, rate, time left, failures: one line on stderr."""

    total: int
    already: int = 0
    exported: int = 0
    skipped: int = 0
    retried: int = 0
    failed: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    hosts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _shown: float = 0.0

    @property
    def done(self) -> int:
        return self.already + self.exported + self.skipped

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.done} of {self.total} frames"]
        if self.exported:
            rate = self.exported / elapsed
            left = int((self.total - self.done - len(self.failed)) / rate)
            parts += [f"{rate * 60:.1f} frames/min", f"{left // 60}:{left % 60:02d} left"]
        if self.retried:
            parts.append(f"{self.retried} chunks retried")
        if self.failed:
            parts.append(f"{len(self.failed)} frames failed")
        return f"{bar(self.done, self.total)} " + " · ".join(parts)

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._shown >= 1.0:
            self._shown = now
            print(self.line(), file=sys.stderr, flush=True)

    def frame(self, frame: int, exported: bool) -> None:
        """Count ``frame`` finished (once: a chunk run again reports its frames again)."""
        if frame in self.seen:
            return
        self.seen.add(frame)
        if exported:
            self.exported += 1
        else:
            self.skipped += 1
        self.show(force=self.done == self.total)

    def summary(self) -> str:
        seconds = int(time.monotonic() - self.started)
        hosts = ", ".join(f"{host} {count}" for host, count in sorted(self.hosts.items()))
        return (
            f"{self.done} of {self.total} frames complete ({self.exported} rendered"
            + (f", {self.already + self.skipped} complete before" if self.already + self.skipped else "")
            + f") in {seconds // 60}:{seconds % 60:02d}"
            + (f"; frames rendered per host: {hosts}" if hosts else "")
            + (f"; {self.retried} chunks retried" if self.retried else "")
        )


class FarmError(Exception):
    """The run cannot go on (refused by a worker, a backend that cannot start)."""

    def __init__(self, message: str, status: int = EXIT_FAILED):
        super().__init__(message)
        self.status = status


def run_farm(args: argparse.Namespace) -> int:
    """Plan the chunks, run them on the backend, merge, and say how it went."""
    if not os.path.isfile(args.blend):
        print(f"{PROG}: error: no such .blend file: {args.blend}", file=sys.stderr)
        return EXIT_USAGE
    if args.gpus_per_task is None:
        args.gpus_per_task = int(args.device not in (None, "CPU"))
    frames = args.frames
    options = output_options(args)
    already = [] if args.overwrite else plan.complete_already(args.out, frames, options)
    done = set(already)  # made once: a set inside the condition would be made for every frame
    todo = [f for f in frames if f not in done]
    chunks = plan.split(todo, args.chunk)
    progress = FarmProgress(total=len(frames), already=len(already))
    print(
        f"{PROG}: farm ({args.backend}): {len(todo)} frames to render in {len(chunks)} chunks"
        + (f", {len(already)} complete already" if already else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        if args.backend == "ray":
            from .ray_backend import run_ray

            run_ray(args, chunks, frames, progress)
        else:
            from .slurm import run_slurm

            run_slurm(args, chunks, frames, progress)
            if args.dry_run:
                return 0
    except FarmError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        if progress.failed:
            print(f"{PROG}: error: frames {format_frames(sorted(progress.failed))} failed too", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; {progress.done} of {progress.total} frames are complete and kept, "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(f"{PROG}: {progress.summary()}", file=sys.stderr)
    if progress.failed:
        print(
            f"{PROG}: error: frames {format_frames(sorted(progress.failed))} failed "
            f"after {args.max_retries + 1} attempts (logs in {plan.farm_dir(args.out) / 'logs'})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"{PROG}: every frame is complete in {os.path.abspath(args.out)}")
    return 0
