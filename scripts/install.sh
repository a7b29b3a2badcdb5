#!/usr/bin/env bash
# Creates .venv (if missing) and installs oxnet into it, built in release mode from this
# checkout. Extra pip "extras" may be given, e.g. `scripts/install.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extras=""
if [ $# -gt 0 ]; then extras="[$(IFS=,; echo "$*")]"; fi
# maturin builds the Rust core and binding in release mode (the kernels must be fast).
.venv/bin/python -m pip install -q ".${extras}"
