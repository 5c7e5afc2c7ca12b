# SPDX-License-Identifier: GPL-3.0-or-later
"""meta.json's upkeep: true to the files on disk, at a cost per frame that does not grow
with the frames already in the folder."""

import json
from pathlib import Path

import pytest
from ground_truth.core.modalities import plan
from ground_truth.exporters import layout
from ground_truth.exporters.formats import expected_files
from ground_truth.exporters.layout import OutputOptions
from ground_truth.exporters.meta import MetaKeeper

ARRAYS = plan("CYCLES", ["depth"]).arrays
OPTIONS = OutputOptions(npz=True, previews=True)
SCENE = {"resolution": [4, 3], "modalities": ["depth"], "camera": "Camera", "projection": "perspective"}


def complete(root: Path, frame: int) -> None:
    for path in expected_files(root, frame, ARRAYS, OPTIONS):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def listed(root: Path) -> list[int]:
    return json.loads((root / "meta.json").read_text())["frames_written"]


def test_frames_are_listed_as_they_complete_and_the_end_rescans(tmp_path):
    for frame in range(1, 4):
        complete(tmp_path, frame)  # an earlier run's frames
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=0.0)
    keeper.start()
    complete(tmp_path, 10)
    keeper.frame_done(10)
    assert listed(tmp_path) == [1, 2, 3, 10]
    complete(tmp_path, 20)  # another run sharing the folder finishes frame 20 meanwhile
    (tmp_path / "npz" / "000002.npz").unlink()  # and frame 2 loses a file
    complete(tmp_path, 11)
    keeper.frame_done(11)
    assert 20 not in listed(tmp_path)  # not scanned for: this run does not know it yet
    assert keeper.finish() == [1, 3, 10, 11, 20]
    assert listed(tmp_path) == [1, 3, 10, 11, 20]


def test_frames_another_run_listed_are_kept(tmp_path):
    other = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=0.0)
    mine = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=0.0)
    other.start()
    mine.start()
    complete(tmp_path, 1)
    other.frame_done(1)
    complete(tmp_path, 2)
    mine.frame_done(2)
    assert listed(tmp_path) == [1, 2]


def test_a_frame_costs_no_scan_of_the_folder(tmp_path, monkeypatch):
    for frame in range(1, 301):
        complete(tmp_path, frame)
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=0.0)
    keeper.start()

    def no_scan(*_):
        raise AssertionError("the folder was scanned for a single frame")

    monkeypatch.setattr(layout, "frames_on_disk", no_scan)
    monkeypatch.setattr(Path, "iterdir", no_scan)
    for frame in range(301, 321):
        complete(tmp_path, frame)
        keeper.frame_done(frame)
    assert listed(tmp_path) == list(range(1, 321))
    monkeypatch.undo()
    assert keeper.finish() == list(range(1, 321))


def test_writes_are_spaced_by_the_interval(tmp_path, monkeypatch):
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=3600.0)
    keeper.start()
    complete(tmp_path, 1)
    keeper.frame_done(1)  # the run's first frame is listed at once
    complete(tmp_path, 2)
    keeper.frame_done(2)
    assert listed(tmp_path) == [1]  # within the interval: listed at the end
    assert keeper.finish() == [1, 2]


@pytest.mark.parametrize("other", [{"resolution": [8, 6]}, {"camera": "Other"}])
def test_a_meta_of_another_export_is_not_merged(tmp_path, other):
    (tmp_path / "meta.json").write_text(json.dumps({**SCENE, **other, "frames_written": [7]}))
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS, interval=0.0)
    keeper.start()
    complete(tmp_path, 1)
    keeper.frame_done(1)
    assert listed(tmp_path) == [1]


def test_the_instance_table_is_the_union_of_the_complete_frames_records(tmp_path):
    """Each run (or farm chunk) leaves its frames' rows; the end of a run lists the rows of
    every complete frame, in id order, and names a record that is not a table."""
    arrays = plan("CYCLES", ["depth", "instance_id"]).arrays
    scene = {**SCENE, "modalities": ["depth", "instance_id"]}
    row = {"pass_index": 1, "instancer": None, "persistent_id": None}
    records = {1: {"70": {"object": "B", **row}}, 2: {"5": {"object": "A", **row}, "70": {"object": "B", **row}}}
    for frame, rows in records.items():
        for path in expected_files(tmp_path, frame, arrays, OPTIONS):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(rows) if path.parent.name == "instances" else "x")
    (tmp_path / "instances" / "000003.json").write_text(json.dumps({"9": {"object": "C", **row}}))  # incomplete
    keeper = MetaKeeper(tmp_path, scene, arrays, OPTIONS)
    assert keeper.finish() == [1, 2]
    table = json.loads((tmp_path / "meta.json").read_text())["instances"]
    assert list(table) == ["5", "70"] and table["70"]["object"] == "B"
    layout.instances_path(tmp_path, 2).write_text("")
    with pytest.raises(ValueError, match=r"000002\.json is not an instance table"):
        keeper.finish()
