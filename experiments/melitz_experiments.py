"""Experiments for jaxtrade.melitz (001 Sections 5-6, 002). Writes PNGs and a JSON summary.

    python experiments/melitz_experiments.py [--outdir experiments/output/melitz] [--only NAME]

1. ``opening_to_trade.png``  — profits against productivity in autarky and after opening
   (001 Figures 1.2-1.3), log-normal productivity.
2. ``gravity_10_countries.png`` — 10 asymmetric countries with an outside good: bilateral flows
   against distance, split into extensive and intensive margins (001 eq. 20), Pareto vs log-normal.
3. ``acr.png`` — gains from trade against the ACR prediction λ^{−1/ε} over a τ grid (one vmapped
   call per distribution): exact under Pareto, deviating under log-normal.
4. ``melitz_vs_krugman.png`` — welfare gains from the same fall in τ in Melitz and Krugman.
5. ``brn_static_dynamic.png`` — 002 Figure 1 (level gain, growth loss) and Result 4 (cross-section
   of sectors with different trade costs after T years).
"""

from __future__ import annotations

import argparse
import json
import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import melitz  # noqa: E402

SIGMA, F, FX, FE = 3.0, 1.0, 1.5, 0.1


def opening_to_trade(outdir):
    dist = D.LogNormal(0.0, 1.0)
    eq = melitz.symmetric_open_economy(dist, SIGMA, F, FX, FE, 1.6, 2)
    phi = jnp.geomspace(0.5 * float(eq.autarky_cutoff), 3.0 * float(eq.export_cutoff), 500)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(phi ** (SIGMA - 1), eq.autarky_profit(phi), label="autarky π^A(φ)")
    ax.plot(phi ** (SIGMA - 1), eq.profit(phi), label="open economy π(φ)")
    for x, lab in [(eq.autarky_cutoff, "φ*_A"), (eq.cutoff, "φ*"), (eq.export_cutoff, "φ*_X")]:
        ax.axvline(float(x) ** (SIGMA - 1), ls=":", c="grey")
        ax.text(float(x) ** (SIGMA - 1), ax.get_ylim()[1] * 0.9, lab)
    ax.set_xlabel("φ^(σ−1)")
    ax.set_ylabel("profit")
    ax.set_title("Opening to trade (001 Fig. 1.2-1.3), log-normal G, τ = 1.6")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "opening_to_trade.png"), dpi=120)
    plt.close(fig)
    return dict(
        autarky_cutoff=float(eq.autarky_cutoff),
        cutoff=float(eq.cutoff),
        export_cutoff=float(eq.export_cutoff),
        market_demand=float(eq.market_demand),
        autarky_market_demand=float(eq.autarky_market_demand),
        exporter_share=float(eq.exporter_share),
    )


def gravity(outdir, n=10):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (n, 2))
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    tau = 1.3 + dist
    np.fill_diagonal(tau, 1.0)
    f = np.full((n, n), 1.4)
    np.fill_diagonal(f, 1.0)
    L = rng.uniform(3.0, 6.0, n)
    out = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    off = ~np.eye(n, dtype=bool)
    for name, d in [("Pareto k=4", D.Pareto(4.0, 1.0)), ("log-normal σ_φ=1", D.LogNormal(0.0, 1.0))]:
        eq = melitz.multi_country(d, SIGMA, tau, f, 0.1, L, beta=0.3)
        if not bool(jnp.all(eq.entry_positive)):
            raise RuntimeError(f"{name}: no interior equilibrium (some M_E ≤ 0); change the world")
        X, ext, inten = (np.asarray(a) for a in (eq.trade_flows, eq.extensive_margin, eq.intensive_margin))
        Xnn = np.diag(X)[:, None]
        lt = np.log(tau[off])
        slope_ext = np.polyfit(lt, np.log((ext / np.diag(ext)[:, None])[off]), 1)[0]
        slope_int = np.polyfit(lt, np.log((inten / np.diag(inten)[:, None])[off]), 1)[0]
        slope_tot = np.polyfit(lt, np.log((X / Xnn)[off]), 1)[0]
        out[name] = dict(
            converged=bool(eq.result == optx.RESULTS.successful),
            trade_elasticity_total=float(slope_tot),
            extensive=float(slope_ext),
            intensive=float(slope_int),
            domestic_trade_share=np.asarray(eq.domestic_trade_share).tolist(),
        )
        axes[0].scatter(lt, np.log((X / Xnn)[off]), s=10, label=f"{name}: slope {slope_tot:.2f}")
        axes[1].scatter(lt, np.log((inten / np.diag(inten)[:, None])[off]), s=10, label=f"{name}: intensive {slope_int:.2f}")
    axes[0].set_xlabel("log τ_ni")
    axes[0].set_ylabel("log X_ni / X_nn")
    axes[1].set_xlabel("log τ_ni")
    axes[1].set_ylabel("log average exports (relative to domestic)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle("Gravity, 10 asymmetric countries (001 eq. 20): Pareto margins are exact")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "gravity_10_countries.png"), dpi=120)
    plt.close(fig)
    return out


def acr(outdir):
    taus = jnp.linspace(1.05, 3.0, 200)
    fx = 2.0
    out = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, d in [("Pareto k=4", D.Pareto(4.0, 1.0)), ("log-normal σ_φ=1", D.LogNormal(0.0, 1.0))]:
        def one(t, d=d):
            eq = melitz.symmetric_open_economy(d, SIGMA, F, fx, FE, t, 2, throw=False)
            eps = melitz.trade_elasticity(d, SIGMA, F, fx, FE, t, 2)
            return eq.gains_from_trade, eq.domestic_trade_share, eps

        g, lam, eps = (np.asarray(a) for a in jax.jit(jax.vmap(one))(taus))
        acr_pred = lam ** (-1.0 / eps)
        dev = g / acr_pred - 1
        out[name] = dict(max_abs_rel_deviation=float(np.max(np.abs(dev))), at_tau=float(taus[np.argmax(np.abs(dev))]),
                         elasticity_range=[float(eps.min()), float(eps.max())])
        ax.plot(1 - lam, 100 * (g - 1), label=f"{name}: model")
        ax.plot(1 - lam, 100 * (acr_pred - 1), ls="--", label=f"{name}: ACR λ^(−1/ε)")
    ax.set_xlabel("import share 1 − λ_nn")
    ax.set_ylabel("gain from trade vs autarky (%)")
    ax.set_title("ACR: exact under Pareto, not under log-normal")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "acr.png"), dpi=120)
    plt.close(fig)
    return out


def melitz_vs_krugman(outdir):
    d = D.Pareto(4.0, 1.0)
    taus = jnp.linspace(1.3, 3.0, 100)
    aut = melitz.closed_economy(d, SIGMA, F, FE)
    fx = 2.0

    def one(t):
        m = melitz.symmetric_open_economy(d, SIGMA, F, fx, FE, t, 2, throw=False)
        kw = dict(f_e=FE / aut.survival_probability, productivity=aut.average_productivity)
        k0 = melitz.krugman_economy(SIGMA, F, t, 2, **kw)
        k1 = melitz.krugman_economy(SIGMA, F, t, 2, f_x=fx, **kw)
        return m.welfare, k0.welfare, k1.welfare, m.domestic_trade_share, k0.domestic_trade_share

    wm, wk, wk1, lm, lk = (np.asarray(a) for a in jax.jit(jax.vmap(one))(taus))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(taus, 100 * (wm / wm[-1] - 1), label="Melitz (Pareto k=4, f_x = 2)")
    ax.plot(taus, 100 * (wk / wk[-1] - 1), label="Krugman (φ = φ̃_A, f_x = 0)")
    ax.plot(taus, 100 * (wk1 / wk1[-1] - 1), label="Krugman (φ = φ̃_A, f_x = 2: exporting never pays)")
    ax.set_xlabel("τ")
    ax.set_ylabel(f"welfare gain vs τ = {float(taus[-1]):.1f} (%)")
    ax.set_title("Same fall in τ: Melitz vs Krugman")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "melitz_vs_krugman.png"), dpi=120)
    plt.close(fig)
    # 001 §6.3 counter-case: same f_x = 0.47 in both, Krugman firms export at τ = 2 and 1.5
    kw = dict(f_e=FE / aut.survival_probability, productivity=aut.average_productivity)
    m2 = [float(melitz.symmetric_open_economy(d, SIGMA, F, 0.47, FE, t, 2).welfare) for t in (2.0, 1.5)]
    k2 = [melitz.krugman_economy(SIGMA, F, t, 2, f_x=0.47, **kw) for t in (2.0, 1.5)]
    return dict(
        gain_3_to_1p3_melitz_pct=float(100 * (wm[0] / wm[-1] - 1)),
        gain_3_to_1p3_krugman_fx0_pct=float(100 * (wk[0] / wk[-1] - 1)),
        gain_3_to_1p3_krugman_same_fx_pct=float(100 * (wk1[0] / wk1[-1] - 1)),
        import_share_at_1p3=dict(melitz=float(1 - lm[0]), krugman_fx0=float(1 - lk[0])),
        counter_case_fx_0p47_tau_2_to_1p5=dict(
            melitz_pct=100 * (m2[1] / m2[0] - 1),
            krugman_pct=float(100 * (k2[1].welfare / k2[0].welfare - 1)),
            krugman_exporting=[bool(k.exporting) for k in k2],
        ),
    )


def brn(outdir, T=30.0):
    sigma, k, FD, FX, delta, L = 3.0, 5.0, 1.0, 1.5, 0.05, 1.0
    beta = k / (sigma - 1)
    FI = 0.5 / (beta - 1)
    pre = melitz.baldwin_robert_nicoud(sigma, k, 2.5, FD, FX, FI, delta, L)
    post = melitz.baldwin_robert_nicoud(sigma, k, 1.3, FD, FX, FI, delta, L)
    t = np.linspace(0, T, 200)
    t0 = T / 3
    lvl_pre = np.log(float(pre.average_productivity)) + float(pre.growth_rate) * t
    lvl_post = np.where(
        t < t0, lvl_pre, np.log(float(post.average_productivity)) + float(pre.growth_rate) * t0 + float(post.growth_rate) * (t - t0)
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(t, lvl_pre, label="pre-liberalisation path")
    axes[0].plot(t, lvl_post, label="liberalisation at t0")
    axes[0].set_xlabel("time")
    axes[0].set_ylabel("log average productivity")
    axes[0].set_title("002 Figure 1: static gain, dynamic loss")
    axes[0].legend()
    # Result 4: sectors differing only in τ, observed after T years of steady growth
    taus = np.linspace(1.1, 3.0, 25)
    sec = [melitz.baldwin_robert_nicoud(sigma, k, tt, FD, FX, FI, delta, L) for tt in taus]
    openness = np.array([float(s.openness) for s in sec])
    out = {}
    for Ty, c in [(0.0, "C0"), (T, "C1"), (3 * T, "C2")]:
        level = np.array([np.log(float(s.average_productivity)) + float(s.growth_rate) * Ty for s in sec])
        corr = float(np.corrcoef(openness, level)[0, 1])
        out[f"corr_openness_productivity_T{Ty:g}"] = corr
        axes[1].plot(openness, level - level.mean(), "o-", c=c, ms=3, label=f"T = {Ty:g}: corr {corr:+.2f}")
    axes[1].set_xlabel("openness Ω")
    axes[1].set_ylabel("log productivity (demeaned)")
    axes[1].set_title("Result 4: cross-section of sectors")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "brn_static_dynamic.png"), dpi=120)
    plt.close(fig)
    out.update(
        growth_pre=float(pre.growth_rate),
        growth_post=float(post.growth_rate),
        level_gain_log=float(np.log(post.average_productivity / pre.average_productivity)),
        openness_pre=float(pre.openness),
        openness_post=float(post.openness),
    )
    return out


EXPERIMENTS = dict(
    opening_to_trade=opening_to_trade, gravity=gravity, acr=acr, melitz_vs_krugman=melitz_vs_krugman, brn=brn
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--outdir", default=os.path.join("experiments", "output", "melitz"))
    ap.add_argument("--only", default=None, choices=sorted(EXPERIMENTS))
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    summary = {}
    for name, fn in EXPERIMENTS.items():
        if a.only and name != a.only:
            continue
        summary[name] = fn(a.outdir)
        print(name, json.dumps(summary[name], indent=1))
    with open(os.path.join(a.outdir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()
