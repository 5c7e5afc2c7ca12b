"""Our nodes in the scene's compositor: find, wire idempotently, remove."""
