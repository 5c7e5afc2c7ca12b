# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame lists from the command line: ``1-240``, ``1-240:4`` (every 4th), ``1,5,9``."""

from __future__ import annotations


def parse_frames(spec: str) -> list[int]:
    """Frames of a comma-separated list of ``N``, ``A-B`` and ``A-B:K`` items, in order,
    without repeats. Negative frames are written with a leading minus (``-5--1``).
    Linear in the number of frames (``1-1000000`` takes a fraction of a second)."""
    frames: list[int] = []
    seen: set[int] = set()
    for item in spec.split(","):
        item = item.strip()
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
        for frame in range(start, end + 1, step):
            if frame not in seen:
                seen.add(frame)
                frames.append(frame)
    return frames


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
