# SPDX-License-Identifier: GPL-3.0-or-later
"""Each object's semantic class, from the scene (docs/contract.md, Objects).

An object's class is the text of its custom property named by the Class Property
setting (``class`` by default); else, for an instance, its instancer's; else that of
the innermost collection holding it that has one (then the instancer's collections).
The run's table of ids (``core/classes.py``) numbers the names that the view layer's
objects hold when the run starts, those of the collections they instance and of the
copies geometry nodes make at the current frame included.
"""

from __future__ import annotations

import bpy

from ..core.classes import NO_CLASS, ClassTableError, class_table


class ClassError(ValueError):
    """A class property that is not a text, or a class the run's table lacks; one line."""


def own_class(owner, prop: str) -> str | None:
    """The text of ``owner``'s custom property ``prop`` (an object or a collection), if set."""
    value = owner.get(prop) if prop else None
    if value is None:
        return None
    if not isinstance(value, str):
        kind = "Collection" if isinstance(owner, bpy.types.Collection) else "Object"
        raise ClassError(
            f"{kind} '{owner.name}': its '{prop}' property is {type(value).__name__} {value!r}, "
            "not a text; set it to the class name"
        )
    return value


class Classes:
    """The classes of one run: ``table`` maps names to ids; :meth:`of` gives an
    instance's id. Raises :class:`ClassError` for a bad property or table."""

    def __init__(self, scene, view_layer, prop: str, table_path: str = ""):
        self.prop = prop
        self._parents = _collection_parents(scene.collection)
        self._cache: dict[tuple[str, str], int] = {}
        names = set()
        objects = layer_objects(view_layer)
        for obj in list(objects):
            if obj.instance_type == "COLLECTION" and obj.instance_collection is not None:
                objects.extend(obj.instance_collection.all_objects)
        for obj in objects:
            name = self.name_of(obj)
            if name is not None:
                names.add(name)
        depsgraph = view_layer.depsgraph
        depsgraph.update()
        for inst in depsgraph.object_instances:  # geometry nodes' copies of other collections' objects
            if inst.is_instance:
                name = self.name_of(inst.object, inst.parent)
                if name is not None:
                    names.add(name)
        try:
            self.table = class_table(names, table_path)
        except ClassTableError as error:
            raise ClassError(str(error)) from None

    def _collection_class(self, obj) -> str | None:
        """The class of the innermost collection holding ``obj`` that has one (nearest
        first, then by name)."""
        layer = sorted(obj.users_collection, key=lambda c: c.name)
        seen = set()
        while layer:
            for collection in layer:
                value = own_class(collection, self.prop)
                if value is not None:
                    return value
            seen.update(c.name for c in layer)
            parents = {p.name: p for c in layer for p in self._parents.get(c.name, ()) if p.name not in seen}
            layer = [parents[name] for name in sorted(parents)]
        return None

    def name_of(self, obj, instancer=None) -> str | None:
        """The class name of ``obj`` (an instance of ``instancer``), or None."""
        obj = obj.original
        instancer = instancer.original if instancer is not None else None
        for owner in (obj, instancer):
            if owner is not None:
                value = own_class(owner, self.prop)
                if value is not None:
                    return value
        for owner in (obj, instancer):
            if owner is not None:
                value = self._collection_class(owner)
                if value is not None:
                    return value
        return None

    def of(self, obj, instancer=None) -> int:
        """The class id of ``obj`` (an evaluated object, an instance of ``instancer``)."""
        key = (obj.name, instancer.name if instancer is not None else "")
        if key not in self._cache:
            name = self.name_of(obj, instancer)
            if name is not None and name not in self.table:
                raise ClassError(f"Object '{obj.name}': its class {name!r} was not in the scene when the run started")
            self._cache[key] = NO_CLASS if name is None else self.table[name]
        return self._cache[key]


def layer_objects(view_layer) -> list:
    """The view layer's objects, read from its collections that are not excluded
    (``view_layer.objects`` lags behind objects linked since its last update)."""
    found, layers = {}, [view_layer.layer_collection]
    while layers:
        layer = layers.pop()
        if layer.exclude:
            continue
        found.update((obj.name, obj) for obj in layer.collection.objects)
        layers.extend(layer.children)
    return [found[name] for name in sorted(found)]


def _collection_parents(root) -> dict[str, list]:
    """Each collection's parents (by name) under the scene's master collection."""
    parents: dict[str, list] = {}
    stack = [root]
    while stack:
        collection = stack.pop()
        for child in collection.children:
            parents.setdefault(child.name, []).append(collection)
            stack.append(child)
    return parents
