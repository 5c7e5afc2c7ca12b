# SPDX-License-Identifier: GPL-3.0-or-later
"""Where an export's time goes, stage by stage: what the benchmark prints (bench/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stages:
    """Seconds per named stage, summed over the times a stage runs. Each thread keeps
    its own (no lock): the main thread one per render, the writer one per frame."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
