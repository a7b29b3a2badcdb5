"""mx.recordio (in progress)."""
