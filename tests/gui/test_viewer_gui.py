# SPDX-License-Identifier: GPL-3.0-or-later
"""``view`` opens Rerun's viewer where a display is there: Xvfb, with Mesa's software
Vulkan (Rerun's renderer needs R32Float targets, which Mesa's software OpenGL lacks).
Everything runs in a network namespace with loopback only (Rerun's viewer sends usage
statistics unless told not to). Needs Debian's ``xvfb``, ``x11-utils`` and
``mesa-vulkan-drivers``; installs them when missing (as root, as CI runs). Run by
tools/matrix.sh (GT_GUI=1).

What a user sees is not checked: a capture of the screen comes back black, as Mesa's
software Vulkan presents to Xvfb; the test checks that the viewer's window is there and
its process still runs after 12 s (it exits at once when it cannot render)."""

import os
import shutil
import signal
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from recording import OFFLINE
from synthetic_run import write_view

pytestmark = [
    pytest.mark.skipif(not os.environ.get("GT_GUI"), reason="run by tools/matrix.sh (GT_GUI=1)"),
    pytest.mark.skipif(find_spec("rerun") is None, reason="rerun-sdk is not installed here"),
]

SESSION = r"""
set -u
ip link set lo up
display=$1 folder=$2
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp > /dev/null 2>&1 &
xvfb=$!
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
DISPLAY=":$display" "$PYTHON" -m ground_truth.cli view "$folder"
echo "view exit $?"
sleep 12
for proc in /proc/[0-9]*; do
    if tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | grep -q "rerun.*run.rrd"; then echo "viewer alive ${proc#/proc/}"; fi
done
xwininfo -root -tree -display ":$display" | grep -o '"Rerun"' | head -1 | sed 's/^/window /'
pkill -f "rerun.*run.rrd"
kill $xvfb
"""


def ensure_packages():
    if (
        shutil.which("Xvfb")
        and shutil.which("xwininfo")
        and Path("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json").exists()
    ):
        return
    if os.geteuid() != 0:
        pytest.fail("Debian's xvfb, x11-utils and mesa-vulkan-drivers are missing and this user cannot install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    packages = ["xvfb", "xauth", "x11-utils", "mesa-vulkan-drivers"]
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)


def free_display() -> int:
    return next(n for n in range(171, 300) if not Path(f"/tmp/.X11-unix/X{n}").exists())


def test_view_opens_rerun_where_a_display_is(tmp_path, package_dir):
    ensure_packages()
    folder = tmp_path / "run"
    write_view(folder)
    env = {
        "PYTHONPATH": str(package_dir),
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHON": sys.executable,
    }
    display = free_display()
    session = subprocess.Popen(
        [*OFFLINE, "bash", "-c", SESSION, "session", str(display), str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = session.communicate(timeout=120)
    finally:  # also when the session hangs: nothing of it outlives the test
        for pattern in (f"Xvfb :{display} ", str(folder)):
            subprocess.run(["pkill", "-f", pattern], check=False)
        if session.poll() is None:
            os.killpg(session.pid, signal.SIGKILL)
    done = subprocess.CompletedProcess(session.args, session.returncode, stdout, stderr)
    assert "view exit 0" in done.stdout, done.stdout + done.stderr
    assert "ground_truth: open it with" not in done.stdout  # a display was there: no hint, the viewer
    assert "viewer alive" in done.stdout, done.stdout + done.stderr  # still up after 12 s: it opened the file
    assert 'window "Rerun"' in done.stdout, done.stdout
    assert (folder / "run.rrd").stat().st_size > 0
