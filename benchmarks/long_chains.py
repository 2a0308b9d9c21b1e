"""Long chains: throughput of the chain solve over the number of countries M (issue #17, item 2; 004 eq. 1-2).

    python -m benchmarks.long_chains                       # N = 10, M = 2, 3, 5, 10, 20, 30, 50: ~5 min on 2 cores
    python -m benchmarks.long_chains --countries 2,10,20 --repeats 5

For each M, at N = 10 stages, float32, Table 1's Pareto(0.42, 0.13) draws, τ = 0.45, wages linear from 1 to
1.18, T = 1 off the diagonal:

- ``costs_given``: :func:`jaxtrade.solve_chain` (MC only, jitted) on a device array of costs, at
  ``min(--firms, 2^25 / (N M))`` firms (at most 128 MB of costs);
- ``draws``: :func:`jaxtrade.simulate` with ``paths=False`` (Philox draws, the inverse cdf, the solve and the
  streamed summaries in one kernel) at ``--draw-firms`` firms.

Each records the layout the engine chose (``unrolled`` one fused kernel, or the blocked ``scan`` over stages;
``jaxtrade.engine.production._use_scan``), compile time (first call minus a steady call), the median of
``--repeats`` steady calls after a warm-up, firms/s, and the min-plus compute limit: ``2 N M²`` lane
operations per firm (an add and a min per origin-destination pair and stage) over an assumed peak of
``--peak`` lane operations per second (default 3.33e11: 2 cores × 2.6 GHz × 2 vector ports × 32 lanes, the
assumption of docs/simulation.md), with the share of it reached. Output:
``benchmarks/results/<device>_long_chains.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxtrade
from jaxtrade import SequentialModel, simulate
from jaxtrade import distributions as jd
from jaxtrade.engine import production as _production

from .simulate import write_result

SHAPE, SCALE, TAU = 0.42, 0.13, 0.45


def _time(f, repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f())
    first = time.perf_counter() - t0
    jax.block_until_ready(f())
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    steady = statistics.median(ts)
    return max(first - steady, 0.0), steady


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", type=int, default=10)
    ap.add_argument("--countries", default="2,3,5,10,20,30,50")
    ap.add_argument("--firms", type=int, default=1 << 18)
    ap.add_argument("--draw-firms", type=int, default=1 << 19)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peak", type=float, default=3.33e11)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    n = a.stages
    dev = jax.devices()[0]
    info = {"benchmark": "long_chains", "device": str(dev.device_kind), "platform": dev.platform, "jax": jax.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(), "dtype": "float32", "N": n, "repeats": a.repeats,
            "assumed_peak_lane_ops_per_s": a.peak, "unroll_limit": _production._UNROLL_LIMIT, "rows": []}
    for m in (int(v) for v in a.countries.split(",")):
        T = 1.0 - np.eye(m)
        w = np.linspace(1.0, 1.18, m)
        limit = a.peak / (2.0 * n * m * m)
        layout = "scan" if _production._use_scan(_production.Tree.chain(n), m, 1, False) else "unrolled"
        firms = int(min(a.firms, (1 << 25) // (n * m)))
        costs = jax.device_put(jax.random.uniform(jax.random.key(0), (firms, n, m), jnp.float32, 0.1, 1.0))
        Tj, wj = jnp.asarray(T, jnp.float32), jnp.asarray(w, jnp.float32)
        f = jax.jit(lambda c: jaxtrade.solve_chain(c, Tj, jnp.float32(TAU), wages=wj).cost)
        comp, s = _time(lambda: f(costs), a.repeats)
        given = {"firms": firms, "compile_s": comp, "seconds": s, "firms_per_s": firms / s, "share_of_limit": firms / s / limit}
        del costs
        model = SequentialModel(n, T, TAU, jd.Pareto(SHAPE, SCALE), wages=w)
        comp2, s2 = _time(lambda: simulate(model, a.draw_firms, seed=1, sigma=4.0, paths=False).summary.mean_cost, a.repeats)
        draws = {"firms": a.draw_firms, "compile_s": comp2, "seconds": s2, "firms_per_s": a.draw_firms / s2,
                 "share_of_limit": a.draw_firms / s2 / limit}
        row = {"M": m, "layout": layout, "min_plus_ops_per_firm": 2 * n * m * m, "compute_limit_firms_per_s": limit,
               "costs_given": given, "draws": draws}
        info["rows"].append(row)
        print(f"M = {m:3d} ({layout:8s}): costs given {given['firms_per_s'] / 1e6:8.2f} M/s ({100 * given['share_of_limit']:5.1f}% of "
              f"{limit / 1e6:.1f} M/s; compile {comp:.2f} s), draws {draws['firms_per_s'] / 1e6:7.2f} M/s "
              f"({100 * draws['share_of_limit']:5.1f}%; compile {comp2:.2f} s)", flush=True)
    write_result(info, "long_chains", a.out)


if __name__ == "__main__":
    main()
