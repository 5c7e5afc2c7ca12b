# SPDX-License-Identifier: GPL-3.0-or-later
"""The bpy-free core: conversions, boxes and pictures on numpy arrays.

Nothing in this package imports ``bpy``; it is tested with plain pytest and can be
used from a training script.
"""
