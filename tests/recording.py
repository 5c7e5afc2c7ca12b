# SPDX-License-Identifier: GPL-3.0-or-later
"""Rerun recordings in tests: written and read back only by processes in a network
namespace of their own, with loopback alone. Rerun's SDK and viewer send usage
statistics unless a user turns them off; a test sends nothing anywhere.

``read_recording(path)`` loads a recording with Rerun's own reader (``rerun.chunk``)
and returns ``{entity: {frame or None (static): {component: value}}}`` with values as
plain Python data. Run as a script, this file is the reader inside the namespace.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

OFFLINE = ["unshare", "-n", "--", "bash", "-c", 'ip link set lo up && exec "$@"', "offline"]


def offline(argv: list, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` in a private network namespace (loopback only)."""
    return subprocess.run([*OFFLINE, *map(str, argv)], capture_output=True, text=True, timeout=timeout, **kwargs)


def read_recording(path: Path, python: str = sys.executable) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "recording.pickle"
        done = offline([python, __file__, path, out])
        assert done.returncode == 0, done.stderr
        with open(out, "rb") as stream:
            return pickle.load(stream)


def _dump(path: str, out: str) -> None:
    from rerun.chunk import RrdReader

    entities: dict[str, dict] = {}
    for chunk in RrdReader(path).stream().collect().stream():
        batch = chunk.to_record_batch()
        names = [name for name in batch.schema.names if ":" in name]
        frames = batch.column("frame").to_pylist() if "frame" in batch.schema.names else [None] * batch.num_rows
        rows = entities.setdefault(chunk.entity_path, {})
        for row, frame in enumerate(frames):
            rows.setdefault(frame, {}).update({name: batch.column(name)[row].as_py() for name in names})
    with open(out, "wb") as stream:
        pickle.dump(entities, stream)


if __name__ == "__main__":
    _dump(sys.argv[1], sys.argv[2])
