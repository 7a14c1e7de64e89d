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
export PYTHONUNBUFFERED=1 SUITE_COMPILE_CACHE=off
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

step default_run 240 suite run --restarts 4096 --quiet --no-report --out "$(mktemp -d)/default-run"
step speed 300 python3 benchmarks/speed.py --restarts 1024 65536 --width 256 --net-restarts 256 \
    --steps 1000 --repeats 3 --loop-restarts 4
if [ -f benchmarks/verdicts.py ]; then
  step verdicts 300 python3 benchmarks/verdicts.py --gpu
fi
