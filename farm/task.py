# SPDX-License-Identifier: GPL-3.0-or-later
"""One chunk of a farm: a worker Blender process running ``render`` (or ``merge``).

Standard library only: Ray ships this module to its workers by value, so the nodes need
no copy of the add-on in their Python, only the worker Blender that has it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Iterator

from ..flags import FRAME_LINE, PROG

ERROR_LINE = f"{PROG}: error: "
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before Blender starts: be killed when the task's process dies (a
    cancelled task, a lost node), never left rendering for nobody."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child may outlive a killed task
        pass


def reason(status: int, log_path: str) -> str:
    """Why a worker ended with ``status``: its own error line, else how it died."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as stream:
            lines = [line.strip() for line in stream if line.strip()]
    except OSError:
        lines = []
    errors = [line.removeprefix(ERROR_LINE) for line in lines if line.startswith(ERROR_LINE)]
    if errors:
        return errors[-1]
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.Signals._value2member_map_ else str(-status)
        return f"the worker Blender was killed by {name}"
    return f"the worker exited with status {status}" + (f": {lines[-1]}" if lines else "")


def node_name() -> str:
    """``host`` or, on a Ray node, ``host (node IP)``: nodes can share a host."""
    try:
        import ray  # on a Ray node only

        return f"{socket.gethostname()} ({ray.util.get_node_ip_address()})"
    except (ImportError, RuntimeError):
        return socket.gethostname()


def run_chunk(command: list[str], env: dict[str, str], log_path: str) -> Iterator[tuple]:
    """Run ``command``; yield ``("frame", frame, exported)`` for each frame it finishes and
    last ``("exit", status, reason, host)``. Its standard error goes to ``log_path``."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        for line in process.stdout:
            if line.startswith(FRAME_LINE):
                frame, _, what = line[len(FRAME_LINE) :].strip().partition(" ")
                yield ("frame", int(frame), what == "exported")
            else:
                log.write(line)
                log.flush()
        status = process.wait()
    yield ("exit", status, "" if status == 0 else reason(status, log_path), node_name())
