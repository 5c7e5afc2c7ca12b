# SPDX-License-Identifier: GPL-3.0-or-later
"""Flow and depth in the community's file formats.

* Middlebury ``.flo`` (Baker et al.): the float32 tag 202021.25 ("PIEH"), int32 width
  and height, then (u, v) float32 pairs row by row; unknown flow is stored as 1e10.
* KITTI flow PNG (Geiger et al.): 16-bit RGB, R = u·64 + 2¹⁵, G = v·64 + 2¹⁵,
  B = 1 where the flow is valid, 0 where not (then R = G = 0).
* Depth as 16-bit grey PNG: ``value = round(depth_m × scale)``; 0 means no depth (the
  background, or beyond 65535 / scale metres).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

FLO_TAG = 202021.25
FLO_UNKNOWN = 1.0e10


def write_flo(stream: BinaryIO, flow: np.ndarray) -> None:
    """Write (H, W, 2) flow in pixels; NaN (undefined) becomes Middlebury's unknown value."""
    height, width = flow.shape[:2]
    data = np.where(np.isfinite(flow), flow, FLO_UNKNOWN).astype("<f4")
    stream.write(struct.pack("<fii", FLO_TAG, width, height))
    stream.write(np.ascontiguousarray(data).tobytes())


def kitti_flow(flow: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint16 KITTI encoding of (H, W, 2) flow in pixels.

    Flow beyond ±512 px (what 16 bits hold at 1/64 px) is marked invalid rather than
    clipped, so that no wrong value is written.
    """
    valid = np.all(np.isfinite(flow), axis=-1)
    encoded = np.where(valid[..., None], flow, 0.0).astype(np.float64) * 64.0 + 2.0**15
    valid &= np.all((encoded >= 0) & (encoded <= 65535), axis=-1)
    out = np.zeros((*flow.shape[:2], 3), np.uint16)
    out[valid, :2] = np.rint(encoded[valid]).astype(np.uint16)
    out[valid, 2] = 1
    return out


def depth_png16(depth: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) uint16 depth: ``round(depth × scale)``, 0 where unknown or out of range."""
    scaled = np.rint(np.where(np.isfinite(depth), depth, 0.0).astype(np.float64) * scale)
    scaled[(scaled > 65535) | (scaled < 0)] = 0
    return scaled.astype(np.uint16)
