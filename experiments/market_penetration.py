"""Market-penetration costs in the EKK (2011) model (001 §6.4): entry and market size, sales
distributions by market, and the counterfactual 10% fall in trade barriers by decile of firms.

Parameters: EKK's estimates (θ̃, λ, σ_a, σ_h, ρ) = (2.46, 0.91, 1.69, 0.34, −0.65); σ = 2.98 for the
counterfactual (θ = θ̃(σ−1) = 4.87). Markets (illustrative, not French data): a home market that 60% of
the potential firms sell in, and 19 foreign destinations with sizes X_n log-spaced over two orders of
magnitude and entry shares N_n/N = 0.1 (X_n/X_max)^{0.65} (EKK's log-linear entry-size relation; the
most popular foreign market has a sixth of the home market's sellers), mean sales of sellers
2·X_n^{0.35} abroad against 20 at home. The sign of the lower deciles' change depends on this export
exposure: with foreign shares 0.25·(…) every decile gains, with 0.05·(…) and half the foreign mean
sales every decile loses (runs of this script with those markets). Own-spending shares π_nn: 0.7 at home, 0.8 abroad.

    python experiments/market_penetration.py       # ~1-2 min on 2 cores
    python experiments/market_penetration.py --recovery   # issue #15's SMM recovery check, ~25 min

Panels: (a) entry share against market size (log-log) in the simulated data, with the fitted slope;
(b) the distribution of sales relative to the market's mean in five markets (EKK's near-common shape,
a Pareto-like upper tail and a thinner lower tail than Pareto because λ < 1); (c) the change in total
sales by decile of baseline sales, mean over replications with 95% bands of one replication's
simulation error; (d) the share of firms in each decile that exit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from jaxtrade import market_penetration as mp  # noqa: E402

HERE = Path(__file__).resolve().parent
TRUTH = dict(theta_tilde=2.46, lam=0.91, sigma_a=1.69, sigma_h=0.34, rho=-0.65)
SIGMA = 2.98
N_FIRMS = 200_000
CF_FIRMS, CF_REPS = 50_000, 8


def make_markets(m_foreign=19):
    size = np.geomspace(1.0, 100.0, m_foreign)
    share = 0.1 * (size / size.max()) ** 0.65
    mean = 2.0 * size**0.35
    sizes = np.r_[300.0, size]
    return mp.markets(np.r_[0.6, share], np.r_[20.0, mean], size=sizes), np.r_[0.7, np.full(m_foreign, 0.8)]


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = mp.params(**TRUTH)
    mk, own = make_markets()
    t0 = time.perf_counter()
    sales = mp.simulate(p, n_firms=N_FIRMS, markets=mk, seed=2026)
    t_sim = time.perf_counter() - t0
    d = sales > 0
    share = d.mean(0)
    size = np.asarray(mk.size)
    slope, icpt = np.polyfit(np.log(size[1:]), np.log(share[1:]), 1)
    mean_sales = sales.sum(0) / d.sum(0)
    show = [0, 1, 7, 13, 19]
    qs = [0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    rel_q = {int(n): np.quantile(sales[d[:, n], n] / mean_sales[n], qs).tolist() for n in show}
    # imperfect hierarchy (EKK): among firms selling in market n, the share also selling in every more popular one
    order = np.argsort(-share)
    nested = [float(np.mean(np.all(d[d[:, order[k]]][:, order[:k]], axis=1))) for k in range(1, len(order))]

    t0 = time.perf_counter()
    cf = mp.counterfactual(p, mk, sigma=SIGMA, own_share=own, trade_cost_change=0.9, n_firms=CF_FIRMS, replications=CF_REPS, seed=7)
    t_cf = time.perf_counter() - t0

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    ax.loglog(size[1:], share[1:], "o", label="simulated foreign markets")
    ax.loglog(size[1:], np.asarray(mk.entry_share)[1:], "x", label="market data (conditioned on)")
    xs = np.geomspace(size[1], size[-1], 20)
    ax.loglog(xs, np.exp(icpt) * xs**slope, "-", lw=0.8, label=f"fitted slope {slope:.3f}")
    ax.set_xlabel("market size X_n")
    ax.set_ylabel("share of potential firms selling, N_n/N")
    ax.set_title("(a) entry and market size")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for n in show:
        r = np.sort(sales[d[:, n], n] / mean_sales[n])
        ax.loglog(r, 1.0 - np.arange(r.size) / r.size, lw=1, label=f"market {n}: N/N = {share[n]:.3f}")
    ax.set_xlabel("sales relative to the market's mean")
    ax.set_ylabel("share of sellers with larger sales")
    ax.set_title("(b) sales distributions by market")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    dec = np.arange(1, 11)
    lo, hi = cf.band
    ax.bar(dec, cf.change, color=["C3" if c < 0 else "C2" for c in cf.change])
    ax.errorbar(dec, cf.change, yerr=[cf.change - lo, hi - cf.change], fmt="none", ecolor="k", capsize=3)
    ax.set_yscale("symlog", linthresh=max(1.0, float(np.min(np.abs(cf.change))) or 1.0))
    ax.set_xlabel("decile of baseline total sales")
    ax.set_ylabel("change in total sales (units of mean sales)")
    ax.set_title("(c) 10% fall in trade barriers: change in sales")
    ax = axes[1, 1]
    ax.bar(dec, 100 * cf.exit_share)
    ax.errorbar(dec, 100 * cf.exit_share, yerr=196 * cf.exit_share_se, fmt="none", ecolor="k", capsize=3)
    ax.set_xlabel("decile of baseline total sales")
    ax.set_ylabel("% of the decile's firms that exit")
    ax.set_title("(d) exit by decile")
    fig.suptitle("EKK (2011) with Arkolakis marketing costs (001 §6.4), EKK's parameter estimates")
    fig.tight_layout()
    fig.savefig(HERE / "market_penetration.png", dpi=120)
    plt.close(fig)

    out = dict(
        parameters=TRUTH, sigma=SIGMA, theta=TRUTH["theta_tilde"] * (SIGMA - 1),
        markets=dict(entry_share=np.asarray(mk.entry_share).tolist(), mean_sales=np.asarray(mk.mean_sales).tolist(),
                     size=size.tolist(), own_share=own.tolist()),
        simulation=dict(n_firms=N_FIRMS, seed=2026, seconds=t_sim, entry_share=share.tolist(), mean_sales=mean_sales.tolist(),
                        entry_size_slope=float(slope), entry_size_slope_input=0.65,
                        relative_sales_quantiles=dict(q=qs, by_market=rel_q),
                        share_also_in_all_more_popular=nested),
        counterfactual=dict(
            trade_cost_change=0.9, n_firms=CF_FIRMS, replications=CF_REPS, seconds=t_cf,
            kappa=np.asarray(cf.kappa).tolist(), price_index=np.asarray(cf.price_index).tolist(),
            decile_baseline=cf.baseline.tolist(), decile_change=cf.change.tolist(), decile_change_sd=cf.change_se.tolist(),
            decile_band_2_5_97_5=np.asarray(cf.band).tolist(), decile_exit_share=cf.exit_share.tolist(),
            decile_exit_share_sd=cf.exit_share_se.tolist(), entrant_sales=cf.entrant_sales, entrant_sales_sd=cf.entrant_sales_se,
            total_change=cf.total_change, total_change_sd=cf.total_change_se,
        ),
    )
    (HERE / "market_penetration.json").write_text(json.dumps(out, indent=2) + "\n")
    np.set_printoptions(precision=3, suppress=True, linewidth=140)
    print(f"simulated {N_FIRMS} firms x {mk.n_markets} markets in {t_sim:.1f} s; entry-size slope {slope:.3f} (input 0.65)")
    print("decile change:", cf.change)
    print("decile exit %:", 100 * cf.exit_share)
    print(f"total change {cf.total_change:.1f} (sd {cf.total_change_se:.1f}); entrants {cf.entrant_sales:.1f}; {t_cf:.1f} s")
    return out


def recovery(n_firms=50_000, n_sim=60_000, temps=(0.05, 0.02, 0.005), shares=(0.6, 0.3, 0.12, 0.05), max_steps=80, out_path=None,
             entry="smooth", starts=(("0.5x", 0.5), ("1.5x", 1.5))):
    """Issue #15's recovery check (docs/market_penetration.md): data from EKK's estimates (seed 3), SMM
    from 0.5× and 1.5× the truth, diag W annealed over ``temps``, then Ω⁺ at the last temperature; per
    stage the estimate, its error, t-statistic (sandwich s.e. at the estimate) and Q against Q(truth).
    ``entry="conditional"``: the cost rank integrated out (no smoothing, τ unused): diag W, then Ω⁺."""
    import jax.numpy as jnp

    from jaxtrade.calibration import smm

    truth = np.array([TRUTH[k] for k in ('theta_tilde', 'lam', 'sigma_a', 'sigma_h', 'rho')])
    m = len(shares)
    s = mp.simulate(mp.params(*truth), n_firms=n_firms, markets=mp.markets(list(shares), list(np.linspace(20, 4, m))), seed=3)
    mk = mp.Markets.from_sales(s)
    m_data, omega = smm.moments_from_sales(s, mk)
    draws = smm.sim_draws(n_sim, m, 11)
    if entry == "conditional":
        temps = (0.0,)
    weights = {"diag": smm.weighting(omega, "diagonal"), "efficient": smm.weighting(omega, "efficient")}
    zt = smm.from_params(mp.Params(*jnp.asarray(truth)))
    out = dict(entry=entry, n_firms=n_firms, n_sim=n_sim, shares=list(shares), temperatures=list(temps), n_moments=int(m_data.shape[0]), truth_id=[], stages=[])
    for tau in temps:
        G = smm.moment_jacobian(mp.Params(*jnp.asarray(truth)), mk, draws, tau, entry)
        for wn, W in weights.items():
            sv, _, vt = smm.identification(G, W)
            se, _ = smm.sandwich(G, W, omega, n_firms, n_sim)
            out["truth_id"].append(dict(tau=tau, weight=wn, singular_values=sv.tolist(), weakest=vt[-1].tolist(), se=se.tolist(),
                                        objective=float(smm._objective_jit(zt, jnp.asarray(tau), m_data, W, mk, draws, entry=entry))))
    for name, f in starts:
        z = smm.from_params(mp.params(*(f * truth)))
        t0 = time.perf_counter()
        for tau, wn in [(t, "diag") for t in temps] + [(temps[-1], "efficient")]:
            args = (m_data, weights[wn], mk, draws)
            z, k, conv = smm._lbfgs(z, tau, args, max_steps, 1e-6, entry=entry)
            p = smm.to_params(z)
            v = np.asarray(smm._vec(p))
            se, _ = smm.sandwich(smm.moment_jacobian(p, mk, draws, tau, entry), weights[wn], omega, n_firms, n_sim)
            rec = dict(start=name, tau=tau, weight=wn, steps=k, converged=bool(conv), seconds=time.perf_counter() - t0, params=v.tolist(),
                       se=se.tolist(), rel_err=((v - truth) / np.abs(truth)).tolist(), t=((v - truth) / se).tolist(),
                       objective=float(smm._objective_jit(z, jnp.asarray(tau), *args, entry=entry)),
                       objective_truth=float(smm._objective_jit(zt, jnp.asarray(tau), *args, entry=entry)))
            out["stages"].append(rec)
            print(name, wn, tau, np.round(v, 3), "err%", np.round(100 * np.array(rec["rel_err"]), 1), "t", np.round(rec["t"], 2),
                  "Q", round(rec["objective"], 2), "Q(truth)", round(rec["objective_truth"], 2), flush=True)
            Path(out_path or HERE / "market_penetration_recovery.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    import sys

    if "--recovery" in sys.argv[1:]:
        recovery(entry="conditional" if "--conditional" in sys.argv[1:] else "smooth")
    else:
        main()
