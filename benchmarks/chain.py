"""Chain-solve throughput: jaxtrade against baselines, costs given (004 eq. 1-2).

    python -m benchmarks.chain [--firms 1000000] [--stages 10] [--countries 2] [--repeats 7]
    python -m benchmarks.chain --both-xla-settings [--hugetlb] --repeats 15 --out benchmarks/results/cpu_chain.json

Prints JSON: firms/s for a pure-Python per-firm loop (the Matlab-style reference, small sample),
careful NumPy (one transpose to firms-last, then elementwise minimums), naive
``jax.vmap(lax.scan)``, a one-pass read of the same array (the memory roofline), jaxtrade forward
(cost only; all fields) and value-and-gradient, with compile times, device, jax version, dtype,
N and M. All on the same firms-leading float32 input; every JAX timing blocks until ready, after
a warm-up call that compiles; the best of ``--repeats`` is reported.

The gradient w.r.t. the costs is a new ``(F, N, M)`` array; ``fresh_write_costs_shape`` times
writing a constant into such an array (the floor of any function returning it) and
``minor_page_faults_per_call`` counts the kernel's page faults of one call (Linux): glibc serves
allocations above 32 MB with a fresh ``mmap``, so every call faults in (and the kernel zeroes) all
pages of the output. ``--hugetlb`` adds a run with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``
(transparent huge pages for malloc: 2 MB instead of 4 kB faults), an environment setting, not a
library one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxtrade as jt


def _time(fn, *args, repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return first, best


def _minor_faults(fn, *args):
    """Minor page faults of one call (after the warm-up): the kernel's work for fresh output pages."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    jax.block_until_ready(fn(*args))
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def python_loop(a, T, tau):
    """Per-firm Bellman recursion in pure Python (what a Matlab loop does)."""
    f, n, m = a.shape
    out = np.empty(f)
    for i in range(f):
        v = list(a[i, 0])
        for s in range(1, n):
            v = [a[i, s, k] + min(v[j] + tau * T[j, k] for j in range(m)) for k in range(m)]
        out[i] = min(v)
    return out


def numpy_chain(a, T, tau):
    """Careful NumPy: transpose once to (N, M, F), then elementwise minimums."""
    at = np.ascontiguousarray(a.transpose(1, 2, 0))
    n, m, _ = at.shape
    v = at[0].copy()
    for s in range(1, n):
        new = np.empty_like(v)
        for k in range(m):
            best = v[0] + tau * T[0, k]
            for j in range(1, m):
                np.minimum(best, v[j] + tau * T[j, k], out=best)
            new[k] = at[s, k] + best
        v = new
    return v.min(axis=0)


def naive_scan(a, T, tau):
    def one(costs):
        def step(v, row):
            v = row + jnp.min(v[:, None] + tau * T, axis=0)
            return v, None

        v, _ = jax.lax.scan(step, costs[0], costs[1:])
        return v.min()

    return jax.vmap(one)(a)


YNN_OFF = "--xla_cpu_experimental_ynn_fusion_type="


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--both-xla-settings", action="store_true", help="run twice in subprocesses: default XLA flags, and with XLA:CPU's YNNPACK fusion off")
    p.add_argument("--hugetlb", action="store_true", help="with --both-xla-settings: a third run, default XLA flags, GLIBC_TUNABLES=glibc.malloc.hugetlb=1")
    p.add_argument("--firms", type=int, default=1_000_000)
    p.add_argument("--stages", type=int, default=10)
    p.add_argument("--countries", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--python-firms", type=int, default=2_000)
    p.add_argument("--small-firms", type=int, default=1 << 18, help="also forward and value-and-gradient at this size (a 21 MB gradient: below glibc's 32 MB mmap threshold, no page faults)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.both_xla_settings:
        return _both(argv)
    f, n, m = args.firms, args.stages, args.countries
    rng = np.random.default_rng(0)
    a_np = rng.uniform(size=(f, n, m)).astype(np.float32)
    T_np = (1.0 - np.eye(m)).astype(np.float32)
    tau = np.float32(0.3)
    a, T = jnp.asarray(a_np), jnp.asarray(T_np)
    res = dict(xla_flags=os.environ.get("XLA_FLAGS", ""), glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""), device=str(jax.devices()[0].device_kind), platform=jax.devices()[0].platform, jax=jax.__version__,
               cpu=platform.processor() or platform.machine(), dtype="float32", firms=f, stages=n, countries=m, repeats=args.repeats, results={})

    def record(name, first, best, firms=f):
        res["results"][name] = dict(firms_per_s=firms / best, best_s=best, first_call_s=first)

    t0 = time.perf_counter()
    ref_py = python_loop(a_np[: args.python_firms].astype(np.float64), T_np.astype(np.float64), float(tau))
    record("python_loop", None, time.perf_counter() - t0, args.python_firms)
    best = np.inf
    for _ in range(max(1, args.repeats // 2)):
        t0 = time.perf_counter()
        ref_np = numpy_chain(a_np, T_np, tau)
        best = min(best, time.perf_counter() - t0)
    record("numpy_vectorised", None, best)
    record("naive_vmap_scan", *_time(jax.jit(naive_scan), a, T, tau, repeats=args.repeats))
    record("one_pass_read", *_time(jax.jit(lambda x: x.sum(axis=(1, 2))), a, repeats=args.repeats))
    cost = jax.jit(lambda x, t: jt.solve_chain(x, T, t).cost)
    record("jaxtrade_cost", *_time(cost, a, tau, repeats=args.repeats))
    record("jaxtrade_all_fields", *_time(jax.jit(lambda x, t: jt.solve_chain(x, T, t)), a, tau, repeats=args.repeats))
    vg = jax.jit(jax.value_and_grad(lambda x, t: jt.solve_chain(x, T, t).cost.sum(), argnums=(0, 1)))
    record("jaxtrade_value_and_grad", *_time(vg, a, tau, repeats=args.repeats))
    vg_tau = jax.jit(jax.value_and_grad(lambda x, t: jt.solve_chain(x, T, t).cost.sum(), argnums=1))
    record("jaxtrade_value_and_grad_tau_only", *_time(vg_tau, a, tau, repeats=args.repeats))
    fresh = jax.jit(lambda x, t: jnp.full(x.shape, t, x.dtype))  # any new (F, N, M) output: the floor of the costs' gradient
    record("fresh_write_costs_shape", *_time(fresh, a, tau, repeats=args.repeats))
    small = a[: args.small_firms]
    record("jaxtrade_cost_small", *_time(cost, small, tau, repeats=args.repeats), small.shape[0])
    record("jaxtrade_value_and_grad_small", *_time(vg, small, tau, repeats=args.repeats), small.shape[0])
    res["small_firms"] = small.shape[0]
    res["minor_page_faults_per_call"] = dict(jaxtrade_value_and_grad_small=_minor_faults(vg, small, tau), jaxtrade_cost=_minor_faults(cost, a, tau), jaxtrade_value_and_grad=_minor_faults(vg, a, tau),
                                             jaxtrade_value_and_grad_tau_only=_minor_faults(vg_tau, a, tau), fresh_write_costs_shape=_minor_faults(fresh, a, tau),
                                             pages_of_costs_shape=a.nbytes // resource.getpagesize())
    got = np.asarray(cost(a, tau))
    res["max_abs_diff_vs_numpy"] = float(np.max(np.abs(got - ref_np)))
    res["max_abs_diff_vs_python"] = float(np.max(np.abs(got[: args.python_firms] - ref_py)))
    r = res["results"]
    res["ratios"] = dict(
        jaxtrade_over_numpy=r["jaxtrade_cost"]["firms_per_s"] / r["numpy_vectorised"]["firms_per_s"],
        jaxtrade_over_roofline=r["jaxtrade_cost"]["firms_per_s"] / r["one_pass_read"]["firms_per_s"],
        value_and_grad_over_forward=r["jaxtrade_value_and_grad"]["best_s"] / r["jaxtrade_cost"]["best_s"],
        value_and_grad_over_forward_small=r["jaxtrade_value_and_grad_small"]["best_s"] / r["jaxtrade_cost_small"]["best_s"],
        fresh_write_over_forward=r["fresh_write_costs_shape"]["best_s"] / r["jaxtrade_cost"]["best_s"],
        # value-and-gradient against (one forward pass + writing a fresh array of the costs' shape)
        value_and_grad_over_forward_plus_fresh_write=r["jaxtrade_value_and_grad"]["best_s"] / (r["jaxtrade_cost"]["best_s"] + r["fresh_write_costs_shape"]["best_s"]),
    )
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


def _both(argv):
    """Runs the benchmark under both XLA:CPU settings (the flag must be set before JAX starts)."""
    rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--both-xla-settings", "--hugetlb")]
    hugetlb = "--hugetlb" in (argv if argv is not None else sys.argv[1:])
    out = None
    if "--out" in rest:
        i = rest.index("--out")
        out = rest[i + 1]
        rest = rest[:i] + rest[i + 2 :]
    runs = {}
    base = os.environ.get("XLA_FLAGS", "")
    settings = [("default", base, None), ("ynn_fusion_off", (base + " " + YNN_OFF).strip(), None)]
    if hugetlb:
        settings.append(("default_hugetlb", base, "glibc.malloc.hugetlb=1"))
    for name, flags, tunables in settings:
        env = dict(os.environ, XLA_FLAGS=flags)
        if tunables:
            env["GLIBC_TUNABLES"] = tunables
        proc = subprocess.run([sys.executable, "-m", "benchmarks.chain", *rest], env=env, capture_output=True, text=True, check=True)
        runs[name] = json.loads(proc.stdout)
    text = json.dumps(runs, indent=2)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
