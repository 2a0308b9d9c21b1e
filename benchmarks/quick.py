"""A quick, ready-to-run benchmark for any device (issue #17, item 6): CPU and GPU, one command.

    python -m benchmarks.quick                # sizes chosen by device (GPU: large, CPU: small)
    python -m benchmarks.quick --small        # CPU sizes anywhere (a smoke run, ~1 min on 2 cores)
    python -m benchmarks.compare              # then: the CPU-vs-GPU table of these files

Finishes in well under 4 minutes on one GPU. Covers, at N = 10 stages, M = 2 countries, float32,
Pareto(0.42, 0.13) costs, wages (1, 1.18), τ = 0.45, σ = 4 (Tyazhelnikov 004, Table 1):

- ``chain_solve``: ``solve_chain(...).cost`` with costs given (004 eq. 1-2), firms/s and bytes of
  costs read per second, against a one-pass read of the same array (the memory roofline) and an
  elementwise copy of it (bytes read plus written per second: the device's bandwidth);
- ``simulate_mc_only`` / ``simulate_paths``: :func:`jaxtrade.simulate` with the draws in the
  kernel (Philox, 16-bit uniforms, Pareto inverse cdf), MC only and with the path statistics;
- ``value_and_grad``: of the power mean w.r.t. (shape, scale, τ, wages), common uniforms, against
  the forward pass of the same function;
- ``melitz_vmapped``: a ``jax.vmap`` batch of symmetric Melitz (2003) open-economy equilibria with
  autarky (float64; the function of ``benchmarks/melitz.py``, with a few SciPy-loop equilibria as
  a check).

The timing functions are those of ``benchmarks/simulate.py``, ``benchmarks/chain.py`` and
``benchmarks/melitz.py`` (imported, not copied): compile (first call) reported apart, a warm-up,
``block_until_ready``, the median of ``--repeats`` calls. Device, jax version, dtype and sizes are
recorded. Output: ``benchmarks/results/<device>_quick.json`` (``cpu_quick.json`` on a CPU,
``gpu-<kind>_quick.json`` on a GPU); no other result file is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import chain as _chain
from benchmarks import simulate as _sim

RESULTS = Path(__file__).resolve().parent / "results"

# log2 of the firm counts: (chain solve, simulate MC only, simulate with paths, value-and-grad),
# then the number of vmapped Melitz equilibria.
SIZES = {
    "small": dict(solve=20, simulate=21, paths=19, grad=18, melitz=200, melitz_loop=3),
    "gpu": dict(solve=26, simulate=28, paths=26, grad=24, melitz=10_000, melitz_loop=3),
}


def quick_path(name: str | None = None) -> Path:
    return RESULTS / f"{name or _sim.device_name()}_quick.json"


def roofline(n_firms, n, m, repeats):
    """One pass over the same (F, N, M) float32 array (the memory roofline of the chain solve)."""
    costs = jax.device_put(jax.random.uniform(jax.random.key(0), (n_firms, n, m), jnp.float32, 0.1, 1.0))
    first, best = _chain._time(jax.jit(lambda x: x.sum(axis=(1, 2))), costs, repeats=repeats)
    # An elementwise copy (read once, write once): the device's bandwidth, counting both ways.
    _, copy = _chain._time(jax.jit(lambda x: x + 1.0), costs, repeats=repeats)
    out = {"firms": n_firms, "seconds": best, "firms_per_s": n_firms / best, "bytes_per_s": costs.nbytes / best,
           "copy_seconds": copy, "copy_bytes_per_s": 2 * costs.nbytes / copy}
    del costs
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="CPU sizes whatever the device (default: by device)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-melitz", action="store_true")
    ap.add_argument("--out", default=None, help="default benchmarks/results/<device>_quick.json")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    dev = jax.devices()[0]
    gpu = dev.platform != "cpu"
    size_name = "gpu" if (gpu and not args.small) else "small"
    sz = SIZES[size_name]
    out_path = Path(args.out) if args.out else quick_path()
    res = {
        "meta": {
            "benchmark": "quick", "device": str(dev.device_kind), "platform": dev.platform, "device_name": _sim.device_name(),
            "n_devices": jax.device_count(), "jax": jax.__version__, "jaxlib": getattr(jax.lib, "__version__", None) or jax.__version__,
            "python": platform.python_version(), "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S"), "sizes": size_name,
            "dtype": "float32 (melitz: float64)", "uniform_bits": 16, "N": 10, "M": 2,
            "draws": f"Pareto(shape={_sim.SHAPE}, scale={_sim.SCALE})", "tau": _sim.TAU, "wages": list(_sim.WAGES), "sigma": 4.0,
            "repeats": args.repeats, "xla_flags": os.environ.get("XLA_FLAGS", ""),
        },
        "results": {},
    }
    r = res["results"]

    def log(name, d):
        r[name] = d
        print(f"{name:>18}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items()), flush=True)

    log("chain_solve", _sim.bench_solve(1 << sz["solve"], 10, 2, args.repeats))
    log("one_pass_read", roofline(1 << sz["solve"], 10, 2, args.repeats))
    log("simulate_mc_only", _sim.bench_simulate(1 << sz["simulate"], 10, 2, args.repeats, False))
    log("simulate_paths", _sim.bench_simulate(1 << sz["paths"], 10, 2, args.repeats, True))
    log("value_and_grad", _sim.bench_grad(1 << sz["grad"], 10, 2, args.repeats))
    if not args.skip_melitz:
        # The Melitz equilibria are float64: switched on here, after every float32 benchmark above.
        jax.config.update("jax_enable_x64", True)
        from benchmarks import melitz as _melitz

        d = _melitz.bench_sweep(sz["melitz"], sz["melitz_loop"], args.repeats)
        log("melitz_vmapped", {k: d[k] for k in ("n_equilibria", "compile_plus_first_run_s", "vmapped_median_s",
                                                 "vmapped_per_equilibrium_us", "all_converged", "scipy_loop_per_equilibrium_ms",
                                                 "speedup", "max_rel_diff_cutoff_vs_scipy")})
    r["chain_solve_over_roofline"] = r["chain_solve"]["firms_per_s"] / r["one_pass_read"]["firms_per_s"]
    r["chain_solve_bytes_over_copy_bandwidth"] = r["chain_solve"]["bytes_per_s"] / r["one_pass_read"]["copy_bytes_per_s"]
    r["simulate_paths_over_mc_only"] = r["simulate_paths"]["firms_per_s"] / r["simulate_mc_only"]["firms_per_s"]
    res["meta"]["total_s"] = time.perf_counter() - t_start
    res["meta"]["load_average_at_end"] = os.getloadavg()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"total {res['meta']['total_s']:.1f} s; wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
