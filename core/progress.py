# SPDX-License-Identifier: GPL-3.0-or-later
"""Where an export run is, frame by frame: what the panel, the status bar and the
command line show."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Where a run is: shown by the panel, the status bar and the command line."""

    total: int
    done: int = 0
    skipped: int = 0
    frame: int | None = None
    started: float = field(default_factory=time.perf_counter)
    seconds_per_frame: float | None = None
    # When the run has ended: its frames complete in every view, the views' folders
    # (relative to the output folder; "." for a single view) and a frame's array keys.
    complete: list[int] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)
    # Frames found with damaged files and exported again: one line each, for the user.
    redone: list[str] = field(default_factory=list)

    def step(self, frame: int, seconds: float | None) -> None:
        """Count ``frame`` as finished; ``seconds`` is its time, ``None`` if skipped."""
        self.frame = frame
        if seconds is None:
            self.skipped += 1
        else:
            self.done += 1
            rendered = self.done
            previous = self.seconds_per_frame or seconds
            self.seconds_per_frame = previous + (seconds - previous) / min(rendered, 10)

    @property
    def finished(self) -> int:
        return self.done + self.skipped

    @property
    def seconds_left(self) -> float | None:
        if self.seconds_per_frame is None:
            return None
        return (self.total - self.finished) * self.seconds_per_frame

    def describe(self) -> str:
        """``Frame 12 · 5 of 40 · 2.1 s/frame · 1:13 left`` (what is known so far)."""
        parts = [f"{self.finished} of {self.total}"]
        if self.frame is not None:
            parts.insert(0, f"Frame {self.frame}")
        if self.seconds_per_frame is not None:
            left = int(self.seconds_left)
            parts += [f"{self.seconds_per_frame:.1f} s/frame", f"{left // 60}:{left % 60:02d} left"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        return " · ".join(parts)
