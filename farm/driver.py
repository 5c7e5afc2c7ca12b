# SPDX-License-Identifier: GPL-3.0-or-later
"""``ground_truth farm``: the driver. It needs no Blender; each chunk of frames is one
``render`` of a worker Blender on the cluster (see docs/contract.md, "Farms")."""

from __future__ import annotations

import argparse
import os
import sys

from ..core.frames import format_frames
from ..flags import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, PROG, frame_list, output_options, positive
from . import plan
from .progress import FarmError, FarmProgress


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
