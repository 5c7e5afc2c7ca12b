"""Frame lists from the command line."""

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
