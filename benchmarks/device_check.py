"""Cross-device reproducibility: hashes of the engine's draws and of the solved costs (issue #17).

    python -m benchmarks.device_check                 # prints one JSON line
    python -m benchmarks.device_check --out F.json

Firm ``f``'s uniforms depend only on ``(seed, f)`` through integer Philox rounds, so they must be
bitwise equal on every device (CPU, GPU) and at every chunk size; the solved ``.cost`` is float
arithmetic (the inverse cdf's ``pow``, the min-plus recursion), which a GPU may round differently
from a CPU: its hash is recorded, and its largest relative difference from the CPU is what
``benchmarks/results`` compares. Sizes: N = 10, M = 2, Table 1's model (``benchmarks/simulate.py``),
2^20 firms, seed 1, float32, 16-bit uniforms; chunk sizes 2^17, 2^20 and the default.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import jax
import numpy as np

from jaxtrade import SequentialModel, simulate
from jaxtrade import distributions as jd
from jaxtrade.engine.rng import firm_uniforms

from benchmarks import simulate as _sim

N_FIRMS, N, M, SEED = 1 << 20, 10, 2, 1


def digest(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a)).tobytes()).hexdigest()[:16]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None)
    ap.add_argument("--save-cost", default=None, help="also write the (2^20,) costs as .npy, to compare devices")
    args = ap.parse_args(argv)
    model = SequentialModel(N, _sim._trade(M), _sim.TAU, jd.Pareto(_sim.SHAPE, _sim.SCALE), wages=_sim._wages(M))
    u = firm_uniforms(N_FIRMS, N, M, seed=SEED)
    runs = {c: simulate(model, N_FIRMS, seed=SEED, chunk_size=c, keep=True, sigma=4.0) for c in (1 << 17, 1 << 20, None)}
    a, b, d = (runs[c].cost for c in (1 << 17, 1 << 20, None))
    out = {
        "device": _sim.device_name(), "jax": jax.__version__, "firms": N_FIRMS, "N": N, "M": M, "seed": SEED,
        "uniforms_sha256": digest(u), "cost_sha256": digest(a),
        "cost_bitwise_equal_across_chunk_sizes": bool(np.array_equal(a, b) and np.array_equal(a, d)),
        "default_chunk_size": runs[None].chunk_size,
        "mean_cost": float(runs[1 << 20].summary.mean_cost), "power_mean": float(runs[1 << 20].summary.power_mean),
        "cost_first_8": [float(x) for x in np.asarray(a).ravel()[:8]],
    }
    line = json.dumps(out)
    print(line)
    if args.save_cost:
        np.save(args.save_cost, np.asarray(a))
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
