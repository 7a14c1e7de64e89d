#!/usr/bin/env bash
# The GPU check: every GPU measurement the project cares about, in one command
# (under 8 minutes on an H100/H200: the parts' limits add up to 7.4), printed as
# one table beside the H100 anchors and the issue-7 bars (benchmarks/gpu_table.py):
#   speed_rastrigin  speed.py, Adam on Rastrigin 65,536 restarts × d 1,000: suite, bare JAX,
#                    torch eager and compiled, the Python loop; fraction of the bandwidth floor
#   speed_nets       speed.py on deep_net (depth 8, width 256, 1,024 restarts): FLOP/s, suite ÷ bare, ÷ torch
#   default_run      the default benchmark (`suite run`) twice, sharing a new compile cache
#                    (SUITE_COMPILE_CACHE): its wall time, and cold against warm compile seconds
#   diagnostics      diagnostics.py --steps 1000: what the landscape diagnostics cost
#   pspin            pspin.py --n 1000: p-spin loss and gradient, seconds and memory
# Each part has its own time limit and the script keeps going when one fails;
# every part writes its output (and JSON where it has some) under ${OUT:-/tmp/suite-gpu},
# with NAME.cmd (the command that reproduces it) and NAME.exit (exit code, seconds).
#   bash benchmarks/gpu.sh            # on the GPU machine: python3 with jax (CUDA), optax, torch
#   bash benchmarks/gpu.sh --tiny     # the same parts at tiny sizes on any machine: about a minute of CPU, side by side
# Environment: OUT, PYTHON (default python3), SUITE_GPU_TINY=1 (= --tiny),
# SUITE_GPU_NO_INSTALL=1 (do not pip-install this checkout; also skipped when
# `suite` already imports from it).
set -uo pipefail
cd "$(dirname "$0")/.."
tiny=${SUITE_GPU_TINY:-0}
[[ "${1:-}" == "--tiny" ]] && tiny=1
py=${PYTHON:-python3}
out="${OUT:-/tmp/suite-gpu}"
mkdir -p "$out"
parts=(speed_rastrigin speed_nets default_run diagnostics pspin)
for name in "${parts[@]}"; do rm -f "$out/$name".{exit,cmd,txt,json}; done  # an earlier check's results
export PYTHONUNBUFFERED=1 SUITE_COMPILE_CACHE=off  # each part measures compiles itself; default_run sets its own
# The device has no network: pure-Python dependencies it lacks come as wheels
# in .wheels/ (carried there; `pip download -d .wheels tomli_w`).
installed=$(cd / && "$py" -c "import pathlib, suite; print(pathlib.Path(suite.__file__).resolve().parents[1])" 2>/dev/null)
if [[ "${SUITE_GPU_NO_INSTALL:-0}" != 1 && "$installed" != "$PWD" ]]; then
  if ls .wheels/*.whl >/dev/null 2>&1; then "$py" -m pip install -q --no-deps .wheels/*.whl >"$out/wheels.log" 2>&1; fi
  "$py" -m pip install -q --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1 || { cat "$out/install.log"; exit 1; }
fi
"$py" -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1 | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee -a "$out/devices.txt"

step() {  # step NAME SECONDS CMD...: run one part with its own limit, keep going on failure
  local name=$1 limit=$2; shift 2
  printf '%q ' "$@" >"$out/$name.cmd"
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  local code=$?
  echo "$code $((SECONDS - start))" >"$out/$name.exit"
  [[ $tiny == 1 ]] || tail -n 40 "$out/$name.txt"
  echo "== $name: exit $code in $((SECONDS - start)) s: $(cat "$out/$name.cmd")"
}
# At tiny sizes the numbers mean nothing, only that every part runs: the parts run
# side by side (compiling keeps about one core busy each). Measured, they run one at a time.
part() { if [[ $tiny == 1 ]]; then step "$@" & else step "$@"; fi; }

if [[ $tiny == 1 ]]; then
  speed=(--small --no-compile)
  rastrigin=(--workloads rastrigin)
  nets=(--workloads net --depth 2)
  default=(-- --landscape bowl:dim=3 --optimizer adam --restarts 4 --steps 20 --no-report)
  diagnostics=(--restarts 4 --steps 5 --rounds 1 --depth 2 --width 8)
  pspin=(--n 12 --restarts 4 --repeats 1)
  limits=(300 300 300 300 300)  # only against a hang: the numbers are not the point
else
  speed=(--loop-restarts 2 --rounds 3)
  rastrigin=(--workloads rastrigin --dims 1000 --restarts 65536 --steps 1000)
  nets=(--workloads net --net-restarts 1024 --net-steps 100)
  default=()
  diagnostics=(--steps 1000)
  pspin=(--n 1000)
  limits=(130 100 110 60 45)
fi
part speed_rastrigin "${limits[0]}" "$py" benchmarks/speed.py "${speed[@]}" "${rastrigin[@]}" \
  --json "$out/speed_rastrigin.json"
part speed_nets "${limits[1]}" "$py" benchmarks/speed.py "${speed[@]}" "${nets[@]}" --json "$out/speed_nets.json"
part default_run "${limits[2]}" "$py" benchmarks/gpu_default_run.py --json "$out/default_run.json" "${default[@]}"
part diagnostics "${limits[3]}" "$py" benchmarks/diagnostics.py "${diagnostics[@]}"
part pspin "${limits[4]}" "$py" benchmarks/pspin.py "${pspin[@]}"
wait
for name in "${parts[@]}"; do  # a failed tiny part shows its end
  if [[ $tiny == 1 && "$(cut -d' ' -f1 "$out/$name.exit" 2>/dev/null)" != 0 ]]; then tail -n 20 "$out/$name.txt"; fi
done
"$py" benchmarks/gpu_table.py "$out" $([[ $tiny == 1 ]] && echo --tiny) | tee "$out/table.txt"
