#!/usr/bin/env bash
# Installs oxnet (with matplotlib for the plots) and runs the training demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh demo
exec .venv/bin/python -m oxnet.demo "$@"
