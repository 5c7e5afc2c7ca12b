# SPDX-License-Identifier: GPL-3.0-or-later
"""The panel's properties and the command line's flags take the same values: one
settings table (core/settings.py) makes both."""

import bpy
import pytest
from ground_truth.commands import parser
from ground_truth.core.settings import SETTINGS
from ground_truth.flags import UsageError


def parses(flag: str, text: str) -> bool:
    try:
        parser().parse_args(["render", "--out", "x", flag, text])
    except UsageError:
        return False
    return True


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.bounds], ids=lambda s: s.name)
def test_a_number_has_one_range_in_the_panel_and_on_the_command_line(addon, setting):
    rna = bpy.types.Scene.bl_rna.properties["ground_truth"].fixed_type.properties[setting.name]
    low, high = setting.bounds
    assert (rna.hard_min, rna.hard_max) == (low, high)
    assert rna.default == setting.default
    if setting.flag:
        kind = type(setting.default)
        step = kind(1) if kind is int else 0.5
        assert parses(setting.flag, str(kind(low))) and parses(setting.flag, str(kind(high)))
        assert not parses(setting.flag, str(kind(high) + step))
        assert low - step < 0 or not parses(setting.flag, str(kind(low) - step))


def test_a_bad_flag_value_names_the_setting_s_range(addon):
    with pytest.raises(UsageError, match=r"bad count '100001' \(want a whole number, 1 to 100000\)"):
        parser().parse_args(["render", "--out", "x", "--tracks-per-object", "100001"])
    with pytest.raises(UsageError, match=r"unknown views 'side' \(choose from ACTIVE, MULTIVIEW, COLLECTION\)"):
        parser().parse_args(["render", "--out", "x", "--views", "side"])
