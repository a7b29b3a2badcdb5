"""Command-line tools (python -m oxnet.tools.<name>)."""
