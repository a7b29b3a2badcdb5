"""mx.io (in progress)."""
