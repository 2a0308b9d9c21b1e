"""Melitz-Ottaviano (001 §8): market size, multilateral and unilateral liberalisation.

    python experiments/melitz_ottaviano.py

Writes ``experiments/melitz_ottaviano.json`` and ``experiments/melitz_ottaviano.png``:

(a) the cost cut-off c_D against market size L (vmapped sweep), Pareto (with the closed form
    c_D = (γφ/L)^{1/(k+2)}) and log-normal productivity;
(b) the distribution of mark-ups across sellers in a small and a large market (log-normal): the
    larger market shifts it down (pro-competitive effect of market size);
(c) two symmetric countries, common τ falling (multilateral liberalisation): c_D, average mark-up
    and welfare;
(d) country 0 lowers its import barrier τ_01 alone: welfare of both countries in the long run
    (entry adjusts: country 0 loses) and in the short run (entrants fixed: country 0 gains).
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
from jaxtrade import melitz_ottaviano as mo  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
K, CM = 3.0, 2.0
PAR = dict(alpha=5.0, gamma=1.0, eta=1.0, f_E=0.5)
DISTS = {"pareto": D.Pareto(K, 1.0 / CM), "lognormal": D.LogNormal(0.2, 0.5)}


def ok(res):
    return np.asarray(res._value == optx.RESULTS.successful._value)


def main():
    t0 = time.time()
    out = {"parameters": dict(PAR, pareto_k=K, pareto_c_M=CM, lognormal=[0.2, 0.5])}
    fig, axs = plt.subplots(2, 2, figsize=(11, 8))

    # (a) c_D against L
    Ls = jnp.geomspace(6.0, 200.0, 25)
    a = {"L": np.asarray(Ls).tolist()}
    for name, dist in DISTS.items():
        sweep = jax.vmap(lambda L, d=dist: mo.closed_economy(d, L=L, **PAR, throw=False))(Ls)
        assert ok(sweep.result).all()
        a[name] = dict(cost_cutoff=np.asarray(sweep.cost_cutoff).tolist(),
                       n_sellers=np.asarray(sweep.n_sellers).tolist(),
                       average_markup=np.asarray(sweep.average_markup).tolist(),
                       welfare=np.asarray(sweep.welfare).tolist())
        axs[0, 0].plot(Ls, sweep.cost_cutoff, label=f"c_D, {name}")
    closed = mo.pareto_cost_cutoff(K, CM, np.asarray(Ls), PAR["gamma"], PAR["f_E"])
    a["pareto_closed_form"] = closed.tolist()
    a["pareto_max_rel_error"] = float(np.max(np.abs(np.asarray(a["pareto"]["cost_cutoff"]) / closed - 1)))
    axs[0, 0].plot(Ls, closed, "k:", label="(γφ/L)^{1/(k+2)}")
    axs[0, 0].set_xscale("log")
    axs[0, 0].set_xlabel("market size L")
    axs[0, 0].set_ylabel("cost cut-off c_D")
    axs[0, 0].set_title("(a) larger markets: tougher selection")
    axs[0, 0].legend(fontsize=8)
    out["market_size"] = a

    # (b) mark-up distribution across sellers, small vs large market (log-normal)
    dist = DISTS["lognormal"]
    b = {}
    for L in (8.0, 80.0):
        eq = mo.closed_economy(dist, L=L, **PAR)
        cd = float(eq.cost_cutoff)
        mu = np.linspace(0.0, cd / 2, 200)
        c = cd - 2 * mu
        cs = np.maximum(c, 1e-12)
        gc = np.exp(np.asarray(dist.log_pdf(1 / cs))) / cs**2  # cost density
        dens = 2 * gc / float(eq.survival_probability)
        b[str(L)] = dict(cost_cutoff=cd, average_markup=float(eq.average_markup), markup=mu.tolist(),
                         density=dens.tolist())
        axs[0, 1].plot(mu, dens, label=f"L = {L:g}: c_D = {cd:.3f}, mean μ = {float(eq.average_markup):.3f}")
    axs[0, 1].set_xlabel("mark-up μ = (c_D − c)/2")
    axs[0, 1].set_ylabel("density across sellers")
    axs[0, 1].set_title("(b) mark-ups shift down in a larger market")
    axs[0, 1].legend(fontsize=8)
    out["markup_distribution"] = b

    # (c) multilateral liberalisation, two symmetric countries
    taus = jnp.linspace(1.05, 3.0, 25)
    L2 = jnp.asarray([10.0, 10.0])
    c = {"tau": np.asarray(taus).tolist()}

    def sym(t, d):
        tau = jnp.asarray([[1.0, 0.0], [0.0, 1.0]]) + t * jnp.asarray([[0.0, 1.0], [1.0, 0.0]])
        return mo.open_economy(d, L=L2, tau=tau, **PAR, throw=False)

    for name, d in DISTS.items():
        sw = jax.vmap(lambda t, d=d: sym(t, d))(taus)
        assert ok(sw.result).all()
        c[name] = dict(cost_cutoff=np.asarray(sw.cost_cutoff[:, 0]).tolist(),
                       average_markup=np.asarray(sw.average_markup[:, 0]).tolist(),
                       welfare=np.asarray(sw.welfare[:, 0]).tolist())
        axs[1, 0].plot(taus, sw.cost_cutoff[:, 0], label=f"c_D, {name}")
        axs[1, 0].plot(taus, 4 * sw.average_markup[:, 0], "--", label=f"4 × average mark-up, {name}")
    phi = 2 * (K + 1) * (K + 2) * CM**K * PAR["f_E"]
    eq28 = (PAR["gamma"] * phi / (10.0 * (1 + np.asarray(taus) ** -K))) ** (1 / (K + 2))
    c["pareto_eq28"] = eq28.tolist()
    c["pareto_eq28_max_rel_error"] = float(np.max(np.abs(np.asarray(c["pareto"]["cost_cutoff"]) / eq28 - 1)))
    axs[1, 0].plot(taus, eq28, "k:", label="eq. (28)")
    axs[1, 0].set_xlabel("common trade cost τ")
    axs[1, 0].set_title("(c) multilateral liberalisation is pro-competitive")
    axs[1, 0].legend(fontsize=7)
    out["multilateral"] = c

    # (d) unilateral liberalisation by country 0, long run vs short run (log-normal)
    t01 = jnp.linspace(1.1, 1.6, 21)
    d = DISTS["lognormal"]
    base_tau = jnp.asarray([[1.0, 1.6], [1.6, 1.0]])
    base = mo.open_economy(d, L=L2, tau=base_tau, **PAR)

    def uni(t):
        return jnp.asarray([[1.0, 0.0], [1.6, 1.0]]) + t * jnp.asarray([[0.0, 1.0], [0.0, 0.0]])

    lr = jax.vmap(lambda t: mo.open_economy(d, L=L2, tau=uni(t), **PAR, throw=False))(t01)
    sr = jax.vmap(lambda t: mo.short_run_economy(d, n_entrants=base.n_entrants, L=L2, tau=uni(t),
                                                 alpha=PAR["alpha"], gamma=PAR["gamma"], eta=PAR["eta"],
                                                 throw=False))(t01)
    assert ok(sr.result).all()
    interior = ok(lr.result)  # small τ_01: country 0 attracts no entry at all (reported, not plotted)
    assert interior.any() and (np.asarray(lr.entry_positive).all(axis=1) == interior).all()
    lw = np.where(interior[:, None], np.asarray(lr.welfare), np.nan)
    out["unilateral"] = dict(tau_01=np.asarray(t01).tolist(),
                             long_run_interior=interior.tolist(),
                             long_run_welfare=[[float(x) if np.isfinite(x) else None for x in r] for r in lw],
                             short_run_welfare=np.asarray(sr.welfare).tolist(),
                             long_run_entrants=[[float(x) if ok_ else None for x in r] for r, ok_ in
                                                zip(np.asarray(lr.n_entrants), interior)])
    for j, st in ((0, "-"), (1, "--")):
        axs[1, 1].plot(t01, lw[:, j], st, color="C0", label=f"long run, U_{j}")
        axs[1, 1].plot(t01, sr.welfare[:, j], st, color="C1", label=f"short run (N_E fixed), U_{j}")
    if not interior.all():
        edge = float(np.asarray(t01)[~interior].max())
        axs[1, 1].axvspan(float(t01[0]), edge, color="0.9", label="no entry in country 0 (corner)")
    axs[1, 1].invert_xaxis()
    axs[1, 1].set_xlabel("country 0's import barrier τ_01 (falling →)")
    axs[1, 1].set_ylabel("welfare U")
    axs[1, 1].set_title("(d) unilateral liberalisation: short-run gain, long-run loss")
    axs[1, 1].legend(fontsize=7)

    fig.suptitle("Melitz-Ottaviano variable mark-ups (Melitz & Redding 2014, §8)")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "melitz_ottaviano.png"), dpi=110)
    out["seconds"] = time.time() - t0
    out["jax_version"] = jax.__version__
    out["device"] = str(jax.devices()[0])
    with open(os.path.join(HERE, "melitz_ottaviano.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"pareto closed-form max rel. error {a['pareto_max_rel_error']:.2e}, eq. 28 {c['pareto_eq28_max_rel_error']:.2e}")
    print(f"wrote melitz_ottaviano.json/.png in {out['seconds']:.1f} s")


if __name__ == "__main__":
    main()
