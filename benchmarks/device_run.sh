#!/usr/bin/env bash
# The GPU session of issue #17 item 6, as run on a lent device machine (an image with jax[cuda],
# equinox, optimistix, optax, numba; no install): quick benchmark, cross-device hashes, the
# bitwise-invariance tests on the GPU, and the long-chain sweep. Results go to ${OUT:-/tmp/out}.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv 2>&1 | tee "$OUT/nvidia_smi.txt"
python3 -c "import jax, equinox, optimistix, optax; print('jax', jax.__version__, jax.devices(), 'eqx', equinox.__version__, 'optx', optimistix.__version__)"
timeout 300 python3 -m benchmarks.quick --out "$OUT/gpu_quick.json" 2>&1 | tee "$OUT/quick.log"
timeout 60 python3 -m benchmarks.device_check --out "$OUT/device_check.json" --save-cost "$OUT/gpu_cost.npy" 2>&1 | tail -3
[ -n "${DEVICE_TESTS:-}" ] && timeout 120 python3 -m pytest -q -p no:cacheprovider tests/engine/test_simulate.py tests/engine/test_production_long.py \
  -k "chunk_size_invariance or seed_determinism or kept_costs or float64_simulation or philox_known or depend_only or blocked_scan" 2>&1 | tee "$OUT/pytest.log" | tail -15
timeout 150 python3 -m benchmarks.long_chains --countries 2,10,20,50 --firms 16777216 --draw-firms 16777216 --repeats 5 \
  --peak 3.35e13 --out "$OUT/gpu_long_chains.json" 2>&1 | tee "$OUT/long_chains.log" | tail -12
echo "device_run done"
