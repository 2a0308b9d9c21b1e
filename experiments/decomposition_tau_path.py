"""Fragmentation share and welfare gain as the offshoring cost τ falls from ∞ to 0 (004 §4.4, §5.3).

    python experiments/decomposition_tau_path.py [--firms 200000] [--out-dir out/experiments]

Table 1 (2000) technology (N = 10, two countries, Pareto shape 0.42 / scale 0.13, w = 1.18 on
China's costs), σ = 4, ζ = 0.5, under the two readings of the draws (costs / productivities).
For every τ on a grid from "∞" (1e30: no firm offshores, MC = min_j Σ_i w_j a_ij, Proposition 5)
to 0 it reports, with the same firms throughout (seed 0):

- the welfare gain relative to τ = ∞: ``d ln (W − E) = −ζ(σ−1)/(σ−1−ζσ) · d ln M̃C`` (eq. 13, exact
  for the consumer-surplus term; ``d ln W`` needs the level of income E and is not shown);
- the fragmentation share of the whole fall from τ = ∞ (= 1: paths optimal at ∞ cross no border,
  so the direct effect is zero);
- the fragmentation share from the Table 1 value τ0 = 0.49 down to τ (τ < 0.49);
- the "local" fragmentation share of a cut of the Table 1 size, τ → τ · 0.45/0.49, at each τ.

Writes ``tau_path.json`` and ``tau_path.png``.
"""

import argparse
import json
import os
import time

import jax
import numpy as np

from jaxtrade.table1 import TABLE_1, table1_model
from jaxtrade import decompose

TAU_INF = 1e30
GRID = [TAU_INF, 100.0, 30.0, 10.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.49, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.0]
CUT = 0.45 / 0.49


def run_reading(draws_are, firms, seed):
    p = TABLE_1[2000]
    kw = dict(shape=p["shape"], scale=p["scale"], wage=p["wage"], draws_are=draws_are, wage_reading="china")
    common = dict(n_firms=firms, seed=seed, sigma=p["sigma"], zeta=p["zeta"])
    rows = []
    for tau in GRID:
        from_inf = decompose(table1_model(tau=TAU_INF, **kw), tau, **common)
        local = decompose(table1_model(tau=tau, **kw), tau * CUT, **common) if 0 < tau < TAU_INF else None
        from_049 = decompose(table1_model(tau=p["tau"], **kw), tau, **common) if tau < p["tau"] else None
        rows.append(
            dict(
                tau=tau,
                log_mc_change_from_inf=float(from_inf.total_log_change),
                log_mc_change_from_inf_se=float(from_inf.total_log_change_se),
                cs_log_gain_from_inf=float(from_inf.consumer_surplus_log_change),
                share_from_inf=float(from_inf.fragmentation_share) if tau < TAU_INF else None,
                mean_crossings=float(from_inf.mean_crossings_new),
                local_share=None if local is None else float(local.fragmentation_share),
                local_share_se=None if local is None else float(local.fragmentation_share_se),
                share_from_049=None if from_049 is None else float(from_049.fragmentation_share),
                share_from_049_se=None if from_049 is None else float(from_049.fragmentation_share_se),
            )
        )
        r = rows[-1]
        print(
            f"{draws_are:>12} τ={tau:<8.3g} dlnCS(∞→τ)={r['cs_log_gain_from_inf']:+.5f}  crossings={r['mean_crossings']:.3f}  "
            f"local share={r['local_share'] if r['local_share'] is None else round(100 * r['local_share'], 2)}%  "
            f"share 0.49→τ={r['share_from_049'] if r['share_from_049'] is None else round(100 * r['share_from_049'], 2)}%",
            flush=True,
        )
    return rows


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for reading, rows in results.items():
        fin = [r for r in rows if 0 < r["tau"] < TAU_INF]
        t = np.array([r["tau"] for r in fin])
        axes[0].plot(t, [r["cs_log_gain_from_inf"] for r in fin], "o-", label=f"draws are {reading}")
        axes[1].plot(t, [100 * r["local_share"] for r in fin], "o-", label=f"{reading}: local cut τ→0.918τ")
        sub = [r for r in fin if r["share_from_049"] is not None]
        axes[1].plot([r["tau"] for r in sub], [100 * r["share_from_049"] for r in sub], "s--", label=f"{reading}: from τ0 = 0.49")
    for ax in axes:
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("τ (falling →)")
    axes[0].set_ylabel("d ln (W − E) relative to τ = ∞")
    axes[0].set_title("welfare gain (consumer-surplus term, eq. 13)")
    axes[1].axhline(24.6, color="r", ls=":", label="paper: 24.6%")
    axes[1].set_ylabel("fragmentation share, %")
    axes[1].set_title("share of the fall in M̃C due to re-optimised paths\n(from τ = ∞ it is 100%)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--firms", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default="out/experiments")
    a = ap.parse_args()
    t0 = time.perf_counter()
    results = {reading: run_reading(reading, a.firms, a.seed) for reading in ("cost", "productivity")}
    os.makedirs(a.out_dir, exist_ok=True)
    meta = dict(firms=a.firms, seed=a.seed, device=str(jax.devices()[0]), jax=jax.__version__, dtype="float32", seconds=time.perf_counter() - t0)
    with open(os.path.join(a.out_dir, "tau_path.json"), "w") as f:
        json.dump(dict(meta=meta, results=results), f, indent=2)
    plot(results, os.path.join(a.out_dir, "tau_path.png"))
    print(f"wrote {a.out_dir}/tau_path.json and .png ({meta['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
