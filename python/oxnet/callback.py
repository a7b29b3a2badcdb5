"""mx.callback (in progress)."""
