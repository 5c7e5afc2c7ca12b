"""Blender's lines about our own work kept off standard output, everything else passed on."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = f"""
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("ground_truth", {str(ROOT / "__init__.py")!r},
                                              submodule_search_locations=[{str(ROOT)!r}])
sys.modules["ground_truth"] = module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from ground_truth.pipeline.quiet import hide_lines

print("before", flush=True)
with hide_lines("/dev/shm/.ground_truth_scratch", "Fra:"):
    os.write(1, b"Saved: '/dev/shm/.ground_truth_scratch.h.1.part/raw_.exr'\\n")  # as Blender's C code writes
    os.write(1, b"Fra:1 Mem:10.86M | Synchronizing object\\n")
    os.write(1, b"Warning: a real problem\\n")
    print("from Python")
print("after")
"""


def test_only_the_named_lines_are_dropped_and_the_rest_keeps_its_order():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before", "Warning: a real problem", "from Python", "after"]


def test_without_a_standard_output_nothing_is_caught():
    """Blender started from a desktop launcher may have no file descriptor 1 at all."""
    script = SCRIPT.split('print("before"')[0] + 'with hide_lines("x"):\n    sys.stderr.write("inside\\n")\n'
    command = ["bash", "-c", 'exec "$0" -c "$1" >&-', sys.executable, script]  # descriptor 1 closed
    done = subprocess.run(command, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"inside\n"
