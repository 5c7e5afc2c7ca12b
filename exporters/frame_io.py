# SPDX-License-Identifier: GPL-3.0-or-later
"""One frame's arrays to NPZ / EXR and back, with the same keys either way.

Image arrays (H, W[, C]) are EXR channels named as Blender names its own, with the
suffixes the registry (``core/modalities.py``) gives each array: ``<key>.V`` for scalars
(float32, masks as 32-bit UINT), ``<key>.X/.Y[/.Z]`` for vectors and ``<key>.R/.G/.B``
for colours. ``K``, ``world_to_camera`` and ``frame`` are header attributes; the box
arrays travel as one JSON header attribute.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..core.modalities import ARRAYS, array_for
from .atomic import atomic_path
from .exr_scanline import write_zip

_BOX_KEYS = tuple(key for key, array in ARRAYS.items() if array.exr == "boxes")
_PACKED_KEYS = tuple(key for key, array in ARRAYS.items() if array.exr == "packed")
_HEADER_BOXES = "ground_truth_boxes"
_HEADER_PACKED = "ground_truth_packed"
_ATTRIBUTES = ("header", "boxes", "packed")
_ID_BITS = "instance_id"  # in its own EXR as UINT bits: float32 holds integers exactly only up to 2^24


def _suffixes(key: str) -> str:
    """The channel suffixes of an array (a foreign key reads as a vector)."""
    array = array_for(key)
    return array.exr if array is not None and array.exr not in _ATTRIBUTES else "XYZW"


class FrameFileError(ValueError):
    """A frame file that cannot be read: the message names the file and the problem."""


def _channels(key: str, array: np.ndarray) -> dict[str, np.ndarray]:
    """The EXR channels of one array, as views where possible (no copy of a whole image)."""
    if array.ndim == 2:
        if array.dtype.kind in "iu":  # masks: indices ≥ 0, so int32 and uint32 share their bits
            array = array.view(np.uint32) if array.dtype.itemsize == 4 else array.astype(np.uint32)
        return {f"{key}.V": array}
    names = _suffixes(key)
    return {f"{key}.{names[c]}": array[..., c] for c in range(array.shape[-1])}


def _camera_header(arrays: dict[str, np.ndarray]) -> dict[str, object]:
    return {
        "K": np.asarray(arrays["K"], dtype=np.float64),
        "world_to_camera": np.asarray(arrays["world_to_camera"], dtype=np.float64),
        "frame": int(arrays["frame"]),
    }


def is_image(key: str) -> bool:
    """Whether an array is an (H, W[, C]) image (offset arrays and foreign keys are)."""
    array = array_for(key)
    return array is None or array.exr not in _ATTRIBUTES


def write_exr(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write every image array as float32 / UINT channels of one lossless (ZIP) EXR.

    Written by our own ZIP scanline writer (numpy and zlib), 16 rows at a time: no
    OpenEXR library needed in Blender, and no second copy of the frame in memory."""
    channels: dict[str, np.ndarray] = {}
    for key, array in arrays.items():
        if is_image(key):
            channels.update(_channels(key, array))
    extra = _camera_header(arrays)
    boxes = {k: arrays[k].tolist() for k in _BOX_KEYS if k in arrays}
    if boxes:
        extra[_HEADER_BOXES] = json.dumps(boxes)
    packed = {k: _pack(arrays[k]) for k in _PACKED_KEYS if k in arrays}
    if packed:
        extra[_HEADER_PACKED] = json.dumps(packed)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        write_zip(stream, channels, extra)


def _pack(array: np.ndarray) -> dict[str, object]:
    """A bit-packed array as JSON: its shape and its bytes, deflated, in base64."""
    return {"shape": list(array.shape), "zlib_base64": base64.b64encode(zlib.compress(array.tobytes(), 6)).decode()}


def _unpack(key: str, packed: dict) -> np.ndarray:
    data = zlib.decompress(base64.b64decode(packed["zlib_base64"]))
    return np.frombuffer(data, ARRAYS[key].dtype).reshape(packed["shape"]).copy()


def unpack_masks(packed: np.ndarray, width: int) -> np.ndarray:
    """``instance_amodal_masks`` as the loader gives it: bool (N, H, W) from the packed
    bits (N, H, ⌈W/8⌉)."""
    return np.unpackbits(packed, axis=-1, count=width).astype(bool)


def single_channels(key: str, array: np.ndarray) -> dict[str, np.ndarray]:
    """The channels of an array's own EXR, named as image readers expect: ``Y`` for one
    component, ``R``, ``G``, ``B`` for three, and ``R``, ``G`` and a zero ``B`` for two
    (flow). float32, which holds pass indices (at most 32767) and occlusion codes
    exactly; instance ids, int32 hashes that float32 cannot hold, keep their bits in a
    UINT channel."""
    if array.ndim == 2:
        if key == _ID_BITS:
            return {"Y": array.astype(np.int32, copy=False).view(np.uint32)}
        return {"Y": array.astype(np.float32, copy=False)}
    if array.shape[-1] not in (2, 3):
        raise ValueError(f"{key}: no single-array EXR for {array.shape[-1]} components")
    names = "RGB"[: array.shape[-1]]
    channels = {name: array[..., c].astype(np.float32, copy=False) for c, name in enumerate(names)}
    channels.setdefault("B", np.zeros(array.shape[:2], np.float32))
    return channels


def write_exr_single(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write one image array of a frame as its own lossless (ZIP) EXR (:func:`single_channels`),
    with the frame's camera in the header and the array's key in ``ground_truth_array``."""
    channels = single_channels(key, np.asarray(arrays[key]))
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        write_zip(stream, channels, {**_camera_header(arrays), "ground_truth_array": key})


def _read_exr(path: Path) -> dict[str, np.ndarray]:
    import OpenEXR

    exr = OpenEXR.File(str(path), separate_channels=True)
    header = exr.header()
    missing = [key for key in ("K", "world_to_camera", "frame") if key not in header]
    if missing:
        raise FrameFileError(f"{path}: not a Ground Truth EXR (no {', '.join(missing)} attribute)")
    out: dict[str, np.ndarray] = {
        "K": np.asarray(header["K"], dtype=np.float64),
        "world_to_camera": np.asarray(header["world_to_camera"], dtype=np.float64),
        "frame": np.int64(header["frame"]),
    }
    grouped: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, channel in exr.channels().items():
        key, _, component = name.rpartition(".")
        grouped.setdefault(key, []).append((component, channel.pixels))
    for key, components in grouped.items():
        if len(components) == 1 and components[0][0] == "V":
            pixels = components[0][1]
            array = array_for(key)
            if pixels.dtype == np.uint32:  # masks (int32) and codes (uint8) travel as UINT
                pixels = pixels.astype(array.dtype if array is not None else np.int32)
            out[key] = pixels
        else:
            order = _suffixes(key)
            components.sort(key=lambda item: order.index(item[0]))
            out[key] = np.stack([pixels for _, pixels in components], axis=-1)
    if _HEADER_BOXES in header:
        boxes = json.loads(header[_HEADER_BOXES])
        for key, values in boxes.items():
            rest = tuple(int(n) for n in ARRAYS[key].shape.strip("()").split(", ")[1:])
            out[key] = np.asarray(values, dtype=ARRAYS[key].dtype).reshape((-1, *rest))
    if _HEADER_PACKED in header:
        for key, packed in json.loads(header[_HEADER_PACKED]).items():
            out[key] = _unpack(key, packed)
    return out


def load_frame(path: str | Path, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Read one exported frame (``.npz`` or ``.exr``) into a dict of the contract's
    arrays: every one, or those of ``keys`` (a missing key raises :class:`FrameFileError`)."""
    path = Path(path)
    if not path.exists():
        raise FrameFileError(f"{path}: missing (export the frame again)")
    try:
        if path.suffix == ".npz":
            with np.load(path) as data:
                out = {key: data[key] for key in (data.files if keys is None else keys)}
                width = _npz_width(data) if _MASKS in out else None
        elif path.suffix == ".exr":
            arrays = _read_exr(path)
            out = arrays if keys is None else {key: arrays[key] for key in keys}
            width = next((a.shape[1] for k, a in arrays.items() if is_image(k) and a.ndim >= 2), None)
        else:
            raise FrameFileError(f"{path}: unknown frame format (want .npz or .exr)")
        if _MASKS in out:
            out[_MASKS] = unpack_masks(out[_MASKS], width or _meta_width(path))
        return out
    except FrameFileError:
        raise
    except Exception as error:  # zip, EXR and numpy errors alike: name the file
        raise FrameFileError(f"{path}: cannot be read as a frame ({error})") from error


_MASKS = "instance_amodal_masks"


def _npz_width(data) -> int | None:
    """W of the frame, from the header of one of the NPZ's image arrays (none is read)."""
    for name in data.files:
        if is_image(name):
            with data.zip.open(f"{name}.npy") as stream:
                major, _ = np.lib.format.read_magic(stream)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape = read(stream)[0]
            if len(shape) >= 2:
                return int(shape[1])
    return None


def _meta_width(path: Path) -> int:
    """W of the frame from its folder's ``meta.json`` (a frame that holds no image array)."""
    with open(path.parent.parent / "meta.json", encoding="utf-8") as stream:
        return int(json.load(stream)["resolution"][0])
