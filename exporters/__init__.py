"""Writers and readers of the output folder. No ``bpy``: numpy and OpenEXR only."""
