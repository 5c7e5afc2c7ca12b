# SPDX-License-Identifier: GPL-3.0-or-later
"""Which files make a frame complete, and finding complete frames on disk."""

from ground_truth.core.plan import plan
from ground_truth.exporters.formats import complete_frames, expected_files
from ground_truth.exporters.layout import OutputOptions
from stub_files import write_stub


def keys(*modalities):
    return plan("CYCLES", modalities).arrays


def test_expected_files_follow_modalities_and_formats(tmp_path):
    names = {
        str(p.relative_to(tmp_path))
        for p in expected_files(
            tmp_path, 7, keys("depth", "flow", "boxes"), OutputOptions(npz=True, exr=True, previews=True)
        )
    }
    assert names == {
        "rgb/000007.png",
        "npz/000007.npz",
        "exr/000007.exr",
        "preview/depth/000007.png",
        "preview/flow_forward/000007.png",
        "preview/flow_backward/000007.png",
    }
    bare = expected_files(tmp_path, -3, keys("depth"), OutputOptions(npz=True, exr=False, previews=False))
    assert [str(p.relative_to(tmp_path)) for p in bare] == ["rgb/-00003.png", "npz/-00003.npz"]


def test_complete_frames_need_every_file(tmp_path):
    options = OutputOptions(npz=True, exr=False, previews=True)
    for frame in (1, 2, 3):
        for path in expected_files(tmp_path, frame, keys("depth"), options):
            write_stub(path)
    (tmp_path / "preview" / "depth" / "000002.png").unlink()
    assert complete_frames(tmp_path, keys("depth"), options) == [1, 3]
