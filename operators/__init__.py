# SPDX-License-Identifier: GPL-3.0-or-later
"""The public operators (ids fixed by docs/contract.md), split by area."""

from . import animation, compositor, outputs, passes, render

modules = (passes, compositor, render, animation, outputs)


def register() -> None:
    for module in modules:
        module.register()


def unregister() -> None:
    for module in reversed(modules):
        module.unregister()
