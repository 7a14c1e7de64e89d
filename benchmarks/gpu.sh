#!/usr/bin/env bash
# The GPU check: the default benchmark at GPU size, the speed table at GPU sizes,
# and the verdict benchmark (default vs fixed-target mode, float32 vs float64).
# Run on a machine whose python3 already holds jax with CUDA; every table it
# prints is also written under ${OUT:-/tmp/suite-gpu}.
#   bash benchmarks/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/suite-gpu}"
mkdir -p "$out"
# One persistent compilation cache for every part: the verdicts benchmark loads
# the default benchmark's programs that the first part compiled.
export PYTHONUNBUFFERED=1 SUITE_COMPILE_CACHE="$(mktemp -d)"
# The device has no network: pure-Python dependencies it lacks come as wheels
# in .wheels/ (carried there; `pip download -d .wheels tomli_w`).
if ls .wheels/*.whl >/dev/null 2>&1; then python3 -m pip install -q --no-deps .wheels/*.whl >"$out/wheels.log" 2>&1; fi
python3 -m pip install -q --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1 || { cat "$out/install.log"; exit 1; }
python3 -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1 | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee -a "$out/devices.txt"

step() {  # step NAME SECONDS CMD...: run one part with its own limit, keep going on failure
  local name=$1 limit=$2; shift 2
  echo "== $name"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt"
  echo "== $name: exit ${PIPESTATUS[0]} in $((SECONDS - start)) s"
}

# Each part has its own limit so that one slow part cannot eat the others' time
# (the device time of a session is short: about 6 minutes all told here).
step default_run 120 suite run --restarts 4096 --quiet --no-report --out "$(mktemp -d)/default-run"
step verdicts 150 python3 benchmarks/verdicts.py --gpu --rounds 2
step speed 90 python3 benchmarks/speed.py --restarts 1024 16384 --width 256 --net-restarts 64 \
    --steps 200 --repeats 2 --loop-restarts 2 --no-compile
