# SPDX-License-Identifier: GPL-3.0-or-later
"""Our nodes in the scene's compositor: find, wire idempotently, remove."""
