"""mx.model (in progress)."""
