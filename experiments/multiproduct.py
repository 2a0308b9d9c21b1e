"""Multi-product firms (001 §9.1, Bernard-Redding-Schott 2011).

Left: product scope by ability (home market) in autarky, at τ = 1.4 and τ = 1.2, and export scope
at τ = 1.2: liberalisation raises the exit cut-off and makes every surviving firm drop its worst
products at home, while exporters widen their export range. Right: exports against τ split into
the extensive margins (exporting firms, exported firm-products) and the intensive margin (exports
per firm-product), for three ability distributions: under Pareto ability the intensive margin does
not move; with a tail that gets thinner going up it falls with τ; with one that gets heavier
going up it rises (001 §9.1: "ambiguous"). Attributes Pareto(3, 1), σ = 3, F_d = F_x = 0.5,
f_d = f_x = 1, f_E = 0.5, two countries.

    python experiments/multiproduct.py
"""

from __future__ import annotations

import json
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import multiproduct as mp  # noqa: E402

HERE = Path(__file__).resolve().parent
PARAMS = (3.0, 0.5, 0.5, 1.0, 1.0, 0.5)


class TwoPiecePareto(D.AbstractDistribution):
    """Pareto with shape k1 on [1, x0] and k2 above (k2 < k1: the tail gets heavier going up)."""

    k1: jax.Array
    k2: jax.Array
    x0: jax.Array

    def log_survival(self, x):
        lx = jnp.log(jnp.maximum(jnp.asarray(x), 1.0))
        l0 = jnp.log(self.x0)
        return -jnp.where(lx <= l0, self.k1 * lx, self.k1 * l0 + self.k2 * (lx - l0))

    def log_isf(self, w):
        w0 = self.k1 * jnp.log(self.x0)
        return jnp.where(w <= w0, w / self.k1, jnp.log(self.x0) + (w - w0) / self.k2)

    def cdf(self, x):
        return -jnp.expm1(self.log_survival(x))

    def log_pdf(self, x):
        x = jnp.asarray(x)
        k = jnp.where(x <= self.x0, self.k1, self.k2)
        return jnp.where(x >= 1.0, jnp.log(k) + self.log_survival(x) - jnp.log(x), -jnp.inf)

    def icdf(self, u):
        return jnp.exp(self.log_isf(-jnp.log1p(-jnp.asarray(u))))

    @property
    def support(self):
        return (1.0, jnp.inf)

    def mean(self):
        return jnp.inf

    def variance(self):
        return jnp.inf


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = D.Pareto(3.0, 1.0)
    g = D.Pareto(5.0, 1.0)
    aut = mp.multiproduct_economy(g, z, *PARAMS, 1.4, 1)
    hi = mp.multiproduct_economy(g, z, *PARAMS, 1.4, 2)
    lo = mp.multiproduct_economy(g, z, *PARAMS, 1.2, 2)
    phi = np.linspace(1.0, 4.0, 400)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for eq, name in ((aut, "home, autarky"), (hi, "home, τ = 1.4"), (lo, "home, τ = 1.2")):
        ax.plot(phi, np.asarray(eq.scope(phi))[:, 0], label=name)
    ax.plot(phi, np.asarray(lo.scope(phi))[:, 1], "--", label="export, τ = 1.2")
    ax.set_xlabel("ability φ")
    ax.set_ylabel("product scope 1 − Z(λ*(φ))")
    ax.set_title("Selection within and across firms (001 §9.1)")
    ax.legend(fontsize=8)
    taus = np.linspace(1.1, 1.8, 15)
    margins = {}
    ax = axes[1]
    for name, dist in (("Pareto(5)", g), ("thinner going up", TwoPiecePareto(4.0, 8.0, 2.0)), ("heavier going up", TwoPiecePareto(8.0, 4.0, 2.0))):
        rows = []
        for t in taus:
            e = mp.multiproduct_economy(dist, z, *PARAMS, float(t), 2)
            rows.append(dict(tau=float(t), exporting_firms=float(e.firms[1]), exported_products=float(e.products[1]),
                             exports=float(e.sales[1]), intensive_margin=float(e.intensive_margin[1])))
        margins[name] = rows
        im = np.array([r["intensive_margin"] for r in rows])
        ax.plot(taus, im / im[0], label=f"intensive margin, {name}")
    ex = np.array([r["exported_products"] for r in margins["Pareto(5)"]])
    ax.plot(taus, ex / ex[0], "k:", label="exported firm-products, Pareto(5)")
    ax.set_yscale("log")
    ax.set_xlabel("τ")
    ax.set_ylabel("relative to τ = 1.1")
    ax.set_title("Margins of exports")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "multiproduct.png", dpi=120)
    out = dict(
        parameters=dict(sigma=3.0, F_d=0.5, F_x=0.5, f_d=1.0, f_x=1.0, f_e=0.5, attributes="Pareto(3, 1)"),
        ability_cutoffs={"autarky": np.asarray(aut.ability_cutoff).tolist(), "tau_1.4": np.asarray(hi.ability_cutoff).tolist(),
                         "tau_1.2": np.asarray(lo.ability_cutoff).tolist()},
        average_domestic_scope={"autarky": float(aut.average_scope[0]), "tau_1.4": float(hi.average_scope[0]), "tau_1.2": float(lo.average_scope[0])},
        closed_form_check=dict(B=float(hi.market_demand), B_closed_form=float(mp.pareto_closed_form(5.0, 3.0, *PARAMS, 1.4, 2)["B"])),
        margins=margins,
    )
    (HERE / "multiproduct.json").write_text(json.dumps(out, indent=1) + "\n")
    for name, rows in margins.items():
        im = [r["intensive_margin"] for r in rows]
        print(f"{name:>18s}: intensive margin {im[0]:.6g} -> {im[-1]:.6g} over τ {taus[0]}..{taus[-1]}")


if __name__ == "__main__":
    main()
