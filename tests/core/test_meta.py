# SPDX-License-Identifier: GPL-3.0-or-later
"""meta.json's upkeep: true to the files on disk, at a cost per frame and per run that
does not grow with the frames already in the folder."""

import json
from pathlib import Path

import pytest
from ground_truth.core.plan import plan
from ground_truth.exporters import formats, layout
from ground_truth.exporters import meta as meta_module
from ground_truth.exporters.formats import expected_files
from ground_truth.exporters.layout import OutputOptions
from ground_truth.exporters.meta import MetaKeeper, add_frames, flow_reaching_outside, write_meta
from stub_files import write_stub

ARRAYS = plan("CYCLES", ["depth"]).arrays
OPTIONS = OutputOptions(npz=True, previews=True)
SCENE = {"resolution": [4, 3], "modalities": ["depth"], "camera": "Camera", "projection": "perspective"}


def complete(root: Path, frame: int) -> None:
    for path in expected_files(root, frame, ARRAYS, OPTIONS):
        write_stub(path)


def meta(root: Path) -> dict:
    return json.loads((root / "meta.json").read_text())


def listed(root: Path) -> list[int]:
    return meta(root)["frames_written"]


def test_frames_are_listed_as_they_complete_and_merge_rescans(tmp_path):
    for frame in range(1, 4):
        complete(tmp_path, frame)  # an earlier run's frames, never listed (it was killed)
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    complete(tmp_path, 10)
    keeper.frame_done(10)
    assert listed(tmp_path) == [10]  # no scan: the earlier frames are not known yet
    complete(tmp_path, 20)  # another run sharing the folder finishes frame 20 meanwhile
    complete(tmp_path, 11)
    keeper.frame_done(11)
    keeper.finish(found_complete=[2])  # a frame this run was asked for and found complete
    assert listed(tmp_path) == [2, 10, 11]
    (tmp_path / "npz" / "000002.npz").unlink()  # and frame 2 loses a file
    assert keeper.rebuild() == [1, 3, 10, 11, 20]  # merge: the truth of the files
    assert listed(tmp_path) == [1, 3, 10, 11, 20]
    assert meta(tmp_path)["flow_reaches_outside_export"] == flow_reaching_outside([1, 3, 10, 11, 20])


def test_frames_another_run_listed_are_kept(tmp_path):
    other = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    mine = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    for keeper, frame in ((other, 1), (mine, 5), (other, 3), (mine, 2), (other, 9)):  # interleaved, out of order
        complete(tmp_path, frame)
        keeper.frame_done(frame)
    assert listed(tmp_path) == [1, 2, 3, 5, 9]
    assert meta(tmp_path)["flow_reaches_outside_export"] == {"forward": [3, 5, 9], "backward": [1, 5, 9]}


def test_adding_frames_in_order_never_reads_the_list(tmp_path, monkeypatch):
    """At the end of the list, a frame costs the same with 10 frames listed or 100 000:
    the list is copied as bytes, never parsed, and the folder is never scanned."""
    path = tmp_path / "meta.json"
    write_meta(tmp_path, SCENE, range(1, 100_001))

    def never(*_):
        raise AssertionError("the list or the folder was read")

    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda text: never() if len(text) > 50_000 else real_loads(text))
    monkeypatch.setattr(formats, "frames_named", never)
    header = {"schema_version": 1, **SCENE}
    assert add_frames(path, lambda: header, [100_001, 100_002, 100_004], outside=True) == 100_003
    monkeypatch.undo()
    frames = listed(tmp_path)
    assert frames == [*range(1, 100_003), 100_004]
    assert meta(tmp_path)["flow_reaches_outside_export"] == flow_reaching_outside(frames)


def test_a_run_costs_no_scan_of_the_folder(tmp_path, monkeypatch):
    for frame in range(1, 301):
        complete(tmp_path, frame)
    write_meta(tmp_path, SCENE, range(1, 301))
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)

    def no_scan(*_):
        raise AssertionError("the folder was scanned")

    monkeypatch.setattr(formats, "frames_named", no_scan)
    monkeypatch.setattr(Path, "iterdir", no_scan)
    for frame in range(301, 321):
        complete(tmp_path, frame)
        keeper.frame_done(frame)
    keeper.finish()
    assert listed(tmp_path) == list(range(1, 321))


def test_the_folder_wide_files_are_made_again_as_the_folder_grows(tmp_path):
    """Always in a small folder; in a large one once it has grown by a twentieth, so a
    frame pays for them a twentieth of the time or less, in amortised cost."""
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    keeper.frame_done(1)
    assert keeper.folder_files_due()
    write_meta(tmp_path, {**SCENE, "folder_files_frames": 10_000}, range(1, 10_001))
    due = []
    for frame in range(10_001, 10_900):
        keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)  # one process a frame
        keeper.frame_done(frame)
        if keeper.folder_files_due():
            due.append(frame)
            keeper.covered_now(keeper.listed)
    assert due == [10_527]  # 527 frames: a twentieth of the 10 527 listed then
    assert meta(tmp_path)["folder_files_frames"] == 10_527 and len(listed(tmp_path)) == 10_899


@pytest.mark.parametrize("other", [{"resolution": [8, 6]}, {"camera": "Other"}])
def test_a_meta_of_another_export_is_not_merged(tmp_path, other):
    (tmp_path / "meta.json").write_text(json.dumps({**SCENE, **other, "frames_written": [7]}))
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    complete(tmp_path, 1)
    keeper.frame_done(1)
    assert listed(tmp_path) == [1]


def test_a_meta_json_of_the_earlier_layout_is_read_whole_and_kept(tmp_path):
    """A folder from a version that wrote the list indented, or one edited by hand."""
    earlier = {**SCENE, "frames_written": [1, 2, 3], "flow_reaches_outside_export": flow_reaching_outside([1, 2, 3])}
    (tmp_path / "meta.json").write_text(json.dumps(earlier, indent=2))
    keeper = MetaKeeper(tmp_path, SCENE, ARRAYS, OPTIONS)
    keeper.frame_done(4)
    assert listed(tmp_path) == [1, 2, 3, 4]
    keeper.frame_done(5)  # now in the new layout
    assert listed(tmp_path) == [1, 2, 3, 4, 5]
    assert (tmp_path / "meta.json").read_text().endswith('"frames_written": [1, 2, 3, 4, 5]\n}\n')


def test_merge_takes_reported_frames_by_name_and_their_rows_from_the_reports(tmp_path, monkeypatch):
    """Frames a farm's chunk reports found complete: their files looked for by name only,
    their instance rows taken from the reports; other frames checked whole and read."""
    arrays = plan("CYCLES", ["depth", "instance_id"]).arrays
    scene = {**SCENE, "modalities": ["depth", "instance_id"]}
    row = {"pass_index": 1, "instancer": None, "persistent_id": None}
    for frame in (1, 2, 3, 4):
        for path in expected_files(tmp_path, frame, arrays, OPTIONS):
            write_stub(path)
            if path.parent.name == "instances":
                path.write_text(json.dumps({"9" if frame == 3 else "5": {"object": "C" if frame == 3 else "A", **row}}))
    layout.npz_path(tmp_path, 4).unlink()  # reported complete, and a file has gone since
    checked, read = [], []
    real_check, real_read = formats.is_complete, meta_module.read_instances

    def check(root, frame, *rest):
        checked.append(frame)
        return real_check(root, frame, *rest)

    def read_rows(root, frames, known):
        read.append(list(frames))
        return real_read(root, frames, known)

    monkeypatch.setattr(formats, "is_complete", check)
    monkeypatch.setattr(meta_module, "read_instances", read_rows)
    keeper = MetaKeeper(tmp_path, scene, arrays, OPTIONS)
    assert keeper.rebuild({1, 2, 4}, {"5": {"object": "A", **row}}) == [1, 2, 3]
    assert checked == [3] and read == [[3]]
    assert meta(tmp_path)["instances"] == {"5": {"object": "A", **row}, "9": {"object": "C", **row}}
    assert listed(tmp_path) == [1, 2, 3]


def test_the_instance_table_is_the_union_of_the_runs_rows_and_merge_rebuilds_it(tmp_path):
    """Each run adds its frames' rows as it goes; merge lists the rows of every complete
    frame, in id order; a record cut short leaves its frame out."""
    arrays = plan("CYCLES", ["depth", "instance_id"]).arrays
    scene = {**SCENE, "modalities": ["depth", "instance_id"]}
    row = {"pass_index": 1, "instancer": None, "persistent_id": None}
    records = {1: {"70": {"object": "B", **row}}, 2: {"5": {"object": "A", **row}, "70": {"object": "B", **row}}}
    for frame, rows in records.items():
        for path in expected_files(tmp_path, frame, arrays, OPTIONS):
            write_stub(path)
            if path.parent.name == "instances":
                path.write_text(json.dumps(rows))
        MetaKeeper(tmp_path, scene, arrays, OPTIONS).frame_done(frame, rows)
    assert list(meta(tmp_path)["instances"]) == ["5", "70"]
    (tmp_path / "instances" / "000003.json").write_text(json.dumps({"9": {"object": "C", **row}}))  # incomplete
    keeper = MetaKeeper(tmp_path, scene, arrays, OPTIONS)
    assert keeper.rebuild() == [1, 2]
    table = meta(tmp_path)["instances"]
    assert list(table) == ["5", "70"] and table["70"]["object"] == "B"
    layout.instances_path(tmp_path, 2).write_text('{"5": {"obj')
    assert keeper.rebuild() == [1] and list(meta(tmp_path)["instances"]) == ["70"]
