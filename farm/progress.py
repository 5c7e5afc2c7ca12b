# SPDX-License-Identifier: GPL-3.0-or-later
"""A farm run's progress line and its error, shared by the driver and the backends."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from ..flags import EXIT_FAILED, bar


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
