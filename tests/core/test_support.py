# SPDX-License-Identifier: GPL-3.0-or-later
"""The version check at enable time."""

from ground_truth.core.support import support_message


def test_tested_versions_pass_silently():
    for version in ((4, 2, 23), (4, 5, 15), (5, 0, 1), (5, 1, 2), (5, 2, 3)):
        assert support_message(version, "0.1.0") == (True, None)


def test_older_blender_is_refused_in_one_sentence():
    usable, message = support_message((3, 3, 1), "0.1.0")
    assert not usable
    assert message == "Ground Truth 0.1.0 needs Blender 3.4 or newer; this is 3.3"


def test_untested_versions_run_with_a_warning():
    usable, message = support_message((4, 4, 0), "0.1.0")
    assert usable and "4.4 is not tested" in message
    assert support_message((6, 0, 0), "0.1.0")[0]


def test_bl_info_and_the_manifest_carry_the_same_version():
    import tomllib
    from pathlib import Path

    import ground_truth
    from ground_truth.core.support import addon_version

    manifest = tomllib.loads((Path(ground_truth.__file__).parent / "blender_manifest.toml").read_text())
    assert ".".join(map(str, ground_truth.bl_info["version"])) == manifest["version"] == addon_version()
    assert manifest["name"] == ground_truth.bl_info["name"] == "Ground Truth"
