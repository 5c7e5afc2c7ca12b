# SPDX-License-Identifier: GPL-3.0-or-later
"""An export's errors, whose messages are for the user: raised by the Blender-free
writer (:mod:`.frame_writer`) as by the pipeline that runs the scene."""


class ExportError(Exception):
    """An export that cannot run or did not finish; the message is for the user."""


class ExportRefusedError(ExportError):
    """An export refused before any frame rendered (running it again will not help)."""
