# SPDX-License-Identifier: GPL-3.0-or-later
"""The Ray backend: every chunk is one Ray task that runs the worker Blender.

Tasks are queued at once and Ray hands each to the next node with a free CPU (or GPU),
so a fast node takes more chunks. A task streams back each frame its Blender finishes.
A chunk whose Blender fails, or whose node is lost, is run again (up to
``--max-retries`` times), skipping the frames it completed. When every chunk is done,
one more task runs the worker's ``merge``: the only writer of ``meta.json``,
``coco.json`` and the contact sheet.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..core.frames import format_frames
from ..flags import EXIT_REFUSED, EXIT_USAGE
from . import plan, task
from .progress import FarmError, FarmProgress


@contextmanager
def _interrupts() -> Iterator[threading.Event]:
    """Ctrl+C and SIGTERM (a scheduler, ``kill``) stop the driver: they raise
    KeyboardInterrupt and set the event yielded, which the loops check too (Ray's
    blocking calls can swallow the exception: a Ctrl+C in CI was once lost that way)."""
    stopped = threading.Event()

    def interrupt(signum, frame):
        stopped.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class _Attempt:
    chunk: list[int]
    attempt: int
    finished: set[int] = field(default_factory=set)
    exported: int = 0


def run_ray(args: argparse.Namespace, chunks: list[list[int]], frames: list[int], progress: FarmProgress) -> None:
    """Run ``chunks`` and the merge on Ray; failed frames go to ``progress.failed``."""
    try:
        import ray
        from ray import cloudpickle
    except ImportError:
        raise FarmError("the Ray backend needs the ray package in this Python: pip install 'ray==2.60.0'") from None
    cloudpickle.register_pickle_by_value(task)  # the nodes need no copy of this package
    try:
        ray.init(
            address=args.address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FarmError(f"cannot reach the Ray cluster ({args.address or 'local'}): {error}") from None
    try:
        resources = ray.cluster_resources()
        for name, need in (("CPU", args.cpus_per_task), ("GPU", args.gpus_per_task)):
            if need > resources.get(name, 0):
                raise FarmError(
                    f"a task needs {need} {name} (--{name.lower()}s-per-task) and the Ray cluster has "
                    f"{resources.get(name, 0):g} in all",
                    EXIT_REFUSED,
                )
        with _interrupts() as stopped:
            _schedule(ray, args, chunks, frames, progress, stopped)
    finally:
        ray.shutdown()


def _schedule(ray, args, chunks, frames, progress, stopped: threading.Event) -> None:
    worker = plan.worker(args)
    remote = ray.remote(task.run_chunk).options(
        num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task, max_retries=0, name="ground_truth chunk"
    )
    pending: dict = {}  # generator -> _Attempt

    def submit(chunk: list[int], attempt: int) -> None:
        command = worker.command("render", plan.chunk_argv(args, chunk))
        log = str(plan.log_path(args.out, chunk, attempt))
        pending[remote.remote(command, worker.env(), log)] = _Attempt(chunk, attempt)

    def failed(run: _Attempt, why: str) -> None:
        chunk, left = format_frames(run.chunk), [f for f in run.chunk if f not in run.finished]
        if run.attempt < args.max_retries:
            progress.retried += 1
            print(f"chunk {chunk} failed ({why}); running it again", file=sys.stderr, flush=True)
            submit(run.chunk, run.attempt + 1)
        else:
            progress.failed += left
            print(f"chunk {chunk} failed ({why}); frames {format_frames(left)} given up", file=sys.stderr, flush=True)

    for chunk in chunks:
        submit(chunk, 0)
    try:
        while pending:
            if stopped.is_set():
                raise KeyboardInterrupt
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            progress.show()
            for generator in ready:
                run = pending[generator]
                try:
                    item = ray.get(next(generator))
                except StopIteration:
                    del pending[generator]
                    continue
                except ray.exceptions.RayError as error:  # its node or worker process was lost
                    del pending[generator]
                    failed(run, f"lost its worker: {type(error).__name__}")
                    continue
                if item[0] == "frame":
                    _, frame, exported = item
                    run.finished.add(frame)
                    run.exported += exported
                    progress.frame(frame, exported)
                    continue
                _, status, why, host = item
                del pending[generator]
                progress.hosts[host] = progress.hosts.get(host, 0) + run.exported
                if status in (EXIT_USAGE, EXIT_REFUSED):  # the same on every try: stop the run
                    raise FarmError(f"the worker on {host} refused frames {format_frames(run.chunk)}: {why}", status)
                if status != 0:
                    failed(run, f"{why}, on {host}")
    except BaseException:
        for generator in pending:
            ray.cancel(generator, force=True)
        raise
    _merge(ray, remote, worker, args, frames, progress, stopped)


def _merge(ray, remote, worker, args, frames, progress, stopped: threading.Event) -> None:
    """The worker's ``merge`` as one last task: meta.json, coco.json, the contact sheet.
    It failed unless it wrote its report (so meta.json), whatever the chunks did; a merge
    that lists frames as missing where no chunk failed failed too."""
    if stopped.is_set():
        raise KeyboardInterrupt
    command = worker.command("merge", plan.merge_argv(args, frames))
    log = str(plan.farm_dir(args.out) / "logs" / "merge.log")
    plan.merge_report_path(args.out).unlink(missing_ok=True)
    for item in remote.remote(command, worker.env(), log):
        _, status, why, host = ray.get(item)
        report = plan.read_merge_report(args.out)
        if report is None:
            raise FarmError(f"the merge on {host} failed ({why}) and wrote no meta.json (log: {log})")
        if status != 0 and not progress.failed:
            raise FarmError(f"the merge on {host} found frames {report['missing']} incomplete: {why} (log: {log})")
