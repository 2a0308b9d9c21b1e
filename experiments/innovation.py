"""Technology adoption (001 §9.2.1, Bustos 2011) and innovation intensity (001 §9.2.2).

Left panel: the cut-offs φ*, φ*_X, φ*_I against τ (Pareto k = 4, σ = 3, f = 1, f_X = 1.5,
f_I = 2, ι = 1.2, f_E = 0.1, two countries). As τ falls (1.05-2.6) the ordering moves from "adopt before
export" through "joint" to "export before adopt" (Bustos' case), read from the parameters alone.
Right panel: innovation intensity α(φ) at the equilibrium B (c_I(α) = −κ[α + log(1−α)], κ = 0.5):
zero below f/(ιB), rising through the no-exit threshold, flat at eq. 29 for non-exporters,
higher for firms whose export decision hinges on success, flat at the open-economy FOC for exporters.

    python experiments/innovation.py
"""

from __future__ import annotations

import json
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import innovation as inn  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dist = D.Pareto(4.0, 1.0)
    sigma, f, fx, fi, fe, iota = 3.0, 1.0, 1.5, 2.0, 0.1, 1.2
    taus = np.linspace(1.05, 2.6, 63)
    rows = []
    for t in taus:
        eq = inn.technology_adoption(dist, sigma, f, fx, fi, fe, float(t), iota, 2)
        rows.append(dict(tau=float(t), regime=inn.REGIMES[int(eq.regime)], cutoff=float(eq.cutoff),
                         export_cutoff=float(eq.export_cutoff), adoption_cutoff=float(eq.adoption_cutoff),
                         adopter_share=float(eq.adopter_share), exporter_share=float(eq.exporter_share),
                         adoption_among_exporters=float(eq.adoption_among_exporters), converged=bool(eq.result == inn.optx.RESULTS.successful)))
    cost = inn.LogInnovationCost(0.5)
    ie = inn.innovation_equilibrium(dist, cost, sigma, f, fe, 1.3, 1.5, fx, 2)
    phi = np.linspace(1.0, 5.0, 400)
    fi_ = inn.innovation_intensity(cost, phi, float(ie.market_demand), 1.3, sigma, 1.5, f, fx, 2)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for key, ls in (("cutoff", "-"), ("export_cutoff", "--"), ("adoption_cutoff", ":")):
        ax.plot(taus, [r[key] for r in rows], ls, label=key)
    changes = [i for i in range(1, len(rows)) if rows[i]["regime"] != rows[i - 1]["regime"]]
    for i in changes:
        ax.axvline(taus[i], color="grey", lw=0.6)
    for i0, i1 in zip([0] + changes, changes + [len(rows)]):
        ax.text(taus[(i0 + i1 - 1) // 2], 1.02 * max(r["adoption_cutoff"] for r in rows[i0:i1]),
                rows[i0]["regime"].replace("_", " "), ha="center", fontsize=7)
    ax.set_xlabel("τ")
    ax.set_ylabel("productivity cut-off φ")
    ax.set_title("Technology adoption (001 §9.2.1)")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(phi, np.asarray(fi_.alpha))
    for name, v in (("f/(ιB)", ie.entry_threshold), ("f/B", ie.no_exit_threshold), ("τ^s f_X/(ιB)", ie.export_threshold_success), ("τ^s f_X/B", ie.export_threshold)):
        ax.axvline(float(v), color="grey", lw=0.6)
        ax.text(float(v), 0.01, name, rotation=90, fontsize=7, va="bottom")
    ax.set_xlabel("productivity φ")
    ax.set_ylabel("innovation intensity α(φ)")
    ax.set_title("Innovation intensity (001 §9.2.2)")
    fig.tight_layout()
    fig.savefig(HERE / "innovation.png", dpi=120)
    out = dict(
        adoption=dict(parameters=dict(sigma=sigma, f=f, f_x=fx, f_i=fi, f_e=fe, iota=iota, pareto_shape=4.0, n_countries=2), path=rows),
        intensity=dict(parameters=dict(kappa=0.5, iota=1.3, tau=1.5, f_x=fx), market_demand=float(ie.market_demand),
                       alpha_nonexporter=float(ie.alpha_nonexporter), alpha_exporter=float(ie.alpha_exporter),
                       mean_intensity=float(ie.mean_intensity)),
    )
    (HERE / "innovation.json").write_text(json.dumps(out, indent=1) + "\n")
    print("regimes along τ:", [rows[i]["regime"] for i in [0] + changes])


if __name__ == "__main__":
    main()
