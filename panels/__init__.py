"""The "Ground Truth" tab of the 3D Viewport sidebar."""

from . import sidebar

register, unregister = sidebar.register, sidebar.unregister
