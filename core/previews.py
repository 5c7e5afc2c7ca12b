# SPDX-License-Identifier: GPL-3.0-or-later
"""8-bit pictures of the ground truth, for eyes rather than for training.

Each function takes one array of the contract and returns an (H, W, 3) uint8 image (row 0 at the
top) plus, where a picture hides a scale, the ``tEXt`` entries that state it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .modalities import ARRAYS
from .viridis import VIRIDIS

# Pictures are made a band of rows of about this many pixels at a time: the float
# temporaries of an 8K frame's colour maps would otherwise take gigabytes, and a
# band's stay in the processor's cache (a 640×480 flow picture: 3.9 ms in bands of
# 128 rows, 6.6 ms in bands of 256).
BAND_PIXELS = 1 << 17


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _bands(source: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, source[rows])`` over bands of about ``BAND_PIXELS`` pixels."""
    step = max(1, BAND_PIXELS // max(1, source.shape[1]))
    for y in range(0, source.shape[0], step):
        rows = slice(y, y + step)
        yield rows, source[rows]


def _in_bands(source: np.ndarray, colour) -> np.ndarray:
    """(H, W, 3) uint8 made by ``colour(rows of source, rows of the picture)``, which
    fills the picture's rows, over bands of rows."""
    out = np.empty((*source.shape[:2], 3), np.uint8)
    for rows, band in _bands(source):
        colour(band, out[rows])
    return out


_VIRIDIS_BYTES = (VIRIDIS * 255.0).astype(np.uint8)  # as matplotlib's ``viridis(t, bytes=True)``


_VIRIDIS_AND_BLACK = np.concatenate([_VIRIDIS_BYTES, np.zeros((1, 3), np.uint8)])


def _viridis_index(t: np.ndarray) -> np.ndarray:
    """The entry of matplotlib's viridis table for values ``t`` (clipped to [0, 1]):
    ``floor(256 t)``, the last for 1."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    t *= 256.0
    return np.minimum(t.astype(np.intp), 255)


def viridis(t: np.ndarray) -> np.ndarray:
    """Viridis colours (…, 3) uint8 for values ``t`` in [0, 1] (clipped), exactly as
    matplotlib colours them."""
    return np.take(_VIRIDIS_BYTES, _viridis_index(t), axis=0)


def _viridis_into(out: np.ndarray, t: np.ndarray, seen: np.ndarray) -> None:
    """Fill ``out`` with the viridis colours of the single-precision values ``t`` (in
    [0, 1], clipped; worked on in place) and black where not ``seen``. The table's entry
    ``floor(256 t)`` is :func:`viridis`' exactly: 256 is a power of two."""
    t *= np.float32(256.0)
    np.clip(t, 0.0, 255.0, out=t)  # 256 (t = 1) is the last entry, 255, as viridis' is
    index = np.empty(t.shape, np.uint16)
    with np.errstate(invalid="ignore"):  # NaN: not seen, blacked out below
        np.copyto(index, t, casting="unsafe")  # truncation: the floor of a value ≥ 0
    np.copyto(index, 256, where=~seen)  # the table's black row
    np.take(_VIRIDIS_AND_BLACK, index, axis=0, out=out, mode="clip")


def depth_preview(depth: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Depth in viridis, near = yellow, far = purple, background black.

    The colour scale runs linearly over the frame's finite depths; the range in metres
    is returned for the PNG's text (``depth_near_m``, ``depth_far_m``).
    """
    finite = np.isfinite(depth)
    if not finite.any():
        return np.zeros((*depth.shape, 3), np.uint8), {}
    near = float(np.min(depth, where=finite, initial=np.inf))
    far = float(np.max(depth, where=finite, initial=-np.inf))
    span = np.float32(max(far - near, 1e-12))

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        t = np.subtract(np.float32(far), rows, dtype=np.float32)
        t /= span
        _viridis_into(out, t, np.isfinite(rows))

    picture = _in_bands(depth, colour)
    return picture, {"depth_near_m": f"{near:.6g}", "depth_far_m": f"{far:.6g}"}


def disparity_preview(disparity: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Disparity in viridis over the frame's range, large (near) = yellow; the range in
    pixels goes to the PNG's text (``disparity_min_px``, ``disparity_max_px``)."""
    low, high = float(np.min(disparity)), float(np.max(disparity))

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        out[...] = viridis((rows - low) / max(high - low, 1e-12))

    return _in_bands(disparity, colour), {"disparity_min_px": f"{low:.6g}", "disparity_max_px": f"{high:.6g}"}


def normal_preview(normal: np.ndarray) -> np.ndarray:
    """Unit normals as RGB, ``(n + 1) / 2``; background (zero normal) black."""

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        value = rows + np.float32(1)
        value *= np.float32(0.5 * 255.0)
        np.rint(value, out=value)
        np.clip(value, 0, 255, out=value)
        np.copyto(out, value, casting="unsafe")
        bits = rows.view(np.uint32)  # a zero normal: every component +0 or -0, bits 0 but the sign's
        either = bits[..., 0] | bits[..., 1]
        either |= bits[..., 2]
        either <<= 1
        out[either == 0] = 0

    return _in_bands(normal, colour)


def _middlebury_wheel() -> np.ndarray:
    """The 55-colour wheel of Baker et al.'s Middlebury flow coding, in [0, 1]."""
    segments = [
        (15, (1, 0, 0), 1),
        (6, (1, 1, 0), 0),
        (4, (0, 1, 0), 2),
        (11, (0, 1, 1), 1),
        (13, (0, 0, 1), 0),
        (6, (1, 0, 1), 2),
    ]
    colours = []
    for length, start, channel in segments:
        ramp = np.floor(255.0 * np.arange(length) / length) / 255.0
        block = np.tile(np.array(start, dtype=np.float64), (length, 1))
        rising = start[channel] == 0
        block[:, channel] = ramp if rising else 1.0 - ramp
        colours.append(block)
    return np.concatenate(colours)


_WHEEL = _middlebury_wheel()
# The wheel as 0–255 per channel, and each entry's step to the next (the last's to the
# first): a colour between entries k and k + 1 is entry k plus a fraction of its step.
_WHEEL_255 = np.ascontiguousarray(_WHEEL.T * 255.0, np.float32)
_WHEEL_STEP_255 = np.ascontiguousarray((np.roll(_WHEEL, -1, axis=0) - _WHEEL).T * 255.0, np.float32)


def flow_preview(flow: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Flow in the Middlebury colour coding: hue = direction, saturation = magnitude.

    Magnitudes are scaled by the frame's largest finite one, but by no less than 1 px so
    that motion well under a pixel (a still frame) stays white instead of amplified
    noise. The PNG text states both (``flow_max_px``, ``flow_scale_px``); undefined (NaN)
    flow is black.
    """

    def squared(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u * u + v * v  # numpy's hypot is several times slower

    radii = (np.nanmax(squared(r[..., 0], r[..., 1]), initial=0.0) for _, r in _bands(flow))
    max_radius = float(max(radii, default=0.0)) ** 0.5
    scale = max(max_radius, 1.0)

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        # Every radius is within the unit circle (the scale is the largest radius), where
        # Middlebury's blend is 255 · (1 − r (1 − w)): a + b · 255 w with a = 255 (1 − r)
        # and b = r, once, then per channel w, on single-precision arrays worked in place.
        u, v = rows[..., 0].astype(np.float32), rows[..., 1].astype(np.float32)
        invalid = np.isfinite(u)
        invalid &= np.isfinite(v)
        np.logical_not(invalid, out=invalid)
        np.copyto(u, 0.0, where=invalid)
        np.copyto(v, 0.0, where=invalid)
        b = squared(u, v)
        np.sqrt(b, out=b)  # 0 where undefined, which blacks it out with a = 0 below
        b *= np.float32(1.0 / scale)
        np.minimum(b, np.float32(1.0), out=b)  # the largest radius may round to just above 1
        a = np.multiply(b, np.float32(-255), dtype=np.float32)
        a += np.float32(255)
        np.copyto(a, 0.0, where=invalid)
        position = np.arctan2(np.negative(v, out=v), np.negative(u, out=u), out=u)  # in [−π, π]
        position *= np.float32((len(_WHEEL) - 1) / (2 * np.pi))  # in [0, 54] along the wheel
        position += np.float32((len(_WHEEL) - 1) / 2)
        whole = np.trunc(position, out=v)  # the entry before; −π may round to just below 0: entry 0
        k0 = whole.astype(np.intp)
        position -= whole  # the fraction of the way to the next entry
        value, base = np.empty_like(b), np.empty_like(b)
        for c in range(3):
            np.take(_WHEEL_STEP_255[c], k0, out=value, mode="clip")
            value *= position
            value += np.take(_WHEEL_255[c], k0, out=base, mode="clip")
            value *= b
            value += a  # within [0, 255]
            np.copyto(out[..., c], np.rint(value, out=value), casting="unsafe")

    return _in_bands(flow, colour), {"flow_max_px": f"{max_radius:.6g}", "flow_scale_px": f"{scale:.6g}"}


def magnitude_preview(vectors: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """The length of vectors (scene flow, metres) in viridis, from 0 (purple) to the
    frame's largest finite one (yellow), which the PNG text states (``magnitude_max``);
    undefined (NaN) black."""
    high = max(
        (float(np.nanmax(np.sqrt(np.einsum("...i,...i->...", b, b)), initial=0.0)) for _, b in _bands(vectors)),
        default=0.0,
    )

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        length = np.sqrt(np.einsum("...i,...i->...", rows, rows))
        seen = np.isfinite(length)
        t = np.where(seen, length, 0.0) / max(high, 1e-12)
        _viridis_into(out, t.astype(np.float32, copy=False), seen)

    return _in_bands(vectors, colour), {"magnitude_max": f"{high:.6g}"}


def nocs_preview(nocs: np.ndarray) -> np.ndarray:
    """Normalized object coordinates as RGB (x, y, z in [0, 1]); undefined black."""

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        out[...] = _to_uint8(np.nan_to_num(rows, nan=0.0))
        out[np.isnan(rows).any(axis=-1)] = 0

    return _in_bands(nocs, colour)


def mask_colours(indices: np.ndarray) -> np.ndarray:
    """A distinct, stable colour per index (golden-ratio hues); index 0 is black and
    negative ones (no object known) grey."""
    indices = np.asarray(indices)
    hue = (indices * 0.618033988749895) % 1.0
    saturation = np.where(indices % 2 == 0, 0.55, 0.85)
    value = np.where(indices % 3 == 0, 0.8, 1.0)
    sector = np.floor(hue * 6.0).astype(int) % 6
    f = hue * 6.0 - np.floor(hue * 6.0)
    p, q, t = value * (1 - saturation), value * (1 - f * saturation), value * (1 - (1 - f) * saturation)
    table = np.stack(
        [
            np.stack([value, t, p], -1),
            np.stack([q, value, p], -1),
            np.stack([p, value, t], -1),
            np.stack([p, q, value], -1),
            np.stack([t, p, value], -1),
            np.stack([value, p, q], -1),
        ]
    )
    rgb = np.take_along_axis(table, sector[None, ..., None].repeat(3, -1), 0)[0]
    rgb[indices == 0] = 0.0
    rgb[indices < 0] = 0.5
    return _to_uint8(rgb)


def mask_preview(mask: np.ndarray) -> np.ndarray:
    """An index mask in a distinct palette (one colour per index, background black).

    A mask is runs of one index along its rows: each run's colour is looked up once,
    among the indices the band of rows holds, and repeated along it."""

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        indices = rows.ravel()
        if not indices.size:
            return
        starts = np.flatnonzero(indices[1:] != indices[:-1])
        starts += 1
        starts = np.concatenate(([0], starts))
        present, run_index = np.unique(indices[starts], return_inverse=True)
        lengths = np.diff(starts, append=indices.size)
        out.reshape(-1, 3)[...] = np.repeat(mask_colours(present)[run_index], lengths, axis=0)

    return _in_bands(mask, colour)


def emission_preview(emission: np.ndarray) -> np.ndarray:
    """Linear emission, clipped to [0, 1] and sRGB-encoded."""

    def colour(rows: np.ndarray, out: np.ndarray) -> None:
        linear = np.clip(rows[..., :3], 0.0, 1.0)
        bright = linear > 0.0031308  # the power only where it applies: most pixels emit nothing
        lit = linear[bright]
        encoded = np.multiply(linear, 12.92, out=linear)
        if lit.size:
            encoded[bright] = 1.055 * np.power(lit, 1 / 2.4) - 0.055
        encoded *= 255.0
        np.rint(encoded, out=encoded)
        np.clip(encoded, 0, 255, out=encoded)
        np.copyto(out, encoded, casting="unsafe")

    return _in_bands(emission, colour)


# Occlusion codes (0 visible, 1 hidden, 2 outside, 255 no surface) as colours, indexed by
# code; the PNG's text names them.
_OCCLUSION_COLOURS = np.zeros((256, 3), np.uint8)
_OCCLUSION_COLOURS[[0, 1, 2]] = [(200, 200, 200), (230, 120, 20), (40, 110, 230)]


def occlusion_preview(codes: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Occlusion codes: visible light grey, hidden orange, outside the picture blue, no
    surface black."""
    legend = {"occlusion_colours": "visible light grey, hidden orange, outside blue, no surface black"}
    return _in_bands(codes, lambda rows, out: np.take(_OCCLUSION_COLOURS, rows, axis=0, out=out)), legend


THUMBNAIL_SIDE = 640  # a contact sheet's tiles are at most this many pixels a side


def thumbnail(image: np.ndarray, max_side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """An (H, W, 3) uint8 picture shrunk by a whole factor (box average) until neither
    side exceeds ``max_side``; small pictures come back as they are."""
    factor = -(-max(image.shape[:2]) // max_side)
    if factor <= 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[: height * factor, : width * factor].reshape(height, factor, width, factor, -1)
    total = np.zeros((height, width, blocks.shape[-1]), np.uint32)
    for i in range(factor):  # whole numbers: the same sums, a few times faster than a float mean
        for j in range(factor):
            total += blocks[:, i, :, j]
    return np.rint(total / (factor * factor)).astype(np.uint8)


def fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """An (H, W, …) picture at ``height`` × ``width`` pixels, each the picture's pixel it
    falls in (nearest); a picture of that size comes back as it is."""
    if image.shape[:2] == (height, width):
        return image
    rows = np.arange(height) * image.shape[0] // height
    columns = np.arange(width) * image.shape[1] // width
    return image[rows][:, columns]


class ContactSheet:
    """Equally sized (H, W, 3) uint8 pictures tiled into one grid on a dark background
    (a row with fewer pictures than the longest is filled with it), made a band of rows
    at a time as they are asked for (``sheet[rows]``; ``np.asarray(sheet)`` for all):
    a contact sheet of 640×480 tiles is some 45 MB, which :func:`~.png.write_png` then
    never holds at once, and whose bands its threads make side by side. Each pixel is
    written once."""

    def __init__(self, rows: list[list[np.ndarray]], pad: int = 4):
        self.rows, self.pad = rows, pad
        self.tile = rows[0][0].shape[:2]
        self.columns = max(len(row) for row in rows)
        height, width = self.tile
        self.shape = (pad + len(rows) * (height + pad), pad + self.columns * (width + pad), 3)
        self.dtype = np.dtype(np.uint8)

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        band = np.empty((max(0, stop - start), *self.shape[1:]), np.uint8)
        height, width = self.tile
        pad, step = self.pad, self.tile[0] + self.pad
        y = start
        while y < stop:  # a run of rows of one row of tiles, or of the padding, at a time
            r, at = divmod(y - pad, step)
            if y < pad or at >= height:  # the padding above a row of tiles, or below the last
                end = min(stop, pad + (r + 1) * step if y >= pad else pad)
                band[y - start : end - start] = SHEET_BACKGROUND
                y = end
                continue
            end = min(stop, y - at + height)
            out = band[y - start : end - start]
            out[:, :pad] = SHEET_BACKGROUND
            for c in range(self.columns):
                x = pad + c * (width + pad)
                tiles = self.rows[r]
                out[:, x : x + width] = tiles[c][at : at + len(out), :, :3] if c < len(tiles) else SHEET_BACKGROUND
                out[:, x + width : x + width + pad] = SHEET_BACKGROUND
            y = end
        return band

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[:] if dtype is None else self[:].astype(dtype)


SHEET_BACKGROUND = 32  # each channel's value between and around a contact sheet's tiles


_MAKERS = {
    "depth": depth_preview,
    "disparity": disparity_preview,
    "normal": lambda a: (normal_preview(a), {}),
    "flow": flow_preview,
    "mask": lambda a: (mask_preview(a), {}),
    "colour": lambda a: (emission_preview(a), {}),
    "occlusion": occlusion_preview,
    "magnitude": magnitude_preview,
    "nocs": lambda a: (nocs_preview(a), {}),
}


def preview_keys(array_keys: Iterable[str]) -> list[str]:
    """The ``preview/<key>/`` folders (named after their arrays) that a frame with these
    arrays gets, in the registry's order."""
    keys = set(array_keys)
    return [key for key, array in ARRAYS.items() if array.preview and key in keys]


def preview_step(width: int, most: int) -> int:
    """The n of a preview at every n-th pixel and row of a frame ``width`` pixels wide:
    the smallest whose picture is at most ``most`` pixels wide (1 for ``most`` 0)."""
    return max(1, -(-width // most)) if most > 0 else 1


def preview(key: str, array: np.ndarray, most: int = 0) -> tuple[np.ndarray, dict[str, str]]:
    """The picture of the array ``key`` (one of :func:`preview_keys`) and its text, at
    most ``most`` pixels wide (0: full size; a wider frame is sampled at every n-th
    pixel and row from the first, which the text's ``preview_step_px`` states)."""
    step = preview_step(array.shape[1], most)
    image, text = _MAKERS[ARRAYS[key].preview](array[::step, ::step] if step > 1 else array)
    return image, {**text, "preview_step_px": str(step)} if step > 1 else text


def previews(arrays: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray, dict[str, str]]]:
    """Every preview the given arrays allow as ``(preview/<key>/ folder, image, text)``,
    made one at a time as the caller asks for them."""
    for key in preview_keys(arrays):
        yield key, *preview(key, arrays[key])
