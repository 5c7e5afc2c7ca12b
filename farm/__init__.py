# SPDX-License-Identifier: GPL-3.0-or-later
"""Farms: one export split across a Ray cluster or a SLURM job array (``ground_truth
farm``). Nothing here imports ``bpy``; the driver runs in any Python with ``ray``."""
