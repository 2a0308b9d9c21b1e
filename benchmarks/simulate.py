"""Throughput of the firm Monte Carlo (004 §4.2) on the default JAX device, with baselines.

    python -m benchmarks.simulate                 # quick: N=10, M=2 headline + small sweeps
    python -m benchmarks.simulate --full          # sweeps N ∈ {5..100}, M ∈ {2..20}, firms 1e4..1e8
    python -m benchmarks.simulate --big 100000000 # one streamed run in a subprocess: time and peak RSS

One script for CPU and GPU (it runs on whatever ``jax.devices()[0]`` is). Results go to
``benchmarks/results/<platform>-<device kind>.json``; ``python -m benchmarks.compare`` tabulates
them. Every timing: compile (first call) reported separately, ``block_until_ready``, median of
``--repeats`` calls after a warm-up; device, jax version, dtype and sizes are recorded.

Measured:
  (a) ``solve``: the chain solve with costs given (``solve_chain(...).cost`` under jit; and the
      full solution with paths), also as bytes of costs read per second;
  (b) ``simulate``: :func:`jaxtrade.simulate` with draws generated in the kernel (Philox,
      16-bit uniforms, Pareto icdf), cost statistics only (``paths=False``) and with the path
      statistics;
  (c) ``value_and_grad``: of the power mean w.r.t. (shape, scale, τ, wages) with common uniforms,
      against the forward pass of the same function;
  baselines: a pure-Python loop (small sample), NumPy vectorised (``numpy.random.Generator``
  draws + the same forward recursion with ``np.minimum``), and a naive ``vmap(lax.scan)`` with
  ``jax.random.uniform`` (threefry) draws.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxtrade
from jaxtrade import distributions as jd
from jaxtrade import SequentialModel, firm_uniforms, simulate

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE, SCALE, TAU, WAGES = 0.42, 0.13, 0.45, (1.0, 1.18)  # Tyazhelnikov (004) Table 1, 2000/2007


def _trade(m):
    return 1.0 - np.eye(m)


def _wages(m):
    return np.linspace(1.0, 1.18, m) if m > 1 else np.ones(1)


def _time(f, repeats):
    """(compile+first call seconds, median steady seconds) of a zero-argument callable."""
    t0 = time.perf_counter()
    jax.block_until_ready(f())
    first = time.perf_counter() - t0
    jax.block_until_ready(f())  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    return first, statistics.median(ts)


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------------
# jaxtrade


def bench_solve(n_firms, n, m, repeats):
    """(a) given costs: MC only, and the full solution with paths."""
    costs = jax.device_put(jax.random.uniform(jax.random.key(0), (n_firms, n, m), jnp.float32, 0.1, 1.0))
    T, tau, w = jnp.asarray(_trade(m), jnp.float32), jnp.float32(TAU), jnp.asarray(_wages(m), jnp.float32)
    f_cost = jax.jit(lambda c: jaxtrade.solve_chain(c, T, tau, wages=w).cost)
    f_full = jax.jit(lambda c: jaxtrade.solve_chain(c, T, tau, wages=w))
    c1, s1 = _time(lambda: f_cost(costs), repeats)
    out = {"firms": n_firms, "N": n, "M": m, "compile_s": c1 - s1, "seconds": s1, "firms_per_s": n_firms / s1,
           "bytes_per_s": costs.nbytes / s1}
    if n * m <= 400:
        c2, s2 = _time(lambda: f_full(costs), repeats)
        out.update(full_compile_s=c2 - s2, full_seconds=s2, full_firms_per_s=n_firms / s2)
    del costs
    return out


def bench_simulate(n_firms, n, m, repeats, paths):
    """(b) draws in the kernel: simulate() end to end (host reduction included)."""
    model = SequentialModel(n, _trade(m), TAU, jd.Pareto(SHAPE, SCALE), wages=_wages(m))
    last = []  # the chunking the engine chose, as the result states it

    def run():
        last[:] = [simulate(model, n_firms, seed=1, sigma=4.0, paths=paths)]
        return last[0].summary.mean_cost

    c, s = _time(run, repeats)
    return {"firms": n_firms, "N": n, "M": m, "paths": paths, "compile_s": max(c - s, 0.0), "seconds": s, "firms_per_s": n_firms / s,
            "chunk_size": last[0].chunk_size, "n_chunks": last[0].n_chunks}


def bench_grad(n_firms, n, m, repeats):
    """(c) value and gradient of the power mean w.r.t. (shape, scale, τ, wages), common uniforms."""
    u = firm_uniforms(n_firms, n, m, seed=2)

    def power_mean(x, u):  # u an argument, not a closed-over constant (XLA would constant-fold it)
        model = SequentialModel(n, _trade(m), x[2], jd.Pareto(x[0], x[1]), wages=x[3:])
        return simulate(model, n_firms, sigma=4.0, common_uniforms=u, paths=False).summary.power_mean

    x = jnp.asarray([SHAPE, SCALE, TAU, *_wages(m)], jnp.float32)
    fwd = jax.jit(power_mean)
    vag = jax.jit(jax.value_and_grad(power_mean))
    cf, sf = _time(lambda: fwd(x, u), repeats)
    cg, sg = _time(lambda: vag(x, u), repeats)
    g = vag(x, u)[1]
    return {"firms": n_firms, "N": n, "M": m, "forward_compile_s": cf - sf, "forward_firms_per_s": n_firms / sf,
            "vg_compile_s": cg - sg, "vg_firms_per_s": n_firms / sg, "vg_over_forward": sf / sg,
            "grad_finite": bool(np.all(np.isfinite(np.asarray(g))))}


# ------------------------------------------------------------------------------------------
# baselines


def baseline_python(n_firms, n, m):
    """Pure Python: draws with random.random(), the Bellman recursion (eq. 2) in loops."""
    T, w = _trade(m).tolist(), _wages(m).tolist()
    rng = random.Random(0)
    t0 = time.perf_counter()
    total = 0.0
    for _ in range(n_firms):
        v = [w[k] * SCALE * (1.0 - rng.random()) ** (-1.0 / SHAPE) for k in range(m)]
        for _i in range(1, n):
            a = [w[k] * SCALE * (1.0 - rng.random()) ** (-1.0 / SHAPE) for k in range(m)]
            v = [a[k] + min(v[j] + TAU * T[j][k] for j in range(m)) for k in range(m)]
        total += min(v)
    s = time.perf_counter() - t0
    return {"firms": n_firms, "N": n, "M": m, "seconds": s, "firms_per_s": n_firms / s, "mean_mc": total / n_firms}


def _numpy_chunk(rng, f, n, m, T, w):
    u = rng.random((f, n, m), dtype=np.float32)
    a = (np.float32(SCALE) * np.exp(-np.log1p(-u) / np.float32(SHAPE))) * w
    v = a[:, 0, :]
    for i in range(1, n):
        best = [np.min(np.stack([v[:, j] + np.float32(TAU) * T[j, k] for j in range(m)]), axis=0) for k in range(m)] if m > 2 else [
            np.minimum(v[:, 0] + np.float32(TAU) * T[0, k], v[:, 1] + np.float32(TAU) * T[1, k]) for k in range(m)]
        v = a[:, i, :] + np.stack(best, axis=1)
    return v.min(axis=1)


def baseline_numpy(n_firms, n, m, chunk=1 << 20):
    """NumPy vectorised: numpy.random.Generator (PCG64) draws, Pareto icdf, forward recursion."""
    T, w = _trade(m).astype(np.float32), _wages(m).astype(np.float32)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    total, done = 0.0, 0
    while done < n_firms:
        f = min(chunk, n_firms - done)
        total += float(_numpy_chunk(rng, f, n, m, T, w).sum(dtype=np.float64))
        done += f
    s = time.perf_counter() - t0
    return {"firms": n_firms, "N": n, "M": m, "seconds": s, "firms_per_s": n_firms / s, "mean_mc": total / n_firms}


def baseline_naive_jax(n_firms, n, m, repeats):
    """Naive JAX: threefry uniforms, vmap over firms of a lax.scan over stages with jnp.min."""
    T, w = jnp.asarray(_trade(m), jnp.float32), jnp.asarray(_wages(m), jnp.float32)

    def one(a):
        def step(v, ai):
            v = ai + jnp.min(v[:, None] + TAU * T, axis=0)
            return v, None

        v, _ = jax.lax.scan(step, a[0], a[1:])
        return jnp.min(v)

    @jax.jit
    def run(key):
        u = jax.random.uniform(key, (n_firms, n, m), jnp.float32)
        a = SCALE * (1.0 - u) ** (-1.0 / SHAPE) * w
        return jnp.mean(jax.vmap(one)(a))

    c, s = _time(lambda: run(jax.random.key(0)), repeats)
    return {"firms": n_firms, "N": n, "M": m, "compile_s": c - s, "seconds": s, "firms_per_s": n_firms / s}


# ------------------------------------------------------------------------------------------
# the big streamed run (a subprocess, so that its peak RSS is its own)

_BIG = """
import json, resource, sys, time
import jax
from jaxtrade import distributions as jd
from jaxtrade import SequentialModel, simulate
n, paths = int(sys.argv[1]), sys.argv[2] == "1"
model = SequentialModel(10, [[0.0, 1.0], [1.0, 0.0]], 0.45, jd.Pareto(0.42, 0.13), wages=[1.0, 1.18])
t0 = time.perf_counter()
res = simulate(model, n, seed=3, sigma=4.0, paths=paths)
s = time.perf_counter() - t0
print(json.dumps({"firms": n, "N": 10, "M": 2, "paths": paths, "seconds": s, "firms_per_s": n / s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  "chunk_size": res.chunk_size, "n_chunks": res.n_chunks,
                  "power_mean": float(res.summary.power_mean), "mean_cost": float(res.summary.mean_cost)}))
"""


def big_run(n, paths):
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", _BIG, str(n), "1" if paths else "0"], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------


def device_name():
    d = jax.devices()[0]
    kind = re.sub(r"[^A-Za-z0-9]+", "-", str(d.device_kind)).strip("-").lower()
    return f"{d.platform}-{kind}" if d.platform != "cpu" else "cpu"


def write_result(info, name, out=None):
    """Writes ``info`` as JSON to ``out`` or ``benchmarks/results/<device>_<name>.json`` and says where."""
    path = Path(out) if out else RESULTS / f"{device_name()}_{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=1))
    print(f"wrote {path}")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the full sweeps (long on a CPU)")
    ap.add_argument("--big", type=int, default=0, help="also one streamed run of this many firms (subprocess)")
    ap.add_argument("--big-only", action="store_true", help="only the --big run, merged into the existing JSON")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--firms", type=int, default=None, help="firms of the headline runs (default 2^22 CPU, 2^26 GPU)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    dev = jax.devices()[0]
    gpu = dev.platform != "cpu"
    out_path = Path(args.out) if args.out else RESULTS / f"{device_name()}.json"
    results = json.loads(out_path.read_text()) if (args.big_only and out_path.exists()) else {}
    meta_key = "big_streamed_meta" if (args.big_only and "meta" in results) else "meta"
    results[meta_key] = {
        "device": str(dev.device_kind), "platform": dev.platform, "n_devices": jax.device_count(),
        "jax": jax.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(), "dtype": "float32", "uniform_bits": 16,
        "draws": f"Pareto(shape={SHAPE}, scale={SCALE})", "tau": TAU, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }

    def log(name, r):
        print(f"{name:>28}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
        return r

    if not args.big_only:
        f = args.firms or (1 << 26 if gpu else 1 << 22)
        head = {}
        head["solve_cost"] = log("(a) solve, costs given", bench_solve(f, 10, 2, args.repeats))
        head["simulate_mc_only"] = log("(b) simulate, MC only", bench_simulate(f, 10, 2, args.repeats, False))
        head["simulate_paths"] = log("(b) simulate, with paths", bench_simulate(f if gpu else f // 4, 10, 2, args.repeats, True))
        head["value_and_grad"] = log("(c) value_and_grad", bench_grad(f // 4, 10, 2, args.repeats))
        head["numpy"] = log("NumPy vectorised", baseline_numpy(f // 4 if not gpu else 1 << 22, 10, 2))
        head["python"] = log("pure Python", baseline_python(2000, 10, 2))
        head["naive_vmap_scan"] = log("naive vmap(lax.scan)", baseline_naive_jax(f // 4, 10, 2, args.repeats))
        head["simulate_over_numpy"] = head["simulate_mc_only"]["firms_per_s"] / head["numpy"]["firms_per_s"]
        head["simulate_paths_over_numpy"] = head["simulate_paths"]["firms_per_s"] / head["numpy"]["firms_per_s"]
        head["vg_over_forward"] = head["value_and_grad"]["vg_over_forward"]
        print(f"simulate (MC only) / NumPy = {head['simulate_over_numpy']:.2f}x; with paths {head['simulate_paths_over_numpy']:.2f}x; "
              f"value_and_grad / forward = {head['vg_over_forward']:.2f}", flush=True)
        results["headline_N10_M2"] = head

        stages = [5, 10, 20, 50, 100] if args.full else [5, 10, 20]
        countries = [2, 3, 5, 10, 20] if args.full else [2, 3, 5]
        firms = [10**4, 10**5, 10**6, 10**7] + ([10**8] if (args.full and gpu) else []) if args.full else [10**4, 10**5, 10**6]
        sf = 1 << (22 if gpu else 18)
        sw = {"N": [], "M": [], "firms": []}
        for n in stages:
            sw["N"].append({"solve": log(f"sweep N={n} solve", bench_solve(sf, n, 2, args.repeats)),
                            "simulate": log(f"sweep N={n} simulate", bench_simulate(sf, n, 2, args.repeats, False))})
        for m in countries:
            sw["M"].append({"solve": log(f"sweep M={m} solve", bench_solve(sf, 10, m, args.repeats)),
                            "simulate": log(f"sweep M={m} simulate", bench_simulate(sf, 10, m, args.repeats, False))})
        for nf in firms:
            sw["firms"].append({"solve": log(f"sweep firms={nf} solve", bench_solve(nf, 10, 2, args.repeats)) if nf <= (1 << 24 if not gpu else 1 << 28) else None,
                                "simulate": log(f"sweep firms={nf} simulate", bench_simulate(nf, 10, 2, 1 if nf >= 10**7 else args.repeats, False))})
        results["sweeps"] = sw
        results["meta"]["peak_rss_mb"] = _rss_mb()
    if args.big:
        results["big_streamed"] = log(f"streamed {args.big:.0e} firms", big_run(args.big, paths=False))
    results[meta_key]["load_average_at_end"] = os.getloadavg()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
