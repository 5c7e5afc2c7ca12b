# SPDX-License-Identifier: GPL-3.0-or-later
"""The farm's bpy-free parts: chunks, resuming, and the SLURM job script run by bash with
a stand-in worker (the real SLURM and Ray runs are in tests/blender/test_farm.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from ground_truth.commands import parser
from ground_truth.core.png import write_png
from ground_truth.exporters.chunks import ChunkReports
from ground_truth.exporters.formats import expected_files, frames_named, is_complete, write_frame
from ground_truth.exporters.layout import OutputOptions, rgb_path
from ground_truth.farm import plan, slurm


def _png_bytes() -> bytes:
    import io

    stream = io.BytesIO()
    write_png(stream, np.zeros((4, 6, 3), np.uint8))
    return stream.getvalue()


_PNG = _png_bytes()


def farm_args(tmp_path: Path, *extra: str):
    blend = tmp_path / "scene.blend"
    blend.write_bytes(b"BLENDER")
    argv = ["farm", "--blend", str(blend), "--out", str(tmp_path / "out"), "--frames", "1-10"]
    return parser().parse_args([*argv, *extra])


def test_chunks_keep_the_order_and_cover_every_frame_once():
    frames = list(range(1, 240, 3))
    chunks = plan.split(frames, 7)
    assert [f for c in chunks for f in c] == frames
    assert [len(c) for c in chunks] == [7] * 11 + [3]


def test_frames_complete_on_disk_are_not_planned_again(tmp_path):
    out = tmp_path / "out"
    options = OutputOptions(previews=False)
    keys = ["K", "depth", "frame", "world_to_camera"]
    assert plan.complete_already(str(out), [1, 2, 3], options) == []  # nothing says what a frame holds
    (out / "_farm" / "chunks").mkdir(parents=True)
    (out / "_farm" / "chunks" / "000001.json").write_text(json.dumps({"arrays": keys}))
    for frame in (1, 3, 4):
        arrays = {"K": np.eye(3), "depth": np.ones((4, 6), np.float32), "frame": np.int64(frame)}
        write_frame(out, frame, {**arrays, "world_to_camera": np.eye(4)}, options)
        rgb_path(out, frame).parent.mkdir(parents=True, exist_ok=True)
        rgb_path(out, frame).write_bytes(_PNG)
    os.remove(expected_files(out, 3, keys, options)[0])  # frame 3 lacks a file
    npz = expected_files(out, 4, keys, options)[-1]
    npz.write_bytes(npz.read_bytes()[:-30])  # frame 4's is cut short
    assert plan.complete_already(str(out), [1, 2, 3, 4], options) == [1]


def _report(out: Path, name: str, keys: list[str], complete: str, **extra) -> Path:
    path = out / "_farm" / "chunks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"frames": complete, "complete": complete, "arrays": keys, "folders": ["."], **extra}))
    return path


def test_a_chunk_report_vouches_for_its_frames_while_their_files_are_there(tmp_path, monkeypatch):
    """Frames a report of this export found complete are looked for by name, not opened;
    a report of another export vouches for nothing, and frames no report names are
    checked whole, file by file."""
    out = tmp_path / "out"
    options = OutputOptions(previews=False)
    keys = ["K", "depth", "frame", "world_to_camera"]
    for frame in range(1, 7):
        arrays = {"K": np.eye(3), "depth": np.ones((4, 6), np.float32), "frame": np.int64(frame)}
        write_frame(out, frame, {**arrays, "world_to_camera": np.eye(4)}, options)
        rgb_path(out, frame).parent.mkdir(parents=True, exist_ok=True)
        rgb_path(out, frame).write_bytes(_PNG)
    _report(out, "000001.json", keys, "1-3")
    _report(out, "000005.json", [*keys, "normal"], "5-6")  # another export's
    os.remove(expected_files(out, 3, keys, options)[0])  # reported, but a file has gone since
    for frame in (4, 6):
        npz = expected_files(out, frame, keys, options)[-1]
        npz.write_bytes(npz.read_bytes()[:-30])  # cut short, and no report of this export vouches for it
    opened = []

    def check(root, frame, *rest):
        opened.append(frame)
        return is_complete(root, frame, *rest)

    monkeypatch.setattr(plan, "is_complete", check)
    assert plan.complete_already(str(out), range(1, 8), options) == [1, 2, 5]
    assert opened == [4, 5, 6]


def test_frames_are_named_by_their_files_names_and_nothing_else(tmp_path):
    options = OutputOptions(npz=False, previews=False)
    folder = tmp_path / "rgb"
    folder.mkdir()
    for name in ("000007.png", "-00005.png", "1048574.png", "7.png", "000008.png.part", "abcdef.png", "000009.npz"):
        (folder / name).write_bytes(b"")
    assert frames_named(tmp_path, ["depth"], options) == {7, -5, 1_048_574}
    assert frames_named(tmp_path / "elsewhere", ["depth"], options) == set()


def test_chunk_reports_are_read_once_and_again_when_written_again(tmp_path):
    reports = ChunkReports(tmp_path)
    assert reports.read_new() == []  # no chunk folder yet
    first = _report(tmp_path, "000001.json", ["depth"], "1-3")
    broken = _report(tmp_path, "000004.json", ["depth"], "4")
    broken.write_text('{"frames": "4", "compl')  # being written by a worker on another node
    assert [list(r["complete"]) for r in reports.read_new()] == [[1, 2, 3]]
    assert reports.read_new() == []
    _report(tmp_path, "000001.json", ["depth"], "1-2,3:1")
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 1))  # a chunk run again
    _report(tmp_path, "000004.json", ["depth"], "4")
    assert sorted(list(r["complete"]) for r in reports.read_new()) == [[1, 2, 3], [4]]


def fake_worker(tmp_path: Path, statuses: str) -> Path:
    """A stand-in for the worker's Python: logs its arguments, exits with the next status."""
    script = tmp_path / "worker"
    script.write_text(
        "#!/bin/bash\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        f"n=$(wc -l < {tmp_path}/calls)\n"
        f"exit $(cut -d' ' -f$n <<< '{statuses}')\n"
    )
    script.chmod(0o755)
    return script


def run_array_task(tmp_path: Path, statuses: str, index: int, retries: int = 2, offset: int | None = None):
    tmp_path.mkdir(exist_ok=True)
    args = farm_args(tmp_path, "--chunk", "4", "--worker-python", str(fake_worker(tmp_path, statuses)))
    args.max_retries, args.gpus_per_task = retries, 0
    chunks = plan.split(args.frames, args.chunk)
    job, merge = slurm.write_jobs(args, chunks, args.frames, array_size=2 if offset is not None else 1001)
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(index)}
    if offset is not None:
        env[slurm.OFFSET] = str(offset)
    done = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines()
    return done, calls, job, merge


def test_the_job_script_renders_its_line_and_retries_failures(tmp_path):
    done, calls, job, merge = run_array_task(tmp_path, "1 1 0", index=1)
    assert done.returncode == 0 and len(calls) == 3  # two failures, then success
    manifest = tmp_path / "out" / "_farm" / "chunks" / "000005.json"
    assert all(call.endswith(f"--frames 5-8 --chunk-manifest {manifest}") for call in calls)
    assert calls[0].startswith(f"-m ground_truth.cli render --blend {tmp_path / 'scene.blend'} --out ")
    assert done.stderr.count("failed with status 1") == 2
    script = job.read_text()
    assert "#SBATCH --array=0-2" in script and "#SBATCH --requeue" in script and "--gres" not in script
    assert f"export PYTHONPATH={plan.PACKAGE_PARENT}" in script
    assert merge.read_text().splitlines()[-1].endswith("merge --blend " + str(tmp_path / "scene.blend") + " --out "
        + str(tmp_path / "out") + " --modalities depth,depth_ray,disparity,normal,flow,occlusion,"
        "object_index,material_index,instance_id,semantic,object_labels,emission,boxes --formats npz"
        " --npz-compression 1 --preview-width 1280 --depth-png16-scale 1000.0"
        " --tracks-per-object 256 --tracks-seed 0 --views ACTIVE --colmap-points 1000 --class-property class"
        " --frames 1-10 --report " + str(tmp_path / "out" / "_farm" / "merge.json"))  # fmt: skip


def test_the_job_script_gives_up_after_the_retries_and_at_once_on_a_refusal(tmp_path):
    done, calls, _, _ = run_array_task(tmp_path / "a", "1 1 1 0", index=2)
    assert done.returncode == 1 and len(calls) == 3 and calls[0].endswith("--frames 9-10 --chunk-manifest " + str(
        tmp_path / "a" / "out" / "_farm" / "chunks" / "000009.json"))  # fmt: skip
    done, calls, _, _ = run_array_task(tmp_path / "b", "3 0", index=0)
    assert done.returncode == 3 and len(calls) == 1


def test_a_run_longer_than_slurm_s_arrays_is_several_arrays_of_the_same_script(tmp_path):
    """MaxArraySize 2, 3 chunks: the script's array takes chunks 0-1, a second array of
    one index starts at chunk 2 (frames 9-10)."""
    done, calls, job, _ = run_array_task(tmp_path, "0", index=0, offset=2)
    assert done.returncode == 0 and calls[0].endswith("--frames 9-10 --chunk-manifest " + str(
        tmp_path / "out" / "_farm" / "chunks" / "000009.json"))  # fmt: skip
    assert "#SBATCH --array=0-1\n" in job.read_text()
    assert slurm.arrays(job, 3, 2) == [[str(job)], ["--array=0-0", f"--export=ALL,{slurm.OFFSET}=2", str(job)]]
    assert slurm.arrays(job, 5, 2)[1:] == [
        ["--array=0-1", f"--export=ALL,{slurm.OFFSET}=2", str(job)],
        ["--array=0-0", f"--export=ALL,{slurm.OFFSET}=4", str(job)],
    ]
    assert slurm.arrays(job, 2, 2) == [[str(job)]]


def test_the_driver_says_what_is_missing_in_one_line(tmp_path, package_dir):
    command = [sys.executable, "-m", "ground_truth.cli", "farm", "--blend", str(tmp_path / "none.blend")]
    command += ["--out", str(tmp_path), "--frames", "1-3"]
    env = {**os.environ, "PYTHONPATH": str(package_dir)}
    for extra, words in (
        ([], "one of the arguments --blender --worker-python is required"),
        (["--worker-python", sys.executable], "no such .blend file"),
        (["--worker-python", sys.executable, "--chunk", "0"], "bad count '0'"),
    ):
        done = subprocess.run([*command, *extra], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert words in done.stderr


def test_offsets_and_tracks_reach_every_chunk_and_the_merge(tmp_path):
    queries = tmp_path / "queries.npy"
    queries.write_bytes(b"\x93NUMPY")
    extra = ["--flow-offsets", "2,8", "--tracks-per-object", "9", "--tracks-seed", "4", "--track-queries", str(queries)]
    args = farm_args(tmp_path, "--worker-python", sys.executable, *extra)
    for command, argv in (("render", plan.chunk_argv(args, [1, 2])), ("merge", plan.merge_argv(args, [1, 2]))):
        parsed = parser().parse_args([command, "--out", "x", *argv])
        assert parsed.flow_offsets == "2,8" and parsed.use_tracks and parsed.tracks_per_object == 9
        assert parsed.tracks_seed == 4 and parsed.track_queries == str(queries)
    plain = farm_args(tmp_path, "--worker-python", sys.executable)
    assert "--tracks" not in plan.merge_argv(plain, [1]) and "--flow-offsets" not in plan.merge_argv(plain, [1])
