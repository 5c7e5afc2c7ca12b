# SPDX-License-Identifier: GPL-3.0-or-later
"""The settings table: every scalar setting of an export, declared once.

From :data:`SETTINGS` come the panel's properties (``scene.ground_truth.<name>``,
``properties.py``), the command line's flags with the same bounds (``flags.py``), the
flags a farm hands its workers (``farm/plan.py``) and the run's
:class:`~..pipeline.options.ExportOptions` (``pipeline/options.py``). The switches of
modalities and file formats come from their own registries (``modalities.py``,
``exporters/formats.py``); the output folder, the COCO category table, the camera
collection and the frames are shaped differently in the panel and on the command line,
and are declared where they are used. Names are fixed by docs/contract.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .motion import offsets_from_text

ACTIVE, MULTIVIEW, COLLECTION = "ACTIVE", "MULTIVIEW", "COLLECTION"
VIEWS = (ACTIVE, MULTIVIEW, COLLECTION)
INT_MAX = 2**31 - 1  # Blender's IntProperty


@dataclass(frozen=True)
class Setting:
    """One setting. Its type is its default's (bool, int, float, str); ``choices``
    (value, label, description) make a str an enum. ``bounds`` hold numbers, both ends
    included. ``flag`` is its command-line flag (None: the panel's only); a bool's flag
    turns it on. ``what`` names the value in a flag's error; ``check`` raises
    ``ValueError`` for a bad text."""

    name: str
    label: str
    description: str
    default: bool | int | float | str
    bounds: tuple[float, float] | None = None
    flag: str | None = None
    what: str = ""
    choices: tuple[tuple[str, str, str], ...] = ()
    check: Callable[[str], object] | None = None
    subtype: str = ""  # a str's kind in the panel ("FILE_PATH" gives a file browser)

    def parse(self, text: str) -> bool | int | float | str:
        """A flag's text as this setting's value; ``ValueError`` with the reason."""
        if self.choices:
            values = [value for value, _, _ in self.choices]
            if text.upper() not in values:
                raise ValueError(f"unknown {self.what} {text!r} (choose from {', '.join(values)})")
            return text.upper()
        if isinstance(self.default, str):
            if self.check is not None:
                self.check(text)
            return text
        low, high = self.bounds
        if isinstance(self.default, int):
            if not (text.isdigit() and low <= int(text) <= high):
                raise ValueError(f"bad {self.what} {text!r} (want a whole number, {_number(low)} to {_number(high)})")
            return int(text)
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ValueError(f"bad {self.what} {text!r} (want {_number(low)} to {_number(high)})")
        return value

    def text(self, value) -> str:
        """``value`` as its flag's text (what :meth:`parse` reads back to it)."""
        return repr(value) if isinstance(value, float) else str(value)


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:,.0f}"


SETTINGS = (
    Setting(
        "npz_compression",
        "NPZ Compression",
        "deflate level of the NPZ: 0 = uncompressed (~6× larger), 1 = fast (ISA-L where bundled), 9 = smallest",
        1,
        (0, 9),
        "--npz-compression",
        "compression level",
    ),
    Setting(
        "preview_width",
        "Preview Width",
        "Widest preview picture in pixels: a wider frame is previewed at every n-th pixel and row, "
        "for the smallest n that fits (0: full size)",
        1280,
        (0, 65536),
        "--preview-width",
        "width",
    ),
    Setting(
        "depth_png16_scale",
        "Depth Scale",
        "Values per metre in the 16-bit depth PNG (1000: millimetres, up to 65.5 m; 256: KITTI)",
        1000.0,
        (1.0, 100000.0),
        "--depth-png16-scale",
        "depth scale",
    ),
    Setting(
        "flow_offsets",
        "Flow Offsets",
        "Also flow (and occlusion) to frames t+k and t-k for these k, comma-separated, e.g. 2,4,8",
        "",
        flag="--flow-offsets",
        check=offsets_from_text,
    ),
    Setting(
        "use_tracks",
        "Point Tracks",
        "tracks.npz: points on each indexed object followed over the exported frames (TAP-Vid layout)",
        False,
        flag="--tracks",
    ),
    Setting(
        "tracks_per_object",
        "Tracks per Object",
        "Query points sampled on each object with a pass index above 0",
        256,
        (1, 100000),
        "--tracks-per-object",
        "count",
    ),
    Setting(
        "tracks_seed", "Tracks Seed", "Seed of the query points' sampling", 0, (0, INT_MAX), "--tracks-seed", "seed"
    ),
    Setting(
        "views",
        "Views",
        "Which cameras render: with several, each view's files go to views/<view name>/",
        ACTIVE,
        flag="--views",
        what="views",
        choices=(
            (ACTIVE, "Scene Camera", "The scene's active camera"),
            (
                MULTIVIEW,
                "Stereoscopy",
                "The views of Output Properties › Stereoscopy (Stereo 3D or Multi-View), in one render",
            ),
            (COLLECTION, "Camera Collection", "Every camera of a collection (a rig), rendered one after the other"),
        ),
    ),
    Setting(
        "use_transforms_json",
        "transforms.json",
        "nerfstudio's transforms.json for every view and frame (with 16-bit depth PNGs)",
        False,
        flag="--transforms-json",
    ),
    Setting(
        "use_colmap",
        "COLMAP Model",
        "colmap/: COLMAP's text model (cameras.txt, images.txt, points3D.txt) of every view and frame",
        False,
        flag="--colmap",
    ),
    Setting(
        "colmap_points",
        "COLMAP Points",
        "Points per image in points3D.txt, lifted from its depth (0: an empty points3D.txt)",
        1000,
        (0, 1000000),
        "--colmap-points",
        "count",
    ),
    Setting(
        "class_property",
        "Class Property",
        "The custom property whose text is an object's semantic class (else its instancer's or its collection's)",
        "class",
        flag="--class-property",
    ),
    Setting(
        "class_table",
        "Class Table",
        'A JSON file {"name": id, ...} that fixes the class ids (empty: the names found, numbered in sorted order)',
        "",
        flag="--classes",
        subtype="FILE_PATH",
    ),
    Setting("auto_export", "Export on Render", "Also export ground truth when rendering with F12 / Ctrl+F12", False),
    Setting("frame_start", "Start", "First frame of the animation export (0: the scene's)", 0, (0, INT_MAX)),
    Setting("frame_end", "End", "Last frame of the animation export (0: the scene's)", 0, (0, INT_MAX)),
)
SETTING = {s.name: s for s in SETTINGS}
