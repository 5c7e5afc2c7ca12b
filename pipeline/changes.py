# SPDX-License-Identifier: GPL-3.0-or-later
"""Record changes to the scene so that they can be undone, in reverse, also on error."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SceneChanges:
    """A stack of undo steps: ``set`` an attribute or push a callable; ``restore`` all."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, owner: Any, attribute: str, value: Any) -> None:
        """Set ``owner.attribute = value``, remembering the old value if it differs."""
        old = getattr(owner, attribute)
        if old == value:
            return
        setattr(owner, attribute, value)
        self._undo.append(lambda: setattr(owner, attribute, old))

    def push(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def restore(self) -> None:
        """Undo every change, newest first. One failing step does not stop the others."""
        failures = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as error:  # keep restoring the rest, then report
                log.exception("could not undo a scene change")
                failures.append(error)
        if failures:
            raise RuntimeError(f"{len(failures)} scene setting(s) could not be restored: {failures[0]}")
