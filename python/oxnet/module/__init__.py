"""mx.mod (in progress)."""
