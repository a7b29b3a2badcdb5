#!/usr/bin/env bash
# Installs oxnet with its test dependencies and runs the whole Python test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
# Run from tests/ so `import oxnet` resolves to the installed package, not ./python.
cd tests/python
exec ../../.venv/bin/python -m pytest -q "$@"
