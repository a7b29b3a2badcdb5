"""mx.initializer (in progress)."""
