# SPDX-License-Identifier: GPL-3.0-or-later
"""Instance ids: a number per object instance, made from its names alone.

An instance is named by its key: the object's name, the instancer's name ("" for an
object that is not an instance) and Blender's ``persistent_id`` (which copy of a
collection instance, which particle, which geometry-nodes instance; () for an object).
Its id is a hash of that key, so an object keeps its id from frame to frame, from run
to run and from machine to machine, whatever the render order. Ids are 1 … 2^31 − 1
(they fit ``int32``); 0 is the background. Two keys of one frame whose hashes meet
(about one chance in 4 300 for 1 000 instances, one in 430 000 for 100) are told apart
by probing: in the keys' sorted order, a later key takes the next free id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

ID_LIMIT = (1 << 31) - 1  # ids run from 1 to this, inclusive

Key = tuple[str, str, tuple[int, ...]]


def key_text(key: Key) -> str:
    """The key as one unambiguous string (JSON), what the hash reads."""
    name, instancer, persistent_id = key
    return json.dumps([name, instancer, list(persistent_id)], ensure_ascii=False)


def hashed_id(key: Key) -> int:
    """The key's id before probing: BLAKE2b of its UTF-8 text, folded into 1 … 2^31 − 1."""
    digest = hashlib.blake2b(key_text(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % ID_LIMIT + 1


def instance_ids(keys: Iterable[Key]) -> dict[Key, int]:
    """The id of each of one frame's keys, distinct (see the module's docstring)."""
    ids: dict[Key, int] = {}
    taken: set[int] = set()
    for key in sorted(set(keys)):
        value = hashed_id(key)
        while value in taken:
            value = value % ID_LIMIT + 1
        taken.add(value)
        ids[key] = value
    return ids


def table_entry(key: Key, pass_index: int) -> dict:
    """A row of ``meta.json``'s ``instances``: the object, its pass index and, for an
    instance, its instancer and ``persistent_id``."""
    name, instancer, persistent_id = key
    return {
        "object": name,
        "pass_index": int(pass_index),
        "instancer": instancer or None,
        "persistent_id": list(persistent_id) if instancer else None,
    }
