#!/usr/bin/env bash
# The GPU check, in one go, on a machine with an NVIDIA GPU (python3 with CUDA libraries from
# pip, e.g. PyTorch's): installs the wheel built by build_bundle.sh beside that python's own
# packages (torch for the side-by-side numbers, nvidia-* libraries for NVRTC/cuBLAS), runs a
# smoke test, the GPU tests (one process per test function, in parallel, so one sticky
# CUDA error cannot fail the rest), the every-op sweep, then the GPU benchmarks, and prints one
# summary. Logs go to $OUT (at most 8 files).
#   usage: bash benches/gpu/device_check.sh        (from the repository root)
#   TESTS_ONLY=1 / BENCH_ONLY=1 run one half.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/oxnet-device-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SITE=/tmp/oxnet-site
SHARDS=/tmp/oxnet-gpu-shards
export PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1
t0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - t0)) s]"; }

# No venv: python3 there may itself be a venv (then --system-site-packages would hide its torch
# and nvidia-* libraries). oxnet goes into a folder on PYTHONPATH; of its dependencies, only
# those that python lacks come from the carried wheels.
rm -rf "$SITE" "$SHARDS" && mkdir -p "$SHARDS"
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" dist/oxnet-*.whl \
  || { echo "the oxnet wheel does not install: stopping"; exit 1; }
missing=$("$PY" - <<'PYEOF'
import importlib.util as u
print(" ".join(p for m, p in [("numpy", "numpy"), ("PIL", "pillow"), ("simplejpeg", "simplejpeg"),
      ("tqdm", "tqdm"), ("scipy_openblas32", "scipy-openblas32"), ("pytest", "pytest")]
      if u.find_spec(m) is None))
PYEOF
)
if [ -n "$missing" ]; then
  echo "installing from the carried wheels: $missing"
  "$PY" -m pip install -q --no-index --no-compile --find-links dist/wheels --target "$SITE" \
    $missing || echo "some carried wheels did not install"
fi
export PYTHONPATH=$SITE
PYV=$PY
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
    || echo "nvidia-smi not found"; } > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
echo "$(elapsed) smoke"
timeout 60 "$PYV" benches/gpu/smoke.py 2>&1 | tee "$OUT/smoke.log"
"$PYV" -c "import oxnet; assert oxnet.context.num_gpus() > 0" \
  || { echo "oxnet finds no GPU: stopping"; exit 1; }

if [ -z "${BENCH_ONLY:-}" ]; then
  echo "$(elapsed) tests"
  # The every-op sweep runs beside the suite's shards.
  ( OXNET_SWEEP_REPORT="$OUT/sweep.txt" timeout 200 "$PYV" -m pytest -q -p no:cacheprovider \
      -rfE tests/python/gpu/test_gpu_op_sweep.py > "$SHARDS/sweep.log" 2>&1 ) &
  sweep=$!
  "$PYV" -m pytest -q -p no:cacheprovider --collect-only tests/python/gpu/test_gpu_consistency.py \
    tests/python/test_cuda.py \
    2>/dev/null | grep "::" > "$SHARDS/ids"
  cut -d'[' -f1 "$SHARDS/ids" | sort -u > "$SHARDS/funcs"
  echo "$(wc -l < "$SHARDS/ids") cases in $(wc -l < "$SHARDS/funcs") functions"
  # One pytest per function, six at a time.
  xargs -P 6 -I{} bash -c 'f={}; n=$(echo "$f" | tr -c "A-Za-z0-9_\n" _);
    grep -F "$f" "$0/ids" > "$0/$n.ids";
    timeout 150 "$1" -m pytest -q -p no:cacheprovider -rfE --tb=short $(cat "$0/$n.ids") \
      > "$0/$n.log" 2>&1; echo "rc $? $f" >> "$0/rcs"' "$SHARDS" "$PYV" < "$SHARDS/funcs"
  wait $sweep
  {
    for f in "$SHARDS"/*.log; do echo "=== $(basename "$f")"; cat "$f"; done
    echo "=== exit codes"; sort "$SHARDS/rcs"
  } > "$OUT/tests.log"
  echo "$(elapsed) tests done"
  grep -hE "^(FAILED|ERROR)" "$SHARDS"/*.log | cut -c1-220 | head -60
  grep -h "^rc [^0]" "$SHARDS/rcs" || true
fi

if [ -z "${TESTS_ONLY:-}" ]; then
  echo "$(elapsed) benchmarks"
  timeout 150 "$PYV" benches/gpu/bench_gpu.py 2>&1 | tee "$OUT/bench.log"
  timeout 60 "$PYV" benches/gpu/profile_step.py > "$OUT/profile.txt" 2>&1
  head -3 "$OUT/profile.txt"
fi

echo "=== SUMMARY $(elapsed)"
cat "$OUT/gpu.txt"
grep -c "^ok" "$OUT/smoke.log" | sed 's/^/smoke steps ok: /'
grep "^FAIL" "$OUT/smoke.log" || true
if [ -f "$OUT/tests.log" ]; then
  "$PYV" - "$SHARDS" <<'PYEOF'
import glob, re, sys
tot = {}
for f in glob.glob(sys.argv[1] + "/*.log"):
    if f.endswith("sweep.log"):
        continue
    last = open(f).read().strip().splitlines()[-1:] or [""]
    for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", last[0]):
        tot[word] = tot.get(word, 0) + int(n)
print("suite:", ", ".join("%d %s" % (v, k) for k, v in sorted(tot.items())) or "no results")
PYEOF
  echo "sweep: $(grep -E "passed|failed" "$SHARDS/sweep.log" | tail -1); $(head -2 "$OUT/sweep.txt" 2>/dev/null | tr '\n' ' ')"
fi
grep -E "^(gemm|add|lenet|resnet| )" "$OUT/bench.log" 2>/dev/null || true
