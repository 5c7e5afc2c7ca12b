# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Ground Truth" tab of the 3D Viewport sidebar."""

from . import sidebar

register, unregister = sidebar.register, sidebar.unregister
