"""The careful numba peer of :func:`jaxtrade.simulate` (issue #17, item 1), checked and timed in one run.

    pip install -e '.[bench]'            # numba: an optional benchmark extra, never a jaxtrade dependency
    python -m benchmarks.numba_peer                        # check + benchmark, 2^24 firms
    python -m benchmarks.numba_peer --firms 10000000 --repeats 5 --out benchmarks/results/cpu_numba_peer.json

What a careful user writes instead of jaxtrade for the Monte Carlo of Tyazhelnikov (004) §4.2:
``numba.prange`` over blocks of firms (scratch arrays allocated once per block, partial sums per
block), a splitmix64 counter hash of ``(seed, firm, draw)`` for the uniforms (53 bits, float64),
the Pareto inverse cdf ``a = scale · u^{-1/shape}``, the forward recursion of eq. (2) over
``N`` stages × ``M`` countries (wages multiply production costs, eq. 10), and the power mean
``(E[MC^{1−σ}])^{1/(1−σ)}`` of §4.4. A second kernel also keeps the argmins and recovers each
firm's path (offshoring share, mean border crossings, mean cluster size ``N/(m+1)``, labour per
country): the peer of ``simulate(..., paths=True)``.

Statistical check (same run): the peer and jaxtrade draw different random numbers, so they agree
only within Monte Carlo error. At the headline parameters (Pareto shape 0.42 < 1: MC has no finite
mean, so a z-test of the mean MC is meaningless) the power mean, the mean of log MC and
P(MC <= jaxtrade's median) are compared by z-scores; with Pareto(3, 0.5) (finite variance) the
mean MC too. ``|z| < 4`` passes.

Benchmark (same run, same process, alternating repeats): firms/s of both, MC only and with paths,
N = 10, M = 2, Pareto(0.42, 0.13), wages (1, 1.18), τ = 0.45, σ = 4; jaxtrade in float32 with its
default 16-bit uniforms (its documented default), the peer in float64 with 53-bit uniforms (float32
in numba is not faster here: the loop is latency-bound on ``log``/``exp`` and the min-plus chain).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

try:
    import numba
except ImportError as e:  # pragma: no cover - optional
    raise SystemExit("benchmarks/numba_peer.py needs numba: pip install -e '.[bench]'") from e

SHAPE, SCALE, TAU, WAGES, SIGMA, N, M = 0.42, 0.13, 0.45, (1.0, 1.18), 4.0, 10, 2
BLOCK = 4096  # firms per prange iteration


@numba.njit(inline="always")
def splitmix64(x):
    """splitmix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit hash of a counter."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return x ^ (x >> np.uint64(31))


@numba.njit(inline="always")
def _pareto_draw(ctr, j, inv_shape, scale):
    """Draw ``j`` of the firm at counter ``ctr``: a 53-bit uniform from the hash, the Pareto cost icdf."""
    u = (np.float64(splitmix64(ctr + np.uint64(j)) >> np.uint64(11)) + 0.5) * 1.1102230246251565e-16
    return scale * np.exp(-inv_shape * np.log(u))


@numba.njit(inline="always")
def _firm_mc(ctr, n, m, inv_shape, scale, wages, T, tau, v, new):
    """One firm's MC: its ``n·m`` uniforms from the counter hash at ``ctr``, the Pareto inverse cdf,
    the forward recursion (``v``, ``new``: scratch of length ``m``). Inlined into the kernels."""
    for k in range(m):
        v[k] = wages[k] * _pareto_draw(ctr, k, inv_shape, scale)
    for i in range(1, n):
        for k in range(m):
            best = np.inf
            for j in range(m):
                c = v[j] + tau * T[j, k]
                if c < best:
                    best = c
            new[k] = wages[k] * _pareto_draw(ctr, i * m + k, inv_shape, scale) + best
        for k in range(m):
            v[k] = new[k]
    mc = v[0]
    for k in range(1, m):
        if v[k] < mc:
            mc = v[k]
    return mc


@numba.njit(parallel=True, fastmath=False, cache=False)
def peer_mc(n_firms, seed, n, m, shape, scale, wages, T, tau, one_minus_sigma, log_ref):
    """Per-block partial sums ``(n_blocks, 6)``: count, Σ MC, Σ MC², Σ exp((1−σ)(log MC − ref)),
    Σ log MC, Σ (log MC)²."""
    n_blocks = (n_firms + BLOCK - 1) // BLOCK
    out = np.zeros((n_blocks, 6))
    inv_shape = 1.0 / shape
    base = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    nm = np.uint64(n * m)
    for b in numba.prange(n_blocks):
        v = np.empty(m)
        new = np.empty(m)
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        for f in range(b * BLOCK, min((b + 1) * BLOCK, n_firms)):
            ctr = base + np.uint64(f) * nm
            mc = _firm_mc(ctr, n, m, inv_shape, scale, wages, T, tau, v, new)
            lm = np.log(mc)
            s0 += 1.0
            s1 += mc
            s2 += mc * mc
            s3 += np.exp(one_minus_sigma * (lm - log_ref))
            s4 += lm
            s5 += lm * lm
        out[b, 0], out[b, 1], out[b, 2], out[b, 3], out[b, 4], out[b, 5] = s0, s1, s2, s3, s4, s5
    return out


@numba.njit(parallel=True, fastmath=False, cache=False)
def peer_paths(n_firms, seed, n, m, shape, scale, wages, T, tau, one_minus_sigma, log_ref):
    """As :func:`peer_mc`, plus the path statistics: columns 6-8 are Σ offshoring, Σ crossings,
    Σ N/(crossings + 1); columns 9… Σ labour per country (``Σ_i 1(c_i = k) a_ik``)."""
    n_blocks = (n_firms + BLOCK - 1) // BLOCK
    out = np.zeros((n_blocks, 9 + m))
    inv_shape = 1.0 / shape
    base = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    nm = np.uint64(n * m)
    for b in numba.prange(n_blocks):
        v = np.empty(m)
        new = np.empty(m)
        a = np.empty((n, m))
        arg = np.empty((n, m), np.int64)
        acc = np.zeros(9 + m)
        for f in range(b * BLOCK, min((b + 1) * BLOCK, n_firms)):
            ctr = base + np.uint64(f) * nm
            for i in range(n):
                for k in range(m):
                    a[i, k] = _pareto_draw(ctr, i * m + k, inv_shape, scale)
            for k in range(m):
                v[k] = wages[k] * a[0, k]
            for i in range(1, n):
                for k in range(m):
                    best = np.inf
                    bj = 0
                    for j in range(m):
                        c = v[j] + tau * T[j, k]
                        if c < best:
                            best = c
                            bj = j
                    arg[i, k] = bj
                    new[k] = wages[k] * a[i, k] + best
                for k in range(m):
                    v[k] = new[k]
            mc = v[0]
            loc = 0
            for k in range(1, m):
                if v[k] < mc:
                    mc = v[k]
                    loc = k
            crossings = 0
            first = loc
            offshore = 0.0
            acc[9 + loc] += a[n - 1, loc]
            for i in range(n - 1, 0, -1):
                prev = arg[i, loc]
                if prev != loc:
                    crossings += 1
                loc = prev
                acc[9 + loc] += a[i - 1, loc]
                if loc != first:
                    offshore = 1.0
            lm = np.log(mc)
            acc[0] += 1.0
            acc[1] += mc
            acc[2] += mc * mc
            acc[3] += np.exp(one_minus_sigma * (lm - log_ref))
            acc[4] += lm
            acc[5] += lm * lm
            acc[6] += offshore
            acc[7] += crossings
            acc[8] += n / (crossings + 1.0)
        for c in range(9 + m):
            out[b, c] = acc[c]
    return out


VBLOCK = 1024  # firms per prange iteration of the vectorised peer


@numba.njit(parallel=True, fastmath=True, cache=False)
def peer_mc_f32(n_firms, seed, n, m, shape, scale, wages, T, tau, one_minus_sigma, log_ref):
    """The faster peer: float32, ``fastmath``, 24-bit uniforms, firms innermost (LLVM vectorises
    the hash and the min-plus step over a block of firms). Per-block ``(count, Σ MC,
    Σ exp((1−σ)(log MC − ref)))``."""
    n_blocks = (n_firms + VBLOCK - 1) // VBLOCK
    out = np.zeros((n_blocks, 3))
    neg_inv_shape = np.float32(-1.0 / shape)
    base = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    nm = np.uint64(n * m)
    w = (wages * scale).astype(np.float32)
    tt = (tau * T).astype(np.float32)
    for b in numba.prange(n_blocks):
        f0 = b * VBLOCK
        nf = min(VBLOCK, n_firms - f0)
        v = np.empty((m, VBLOCK), np.float32)
        new = np.empty((m, VBLOCK), np.float32)
        for i in range(n):
            for k in range(m):
                for q in range(nf):
                    h = splitmix64(base + np.uint64(f0 + q) * nm + np.uint64(i * m + k))
                    u = (np.float32(h >> np.uint64(40)) + np.float32(0.5)) * np.float32(5.9604645e-08)
                    a = w[k] * np.exp(neg_inv_shape * np.log(u))
                    if i == 0:
                        new[k, q] = a
                    else:
                        best = v[0, q] + tt[0, k]
                        for j in range(1, m):
                            best = min(best, v[j, q] + tt[j, k])
                        new[k, q] = a + best
            v, new = new, v
        s0 = 0.0
        s1 = 0.0
        s3 = 0.0
        for q in range(nf):
            mc = v[0, q]
            for k in range(1, m):
                mc = min(mc, v[k, q])
            s0 += 1.0
            s1 += mc
            s3 += np.exp(one_minus_sigma * (np.log(mc) - log_ref))
        out[b, 0] = s0
        out[b, 1] = s1
        out[b, 2] = s3
    return out


def run_peer_f32(n_firms, seed=0, shape=SHAPE, scale=SCALE, log_ref=0.0):
    T = 1.0 - np.eye(M)
    s = peer_mc_f32(n_firms, seed, N, M, shape, scale, np.asarray(WAGES), T, TAU, 1.0 - SIGMA, log_ref).sum(axis=0)
    return dict(n=int(s[0]), mean_cost=s[1] / s[0], mean_power_term=s[2] / s[0], power_mean=np.exp(log_ref) * (s[2] / s[0]) ** (1.0 / (1.0 - SIGMA)))


def run_peer(n_firms, seed=0, shape=SHAPE, scale=SCALE, paths=False, n=N, m=M, log_ref=0.0):
    T = 1.0 - np.eye(m)
    w = np.asarray(WAGES if m == 2 else np.linspace(1.0, 1.18, m), np.float64)
    kern = peer_paths if paths else peer_mc
    s = kern(n_firms, seed, n, m, shape, scale, w, T, TAU, 1.0 - SIGMA, log_ref).sum(axis=0)
    cnt = s[0]
    out = dict(n=int(cnt), mean_cost=s[1] / cnt, var_cost=s[2] / cnt - (s[1] / cnt) ** 2,
               mean_power_term=s[3] / cnt, var_power_term=None, mean_log=s[4] / cnt, var_log=s[5] / cnt - (s[4] / cnt) ** 2,
               power_mean=np.exp(log_ref) * (s[3] / cnt) ** (1.0 / (1.0 - SIGMA)))
    if paths:
        out.update(offshoring_share=s[6] / cnt, mean_crossings=s[7] / cnt, mean_cluster_size=s[8] / cnt, mean_labour=(s[9:] / cnt).tolist())
    return out


def _jax_model(shape=SHAPE, scale=SCALE, m=M):
    from jaxtrade import SequentialModel
    from jaxtrade import distributions as jd

    w = WAGES if m == 2 else np.linspace(1.0, 1.18, m)
    return SequentialModel(N, 1.0 - np.eye(m), TAU, jd.Pareto(shape, scale), wages=w)


def check(n_firms, seed=1):
    """z-scores of peer against jaxtrade (different random numbers: Monte Carlo error only)."""
    from jaxtrade import simulate

    rows = {}
    for label, (shape, scale) in (("pareto_0.42_0.13", (SHAPE, SCALE)), ("pareto_3_0.5", (3.0, 0.5))):
        res = simulate(_jax_model(shape, scale), n_firms, seed=seed, sigma=SIGMA, keep=True)
        c = res.cost.astype(np.float64)
        ref = float(np.median(np.log(c)))
        p = run_peer(n_firms, seed=seed + 1000, shape=shape, scale=scale, paths=True, log_ref=ref)
        # power-mean term t = exp((1−σ)(log MC − ref)), compared through its mean
        tj = np.exp((1.0 - SIGMA) * (np.log(c) - ref))
        peer_t = p["mean_power_term"]
        # variance of the peer's t from the jaxtrade sample (same distribution under H0)
        se_t = np.sqrt(tj.var() / c.size + tj.var() / p["n"])
        se_log = np.sqrt(np.log(c).var() / c.size + p["var_log"] / p["n"])
        z = {"power_mean_term": (peer_t - tj.mean()) / se_t, "mean_log_cost": (p["mean_log"] - np.log(c).mean()) / se_log}
        p32 = run_peer_f32(n_firms, seed=seed + 2000, shape=shape, scale=scale, log_ref=ref)
        z["power_mean_term (float32 peer)"] = (p32["mean_power_term"] - tj.mean()) / se_t
        med = float(np.median(c))
        frac = float(np.mean(run_peer_below(n_firms, seed + 1000, shape, scale, med)))
        z["P(MC <= jaxtrade median)"] = (frac - 0.5) / np.sqrt(0.25 / p["n"] + 0.25 / c.size)
        if shape > 2:
            z["mean_cost"] = (p["mean_cost"] - c.mean()) / np.sqrt(c.var() / c.size + p["var_cost"] / p["n"])
        s = res.summary
        for name in ("offshoring_share", "mean_crossings", "mean_cluster_size"):
            x = float(getattr(s, name))
            # per-firm variance bound: offshoring is Bernoulli; crossings <= N-1; cluster <= N
            sd = {"offshoring_share": np.sqrt(max(x * (1 - x), 1.0 / n_firms)), "mean_crossings": N - 1, "mean_cluster_size": N}[name]
            z[name + " (conservative)"] = (p[name] - x) / (sd * np.sqrt(2.0 / n_firms))
        rows[label] = dict(
            z=z, passed=bool(all(abs(v) < 4 for v in z.values())),
            jaxtrade=dict(power_mean=float(s.power_mean), mean_cost=float(s.mean_cost), median=med, offshoring_share=float(s.offshoring_share),
                          mean_crossings=float(s.mean_crossings)),
            peer=dict(power_mean=p["power_mean"], mean_cost=p["mean_cost"], offshoring_share=p["offshoring_share"], mean_crossings=p["mean_crossings"]),
        )
    return rows


@numba.njit(parallel=True)
def _peer_below(n_firms, seed, n, m, shape, scale, wages, T, tau, level):
    """Count of the peer's firms with MC <= level (same draws as :func:`peer_mc`)."""
    n_blocks = (n_firms + BLOCK - 1) // BLOCK
    out = np.zeros(n_blocks)
    inv_shape = 1.0 / shape
    base = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    nm = np.uint64(n * m)
    for b in numba.prange(n_blocks):
        v = np.empty(m)
        new = np.empty(m)
        cnt = 0.0
        for f in range(b * BLOCK, min((b + 1) * BLOCK, n_firms)):
            ctr = base + np.uint64(f) * nm
            mc = _firm_mc(ctr, n, m, inv_shape, scale, wages, T, tau, v, new)
            if mc <= level:
                cnt += 1.0
        out[b] = cnt
    return out


def run_peer_below(n_firms, seed, shape, scale, level):
    T = 1.0 - np.eye(M)
    c = _peer_below(n_firms, seed, N, M, shape, scale, np.asarray(WAGES), T, TAU, level).sum()
    return np.array([c / n_firms])


def bench(n_firms, repeats):
    """Firms/s of jaxtrade.simulate and the peers, MC only and with paths, alternating repeats (so
    that a change of machine load hits all alike); ratios are jaxtrade over the fastest peer."""
    import jax

    from jaxtrade import simulate

    model = _jax_model()
    cases = {
        "mc_only": {"jaxtrade": lambda: jax.block_until_ready(simulate(model, n_firms, seed=3, sigma=SIGMA, paths=False).summary.power_mean),
                    "peer_float64": lambda: run_peer(n_firms, seed=3, paths=False),
                    "peer_float32_vectorised": lambda: run_peer_f32(n_firms, seed=3)},
        "paths": {"jaxtrade": lambda: jax.block_until_ready(simulate(model, n_firms, seed=3, sigma=SIGMA, paths=True).summary.power_mean),
                  "peer_float64": lambda: run_peer(n_firms, seed=3, paths=True)},
    }
    out = {}
    for key, fns in cases.items():
        first, times = {}, {name: [] for name in fns}
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t0
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        best_peer = min((n for n in med if n != "jaxtrade"), key=lambda n: med[n])
        out[key] = dict(load_average=os.getloadavg(), firms=n_firms, firms_per_s={n: n_firms / t for n, t in med.items()}, first_call_s=first, seconds=times,
                        fastest_peer=best_peer, jaxtrade_over_fastest_peer=med[best_peer] / med["jaxtrade"])
        print(f"{key:>8}: " + ", ".join(f"{n} {n_firms / t / 1e6:.2f} M firms/s" for n, t in med.items())
              + f"; jaxtrade / {best_peer} = {med[best_peer] / med['jaxtrade']:.2f}x", flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firms", type=int, default=1 << 24)
    ap.add_argument("--check-firms", type=int, default=1 << 20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-check", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import jax

    from jaxtrade.engine import rng as _rng

    rec = dict(meta=dict(benchmark="numba_peer", device=str(jax.devices()[0].device_kind), platform=jax.devices()[0].platform, jax=jax.__version__,
                         numba=numba.__version__, numba_threads=numba.get_num_threads(), cpu_count=os.cpu_count(), python=platform.python_version(),
                         load_average_at_start=os.getloadavg(), N=N, M=M, draws=f"Pareto({SHAPE}, {SCALE})", wages=list(WAGES), tau=TAU, sigma=SIGMA,
                         jaxtrade_dtype="float32, 16-bit uniforms", peer_dtype="float64, 53-bit uniforms",
                         jaxtrade_generator="Philox-4x32-10, " + ("uint64 products (jax_enable_x64 on)" if jax.config.jax_enable_x64 else "16-bit-halves products (x64 off)"),
                         peer_float32_dtype="float32 fastmath, 24-bit uniforms", date=time.strftime("%Y-%m-%d %H:%M:%S")))
    if not args.skip_check:
        rec["check"] = check(args.check_firms)
        for k, v in rec["check"].items():
            print(f"check {k}: passed={v['passed']} " + ", ".join(f"{n}={z:+.2f}" for n, z in v["z"].items()), flush=True)
    rec["bench"] = bench(args.firms, args.repeats)
    rec["meta"]["load_average_at_end"] = os.getloadavg()
    text = json.dumps(rec, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    ok = all(v["passed"] for v in rec.get("check", {}).values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
