# SPDX-License-Identifier: GPL-3.0-or-later
"""GroundTruthDataset on folders written by the exporter's own writers, driven by worker
processes the way torch's DataLoader drives a map-style dataset (fork and spawn)."""

import multiprocessing
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from ground_truth.core.png import write_png
from ground_truth.exporters.formats import write_frame
from ground_truth.exporters.layout import OutputOptions, npz_path, rgb_path
from ground_truth.exporters.meta import write_meta, write_rig_meta
from ground_truth.loader import FrameFileError, GroundTruthDataset

pytest.importorskip("PIL")  # the dataset reads rgb/ with Pillow

ROOT = Path(__file__).resolve().parents[2]
H, W = 12, 16
FRAMES = [1, 2, 3, 5, 6, 7]  # frame 4 missing: no clip spans it


def frame_arrays(frame: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed * 1000 + frame)
    depth = rng.uniform(1, 9, (H, W)).astype(np.float32)
    depth[0, 0] = np.inf
    return {
        "depth": depth,
        "depth_ray": depth * 1.01,
        "points_world": rng.normal(size=(H, W, 3)).astype(np.float32),
        "scene_flow_forward": rng.normal(size=(H, W, 3)).astype(np.float32),
        "flow_forward": rng.normal(size=(H, W, 2)).astype(np.float32),
        "object_index": rng.integers(0, 5, (H, W)).astype(np.int32),
        "K": np.array([[20.0, 0, 7.5], [0, 20.0, 5.5], [0, 0, 1]]),
        "world_to_camera": np.eye(4) * seed,
        "frame": np.int64(frame),
    }


def write_view(root: Path, seed: int, frames=FRAMES) -> dict[int, np.ndarray]:
    """A view's folder as the exporter leaves it; returns the RGB pictures it wrote."""
    pictures = {}
    for frame in frames:
        arrays = frame_arrays(frame, seed)
        write_frame(root, frame, arrays, OutputOptions(previews=False))
        picture = np.random.default_rng(frame + seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
        rgb_path(root, frame).parent.mkdir(parents=True, exist_ok=True)
        with open(rgb_path(root, frame), "wb") as stream:
            write_png(stream, picture)
        pictures[frame] = picture
    write_meta(root, {"resolution": [W, H], "arrays": sorted(frame_arrays(1, seed))}, frames)
    return pictures


@pytest.fixture
def single(tmp_path):
    return tmp_path, write_view(tmp_path, 1)


@pytest.fixture
def rig(tmp_path):
    pictures = {name: write_view(tmp_path / "views" / name, seed) for seed, name in enumerate(("left", "right"), 2)}
    views = [{"name": n, "camera": n.title(), "folder": f"views/{n}"} for n in pictures]
    write_rig_meta(tmp_path, {"views": views}, FRAMES)
    return tmp_path, pictures


def npz(root: Path, frame: int) -> dict[str, np.ndarray]:
    with np.load(npz_path(root, frame)) as data:
        return {key: data[key] for key in data.files}


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, strict=True)


def test_an_item_is_a_frame_of_every_array_and_rgb(single):
    root, pictures = single
    data = GroundTruthDataset(root)
    assert len(data) == len(FRAMES) and data.keys == sorted([*frame_arrays(1, 1), "rgb"])
    for i, frame in enumerate(FRAMES):
        item = data[i]
        assert_same({k: v for k, v in item.items() if k != "rgb"}, npz(root, frame))
        np.testing.assert_array_equal(item["rgb"], pictures[frame], strict=True)
    assert int(data[-1]["frame"]) == FRAMES[-1]
    with pytest.raises(IndexError):
        data[len(FRAMES)]
    assert list(data)[2]["frame"] == 3  # iteration stops at IndexError, as for any sequence


def test_keys_pick_arrays_and_unknown_keys_fail_at_once(single):
    root, _ = single
    data = GroundTruthDataset(root, keys=["depth", "frame"])
    assert sorted(data[0]) == ["depth", "frame"]
    with pytest.raises(KeyError, match="no normal here"):
        GroundTruthDataset(root, keys=["depth", "normal"])


def test_clips_are_consecutive_frames_and_skip_gaps(single):
    root, _ = single
    pairs = GroundTruthDataset(root, keys=["frame", "flow_forward"], clip_length=2)
    starts = [int(clip[0]["frame"]) for clip in pairs]
    assert starts == [1, 2, 5, 6]  # 3 → 4 and 7 → 8 are not both written
    for clip in pairs:
        assert [int(f["frame"]) for f in clip] == [int(clip[0]["frame"]), int(clip[0]["frame"]) + 1]
        np.testing.assert_array_equal(clip[1]["flow_forward"], npz(root, int(clip[1]["frame"]))["flow_forward"])
    assert [int(c[0]["frame"]) for c in GroundTruthDataset(root, keys=["frame"], clip_length=3)] == [1, 5]
    assert len(GroundTruthDataset(root, clip_length=10)) == 0
    with pytest.raises(ValueError, match="clip_length"):
        GroundTruthDataset(root, clip_length=0)


def test_views_are_items_view_by_view_on_the_same_frames(rig):
    root, pictures = rig
    data = GroundTruthDataset(root)
    assert len(data) == 2 * len(FRAMES)
    for i in range(len(data)):
        view, frame = ("left", "right")[i // len(FRAMES)], FRAMES[i % len(FRAMES)]
        item = data[i]
        assert item["view"] == view
        assert_same({k: v for k, v in item.items() if k not in ("rgb", "view")}, npz(root / "views" / view, frame))
        np.testing.assert_array_equal(item["rgb"], pictures[view][frame])
    left, right = GroundTruthDataset(root, views="left"), GroundTruthDataset(root, views=["right"])
    assert [int(left[i]["frame"]) for i in range(len(left))] == [int(right[i]["frame"]) for i in range(len(right))]
    with pytest.raises(ValueError, match="no view 'centre'"):
        GroundTruthDataset(root, views="centre")


def test_frames_without_npz_come_from_their_exr(tmp_path):
    arrays = frame_arrays(1, 1)
    write_frame(tmp_path, 1, arrays, OutputOptions(npz=False, exr=True, previews=False))
    write_meta(tmp_path, {"arrays": sorted(arrays)}, [1])
    pytest.importorskip("OpenEXR")
    assert_same(GroundTruthDataset(tmp_path, keys=sorted(arrays))[0], arrays)


def test_errors_name_the_folder_or_file(tmp_path, single):
    with pytest.raises(FrameFileError, match=r"no meta\.json"):
        GroundTruthDataset(tmp_path / "nowhere")
    root, _ = single
    dataset = GroundTruthDataset(root)
    npz_path(root, 2).write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(FrameFileError, match=r"000002\.npz"):  # damaged after the dataset was made
        dataset[1]
    assert len(GroundTruthDataset(root)) == len(dataset) - 1  # a dataset made now leaves it out
    with pytest.raises(ValueError, match="one view"):
        GroundTruthDataset(root, views="left")


def open_files_under(root: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    links = (os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink())
    return [link for link in links if link.startswith(str(root))]


def test_no_file_stays_open_after_an_item(rig):
    root, _ = rig
    data = GroundTruthDataset(root, clip_length=2)
    for clip in data:
        assert len(clip) == 2
    assert open_files_under(root) == []


# What DataLoader does with worker processes: hand each worker the dataset (inherited by
# fork, pickled for spawn) and have it fetch items by index, sending them back pickled.
_WORKER_DATASET = None


def _take_dataset(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _fetch(index: int):
    return os.getpid(), _WORKER_DATASET[index]


def double_depth(item: dict) -> dict:
    return {**item, "depth": item["depth"] * 2}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_processes_return_the_npz_arrays(rig, method, package_dir, monkeypatch):
    monkeypatch.syspath_prepend(package_dir)  # spawned workers import ground_truth as users' do
    root, pictures = rig
    data = GroundTruthDataset(root, keys=["rgb", "depth", "flow_forward", "frame"], transform=double_depth)
    data[0]  # the parent reads too before the workers start, as a training script may
    context = multiprocessing.get_context(method)
    with context.Pool(2, initializer=_take_dataset, initargs=(data,)) as pool:
        fetched = pool.map_async(_fetch, range(len(data)), chunksize=1).get(timeout=120)
    assert len({pid for pid, _ in fetched} - {os.getpid()}) >= 1
    for i, (_, item) in enumerate(fetched):
        view, frame = ("left", "right")[i // len(FRAMES)], FRAMES[i % len(FRAMES)]
        want = npz(root / "views" / view, frame)
        assert item["view"] == view and int(item["frame"]) == frame
        np.testing.assert_array_equal(item["depth"], want["depth"] * 2, strict=True)
        np.testing.assert_array_equal(item["flow_forward"], want["flow_forward"], strict=True)
        np.testing.assert_array_equal(item["rgb"], pictures[view][frame], strict=True)


def _torch():
    """PyTorch where the matrix installs it (GT_TORCH=1: a Python 3.11 environment, where
    its CPU build installs from a file), else skip."""
    if os.environ.get("GT_TORCH"):
        import torch

        return torch
    return pytest.importorskip("torch")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_torch_s_data_loader_batches_clips_as_the_files_hold_them(rig, method, package_dir, monkeypatch):
    """The real DataLoader: two worker processes started by ``method``, its default
    collation, clips of two consecutive frames with the per-pixel geometry arrays; every
    tensor equals ``np.load`` of its file (and the RGB the picture written)."""
    torch = _torch()
    monkeypatch.syspath_prepend(package_dir)  # spawned workers import ground_truth as users' do
    root, pictures = rig
    keys = ["rgb", "depth", "depth_ray", "points_world", "scene_flow_forward", "frame"]
    data = GroundTruthDataset(root, keys=keys, clip_length=2)
    loader = torch.utils.data.DataLoader(data, batch_size=3, num_workers=2, multiprocessing_context=method)
    clips = 0
    for batch in loader:
        assert isinstance(batch, list) and len(batch) == 2  # frame t and t+1, each batched
        now, then = batch
        assert now["view"] == then["view"] and torch.equal(then["frame"], now["frame"] + 1)
        for step in batch:
            assert step["depth"].dtype == torch.float32 and step["points_world"].shape[1:] == (H, W, 3)
            for j, view in enumerate(step["view"]):
                frame = int(step["frame"][j])
                want = npz(root / "views" / view, frame)
                for key in keys[1:]:
                    np.testing.assert_array_equal(step[key][j].numpy(), want[key], strict=True)
                np.testing.assert_array_equal(step["rgb"][j].numpy(), pictures[view][frame], strict=True)
        clips += len(now["view"])
    assert clips == len(data) == 2 * 4  # per view: 1-2, 2-3, 5-6, 6-7 (frame 4 is missing)


class _StandInLoader:
    """torch.utils.data.DataLoader's part the snippet uses, where torch is not installed:
    shuffled indices, batches fetched by ``num_workers`` spawned processes, and the
    default collation (arrays stacked along a new first axis, strings listed)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, num_workers=0):
        self.dataset, self.batch_size, self.shuffle, self.num_workers = dataset, batch_size, shuffle, num_workers

    def __iter__(self):
        order = np.random.default_rng(0).permutation(len(self.dataset)) if self.shuffle else range(len(self.dataset))
        context = multiprocessing.get_context("spawn")
        with context.Pool(self.num_workers, initializer=_take_dataset, initargs=(self.dataset,)) as pool:
            items = [item for _, item in pool.map_async(_fetch, [int(i) for i in order]).get(timeout=120)]
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            yield {key: _collate([b[key] for b in batch]) for key in batch[0]}


def _collate(values: list):
    return values if isinstance(values[0], str) else np.stack(values)


def test_the_documented_training_loop_runs(single, monkeypatch, package_dir):
    monkeypatch.syspath_prepend(package_dir)
    root, _ = single
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    snippet = re.search(r"<!-- training loop -->\n```python\n(.*?)```", contract, re.S)[1]
    assert len(snippet.strip().splitlines()) <= 6  # the import of DataLoader, and five lines
    try:
        import torch.utils.data  # noqa: F401
    except ImportError:
        data_module = types.ModuleType("torch.utils.data")
        data_module.DataLoader = _StandInLoader
        for name in ("torch", "torch.utils"):
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        monkeypatch.setitem(sys.modules, "torch.utils.data", data_module)
    seen = []
    code = snippet.replace('"run/"', repr(str(root)))
    assert code != snippet
    exec(code, {"train_step": lambda *arrays: seen.append(arrays)})
    frames = sorted(int(f) for *_, frame in seen for f in np.asarray(frame))
    assert frames == FRAMES
    rgb, depth, _, frame = seen[0]
    assert np.asarray(rgb).shape[1:] == (H, W, 3) and np.asarray(depth).shape[1:] == (H, W)
    np.testing.assert_array_equal(np.asarray(depth)[0], npz(root, int(np.asarray(frame)[0]))["depth"])


def test_the_dataset_serves_object_labels_and_whole_silhouettes_unpacked(tmp_path):
    """W = 13: the packed rows carry three bits of padding, which the loader drops."""
    height, width = 5, 13
    rng = np.random.default_rng(7)
    masks = rng.integers(0, 2, (2, height, width)).astype(bool)
    arrays = {
        "semantic": rng.integers(-1, 4, (height, width)).astype(np.int32),
        "instance_ids": np.array([4, 90], np.int32),
        "instance_pose": rng.normal(size=(2, 4, 4)),
        "instance_amodal_masks": np.packbits(masks, axis=-1),
        "K": np.eye(3),
        "world_to_camera": np.eye(4),
        "frame": np.int64(1),
    }
    write_frame(tmp_path, 1, arrays, OutputOptions(previews=False), instances={})
    write_meta(tmp_path, {"resolution": [width, height], "arrays": sorted(arrays)}, [1])
    item = GroundTruthDataset(tmp_path, keys=["semantic", "instance_pose", "instance_amodal_masks"])[0]
    np.testing.assert_array_equal(item["instance_amodal_masks"], masks)
    np.testing.assert_array_equal(item["semantic"], arrays["semantic"])
    np.testing.assert_array_equal(item["instance_pose"], arrays["instance_pose"])
