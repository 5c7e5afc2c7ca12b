# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame lists from the command line: ``1-240``, ``1-240:4`` (every 4th), ``1,5,9``."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain

# Blender's frames: scene.frame_set clamps to these (MINAFRAME, MAXFRAME).
FIRST_FRAME, LAST_FRAME = -1_048_574, 1_048_574


class FrameSet(Sequence):
    """Frames in a given order without repeats, kept as runs (``range`` objects), so that
    ``1-1000000`` costs a few bytes, not a list of a million numbers. A sequence: ``len``,
    indexing, slicing (a ``FrameSet``), iteration, ``in``."""

    def __init__(self, runs: list[range]):
        self.runs = [r for r in runs if len(r)]
        self._ends = list(accumulate(len(r) for r in self.runs))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[int]:
        return chain.from_iterable(self.runs)

    def __contains__(self, frame: object) -> bool:
        return any(frame in r for r in self.runs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return FrameSet([range(f, f + 1) for f in list(self)[index]])
            return FrameSet(self._cut(start, stop))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        run = bisect_right(self._ends, index)
        return self.runs[run][index - (self._ends[run - 1] if run else 0)]

    def _cut(self, start: int, stop: int) -> list[range]:
        out, before = [], 0
        for run in self.runs:
            after = before + len(run)
            if after > start and before < stop:
                out.append(run[max(0, start - before) : min(len(run), stop - before)])
            before = after
        return out

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"FrameSet({format_frames(self)!r})"


def parse_frames(spec: str) -> FrameSet:
    """Frames of a comma-separated list of ``N``, ``A-B`` and ``A-B:K`` items, in order,
    without repeats. Negative frames are written with a leading minus (``-5--1``). Frames
    outside Blender's (−1 048 574 … 1 048 574) are refused. An item that repeats no
    earlier frame stays one run; repeats are dropped frame by frame (a bitmap of
    Blender's frames, 2 MB)."""
    runs: list[range] = []
    seen: bytearray | None = None
    for item in spec.split(","):
        frames = _item(item.strip())
        if seen is None and not any(_meet(r, frames) for r in runs):
            runs.append(frames)
            continue
        if seen is None:  # the first overlap: from here on, frame by frame
            seen = bytearray(LAST_FRAME - FIRST_FRAME + 1)
            for frame in chain.from_iterable(runs):
                seen[frame - FIRST_FRAME] = 1
        for frame in frames:
            if not seen[frame - FIRST_FRAME]:
                seen[frame - FIRST_FRAME] = 1
                _append(runs, frame)
    return FrameSet(runs)


def _item(item: str) -> range:
    body, _, step_text = item.partition(":")
    try:
        step = int(step_text) if step_text else 1
        start_text, dash, end_text = body[1:].partition("-")
        start = int(body[0] + start_text) if body else None
        end = int(end_text) if dash else start
    except (ValueError, IndexError):
        raise ValueError(f"bad frame range {item!r} (want N, A-B or A-B:K)") from None
    if start is None or step < 1 or end < start:
        raise ValueError(f"bad frame range {item!r} (want N, A-B or A-B:K with A <= B and K >= 1)")
    for frame in (start, end):
        if not FIRST_FRAME <= frame <= LAST_FRAME:
            raise ValueError(f"frame {frame} is outside Blender's frames ({FIRST_FRAME} to {LAST_FRAME})")
    return range(start, end + 1, step)


def _meet(a: range, b: range) -> bool:
    """Whether two runs share a frame (exact for steps of 1; otherwise whether their spans meet)."""
    return a.start <= b[-1] and b.start <= a[-1] if len(a) and len(b) else False


def _append(runs: list[range], frame: int) -> None:
    """Add ``frame`` after the others: to the last run where it continues its step."""
    last = runs[-1] if runs else None
    if last is not None and len(last) == 1 and frame != last.start:
        runs[-1] = range(last.start, frame + (frame - last.start), frame - last.start)
    elif last is not None and len(last) > 1 and frame == last.stop:
        runs[-1] = range(last.start, last.stop + last.step, last.step)
    else:
        runs.append(range(frame, frame + 1))


def format_frames(frames: list[int]) -> str:
    """The shortest-ish text :func:`parse_frames` reads back as ``frames``: runs with one
    step become ``A-B`` or ``A-B:K``, other frames stay single (``1-9:2,12,20-22``)."""
    items: list[str] = []
    i = 0
    while i < len(frames):
        j = i + 1
        if j < len(frames) and frames[j] > frames[i]:
            step = frames[j] - frames[i]
            while j + 1 < len(frames) and frames[j + 1] - frames[j] == step:
                j += 1
            if j - i >= 2 or step == 1:
                items.append(f"{frames[i]}-{frames[j]}" + (f":{step}" if step > 1 else ""))
                i = j + 1
                continue
        items.append(str(frames[i]))
        i += 1
    return ",".join(items)
