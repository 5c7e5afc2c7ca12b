# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame lists from the command line."""

import numpy as np
import pytest
from ground_truth.core.frames import parse_frames


def test_ranges_steps_and_lists():
    assert parse_frames("3") == [3]
    assert parse_frames("1-5") == [1, 2, 3, 4, 5]
    assert parse_frames("1-10:4") == [1, 5, 9]
    assert parse_frames("2-10:4,1,5") == [2, 6, 10, 1, 5]
    assert parse_frames("-3--1") == [-3, -2, -1]
    assert parse_frames("1-3,2-4") == [1, 2, 3, 4]


@pytest.mark.parametrize("bad", ["", "a", "5-1", "1-4:0", "1-:2", "1--"])
def test_bad_specs_say_what_is_wrong(bad):
    with pytest.raises(ValueError, match="bad frame range"):
        parse_frames(bad)


def test_a_million_frames_parse_in_linear_time():
    """A quadratic parser (a list searched per frame) needs hours for this; a linear one a
    fraction of a second. The minute allowed is only a guard against hanging the suite."""
    import threading

    result = []
    worker = threading.Thread(target=lambda: result.append(parse_frames("1-1000000,5,999999-1000002")), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "parse_frames did not finish within a minute"
    assert result[0] == [*range(1, 1_000_001), 1_000_001, 1_000_002]


def test_frame_lists_are_written_back_short_and_read_back_equal():
    from ground_truth.core.frames import format_frames

    assert format_frames([1, 2, 3, 4]) == "1-4"
    assert format_frames([1, 2]) == "1-2"
    assert format_frames([1, 5]) == "1,5"
    assert format_frames([1, 4, 7, 10, 12]) == "1-10:3,12"
    assert format_frames([-5, -4, -3, 9]) == "-5--3,9"
    assert format_frames([]) == ""
    random = np.random.default_rng(7)
    for _ in range(500):
        frames = [int(f) for f in random.choice(np.arange(-50, 200), size=random.integers(1, 40), replace=False)]
        if random.random() < 0.5:
            frames.sort()
        assert parse_frames(format_frames(frames)) == frames
