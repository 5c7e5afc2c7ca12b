# SPDX-License-Identifier: GPL-3.0-or-later
"""The farm on a real Ray cluster: a head with no CPUs and two one-CPU worker nodes on
loopback, in a private network namespace (see cluster.py). The driver runs in a Python
where ``import bpy`` fails; the workers are the bpy module's Python. Each result is
checked against a single-machine run of the same frames and against ray casts."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import bpy
import numpy as np
import png
import pytest
import scenes
from cluster import RayCluster, SlurmCluster
from ground_truth.core.frames import format_frames, parse_frames

FRAMES = 24
TRACKS = ("--tracks", "--tracks-per-object", "16")  # the single run and the farm both write tracks
pytestmark = pytest.mark.farm


@pytest.fixture(scope="module")
def project(addon, tmp_path_factory):
    """The shipped zip unpacked, a saved 24-frame moving scene, and its single-machine export."""
    root = tmp_path_factory.mktemp("farm_project")
    with zipfile.ZipFile(addon) as archive:
        archive.extractall(root / "packages" / "ground_truth")
    blocker = root / "no_bpy"  # the driver must not need Blender
    blocker.mkdir()
    (blocker / "bpy.py").write_text("raise ImportError('the farm driver imported bpy')\n")
    scene = scenes.new_scene(root / "unused")
    scenes.build_moving_scene(scene, FRAMES)
    blend = root / "moving.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    single = root / "single"
    env = {**os.environ, "PYTHONPATH": str(root / "packages")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ground_truth.cli",
            "render",
            "--blend",
            blend,
            "--out",
            single,
            "--frames",
            "1-24",
            *TRACKS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return {"root": root, "blend": blend, "single": single, "path": f"{blocker}:{root / 'packages'}"}


@pytest.fixture(scope="module")
def cluster():
    ray_cluster = RayCluster(nodes=2)
    yield ray_cluster
    ray_cluster.close()


def farm_command(project, cluster, out, *extra, worker=sys.executable, address=True):
    argv = [sys.executable, "-m", "ground_truth.cli", "farm", "--blend", project["blend"], "--out", out]
    argv += ["--frames", f"1-{FRAMES}", "--chunk", "4", "--worker-python", worker, *extra]
    if address:
        argv += ["--address", cluster.address]
    return argv


def start_farm(project, cluster, out, *extra, **kwargs):
    return cluster.namespace.start(
        farm_command(project, cluster, out, *extra, **kwargs),
        env={**cluster.env, "PYTHONPATH": project["path"]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_farm(project, cluster, out, *extra, **kwargs):
    process = start_farm(project, cluster, out, *extra, **kwargs)
    out_text, err_text = process.communicate(timeout=900)
    return process.returncode, out_text, err_text


def pixels(path: Path) -> np.ndarray:
    _, _, rows, _ = png.Reader(filename=str(path)).asDirect()
    return np.array(list(rows))


def png_text(path: Path) -> list[tuple[bytes, bytes]]:
    return [(kind, body) for kind, body in png.Reader(filename=str(path)).chunks() if kind == b"tEXt"]


def complete(out: Path) -> list[int]:
    return sorted(int(p.stem) for p in (out / "npz").glob("*.npz")) if (out / "npz").is_dir() else []


def assert_same_as_single(out: Path, single: Path, frames=range(1, FRAMES + 1)):
    """Every file of the single-machine run is there with the same content: meta.json
    and the frames' records byte for byte, every NPZ array equal, every PNG's pixels and
    text equal (Blender stamps its RGB with the time of the render, and ISA-L's deflate,
    which makes the previews', once chose other, equally valid, bytes for the same rows
    in one of two processes)."""

    def files(folder: Path) -> set[Path]:
        found = {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
        return {p for p in found if p.parts[0] != "_farm" and p.stem.lstrip("-").isdigit()}

    wanted = {p for p in files(single) if int(p.stem) in frames}
    assert files(out) == wanted
    if list(frames) == list(range(1, FRAMES + 1)):  # the run-level files too
        wanted |= {Path("meta.json"), Path("contact_sheet.png")}
    for name in sorted(wanted):
        a, b = single / name, out / name
        if name.suffix == ".npz":
            with np.load(a) as left, np.load(b) as right:
                assert sorted(left) == sorted(right)
                for key in left:
                    assert np.array_equal(left[key], right[key], equal_nan=left[key].dtype.kind == "f"), (name, key)
        elif name.suffix == ".png":
            assert np.array_equal(pixels(a), pixels(b)), name
            if name.parts[0] != "rgb":
                assert png_text(a) == png_text(b), name
        else:
            assert a.read_bytes() == b.read_bytes(), name


def manifests(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "_farm" / "chunks").glob("*.json"))]


def test_farm_export_equals_one_machine_and_the_geometry(project, cluster, tmp_path):
    out = tmp_path / "farm"
    code, stdout, stderr = run_farm(project, cluster, out, *TRACKS)
    assert code == 0, stderr
    assert stdout.splitlines() == [f"ground_truth: every frame is complete in {out}"]
    assert "24 of 24 frames complete (24 rendered)" in stderr
    # Every frame exactly once: six chunks of four, none run twice, both nodes at work.
    chunks = manifests(out)
    assert [c["frames"] for c in chunks] == ["1-4", "5-8", "9-12", "13-16", "17-20", "21-24"]
    assert [c["exported"] for c in chunks] == [4] * 6
    assert [c["complete"] for c in chunks] == [c["frames"] for c in chunks]
    assert len(list((out / "_farm" / "logs").glob("*.1.log"))) == 0  # no retry
    assert "127.0.0.3" in stderr and "127.0.0.4" in stderr  # the summary's frames per node
    assert_same_as_single(out, project["single"])
    assert json.loads((out / "meta.json").read_text())["frames_written"] == list(range(1, FRAMES + 1))
    # The merge writes the point tracks over every frame, as the single run did.
    with np.load(out / "tracks.npz") as farm, np.load(project["single"] / "tracks.npz") as single:
        assert list(farm["frames"]) == list(range(1, FRAMES + 1)) and len(farm["query_points"]) == 3 * 16
        for key in single:
            assert np.array_equal(farm[key], single[key], equal_nan=farm[key].dtype.kind == "f"), key
    # And the numbers are the scene's: depth and object index against ray casts.
    bpy.ops.wm.open_mainfile(filepath=str(project["blend"]))
    scene = bpy.context.scene
    ids: dict[str, set] = {}
    for frame in (1, 17):  # rendered by different chunks
        scene.frame_set(frame)
        truth = scenes.cast_pixels(scene)
        inside = truth["interior"]
        with np.load(out / "npz" / f"{frame:06d}.npz") as arrays:
            relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
            assert relative.max() < 1e-4, frame
            index = {o.name: o.pass_index for o in scene.objects}
            assert np.array_equal(arrays["object_index"][inside], [index[n] for n in truth["object"][inside]])
            for name in ("Ground", "Box", "Ico"):
                ids.setdefault(name, set()).update(arrays["instance_id"][inside & (truth["object"] == name)].tolist())
    # One id per object, the same in both chunks, named so in the merged meta.json.
    table = json.loads((out / "meta.json").read_text())["instances"]
    assert all(len(found) == 1 and table[str(*found)]["object"] == name for name, found in ids.items()), ids


def test_a_missing_gpu_is_refused_before_any_frame_on_a_local_ray(project, cluster, tmp_path):
    """The laptop command (no --address: a local Ray) asking for a GPU this machine lacks:
    refused by the driver (no GPU in the cluster), and by the worker when the task does
    not ask Ray for one (no CUDA device), with one line and nothing written."""
    out = tmp_path / "gpu"
    for extra, words in ((), "a task needs 1 GPU"), (("--gpus-per-task", "0"), "No CUDA device on"):
        code, _, stderr = run_farm(project, cluster, out, "--device", "CUDA", *extra, address=False)
        assert code == 3, stderr
        errors = [line for line in stderr.splitlines() if line.startswith("ground_truth: error:")]
        assert len(errors) == 1 and words in errors[0], stderr
        assert "Traceback" not in stderr
        assert complete(out) == [] and not (out / "rgb").exists() and not (out / "meta.json").exists()


def test_a_chunk_that_always_crashes_is_retried_then_named(project, cluster, tmp_path):
    """A worker Blender that dies of SIGSEGV on frames 5-8, every time."""
    crashing = tmp_path / "crashing_python"
    crashing.write_text(f'#!/bin/bash\ncase " $* " in *" 5-8 "*) kill -SEGV $$ ;; esac\nexec {sys.executable} "$@"\n')
    crashing.chmod(0o755)
    out = tmp_path / "crash"
    code, _, stderr = run_farm(project, cluster, out, "--max-retries", "2", worker=crashing)
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("ground_truth: error:")]
    assert errors == [f"ground_truth: error: frames 5-8 failed after 3 attempts (logs in {out / '_farm' / 'logs'})"]
    assert sorted(p.name for p in (out / "_farm" / "logs").glob("000005.*")) == [f"000005.{i}.log" for i in range(3)]
    assert "SIGSEGV" in stderr
    others = [f for f in range(1, FRAMES + 1) if f not in range(5, 9)]
    assert complete(out) == others
    assert json.loads((out / "meta.json").read_text())["frames_written"] == others
    assert_same_as_single(out, project["single"], frames=others)


def wait_until(driver, ready, seconds: float = 300) -> None:
    """Poll ``ready()`` while the driver runs; fail if it ends or time runs out first."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read()
        time.sleep(0.02)


def blenders_writing(cluster, out: Path) -> list[bytes]:
    """Command lines of processes in the cluster's namespace that name ``out``."""
    found = []
    for pid in cluster.namespace.processes():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(out).encode() in command and b"render" in command:
            found.append(command)
    return found


def test_ctrl_c_stops_the_run_and_its_blenders(project, cluster, tmp_path):
    out = tmp_path / "interrupted"
    driver = start_farm(project, cluster, out)
    wait_until(driver, lambda: len(complete(out)) >= 2)
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("ground_truth: interrupted; ") and last.endswith("run the same command again to resume")
    assert "Traceback" not in stderr
    time.sleep(3)
    assert blenders_writing(cluster, out) == []
    assert 2 <= len(complete(out)) < FRAMES


def test_a_killed_driver_is_resumed_without_rendering_complete_frames_again(project, cluster, tmp_path):
    out = tmp_path / "resumed"
    driver = start_farm(project, cluster, out)
    wait_until(driver, lambda: len(complete(out)) >= 6)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.communicate()
    time.sleep(3)  # Ray ends a dead driver's tasks; their Blenders die with them
    assert blenders_writing(cluster, out) == []
    before = {f: (out / "npz" / f"{f:06d}.npz").stat().st_mtime_ns for f in complete(out)}
    assert 6 <= len(before) < FRAMES
    code, _, stderr = run_farm(project, cluster, out)
    assert code == 0, stderr
    assert f"{FRAMES - len(before)} rendered" in stderr
    assert all((out / "npz" / f"{f:06d}.npz").stat().st_mtime_ns == t for f, t in before.items())
    assert_same_as_single(out, project["single"])


def ancestors(pid: int) -> list[bytes]:
    """The command lines of ``pid``'s parent, grandparent, ... up to the namespace's start."""
    lines = []
    try:
        while pid > 1:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
    except (OSError, ValueError):
        pass
    return lines


def chunk_rendering_on(cluster, node_ip: str) -> list[int] | None:
    """The frames of the chunk a worker Blender renders on the node ``node_ip`` (under
    that node's raylet, whose command line names its address), or None."""
    for pid in cluster.namespace.processes():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"render" in command and b"--frames" in command:
            if any(f"node_ip_address={node_ip}".encode() in line for line in ancestors(pid)):
                return parse_frames(command[command.index(b"--frames") + 1].decode())
    return None


def test_a_lost_node_does_not_lose_the_run(project, cluster, tmp_path):
    """SIGKILL of a whole worker node in the middle of a chunk: the chunk runs again on
    the other node, which skips the frames the lost one completed."""
    out = tmp_path / "lost"
    driver = start_farm(project, cluster, out)
    chunk = None

    def mid_chunk() -> bool:  # the node's Blender has finished a frame of its chunk, and not all
        nonlocal chunk
        chunk = chunk_rendering_on(cluster, "127.0.0.4")
        return bool(chunk) and 1 <= len(set(chunk) & set(complete(out))) < len(chunk)

    wait_until(driver, mid_chunk)
    cluster.kill_node(1)
    _, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr
    assert f"chunk {format_frames(chunk)} failed (lost its worker" in stderr, stderr
    assert "running it again" in stderr and "24 of 24 frames complete" in stderr
    assert_same_as_single(out, project["single"])


@pytest.mark.slurm
@pytest.mark.skipif(os.environ.get("GT_SLURM") != "1", reason="SLURM runs in tools/matrix.sh (GT_SLURM=1)")
def test_slurm_runs_the_job_arrays_and_the_merge_to_the_same_files(project, tmp_path):
    """Six chunks on a cluster whose arrays take four: two arrays of one script."""
    assert shutil.which("slurmctld"), "Debian's slurmctld, slurmd and munge: tools/matrix.sh installs them"
    slurm = SlurmCluster(max_array=4)
    try:
        out = tmp_path / "slurm"
        command = farm_command(project, None, out, "--backend", "slurm", address=False)
        env = {**slurm.env, "PYTHONPATH": project["path"]}
        dry = slurm.namespace.run([*command, "--dry-run"], env=env, timeout=120)
        assert dry.returncode == 0, dry.stderr
        job, merge = out / "_farm" / "job.sbatch", out / "_farm" / "merge.sbatch"
        assert dry.stdout.strip() == (
            f"job=$(sbatch --parsable {job}) && job1=$(sbatch --parsable --array=0-1 "
            f"--export=ALL,GROUND_TRUTH_CHUNK_OFFSET=4 {job}) && "
            f"sbatch --dependency=afterany:${{job%%;*}}:${{job1%%;*}} {merge}"
        )
        assert slurm.queue() == [] and complete(out) == []  # written, not submitted
        script = job.read_text()
        assert "#SBATCH --array=0-3" in script and "#SBATCH --requeue" in script
        assert (out / "_farm" / "chunks.txt").read_text().splitlines()[1] == (
            f"5-8\t{out / '_farm' / 'chunks' / '000005.json'}"
        )
        done = slurm.namespace.run(command, env=env, timeout=900)
        assert done.returncode == 0, done.stderr
        assert "24 of 24 frames complete" in done.stderr
        assert re.search(r"submitted: job arrays \d+, \d+, merge job \d+", done.stderr), done.stderr
        assert_same_as_single(out, project["single"])
        chunks = manifests(out)
        assert [c["exported"] for c in chunks] == [4] * 6
        assert {c["host"].split()[-1] for c in chunks} == {"(n1)", "(n2)"}  # both nodes took chunks
        assert list((out / "_farm" / "logs").glob("merge-*.out"))
    finally:
        slurm.close()
