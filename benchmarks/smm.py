"""Gradient SMM against a derivative-free baseline on the same objective (issue #15; 001 §6.4, EKK 2011).

    python -m benchmarks.smm                     # ~3-6 min on a loaded 2-core CPU
    python -m benchmarks.smm --firms 50000 --markets 4 --n-sim 30000

EKK estimate their five parameters by SMM with a derivative-free search. Here both minimisers work on
*one* objective: :mod:`jaxtrade.calibration.smm`'s Q(z) = (m(z) − m_data)' W (m(z) − m_data) on the
unconstrained coordinates z, diagonal W, fixed draws, one smoothing temperature τ (no annealing, so the
objective is the same function for both):

- ``lbfgs``: the package's jitted optax L-BFGS step (``smm._lbfgs``) until ‖∇Q‖ < gtol·max(1, Q);
- ``nelder_mead``: ``scipy.optimize.minimize(method="Nelder-Mead", adaptive)`` on the jitted objective
  (one compiled call per evaluation), from the same start.

Target: the L-BFGS run's final value times 1 + ``--match``; for both minimisers the time at which a
step (an evaluation, for Nelder-Mead) first reaches it (L-BFGS: median over the repeats after the
first, which sets the target), and the total time.

Compilation is timed apart (a first call of each compiled function before the clock); the timed runs
end in host floats (``float(...)``, so every device result is ready). L-BFGS runs ``--repeats`` times
per start (median); Nelder-Mead once per start (its runs are long; stated in the JSON). Starts: 0.5×
and 1.5× EKK's estimates (ρ = −0.975 at 1.5×). Output: ``benchmarks/results/<device>_smm.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # a benchmark script, not a library import: SMM needs float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402

from jaxtrade.calibration import smm  # noqa: E402
from jaxtrade.models import market_penetration as mp  # noqa: E402

TRUTH = np.array([2.46, 0.91, 1.69, 0.34, -0.65])  # EKK (2011)
SHARES = (0.6, 0.3, 0.12, 0.05, 0.02, 0.01)


def setup(n_firms, n_markets, n_sim, tau):
    shares = list(SHARES[:n_markets])
    s = mp.simulate(mp.params(*TRUTH), n_firms=n_firms, markets=mp.markets(shares, list(np.linspace(20, 4, n_markets))), seed=3)
    mk = mp.Markets.from_sales(s)
    m_data, omega = smm.moments_from_sales(s, mk)
    args = (m_data, smm.weighting(omega, "diagonal"), mk, smm.sim_draws(n_sim, n_markets, 11))
    return args, jnp.asarray(tau)


def run_lbfgs(z0, tau, args, max_steps, gtol, target=None):
    """(seconds, final Q, steps, converged, params, seconds until a step's Q first <= target)."""
    hit = []
    t0 = time.perf_counter()
    on_step = None if target is None else (lambda i, v: hit.append(time.perf_counter() - t0) if (not hit and v <= target) else None)
    z, steps, conv = smm._lbfgs(z0, float(tau), args, max_steps, gtol, on_step)
    q = float(smm._objective_jit(z, tau, *args))
    return time.perf_counter() - t0, q, int(steps), bool(conv), np.asarray(smm._vec(smm.to_params(z))).tolist(), (hit[0] if hit else None)


def run_nm(z0, tau, args, target, max_fev):
    f = lambda z: float(smm._objective_jit(jnp.asarray(z), tau, *args))
    best = [np.inf, None, 0]
    t0 = time.perf_counter()

    def fun(z):
        v = f(z)
        best[2] += 1
        if v < best[0]:
            best[0] = v
        if best[1] is None and v <= target:
            best[1] = (time.perf_counter() - t0, best[2])
        return v

    res = optimize.minimize(fun, np.asarray(z0), method="Nelder-Mead",
                            options=dict(maxfev=int(max_fev), xatol=1e-8, fatol=1e-10, adaptive=True))
    total = time.perf_counter() - t0
    return dict(seconds_total=total, evaluations=int(best[2]), final_objective=float(res.fun), best_objective=float(best[0]),
                seconds_to_target=None if best[1] is None else best[1][0], evaluations_to_target=None if best[1] is None else best[1][1],
                params=np.asarray(smm._vec(smm.to_params(jnp.asarray(res.x)))).tolist(), message=str(res.message))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=20_000)
    ap.add_argument("--markets", type=int, default=3)
    ap.add_argument("--n-sim", type=int, default=10_000)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=300)
    ap.add_argument("--gtol", type=float, default=1e-6)
    ap.add_argument("--max-fev", type=int, default=5000)
    ap.add_argument("--match", type=float, default=1e-3, help="NM reaches the L-BFGS value when Q <= Q_lbfgs (1 + match)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    dev = jax.devices()[0]
    meta = dict(benchmark="smm", device=dev.platform, device_name=getattr(dev, "device_kind", str(dev)), jax=jax.__version__,
                python=platform.python_version(), cpu_count=os.cpu_count(), load_average_at_start=list(os.getloadavg()),
                date=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), dtype="float64", n_firms=a.firms, n_markets=a.markets,
                n_sim=a.n_sim, tau=a.tau, weight="diagonal", repeats_lbfgs=a.repeats, note_load='shared 2-core CPU: timings are loaded, see load averages', repeats_nelder_mead=1, gtol=a.gtol,
                max_fev=a.max_fev, match=a.match, truth=TRUTH.tolist())
    t0 = time.perf_counter()
    args, tau = setup(a.firms, a.markets, a.n_sim, a.tau)
    meta["n_moments"] = int(args[0].shape[0])
    meta["setup_s"] = time.perf_counter() - t0
    z_any = smm.from_params(mp.params(*TRUTH))
    t0 = time.perf_counter()
    smm._lbfgs(z_any, float(tau), args, 1, a.gtol)
    meta["compile_lbfgs_step_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    float(smm._objective_jit(z_any, tau, *args))
    meta["compile_objective_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    float(smm._objective_jit(z_any, tau, *args))
    meta["objective_call_s"] = time.perf_counter() - t0
    results = []
    for name, f in (("0.5x", 0.5), ("1.5x", 1.5)):
        z0 = smm.from_params(mp.params(*(f * TRUTH)))
        first = run_lbfgs(z0, tau, args, a.max_steps, a.gtol)
        q = first[1]
        target = q * (1 + a.match) + 1e-12
        runs = [first] + [run_lbfgs(z0, tau, args, a.max_steps, a.gtol, target) for _ in range(a.repeats - 1)]
        secs = [r[0] for r in runs]
        hits = [r[5] for r in runs[1:] if r[5] is not None]
        nm = run_nm(z0, tau, args, target, a.max_fev)
        lb = dict(seconds_median=float(np.median(secs)), seconds_all=secs, objective=q, steps=first[2], converged=first[3],
                  params=first[4], seconds_to_target_median=float(np.median(hits)) if hits else None)
        rec = dict(start=name, lbfgs=lb, nelder_mead=nm, target_objective=target)
        if nm["seconds_to_target"] is not None and hits:
            rec["nm_over_lbfgs_time_to_same_objective"] = nm["seconds_to_target"] / float(np.median(hits))
        results.append(rec)
        print(json.dumps(rec), flush=True)
    meta["load_average_at_end"] = list(os.getloadavg())
    out = Path(a.out) if a.out else Path(__file__).resolve().parent / "results" / f"{dev.platform}_smm.json"
    out.write_text(json.dumps(dict(meta=meta, results=results), indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
