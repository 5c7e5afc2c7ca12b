# SPDX-License-Identifier: GPL-3.0-or-later
"""Writers and readers of the output folder. No ``bpy``: numpy and OpenEXR only."""
