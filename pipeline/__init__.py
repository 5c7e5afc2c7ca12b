"""From a live scene to files: checks, the temporary export state, one frame's export."""
