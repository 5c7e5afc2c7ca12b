"""The version check at enable time."""

from ground_truth.core.support import support_message


def test_tested_versions_pass_silently():
    for version in ((4, 2, 23), (4, 5, 15), (5, 0, 1), (5, 1, 2), (5, 2, 3)):
        assert support_message(version, "0.1.0") == (True, None)


def test_older_blender_is_refused_in_one_sentence():
    usable, message = support_message((4, 1, 1), "0.1.0")
    assert not usable
    assert message == "Ground Truth 0.1.0 needs Blender 4.2 or newer; this is 4.1"


def test_untested_versions_run_with_a_warning():
    usable, message = support_message((4, 4, 0), "0.1.0")
    assert usable and "4.4 is not tested" in message
    assert support_message((6, 0, 0), "0.1.0")[0]
