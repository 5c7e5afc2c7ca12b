# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic classes: the table of class ids (no ``bpy``).

An object's class is a name (a custom property's text, ``pipeline/classes.py`` finds
it). A run numbers the names it finds 1 … C in the order of their Unicode code points,
so the ids depend on the names alone, not on the order objects were made in; or it
takes the user's JSON table ``{"name": id, ...}``, which fixes the ids across scenes and
must name every class the scene uses. 0 is no class (and the background).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

NO_CLASS = 0


class ClassTableError(ValueError):
    """A class table that cannot be used; the message is one line for the user."""


def numbered(names: Iterable[str]) -> dict[str, int]:
    """``{name: id}``, ids 1 … C in the names' code-point order."""
    return {name: i for i, name in enumerate(sorted(set(names)), start=1)}


def read_table(path: str | Path) -> dict[str, int]:
    """The user's class table: a JSON object of names to distinct whole numbers ≥ 1."""
    try:
        with open(path, encoding="utf-8") as stream:
            table = json.load(stream)
    except OSError as error:
        raise ClassTableError(f"Class Table '{path}': {error.strerror or error}") from None
    except ValueError as error:
        raise ClassTableError(f"Class Table '{path}' is not JSON: {error}") from None
    if not isinstance(table, dict):
        raise ClassTableError(f"Class Table '{path}': want a JSON object {{\"name\": id, ...}}")
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
            raise ClassTableError(f"Class Table '{path}': the id of {name!r} is {value!r}, want a whole number ≥ 1")
    seen: dict[int, str] = {}
    for name, value in table.items():
        if value in seen:
            raise ClassTableError(f"Class Table '{path}': {seen[value]!r} and {name!r} share id {value}")
        seen[value] = name
    return dict(table)


def class_table(names: Iterable[str], table_path: str = "") -> dict[str, int]:
    """The run's ``{name: id}``: the user's table (which must hold every name the scene
    uses) or the names numbered."""
    names = set(names)
    if not table_path:
        return numbered(names)
    table = read_table(table_path)
    missing = sorted(names - table.keys())
    if missing:
        listed = ", ".join(repr(name) for name in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise ClassTableError(
            f"Class Table '{table_path}' has no id for the class{'es' if len(missing) > 1 else ''} {listed} "
            "that the scene uses: add them"
        )
    return table
