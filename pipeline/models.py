# SPDX-License-Identifier: GPL-3.0-or-later
"""The run's object models (docs/contract.md, Objects): a model is the mesh datablock of
a rigid object, numbered 1 … M in the sorted order of mesh names; its instances share it.

A model's vertices are in the model frame of docs/contract.md (the mesh's coordinates
with its object's world stretch applied, when the run starts), so that one pose (R, t)
carries them into the camera. An instance whose stretch differs from its model's (the
same mesh scaled otherwise), and objects whose mesh deforms or that are not meshes, are
not instances of a model (``instance_model`` 0); ``meta.json`` says why per object.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.poses import polar_rotation
from .classes import layer_objects
from .scene_info import deforms

# An instance's stretch is its model's when they differ by less than this, relative.
SAME_STRETCH = 1e-6


def stretch(matrix) -> np.ndarray:
    """P of the polar decomposition M = R·P of a world matrix's 3×3 part."""
    m = np.asarray(matrix, np.float64)[:3, :3]
    return polar_rotation(m).T @ m


@dataclass
class Model:
    """One model: its mesh's name, its vertices in the model frame (metres) and triangles."""

    mesh: str
    vertices: np.ndarray  # (V, 3)
    triangles: np.ndarray  # (T, 3)
    stretch: np.ndarray  # (3, 3)


class Models:
    """The models of a run, made from the view layer's objects when it starts."""

    def __init__(self, view_layer):
        objects = layer_objects(view_layer)
        for obj in list(objects):
            if obj.instance_type == "COLLECTION" and obj.instance_collection is not None:
                objects.extend(obj.instance_collection.all_objects)
        self.not_models: dict[str, str] = {}
        owners: dict[str, bpy.types.Object] = {}
        for obj in sorted({o.name: o for o in objects}.values(), key=lambda o: o.name):
            if obj.type != "MESH":
                continue
            if deforms(obj):
                self.not_models[obj.name] = "its mesh deforms (shape keys or modifiers)"
            else:
                owners.setdefault(obj.data.name, obj)
        self.models = [self._model(owners[name]) for name in sorted(owners)]
        self.ids = {model.mesh: i for i, model in enumerate(self.models, start=1)}

    @staticmethod
    def _model(obj) -> Model:
        mesh = obj.data
        local = np.empty(len(mesh.vertices) * 3, np.float64)
        mesh.vertices.foreach_get("co", local)
        mesh.calc_loop_triangles()
        triangles = np.empty(len(mesh.loop_triangles) * 3, np.int32)
        mesh.loop_triangles.foreach_get("vertices", triangles)
        p = stretch(obj.matrix_world)
        return Model(mesh.name, local.reshape(-1, 3) @ p.T, triangles.reshape(-1, 3), p)

    def of(self, obj, matrix) -> int:
        """The model id of an instance of ``obj`` (evaluated) with this world matrix; 0 none."""
        original = obj.original
        if original.type != "MESH" or original.name in self.not_models:
            return 0
        found = self.ids.get(original.data.name)
        if found is None:
            return 0
        model = self.models[found - 1]
        scale = np.abs(model.stretch).max()
        return found if np.abs(stretch(matrix) - model.stretch).max() <= SAME_STRETCH * scale else 0

    def table(self) -> dict[str, str]:
        """``meta.json``'s ``models``: id → mesh name."""
        return {str(i): model.mesh for i, model in enumerate(self.models, start=1)}
