#!/usr/bin/env bash
# Builds what benches/gpu/device_check.sh installs on a GPU machine that has no Rust toolchain
# and no network: the abi3 wheel (GPU backend included) and the wheels of its Python
# dependencies and of pytest for CPython 3.12, all under dist/ (git-ignored; carried there).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf dist && mkdir -p dist/wheels
.venv/bin/python -m pip install -q "maturin>=1.7,<2"
.venv/bin/maturin build --release -q -o dist
.venv/bin/python -m pip download -q -d dist/wheels --only-binary=:all: \
  --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  numpy pillow simplejpeg tqdm scipy-openblas32 pytest
ls -la dist dist/wheels
