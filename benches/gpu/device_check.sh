#!/usr/bin/env bash
# The GPU check, in one go, on a machine with an NVIDIA GPU (python3 with CUDA libraries from
# pip, e.g. PyTorch's): installs the wheel built by build_bundle.sh into a venv that sees the
# system packages (torch for the side-by-side numbers, nvidia-* libraries for NVRTC/cuBLAS),
# runs the GPU tests and the GPU benchmarks, and prints one summary. Logs go to $OUT.
#   usage: bash benches/gpu/device_check.sh        (from the repository root)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/oxnet-device-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
VENV=/tmp/oxnet-gpu-venv
rm -rf "$VENV"
"$PY" -m venv --system-site-packages "$VENV"
if ! "$VENV/bin/pip" install -q --no-index --find-links dist/wheels dist/oxnet-*.whl pytest; then
  echo "the carried dependency wheels do not fit this python; installing oxnet over the system's"
  "$VENV/bin/pip" install -q --no-index --no-deps dist/oxnet-*.whl
  "$VENV/bin/pip" install -q --no-index --find-links dist/wheels pytest tqdm || true
fi
"$VENV/bin/python" -c "import oxnet, sys; print('oxnet', oxnet.__file__, 'gpus', oxnet.context.num_gpus())" \
  || { echo "oxnet does not import: stopping"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" \
  2>&1 || echo "nvidia-smi not found" > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"
export PYTHONUNBUFFERED=1
(cd tests/python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rfEs \
   gpu test_cuda.py 2>&1 || true) > "$OUT/tests.log"
tail -40 "$OUT/tests.log"
"$VENV/bin/python" benches/gpu/bench_gpu.py 2>&1 | tee "$OUT/bench.log"
echo "=== SUMMARY ==="
cat "$OUT/gpu.txt"
echo "tests: $(tail -1 "$OUT/tests.log")"
grep -E "^(gemm|add|lenet|resnet)" "$OUT/bench.log" || true
