"""mx.metric (in progress)."""
