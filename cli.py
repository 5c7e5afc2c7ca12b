# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line: the same export as the panel, for render farms and scripts.

Inside Blender (registered with ``bpy.utils.register_cli_command``)::

    blender -b scene.blend -c ground_truth render --out DIR [--frames 1-240] [...]

With the ``bpy`` module (``pip install bpy OpenEXR``), from the folder that holds this
package::

    python -m ground_truth.cli render --blend scene.blend --out DIR [--frames 1-240] [...]

``render`` exports frames; ``merge`` only writes the files that cover the whole folder
(``meta.json``, ``coco.json``, the contact sheet, ``tracks.npz``); ``farm`` splits frames into chunks
and runs each as a ``render`` of a worker Blender on a Ray cluster or SLURM (see
:mod:`.farm`); ``view`` writes a Rerun recording of a folder (:mod:`.viewer`). ``farm``
and ``view`` need no Blender: this module imports ``bpy`` only for ``render`` and ``merge``.

Every setting of the panel has a flag (``render --help``); the flags make an
:class:`~.pipeline.options.ExportOptions`, and the .blend's ``scene.ground_truth`` is
read only for the COCO category names and the Animation Range, never written. Exit
status 0 when every frame is complete, 1 with one line ``ground_truth: error: ...`` when
the export fails, 2 for bad arguments, 3 when the export is refused before any frame
renders (no camera, no such device, ...: running it again will not help), 130 when
interrupted (complete frames stay; run again to resume).
"""

from __future__ import annotations

import sys

from .commands import run


def main() -> None:
    """``python -m ground_truth.cli``: ``farm`` as it is; ``render`` and ``merge`` with the
    add-on registered into the bpy module (and unregistered before exiting: bpy 4.2
    crashes at exit otherwise)."""
    if len(sys.argv) < 2 or sys.argv[1] not in ("render", "merge"):
        sys.exit(run(sys.argv[1:]))
    try:
        import bpy
    except ModuleNotFoundError:
        print(
            f"ground_truth: error: {sys.argv[1]} needs Blender: the bpy module in this Python (pip install bpy), "
            f"or Blender itself (blender -b scene.blend -c ground_truth {sys.argv[1]} ...)",
            file=sys.stderr,
        )
        sys.exit(3)

    from . import register as register_addon
    from . import unregister as unregister_addon

    registered_here = not hasattr(bpy.types.Scene, "ground_truth")
    if registered_here:
        register_addon()
    try:
        status = run(sys.argv[1:])
    finally:
        if registered_here:
            unregister_addon()
    sys.exit(status)


if __name__ == "__main__":
    main()
