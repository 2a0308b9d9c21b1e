"""Identification from offshoring status (issue 16 item 3; docs/calibration.md, "Identification from offshoring status").

Tyazhelnikov (004) §5.3, Table 1 (2000), N = 10, σ = 4, Pareto productivity draws. Data: 200,000 firms (seed 11,
the power mean of eq. S1 on 1M firms), each with its sales and its offshoring status; the calibration simulates
``--firms`` firms (seed 1; default 1M).

1. At the truth: the Hessian of the KLD (central differences of the autodiff gradient, step 1e-2) with and
   without the offshoring status, its eigenvalues and the information bound √(diag H⁻¹ / n) at n = 200,000
   (computed on noise-free data: the simulation's own firms, so H is the Fisher information per observation).
2. Recovery: :func:`jaxtrade.calibration.calibrate` (trust-region Newton, joint objective) from 0.5× and 1.5×
   the truth's (shape, τ, w) (the same runs as ``test_full_size_recovery_200k_data_1m_firms``, slow).

    python experiments/offshores_identification.py [--firms 1000000] [--out experiments/offshores_identification.json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from jaxtrade import calibration as cal

MODEL = cal.CalibrationModel(n_stages=10, sigma=4.0)
TRUTH = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)


def hessians(n_sim: int, n_data: int) -> dict:
    phi = cal.to_unconstrained(TRUTH, MODEL)
    sales = cal.simulate_sales(TRUTH, MODEL, n_sim, 1)  # noise-free: the simulation's own firms
    o = cal.simulate_offshores(TRUTH, MODEL, n_sim, 1)
    out = {"n_sim": n_sim, "coordinates": list(cal.IDENTIFIED), "data": "noise-free (the simulation's own firms)"}
    for name, off in (("sales_only", None), ("joint", o)):
        prob = cal.make_problem(sales, MODEL, n_sim=n_sim, seed=1, offshores=off)
        t = time.perf_counter()
        H = cal.hessian(prob, phi)
        eigs, vecs = np.linalg.eigh(H)
        out[name] = {"hessian": H.tolist(), "eigenvalues": eigs.tolist(), "eigenvectors": vecs.tolist(),
                     "condition_number": float(eigs[-1] / eigs[0]) if eigs[0] > 0 else None,
                     "information_bound_at_n": n_data,
                     "information_bound": np.sqrt(np.maximum(np.diag(np.linalg.inv(H)), 0) / n_data).tolist(),
                     "objective_at_truth": float(cal.objective(phi, prob)), "seconds": time.perf_counter() - t}
        print(name, "eigenvalues", eigs, "bound", out[name]["information_bound"], flush=True)
    out["offshore_share"] = float(o.mean())
    return out


def recovery(n_sim: int, n_data: int, data_seed: int = 11, kappa: float | None = None, factors=(0.5, 1.5)) -> dict:
    sales = cal.simulate_sales(TRUTH, MODEL, n_data, data_seed, power_mean_firms=1_000_000)
    o = cal.simulate_offshores(TRUTH, MODEL, n_data, data_seed)
    prob = cal.make_problem(sales, MODEL, n_sim=n_sim, seed=1, offshores=o, offshore_temperature=kappa)
    truth = np.asarray(cal.to_unconstrained(TRUTH, MODEL), np.float64)
    out = {"n_data": n_data, "n_sim": n_sim, "data_seed": data_seed, "offshore_temperature": prob.offshore_temperature, "offshore_share_data": float(o.mean()),
           "objective_at_truth": float(cal.objective(truth, prob)), "runs": []}
    for fac in factors:
        start = cal.Parameters(shape=TRUTH.shape * fac, scale=TRUTH.scale, tau=TRUTH.tau * fac, wage=TRUTH.wage * fac, sunk_cost=1.0)
        t = time.perf_counter()
        res = cal.calibrate(None, MODEL, start=start, problem=prob, scale=TRUTH.scale, with_inference=False, max_steps=60)
        err = np.exp(res.phi - truth) - 1
        run = {"start_factor": fac, "status": res.optimisation.status, "steps": res.optimisation.num_steps,
               "evaluations": res.optimisation.evaluations, "seconds": time.perf_counter() - t, "objective": res.optimisation.value,
               "estimate": res.params.as_dict(), "relative_error": dict(zip(("shape", "rho", "wage", "sunk_cost"), err.tolist())),
               "within_5pct": bool(np.all(np.abs(err) < 0.05)),
               "offshore_share_model": res.statistics.get("offshore_share_model")}
        out["runs"].append(run)
        print(fac, run["status"], run["steps"], f"{run['seconds']:.0f}s", err, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--firms", type=int, default=1_000_000)
    ap.add_argument("--hessian-firms", type=int, default=200_000)
    ap.add_argument("--n-data", type=int, default=200_000)
    ap.add_argument("--out", default="experiments/offshores_identification.json")
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--data-seed", type=int, default=11)
    ap.add_argument("--offshore-temperature", type=float, default=None, help="kappa (default: cal.offshore_temperature(firms))")
    ap.add_argument("--starts", default="0.5,1.5", help="start factors, comma-separated")
    a = ap.parse_args()
    res = {"jax": jax.__version__, "device": str(jax.devices()[0]), "float": "float32", "model": "N=10, sigma=4, Pareto productivity, Table 1 (2000)",
           "truth": TRUTH.as_dict(), "identification": hessians(a.hessian_firms, a.n_data)}
    with open(a.out, "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=1)
    if not a.skip_recovery:
        res["recovery"] = recovery(a.firms, a.n_data, a.data_seed, a.offshore_temperature, tuple(float(f) for f in a.starts.split(",")))
        with open(a.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
