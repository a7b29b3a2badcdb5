#!/usr/bin/env bash
# Installs oxnet and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m oxnet.demo "$@"
