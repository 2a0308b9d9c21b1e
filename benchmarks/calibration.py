"""Calibration speed: trust-region Newton against Nelder-Mead on the same objective (issue #16, item 7; 004 §5.3).

    python -m benchmarks.calibration                      # 200,000 observations, 1M simulated firms: ~6-10 min on 2 cores
    python -m benchmarks.calibration --n-sim 100000 --starts 1.5

Both minimisers work on *one* objective: :func:`jaxtrade.calibration.objective` (KLD, sales only, soft
trimming 5%) on the bundled synthetic 2000 sample (200,000 firms, Table 1 values), with ``--n-sim``
simulated firms held fixed (seed 1), N = 10, σ = 4, through :func:`jaxtrade.calibration.minimise`:

- ``quasi_newton``: the same trust region with SR1 updates of the Hessian (one gradient per step; the
  finite-difference Hessian at the start, every 10 accepted steps and to confirm convergence);
- ``newton``: trust-region Newton with finite-difference Hessians of the autodiff gradient (9 gradient
  evaluations per accepted step);
- ``bfgs``, ``lbfgs``: optimistix BFGS and optax L-BFGS (one gradient per step; ``--optimizers``);
- ``nelder_mead``: optimistix's Nelder-Mead, the derivative-free baseline (one objective per step), with
  the package's stopping rule (rtol/atol of optimistix, or no relative gain of 1e-6 in 50 steps).

Starts: 0.5× and 1.5× Table 1 in (shape, τ, w), scale at the truth, f_s by :func:`moment_start`.
Compilation is timed apart: a two-step warm-up run of each minimiser on the same problem (same shapes,
so the timed runs reuse its compiled step) before the clock. Every record's time is host time after
the step's objective is a Python float (so the device work is done).

Target: for each start and each gradient-based minimiser, the larger of its final objective and Nelder-Mead's
(the value both reached); the time at which each first reached it, and the ratio (Nelder-Mead / gradient). The objective
at the truth is recorded beside it. Output: ``benchmarks/results/<device>_calibration.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxtrade import calibration as cal
from .simulate import write_result

def first_reach(history, target):
    for h in history:
        if h["objective"] <= target * (1 + 1e-9):
            return {"step": h["step"], "evaluations": h["evaluations"], "seconds": h["seconds"]}
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sim", type=int, default=1_000_000)
    ap.add_argument("--starts", default="0.5,1.5", help="start factors on (shape, tau, w)")
    ap.add_argument("--newton-steps", type=int, default=100)
    ap.add_argument("--nm-steps", type=int, default=1000)
    ap.add_argument("--optimizers", default="quasi_newton,newton,bfgs,lbfgs", help="gradient-based minimisers compared with nelder_mead")
    ap.add_argument("--gradient-steps", type=int, default=300, help="max steps of bfgs and lbfgs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    model = cal.CalibrationModel(n_stages=10, sigma=4.0)
    truth = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)
    sales = cal.synthetic_sales(2000)
    t = time.perf_counter()
    prob = cal.make_problem(sales, model, n_sim=a.n_sim, seed=1)
    setup_s = time.perf_counter() - t
    phi_t = cal.to_unconstrained(truth, model)
    f_truth = float(jax.jit(cal.objective)(phi_t, prob))
    dev = jax.devices()[0]
    info = {"benchmark": "calibration", "device": str(dev.device_kind), "platform": dev.platform, "jax": jax.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(), "dtype": "float32", "n_data": int(sales.size),
            "n_sim": a.n_sim, "n_stages": 10, "objective": "kld", "setup_seconds": setup_s, "objective_at_truth": f_truth,
            "truth_identified": np.exp(np.asarray(phi_t, np.float64)).tolist(), "compile_seconds": {}, "runs": [], "comparisons": []}
    steps = {o: (a.newton_steps if o in ("newton", "quasi_newton") else a.gradient_steps) for o in a.optimizers.split(",")}
    steps["nelder_mead"] = a.nm_steps
    for opt in steps:  # warm-up: compiles the step, the objective and the gradient for these shapes
        t = time.perf_counter()
        cal.minimise(prob, cal.moment_start(phi_t, prob), optimizer=opt, max_steps=2)
        info["compile_seconds"][opt] = time.perf_counter() - t
    for fac in (float(v) for v in a.starts.split(",")):
        start = cal.Parameters(shape=truth.shape * fac, scale=truth.scale, tau=truth.tau * fac, wage=truth.wage * fac, sunk_cost=1.0)
        phi0 = cal.moment_start(cal.to_unconstrained(start, model), prob)
        runs = {}
        for opt, n in steps.items():
            res = cal.minimise(prob, phi0, optimizer=opt, max_steps=n)
            err = (np.exp(cal.canonicalise(res.phi, model) - np.asarray(phi_t, np.float64)) - 1).tolist()
            runs[opt] = {"start_factor": fac, "optimizer": opt, "result": res.status, "steps": res.num_steps, "evaluations": res.evaluations,
                         "wall_s": res.seconds, "objective": res.value, "objective_over_truth": res.value / f_truth,
                         "relative_errors_shape_rho_w_fs": err, "reached_truth_objective": first_reach(res.history, f_truth),
                         "history": [{k: v for k, v in h.items() if k != "phi"} for h in res.history]}
            print(f"start {fac}x {opt:>12s}: {res.status}, {res.num_steps} steps, {res.seconds:.1f} s, objective {res.value:.4e} "
                  f"({res.value / f_truth:.3f} x truth), errors {np.round(err, 3)}", flush=True)
            info["runs"].append({k: v for k, v in runs[opt].items()})
        for opt in (o for o in runs if o != "nelder_mead"):
            target = max(runs[opt]["objective"], runs["nelder_mead"]["objective"])
            reach = {o: first_reach(runs[o]["history"], target) for o in (opt, "nelder_mead")}
            ratio = (reach["nelder_mead"]["seconds"] / reach[opt]["seconds"]) if reach[opt] and reach["nelder_mead"] else None
            info["comparisons"].append({"start_factor": fac, "optimizer": opt, "target_objective": target, "first_reach": reach,
                                        "nelder_mead_over_gradient": ratio,
                                        "converged_under_60s": runs[opt]["result"] == "converged" and runs[opt]["wall_s"] < 60})
            print(f"start {fac}x {opt}: target {target:.4e}; reached at {reach[opt]}, Nelder-Mead at {reach['nelder_mead']}; ratio {ratio}",
                  flush=True)
    write_result(info, "calibration", a.out)


if __name__ == "__main__":
    main()
