"""Heterogeneous firms and factor abundance (001 §7, Bernard-Redding-Schott 2007).

    python experiments/factor_abundance.py

Writes ``experiments/factor_abundance.json`` and ``experiments/factor_abundance.png``:

(a) the rise of the zero-profit cut-off from autarky by sector, for the skill-abundant country 0,
    against openness (τ falling; vmapped sweep): larger in the comparative-advantage (skill-intensive)
    sector; free trade (τ = 1, f_X = 0) as the end point;
(b) the same for average productivity;
(c) real rewards of country 0's factors relative to autarky against τ, with weak and strong
    comparative advantage: the scarce factor (unskilled) gains with weak comparative advantage and
    loses with strong;
(d) the FPE set: relative wages of the two countries under free trade against country 0's skill
    endowment, equal inside the set, with the corners (complete specialisation) reported.
"""

from __future__ import annotations

import json
import os
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import factor_abundance as fa  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DIST = D.Pareto(4.0, 1.0)
BETA = jnp.asarray([0.7, 0.3])
BASE = dict(sigma=3.0, beta=BETA, shares=jnp.asarray([0.5, 0.5]), f=1.0, f_E=0.2)
F_X = 1.5


def ok(res):
    return np.asarray(res._value == optx.RESULTS.successful._value)


def endow(S0):
    return dict(skilled=jnp.asarray([S0, 2.0 - S0]), unskilled=jnp.asarray([2.0 - S0, S0]))


def main():
    t0 = time.time()
    out = {"parameters": dict(sigma=3.0, beta=[0.7, 0.3], shares=[0.5, 0.5], f=1.0, f_E=0.2, f_X=F_X,
                              distribution="Pareto(4, 1)")}
    taus = jnp.linspace(1.05, 2.5, 30)
    fig, axs = plt.subplots(2, 2, figsize=(11, 8))
    for S0, style in ((1.05, ":"), (1.2, "-")):
        e = endow(S0)
        au = fa.autarky(DIST, **BASE, **e)
        sw = jax.vmap(lambda t, e=e: fa.equilibrium(DIST, **BASE, **e, f_X=F_X, tau=t, throw=False))(taus)
        ft = fa.free_trade(DIST, **BASE, **e)
        good = ok(sw.result)
        rise = np.asarray(sw.domestic_cutoff / au.domestic_cutoff)
        prod = np.asarray(sw.average_productivity / au.average_productivity)
        rs = np.asarray(sw.real_skilled_wage[:, 0] / au.real_skilled_wage[0])
        ru = np.asarray(sw.real_unskilled_wage[:, 0] / au.real_unskilled_wage[0])
        out[f"S0={S0}"] = dict(
            tau=np.asarray(taus).tolist(), interior=good.tolist(),
            cutoff_rise=rise.tolist(), productivity_rise=prod.tolist(),
            real_skilled_wage_vs_autarky=rs.tolist(), real_unskilled_wage_vs_autarky=ru.tolist(),
            free_trade=dict(cutoff_rise=np.asarray(ft.domestic_cutoff / au.domestic_cutoff).tolist(),
                            real_skilled_wage_vs_autarky=float(ft.real_skilled_wage[0] / au.real_skilled_wage[0]),
                            real_unskilled_wage_vs_autarky=float(ft.real_unskilled_wage[0] / au.real_unskilled_wage[0])),
            comparative_advantage_sector_rises_more=bool(np.all(rise[good, 0, 0] > rise[good, 0, 1])),
        )
        m = np.where(good, 1.0, np.nan)
        if S0 == 1.2:
            for j, name in ((0, "skill-intensive (CA)"), (1, "unskilled-intensive")):
                axs[0, 0].plot(taus, 100 * (rise[:, 0, j] - 1) * m, label=f"sector {j}: {name}")
                axs[0, 1].plot(taus, 100 * (prod[:, 0, j] - 1) * m, label=f"sector {j}: {name}")
        axs[1, 0].plot(taus, rs * m, style, color="C0", label=f"skilled (abundant), S0 = {S0}")
        axs[1, 0].plot(taus, ru * m, style, color="C3", label=f"unskilled (scarce), S0 = {S0}")
    for ax, what in ((axs[0, 0], "zero-profit cut-off"), (axs[0, 1], "average productivity")):
        ax.invert_xaxis()
        ax.set_xlabel("τ (openness →), f_X = 1.5")
        ax.set_ylabel(f"rise of the {what} from autarky (%)")
        ax.set_title(f"({'a' if ax is axs[0, 0] else 'b'}) country 0 (skill abundant): {what}", fontsize=10)
        ax.legend(fontsize=8)
    axs[0, 1].text(0.02, 0.6, "Pareto: φ̃ ∝ φ*, so (b) repeats (a)", transform=axs[0, 1].transAxes, fontsize=8)
    axs[1, 0].axhline(1.0, color="0.5", lw=0.8)
    axs[1, 0].invert_xaxis()
    axs[1, 0].set_xlabel("τ (openness →)")
    axs[1, 0].set_ylabel("real reward / autarky, country 0")
    axs[1, 0].set_title("(c) the scarce factor can gain (weak CA) or lose (strong CA)")
    axs[1, 0].legend(fontsize=8)

    # (d) FPE set: relative wages against country 0's skill endowment (unskilled fixed at 1 each)
    S0s = jnp.linspace(0.1, 1.9, 37)
    ftw = jax.vmap(lambda s: fa.free_trade(DIST, **BASE, skilled=jnp.stack([s, 2.0 - s]),
                                           unskilled=jnp.asarray([1.0, 1.0]), throw=False))(S0s)
    inside = ok(ftw.result)
    rel = np.asarray(ftw.relative_wage)
    integ = float(fa.integrated_relative_wage(BETA, BASE["shares"], 2.0, 2.0))
    out["fpe_set"] = dict(S0=np.asarray(S0s).tolist(), inside=inside.tolist(),
                          relative_wage=[[float(x) if ok_ else None for x in r] for r, ok_ in zip(rel, inside)],
                          integrated_relative_wage=integ,
                          max_fpe_gap_inside=float(np.max(np.abs(rel[inside, 0] - rel[inside, 1]))))
    axs[1, 1].plot(S0s, np.where(inside, rel[:, 0], np.nan), "o-", ms=3, label="w_S/w_L, country 0")
    axs[1, 1].plot(S0s, np.where(inside, rel[:, 1], np.nan), "x--", ms=4, label="w_S/w_L, country 1")
    axs[1, 1].axhline(integ, color="k", ls=":", label="integrated equilibrium")
    for s in np.asarray(S0s)[~inside]:
        axs[1, 1].axvspan(s - 0.025, s + 0.025, color="0.9")
    axs[1, 1].set_xlabel("skilled endowment of country 0 (S_w = 2, L_0 = L_1 = 1)")
    axs[1, 1].set_title("(d) free trade: FPE inside the set, corners shaded")
    axs[1, 1].legend(fontsize=8)
    fig.suptitle("Heterogeneous firms and factor abundance (Melitz & Redding 2014, §7; BRS 2007)")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "factor_abundance.png"), dpi=110)
    out["seconds"] = time.time() - t0
    out["jax_version"] = jax.__version__
    out["device"] = str(jax.devices()[0])
    with open(os.path.join(HERE, "factor_abundance.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"FPE gap inside the set {out['fpe_set']['max_fpe_gap_inside']:.1e}; "
          f"CA sector rises more: {out['S0=1.2']['comparative_advantage_sector_rises_more']}")
    print(f"wrote factor_abundance.json/.png in {out['seconds']:.1f} s")


if __name__ == "__main__":
    main()
