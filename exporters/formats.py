# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry of a frame's files besides ``rgb/``: each file format declared once.

A format names its setting (``scene.ground_truth.use_<key>``, ``--formats <key>`` on
the command line unless it has a flag of its own), the array it needs, where its files
go and how they are written. The layout (which files make a frame complete) and the
writer read this table; the settings, the panel and the command line too. Formats are
written in this order; the NPZ, the frame's record, comes last.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..core.coco import frame_annotations, instance_annotations
from ..core.encoders import depth_png16, kitti_flow, write_flo
from ..core.png import DATA, write_png
from ..core.previews import preview, preview_keys
from . import bop, layout
from .atomic import atomic_path
from .background import encoding_pool
from .frame_io import is_image, write_exr, write_exr_single
from .npz import write_npz
from .stages import Stages
from .whole import is_whole, problem

FLOW_DIRECTIONS = {"forward": "flow_forward", "backward": "flow_backward"}
# A frame whose arrays take more than this (4K and up) has its files made one at a time:
# side by side, each preview's picture would be in memory at once.
SIDE_BY_SIDE_BYTES = 1 << 30
Picture = tuple[Path, np.ndarray] | None  # what a file's job made: a picture, where, or nothing to show


@dataclass(frozen=True)
class FileFormat:
    key: str
    label: str
    description: str  # the switch's tooltip
    default: bool
    needs: tuple[str, ...]  # a frame gets these files when it has one of these arrays (empty: any frame)
    paths: Callable[[Path, int, frozenset[str]], list[Path]]  # (root, frame, array keys) → files
    # Writes a frame's files in one go; None for a format whose files are ``jobs``.
    write: Callable[[Path, int, dict[str, np.ndarray], layout.OutputOptions], None] | None
    flag: str | None = None  # its own command-line flag, where --formats does not name it
    primary: bool = False  # drawn first in the panel (the arrays and the pictures)
    extra: str | None = None  # a setting of scene.ground_truth that goes with it
    # One job per file, which the writer may run side by side (with ``write`` None); a
    # job returns the picture it wrote, ``(path, image)``, for the run's end, or None.
    jobs: Callable[[Path, int, dict[str, np.ndarray], layout.OutputOptions], list[Callable[[], Picture]]] | None = None

    def frame_jobs(self, root: Path, frame: int, arrays: dict[str, np.ndarray], options) -> list[Callable[[], Picture]]:
        if self.write is None:
            return self.jobs(root, frame, arrays, options)

        def job() -> None:
            self.write(root, frame, arrays, options)

        return [job]


def _write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        write(stream)


def _write_preview(root: Path, frame: int, key: str, array: np.ndarray, width: int) -> tuple[Path, np.ndarray]:
    image, text = preview(key, array, width)
    path = layout.preview_path(root, key, frame)
    _write(path, lambda s: write_png(s, image, text))
    return path, image  # the picture written, for the run's end (pipeline/contact.py)


def _preview_jobs(root: Path, frame: int, arrays: dict[str, np.ndarray], options) -> list[Callable[[], Picture]]:
    width = options.preview_width
    return [lambda k=key: _write_preview(root, frame, k, arrays[k], width) for key in preview_keys(arrays)]


def _image_keys(keys: Iterable[str]) -> list[str]:
    return sorted(key for key in keys if is_image(key))


def _exr_single_jobs(root: Path, frame: int, arrays: dict[str, np.ndarray], _options) -> list[Callable[[], None]]:
    return [
        lambda k=key: write_exr_single(layout.exr_single_path(root, k, frame), k, arrays) for key in _image_keys(arrays)
    ]


def _write_flo(root: Path, frame: int, arrays: dict[str, np.ndarray], _options) -> None:
    for direction, key in FLOW_DIRECTIONS.items():
        _write(layout.flo_path(root, direction, frame), lambda s, f=arrays[key]: write_flo(s, f))


def _write_kitti(root: Path, frame: int, arrays: dict[str, np.ndarray], _options) -> None:
    for direction, key in FLOW_DIRECTIONS.items():
        encoded = kitti_flow(arrays[key])
        _write(layout.kitti_flow_path(root, direction, frame), lambda s, e=encoded: write_png(s, e, level=DATA))


def _write_depth_png16(root: Path, frame: int, arrays: dict[str, np.ndarray], options) -> None:
    encoded = depth_png16(arrays["depth"], options.depth_png16_scale)
    text = {"depth_scale_per_metre": f"{options.depth_png16_scale:g}", "invalid": "0"}
    _write(layout.depth_png16_path(root, frame), lambda s: write_png(s, encoded, text, level=DATA))


def _write_coco_record(root: Path, frame: int, arrays: dict[str, np.ndarray], options: layout.OutputOptions) -> None:
    if "instance_id" in arrays:
        ids, classes = arrays["instance_box_id"], arrays["instance_box_class"]
        if options.coco_by_class:  # the categories are the classes
            shown, first = np.unique(arrays["instance_id"].ravel(), return_index=True)
            classes = arrays["semantic"].ravel()[first[np.searchsorted(shown, ids)]]
        annotations = instance_annotations(arrays["instance_id"], ids, classes)
    else:
        annotations = frame_annotations(arrays["object_index"])
    height, width = next(arrays[k] for k in ("instance_id", "object_index") if k in arrays).shape
    record = {
        "image": {
            "id": frame,
            "file_name": layout.rgb_path(root, frame).relative_to(root).as_posix(),
            "width": width,
            "height": height,
            "frame": frame,
        },
        "annotations": annotations,
    }
    _write(layout.coco_record_path(root, frame), lambda s: s.write(json.dumps(record).encode()))


FORMATS = (
    FileFormat(
        "previews",
        "Previews",
        "preview/<key>/<frame>.png: 8-bit pictures of depth, normals, flow and masks",
        True,
        (),
        lambda root, frame, keys: [layout.preview_path(root, key, frame) for key in preview_keys(keys)],
        None,
        flag="--no-previews",
        extra="preview_width",
        primary=True,
        jobs=_preview_jobs,
    ),
    FileFormat(
        "flo",
        "Middlebury .flo",
        "flo/forward|backward/<frame>.flo: float32 flow, pixels",
        False,
        ("flow_forward",),
        lambda root, frame, keys: [layout.flo_path(root, d, frame) for d in FLOW_DIRECTIONS],
        _write_flo,
    ),
    FileFormat(
        "kitti_flow",
        "KITTI Flow PNG",
        "kitti_flow/forward|backward/<frame>.png: 16-bit, u·64+2^15, v·64+2^15, valid bit",
        False,
        ("flow_forward",),
        lambda root, frame, keys: [layout.kitti_flow_path(root, d, frame) for d in FLOW_DIRECTIONS],
        _write_kitti,
    ),
    FileFormat(
        "depth_png16",
        "Depth 16-bit PNG",
        "depth_png16/<frame>.png: round(depth × scale), 0 = no depth",
        False,
        ("depth",),
        lambda root, frame, keys: [layout.depth_png16_path(root, frame)],
        _write_depth_png16,
        extra="depth_png16_scale",
    ),
    FileFormat(
        "coco",
        "COCO",
        "coco.json: one annotation per visible instance (per object pass index without Instance IDs), "
        "RLE masks and boxes; its categories are the semantic classes where Semantic Classes is on",
        False,
        ("instance_id", "object_index"),
        lambda root, frame, keys: [layout.coco_record_path(root, frame)],
        _write_coco_record,
    ),
    FileFormat(
        "bop",
        "BOP",
        "bop/: the BOP toolkit's layout (models in mm, scene_camera, scene_gt, scene_gt_info, rgb, depth, mask, "
        "mask_visib) with each rigid model's instances; turns Object Labels, Amodal Masks and Depth on",
        False,
        ("instance_ids",),
        lambda root, frame, keys: bop.frame_files(root, frame),
        lambda root, frame, arrays, options: bop.write_frame(root, frame, arrays),
    ),
    FileFormat(
        "exr",
        "EXR",
        "exr/<frame>.exr: the same arrays as float32/UINT channels of one lossless EXR",
        False,
        (),
        lambda root, frame, keys: [layout.exr_path(root, frame)],
        lambda root, frame, arrays, options: write_exr(layout.exr_path(root, frame), arrays),
        primary=True,
    ),
    FileFormat(
        "exr_single",
        "EXR per Array",
        "exr_single/<key>/<frame>.exr: one float32 EXR per image array, channels Y or R, G, B "
        "(flow: R, G and a zero B), as OpenCV, OpenImageIO and Blender read them",
        False,
        (),
        lambda root, frame, keys: [layout.exr_single_path(root, key, frame) for key in _image_keys(keys)],
        None,
        jobs=_exr_single_jobs,
    ),
    FileFormat(
        "npz",
        "NPZ",
        "npz/<frame>.npz: every array of the frame, compressed",
        True,
        (),
        lambda root, frame, keys: [layout.npz_path(root, frame)],
        lambda root, frame, arrays, options: write_npz(layout.npz_path(root, frame), arrays, options.npz_level),
        primary=True,
        extra="npz_compression",
    ),
)
FORMAT_BY_KEY = {f.key: f for f in FORMATS}


def _chosen(array_keys: Iterable[str], options: layout.OutputOptions) -> list[FileFormat]:
    keys = set(array_keys)
    return [f for f in FORMATS if getattr(options, f.key) and (not f.needs or keys.intersection(f.needs))]


def expected_files(root: Path, frame: int, array_keys: Iterable[str], options: layout.OutputOptions) -> list[Path]:
    """Every file a complete frame has, for a frame with these arrays and options, in
    the order the writer writes them (the NPZ, the frame's record, last)."""
    keys = frozenset(array_keys)
    table = [layout.instances_path(root, frame)] if layout.names_instances(keys) else []
    files = (p for f in _chosen(keys, options) for p in f.paths(root, frame, keys))
    return [layout.rgb_path(root, frame), *table, *files]


def output_folders(root: Path, array_keys: Iterable[str], options: layout.OutputOptions) -> list[Path]:
    """Every folder of ``root`` that a run with these arrays and options writes files
    into: the root's own and its frames' folders (a bounded list: it does not grow with
    the frames)."""
    return sorted({root, *(p.parent for p in expected_files(root, 0, array_keys, options))})


def write_frame(
    root: Path,
    frame: int,
    arrays: dict[str, np.ndarray],
    options: layout.OutputOptions,
    instances: dict[str, dict] | None = None,
    stages: Stages | None = None,
) -> dict[Path, np.ndarray]:
    """Write the frame's files, each atomically. ``instances`` are the frame's rows of
    meta.json's table (with ``instance_id`` or ``instance_ids``); ``stages`` gets each format's seconds.
    Returns the pictures written (the previews) by path, but for a frame made a file at a time.

    Every format's files but the NPZ are made side by side on the encoding threads
    (``background.encoding_pool``: zlib and numpy let go of Python's lock), one at a
    time for a frame whose arrays take more than ``SIDE_BY_SIDE_BYTES``; the NPZ, which
    marks the frame as complete, is written once they all are."""
    stages = stages or Stages()
    if layout.names_instances(arrays):
        if instances is None:
            raise ValueError("a frame with instance ids needs its instances' table")
        with stages.time("instances"):
            text = json.dumps(instances, ensure_ascii=False).encode()
            _write(layout.instances_path(root, frame), lambda s: s.write(text))
    chosen = _chosen(arrays, options)
    record = [f for f in chosen if f.key == "npz"]  # written last: it marks the frame complete
    jobs = [(f.key, job) for f in chosen if f not in record for job in f.frame_jobs(root, frame, arrays, options)]
    pictures: dict[Path, np.ndarray] = {}
    if sum(np.asanyarray(a).nbytes for a in arrays.values()) > SIDE_BY_SIDE_BYTES:
        for key, job in jobs:  # a large frame: one file at a time, for memory's sake
            stages.add(key, _timed(job)[0])
        jobs = []
    running = [(key, encoding_pool().submit(_timed, job)) for key, job in jobs]
    errors = []
    for key, future in running:  # every job ends before anything is raised
        try:
            seconds, made = future.result()
            stages.add(key, seconds)
            if made is not None:
                pictures[made[0]] = made[1]
        except Exception as error:
            errors.append(error)
    if errors:
        raise errors[0]
    for file_format in record:
        with stages.time(file_format.key):
            file_format.write(root, frame, arrays, options)
    return pictures


def _timed(job: Callable[[], Picture]) -> tuple[float, Picture]:
    started = time.perf_counter()
    made = job()
    return time.perf_counter() - started, made


def read_instances(root: Path, frames: Iterable[int], known: dict[str, dict] | None = None) -> dict[str, dict]:
    """meta.json's ``instances``: the rows of ``frames``' records, and the ``known`` rows,
    in id order."""
    rows: dict[str, dict] = dict(known or {})
    for frame in frames:
        path = layout.instances_path(root, frame)
        if path.exists():
            with open(path, encoding="utf-8") as stream:
                try:
                    rows.update(json.load(stream))
                except ValueError as error:
                    raise ValueError(f"{path} is not an instance table ({error}); export frame {frame} again") from None
    return {key: rows[key] for key in sorted(rows, key=int)}


def is_complete(root: Path, frame: int, array_keys: Iterable[str], options: layout.OutputOptions) -> bool:
    """Whether every file :func:`expected_files` lists for ``frame`` is in the folder,
    whole (``whole.py``)."""
    return all(is_whole(p) for p in expected_files(root, frame, array_keys, options))


def damaged_files(
    root: Path, frame: int, array_keys: Iterable[str], options: layout.OutputOptions
) -> list[tuple[Path, str]]:
    """The files of ``frame`` that are there but not whole, with what is wrong."""
    found = ((p, problem(p)) for p in expected_files(root, frame, array_keys, options))
    return [(p, why) for p, why in found if why not in (None, "missing")]


def frames_named(root: Path, array_keys: Iterable[str], options: layout.OutputOptions) -> set[int]:
    """The frames that have a file of every name :func:`expected_files` lists, from one
    listing of each folder: no file is opened (a million frames' names take seconds,
    checking their files whole takes minutes)."""
    by_suffix: dict[str, list[Path]] = {}
    for path in expected_files(root, 0, array_keys, options):
        by_suffix.setdefault(path.suffix, []).append(path.parent)
    stems: set[str] | None = None  # "000012" for frame 12: what every name holds
    for suffix, folders in by_suffix.items():
        names: set[str] | None = None  # "000012.png" in every folder of this suffix
        for folder in folders:
            try:
                listing = os.listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                return set()
            if names is None:
                names = set(listing)
            else:
                names.intersection_update(listing)
        cut = -len(suffix)
        found = {name[:cut] for name in names if name.endswith(suffix)}
        stems = found if stems is None else stems & found
        if not stems:
            return set()
    return {n for s in stems or () if s.lstrip("-").isdigit() and f"{(n := int(s)):06d}" == s}


def complete_frames(
    root: Path, array_keys: Iterable[str], options: layout.OutputOptions, reported: Container[int] = ()
) -> list[int]:
    """The frames in the folder that have every file :func:`expected_files` lists,
    sorted: each file checked whole, or for a frame in ``reported`` (a farm's chunk
    reports, whose workers checked them whole: ``chunks.py``) only there by name."""
    keys = frozenset(array_keys)
    named = frames_named(root, keys, options)
    return sorted(f for f in named if f in reported or is_complete(root, f, keys, options))
