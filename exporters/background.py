# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded background writer: frame t is converted and written while frame t+1 renders
(Blender releases the GIL while it renders); and the threads that encode a frame's files
side by side."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

_encoding_pool: ThreadPoolExecutor | None = None


def encoding_pool() -> Executor:
    """The threads that encode a frame's files (made once, kept for the process)."""
    global _encoding_pool
    if _encoding_pool is None:
        workers = max(2, min(4, os.cpu_count() or 1))
        _encoding_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ground_truth_encode")
    return _encoding_pool


class BackgroundWriter:
    """Runs jobs one at a time on a worker thread, with at most ``depth`` waiting, so
    memory stays bounded. A job's exception comes back from the next :meth:`submit` or
    from :meth:`close`; after one, later jobs are skipped (the run stops there)."""

    def __init__(self, depth: int = 1):
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None  # raised once, to the submitting thread
        self._failed = False  # stays set: every job after a failure is skipped
        self._thread = threading.Thread(target=self._work, name="ground_truth_writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if not self._failed:
                try:
                    job()
                except BaseException as error:  # handed to the submitting thread
                    self._error, self._failed = error, True

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job`` (waits while the queue is full); raises an earlier job's error."""
        self._raise()
        self._jobs.put(job)

    def close(self) -> None:
        """Finish every queued job, stop the worker, and raise the first error if any."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise()
