# SPDX-License-Identifier: GPL-3.0-or-later
"""From a live scene to files: checks, the temporary export state, one frame's export."""
