# SPDX-License-Identifier: GPL-3.0-or-later
"""Telling a Blender whose OpenEXR clashes with the module (Debian's) from one whose does not."""

from ground_truth.vendor import system_openexr_in

# Lines as /proc/self/maps shows them, from Debian's blender 3.4 and from the bpy 5.2 wheel.
DEBIAN = "7f2a1c000000-7f2a1c100000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libOpenEXR-3_1.so.30.5.1"
BPY = "7f2a1c000000-7f2a1c100000 r-xp 00000000 08:01 456 /venv/lib/python3.13/site-packages/bpy/lib/libOpenEXR.so.33"


def test_a_distribution_openexr_is_a_clash():
    assert system_openexr_in("\n".join(["55d0 r-xp 0 0 0 /usr/bin/blender", DEBIAN, ""]))


def test_blenders_own_openexr_is_not():
    assert not system_openexr_in("\n".join([BPY, "7f00 rw-p 0 0 0 ", "7f01 r-xp 0 0 0 [vdso]"]))
