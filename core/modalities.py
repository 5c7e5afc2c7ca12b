# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry: every modality, declared once (its records and the render passes are
``registry.py``'s).

A modality names the passes it needs, the arrays it makes (dtype, shape, units,
convention, EXR channels, preview) and the function that makes them. Everything else
reads this module: the settings and the panel (one switch per modality), the passes
the export enables and wires (``plan.py``), what each engine can give, the conversion,
the NPZ and EXR writers and reader, the previews and ``meta.json``'s conventions. The contract it
implements is written out in ``docs/contract.md``; a test keeps the two in step.

Adding a modality: write its conversion (a function of :class:`FrameData`, in
``core/convert.py``), declare its passes in ``registry.py`` if they are new, and append one
:class:`Modality` to ``MODALITIES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import convert
from .registry import EEVEE, EEVEE_LEGACY, PASSES, SUPPORTED_FAMILIES, Array, Modality, engine_family

MODALITIES = (
    Modality(
        "depth",
        "Depth",
        "float32 metres, planar depth along the optical axis (camera z, not the ray length); background inf",
        ("depth",),
        (Array("depth", "float32", "(H, W)", "metres, planar depth (camera z); background inf", "V", "depth"),),
        convert.depth_arrays,
    ),
    Modality(
        "depth_ray",
        "Ray Distance",
        "float32 metres from the camera centre to the surface along the ray through the pixel centre, "
        "depth·‖K⁻¹(x, y, 1)‖ (orthographic: from the image plane, equal to depth); background inf",
        ("depth",),
        (
            Array(
                "depth_ray",
                "float32",
                "(H, W)",
                "metres along the ray through the pixel centre, depth·‖K⁻¹(x, y, 1)‖ (orthographic: depth); "
                "background inf",
                "V",
            ),
        ),
        convert.depth_ray_arrays,
        requires="depth",
    ),
    Modality(
        "points",
        "Point Maps",
        "float32 metres, each pixel's surface point (from its depth, on the ray through the pixel centre) in "
        "camera axes (x right, y down, z forward) and in world axes; NaN on background",
        ("depth",),
        (
            Array("points", "float32", "(H, W, 3)", "surface point, OpenCV camera axes, metres; NaN background", "XYZ"),
            Array("points_world", "float32", "(H, W, 3)", "surface point, world axes, metres; NaN background", "XYZ"),
        ),
        convert.points_arrays,
        requires="depth",
        default=False,
    ),
    Modality(
        "disparity",
        "Disparity",
        "float32 pixels, rectified stereo pairs only: the point seen at (x, y) in the left view is at (x - d, y) "
        "in the right one (and at (x + d, y) in the left from the right view's (x, y)); d = fx·baseline/z "
        "+ the disparity at infinity (meta.json's stereo); background: the value at infinity",
        ("depth",),
        (
            Array(
                "disparity",
                "float32",
                "(H, W)",
                "pixels: left (x, y) is right (x - d, y); fx·baseline/z + disparity at infinity",
                "V",
                "disparity",
            ),
        ),
        convert.disparity_arrays,
        requires="depth",
        stereo=True,
    ),
    Modality(
        "normal",
        "Normals",
        "float32 unit normals in camera axes (x right, y down, z forward) and in world axes; background 0",
        ("normal",),
        (
            Array("normal", "float32", "(H, W, 3)", "unit normal, OpenCV camera axes; background 0", "XYZ", "normal"),
            Array("normal_world", "float32", "(H, W, 3)", "unit normal, world axes; background 0", "XYZ"),
        ),
        convert.normal_arrays,
    ),
    Modality(
        "flow",
        "Optical Flow",
        "float32 (dx, dy) pixels, x right, y down, to frames t+1 (forward) and t-1 (backward); NaN on background",
        ("vector",),
        (
            Array(
                "flow_forward",
                "float32",
                "(H, W, 2)",
                "pixels (dx, dy): the point seen at (x, y) in frame t is at (x+dx, y+dy) in t+1; NaN undefined",
                "XY",
                "flow",
            ),
            Array("flow_backward", "float32", "(H, W, 2)", "pixels (dx, dy), the same towards t-1", "XY", "flow"),
        ),
        convert.flow_arrays,
    ),
    Modality(
        "occlusion",
        "Occlusion",
        "uint8 per pixel, what becomes of its surface point at t+1 (forward) and t-1 (backward): "
        "0 visible, 1 hidden behind a surface, 2 outside the picture, 255 no surface (or not followed)",
        (),
        (
            Array(
                "occlusion_forward",
                "uint8",
                "(H, W)",
                "the point seen at (x, y) in frame t, in t+1: 0 visible, 1 hidden, 2 outside; 255 no surface",
                "V",
                "occlusion",
            ),
            Array("occlusion_backward", "uint8", "(H, W)", "the same towards t-1", "V", "occlusion"),
        ),
        convert.occlusion_arrays,
        requires="flow",
        geometric=True,
    ),
    Modality(
        "scene_flow",
        "Scene Flow",
        "float32 metres: where each pixel's surface point moves by frame t+1 (forward) and t-1 (backward), "
        "as a displacement in frame t's camera axes (x right, y down, z forward), and its planar depth there "
        "minus its depth at t; NaN where it cannot be followed (background, a vanished instance)",
        (),
        (
            Array(
                "scene_flow_forward",
                "float32",
                "(H, W, 3)",
                "metres: the point's displacement to t+1, in frame t's OpenCV camera axes; NaN not followed",
                "XYZ",
                "magnitude",
            ),
            Array(
                "scene_flow_backward",
                "float32",
                "(H, W, 3)",
                "metres, the same towards t-1",
                "XYZ",
                "magnitude",
            ),
            Array(
                "depth_change_forward",
                "float32",
                "(H, W)",
                "metres: the point's planar depth in frame t+1's camera minus in frame t's; NaN not followed",
                "V",
            ),
            Array("depth_change_backward", "float32", "(H, W)", "metres, the same towards t-1", "V"),
        ),
        convert.scene_flow_arrays,
        geometric=True,
        default=False,
    ),
    Modality(
        "object_coords",
        "Object Coordinates",
        "float32 metres, each pixel's surface point in its object instance's model frame: the object's local "
        "frame with its world scale applied (polar decomposition of the world matrix, its stretch to the model); "
        "NaN on background and where instance_id is -1",
        (),
        (
            Array(
                "object_coords",
                "float32",
                "(H, W, 3)",
                "metres, the surface point in its instance's model frame; NaN background and -1 surfaces",
                "XYZ",
            ),
        ),
        convert.coordinate_arrays,
        geometric=True,
        default=False,
    ),
    Modality(
        "nocs",
        "NOCS",
        "float32 normalized object coordinates: (object_coords - c) / d + 0.5, c the centre and d the diagonal "
        "length of the instance's box (its evaluated mesh in the model frame); in [0, 1]; NaN as object_coords",
        (),
        (
            Array(
                "nocs",
                "float32",
                "(H, W, 3)",
                "(object_coords - box centre) / box diagonal + 0.5, in [0, 1]; NaN as object_coords",
                "XYZ",
                "nocs",
            ),
        ),
        convert.coordinate_arrays,
        geometric=True,
        default=False,
    ),
    Modality(
        "object_index",
        "Object Index",
        "int32 object pass index of the first surface hit; 0 = background",
        ("object_index",),
        (Array("object_index", "int32", "(H, W)", "object pass index; 0 = background", "V", "mask"),),
        convert.object_index_arrays,
        geometric_on=frozenset({EEVEE}),
        ray_label="object_index",
    ),
    Modality(
        "material_index",
        "Material Index",
        "int32 material pass index of the first surface hit; 0 = background",
        ("material_index",),
        (Array("material_index", "int32", "(H, W)", "material pass index; 0 = background", "V", "mask"),),
        convert.material_index_arrays,
        geometric_on=frozenset({EEVEE}),
        ray_label="material_index",
    ),
    Modality(
        "instance_id",
        "Instance IDs",
        "int32 id of the object instance seen, a hash of its names (object, instancer, persistent id) that "
        "stays the same over frames, runs and machines; 0 background, -1 a surface the scene's meshes do not hold",
        (),
        (
            Array(
                "instance_id",
                "int32",
                "(H, W)",
                "instance id (meta.json's instances names it); 0 = background, -1 = a surface the meshes do not hold",
                "V",
                "mask",
            ),
            Array("instance_box_id", "int32", "(N,)", "instance ids visible in the frame, ascending", "boxes"),
            Array("instance_boxes", "int32", "(N, 4)", "[x_min, y_min, x_max, y_max], inclusive pixels", "boxes"),
            Array("instance_box_pixels", "int64", "(N,)", "visible pixel count of each", "boxes"),
            Array("instance_box_class", "int32", "(N,)", "the object pass index of each (its COCO category)", "boxes"),
        ),
        convert.instance_arrays,
        geometric=True,
        ray_label="instance_id",
    ),
    Modality(
        "semantic",
        "Semantic Classes",
        "int32 class id of the surface seen: the class of its instance (a custom property's text, from the "
        "object, its instancer or its collections; meta.json's classes names the ids); 0 background or no class, "
        "-1 where instance_id is -1",
        (),
        (
            Array(
                "semantic", "int32", "(H, W)", "class id (meta.json's classes); 0 none, -1 unknown surface", "V", "mask"
            ),
        ),
        convert.semantic_arrays,
        geometric=True,
        ray_label="semantic",
    ),
    Modality(
        "object_labels",
        "Object Labels",
        "per instance whose whole silhouette covers a pixel centre, by id: class, 6D pose (model to OpenCV "
        "camera), oriented 3D box, visible and whole pixel counts, visible fraction, whole box and in-frame fraction",
        (),
        (
            Array("instance_ids", "int32", "(N,)", "the instances the rows describe, ascending", "boxes"),
            Array("instance_class", "int32", "(N,)", "their class ids (meta.json's classes; 0 none)", "boxes"),
            Array("instance_model", "int32", "(N,)", "their models (meta.json's models; 0 none)", "boxes"),
            Array("instance_pose", "float64", "(N, 4, 4)", "model → OpenCV camera, metres, R a rotation", "boxes"),
            Array("instance_box3d", "float64", "(N, 8, 3)", "box corners in camera axes, metres", "boxes"),
            Array("instance_visible_pixels", "int64", "(N,)", "pixels where instance_id is the id", "boxes"),
            Array("instance_amodal_pixels", "int64", "(N,)", "pixels of the whole silhouette", "boxes"),
            Array("instance_visibility", "float32", "(N,)", "visible / whole pixels (0: hidden)", "boxes"),
            Array(
                "instance_amodal_boxes",
                "int32",
                "(N, 4)",
                "[x_min, y_min, x_max, y_max] of the whole silhouette, inclusive, may pass the picture's edge",
                "boxes",
            ),
            Array("instance_in_frame", "float32", "(N,)", "share of the whole box inside the picture", "boxes"),
        ),
        convert.object_label_arrays,
        geometric=True,
        ray_label="instance_id",
    ),
    Modality(
        "amodal_masks",
        "Amodal Masks",
        "each listed instance's whole silhouette, as if nothing else were in the scene: bits packed along x "
        "(np.packbits), unpacked to bool (N, H, W) by the loader",
        (),
        (
            Array(
                "instance_amodal_masks",
                "uint8",
                "(N, H, ⌈W/8⌉)",
                "whole silhouettes, np.packbits(mask, axis=-1); the loader gives bool (N, H, W)",
                "packed",
            ),
        ),
        convert.amodal_mask_arrays,
        requires="object_labels",
        geometric=True,
        ray_label="instance_id",
        default=False,
    ),
    Modality(
        "emission",
        "Emission",
        "float32 linear RGB of the Emit pass",
        ("emission",),
        (Array("emission", "float32", "(H, W, 3)", "linear RGB of the Emit pass", "RGB", "colour"),),
        convert.emission_arrays,
    ),
    Modality(
        "albedo",
        "Albedo",
        "float32 linear RGB of the Diffuse Color pass: the surface's diffuse colour, without light "
        "(under a Principled BSDF the base colour, less what specular, coat and sheen take); background 0",
        ("albedo",),
        (
            Array(
                "albedo", "float32", "(H, W, 3)", "linear RGB of the Diffuse Color pass; background 0", "RGB", "colour"
            ),
        ),
        convert.albedo_arrays,
        default=False,
    ),
    Modality(
        "boxes",
        "Boxes",
        "tight 2D boxes [x_min, y_min, x_max, y_max] (inclusive pixels) and pixel counts per object pass index",
        ("object_index",),
        (
            Array("box_index", "int32", "(N,)", "object pass indices visible in the frame, ascending", "boxes"),
            Array("boxes", "int32", "(N, 4)", "[x_min, y_min, x_max, y_max], inclusive pixels", "boxes"),
            Array("box_pixels", "int64", "(N,)", "visible pixel count of each", "boxes"),
        ),
        convert.box_arrays,
        geometric_on=frozenset({EEVEE}),
        ray_label="object_index",
    ),
)
MODALITY_BY_KEY = {m.key: m for m in MODALITIES}

# For each k of the ``flow_offsets`` setting (k >= 2), made by the modalities named.
OFFSET_ARRAYS = (
    (
        "flow",
        Array(
            "flow_forward_k<k>",
            "float32",
            "(H, W, 2)",
            "pixels (dx, dy) to frame t+k, as flow_forward; NaN undefined",
            "XY",
        ),
    ),
    ("flow", Array("flow_backward_k<k>", "float32", "(H, W, 2)", "pixels (dx, dy) to frame t-k", "XY")),
    ("occlusion", Array("occlusion_forward_k<k>", "uint8", "(H, W)", "as occlusion_forward, in frame t+k", "V")),
    ("occlusion", Array("occlusion_backward_k<k>", "uint8", "(H, W)", "as occlusion_forward, in frame t-k", "V")),
    (
        "scene_flow",
        Array("scene_flow_forward_k<k>", "float32", "(H, W, 3)", "metres, the displacement to frame t+k", "XYZ"),
    ),
    (
        "scene_flow",
        Array("scene_flow_backward_k<k>", "float32", "(H, W, 3)", "metres, the displacement to frame t-k", "XYZ"),
    ),
    (
        "scene_flow",
        Array("depth_change_forward_k<k>", "float32", "(H, W)", "metres, the depth change to frame t+k", "V"),
    ),
    (
        "scene_flow",
        Array("depth_change_backward_k<k>", "float32", "(H, W)", "metres, the depth change to frame t-k", "V"),
    ),
)

# In every frame, whatever the modalities.
CAMERA_ARRAYS = (
    Array("K", "float64", "(3, 3)", "intrinsics in pixels, OpenCV: pixel centres at integer coordinates", "header"),
    Array("world_to_camera", "float64", "(4, 4)", "rigid world → camera transform, OpenCV camera axes", "header"),
    Array("frame", "int64", "()", "the frame number", "header"),
)
ARRAYS = {a.key: a for a in (*(a for m in MODALITIES for a in m.arrays), *CAMERA_ARRAYS)}
_OFFSET_KEY = re.compile(r"(.+_k)([0-9]+)")


def array_for(key: str) -> Array | None:
    """The registry's entry for an array key, ``flow_forward_k4`` included; else None."""
    if key in ARRAYS:
        return ARRAYS[key]
    match = _OFFSET_KEY.fullmatch(key)
    if match is None:
        return None
    return next((a for _, a in OFFSET_ARRAYS if a.key == f"{match[1]}<k>"), None)


def offset_keys(modalities: Iterable[str], offsets: Iterable[int]) -> list[str]:
    """The keys of the arrays over k frames that these modalities make for ``offsets``."""
    chosen = set(modalities)
    return [a.key.replace("<k>", str(k)) for k in offsets for m, a in OFFSET_ARRAYS if m in chosen]


def engine_gives(engine: str, modality: str) -> bool:
    family = engine_family(engine)
    m = MODALITY_BY_KEY[modality]
    if engine == EEVEE_LEGACY and "vector" in m.passes:
        return False
    if family in SUPPORTED_FAMILIES and m.from_geometry(family):
        return True
    return all(family in PASSES[p].engines for p in m.passes)
