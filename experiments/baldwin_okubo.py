"""Baldwin & Okubo (2011, paper 000): Figure 4's geography, Figure 5's productivity, welfare (26).

Writes ``experiments/baldwin_okubo.json`` and ``experiments/baldwin_okubo.png`` next to this file:

1. ``a_D``, ``a_X``, ``a_R`` against φ across the XX and DD phases and the full-agglomeration corner
   (relocation then entry, the default of ``relocation``), with the pre-entry equilibrium dashed;
2. the North's ``ā`` and the South's ``ā*`` with relocation against the no-relocation ``ā`` (§3.1.2,
   §3.2.2; Figure 5), for σ = ρ = 2 and for a larger ρ;
3. the welfare ratio (26): derived from the equilibria (identically 1) and as the paper derives it
   (``paper_welfare_ratio``) for a few ownership shares ``s_n``;
4. one compiled, vmapped sweep over (φ, s_E): the share of firms located in the North, timed;
5. the general-G solver (Pareto G) against the closed forms on the φ grid (max relative error).

Run: ``python experiments/baldwin_okubo.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # scripts set precision; the library never does

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxtrade import baldwin_okubo as bo  # noqa: E402

HERE = Path(__file__).resolve().parent
S_E, SIGMA, RHO, F, F_I = 0.6, 2.0, 2.0, 1.0, 0.8


def main() -> dict:
    phis = jnp.linspace(0.0, 1.0, 201)
    pp = float(bo.partition_point(S_E))
    ps = float(bo.sustain_point(S_E, SIGMA, RHO))
    ps_sr = float(bo.short_run_sustain_point(S_E, SIGMA, RHO))
    lr = bo.relocation(phis, S_E, SIGMA, RHO, F, F_I)
    sr = bo.relocation(phis, S_E, SIGMA, RHO, F, F_I, entry=False)
    hft = bo.entry_then_relocation(phis, S_E, SIGMA, RHO, F, F_I)

    # productivity for a larger ρ too (Result 5)
    rho2 = 6.0
    lr2 = bo.relocation(phis, S_E, SIGMA, rho2, F, 0.2)
    hft2 = bo.entry_then_relocation(phis, S_E, SIGMA, rho2, F, 0.2)

    # welfare (26)
    ws = {}
    phis_w = jnp.linspace(0.0, ps * 0.999, 60)
    for w in (0.0, 0.5, 1.0):
        hme = bo.entry_then_relocation(phis_w, S_E, SIGMA, RHO, F, F_I).s_n
        s_n = S_E + w * (hme - S_E)
        wf = bo.small_nation_welfare(phis_w, S_E, SIGMA, RHO, F, F_I, s_n=s_n)
        ws[w] = wf

    # vmapped sweep over (φ, s_E) in one compiled call
    P, SEs = jnp.meshgrid(jnp.linspace(0, 1, 101), jnp.linspace(0.5, 0.95, 91), indexing="ij")
    sweep = jax.jit(lambda p, s: bo.relocation(p, s, SIGMA, RHO, F, F_I).north_share)
    t0 = time.perf_counter()
    share = jax.block_until_ready(sweep(P, SEs))
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(5):
        share = jax.block_until_ready(sweep(P, SEs))
    t_run = (time.perf_counter() - t0) / 5

    # general-G solver against the closed forms
    H = bo.pareto_costs(RHO)
    grid = jnp.linspace(0.0, 1.0, 26)
    gen = jax.vmap(lambda p: bo.relocation_general(H, p, S_E, SIGMA, F, F_I))(grid)
    clo = bo.relocation(grid, S_E, SIGMA, RHO, F, F_I)
    err = {k: float(jnp.max(jnp.abs(getattr(gen, k) - getattr(clo, k)) / jnp.maximum(jnp.abs(getattr(clo, k)), 1e-300)))
           for k in ("a_D", "a_X", "a_R", "a_bar")}

    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    a = ax[0, 0]
    for name, c in (("a_D", "C0"), ("a_X", "C1"), ("a_R", "C3")):
        a.plot(phis, getattr(lr, name), c, label=f"{name} (relocation, then entry)")
        a.plot(phis, getattr(sr, name), c + "--", lw=1, label=f"{name} (before entry)")
    for x, lab in ((pp, "φ^P"), (ps, "φ^S")):
        a.axvline(x, color="k", lw=0.6, ls=":")
        a.text(x, 0.02, lab, ha="center")
    a.set(xlabel="freeness of trade φ", ylabel="marginal-cost thresholds", title=f"Fig. 4: XX, DD, agglomeration (s_E={S_E}, σ=ρ=2)")
    a.legend(fontsize=7)
    a = ax[0, 1]
    a.plot(phis, lr.a_bar, "C0", label="North ā, relocation")
    a.plot(phis, lr.a_bar_star, "C3", label="South ā*, relocation")
    a.plot(phis, hft.a_bar, "k--", label="ā without relocation (§3.1)")
    a.plot(phis, lr2.a_bar / lr2.a_bar[0], "C0:", label=f"North ā/ā(0), ρ={rho2}")
    a.plot(phis, lr2.a_bar_star / lr2.a_bar[0], "C3:", label=f"South ā*/ā(0), ρ={rho2}")
    a.plot(phis, hft2.a_bar / hft2.a_bar[0], "k:", lw=1)
    a.axvline(pp, color="k", lw=0.6, ls=":")
    a.set(xlabel="φ", ylabel="sales-weighted unit input coefficient (lower = more productive)", title="Fig. 5: productivity")
    a.legend(fontsize=7)
    a = ax[1, 0]
    for w, wf in ws.items():
        a.plot(phis_w, wf.paper_ratio, label=f"paper's (26), s_n = s_E + {w}(s_n^HME − s_E)")
    a.plot(phis_w, ws[1.0].ratio, "k", lw=2, label="(26) from the equilibria (all s_n)")
    a.set(xlabel="φ", ylabel="m̄*_reloc / m̄*_no reloc", title="Small-nation welfare ratio (26)")
    a.legend(fontsize=7)
    a = ax[1, 1]
    im = a.pcolormesh(np.asarray(SEs), np.asarray(P), np.asarray(share), shading="auto", cmap="viridis")
    a.plot(np.linspace(0.5, 0.95, 91), (1 - np.linspace(0.5, 0.95, 91)) / np.linspace(0.5, 0.95, 91), "w--", lw=1, label="φ^P")
    sE = np.linspace(0.5, 0.95, 91)
    a.plot(sE, ((1 - sE) / sE) ** (1 / (RHO / (SIGMA - 1))), "w-", lw=1, label="φ^S")
    a.set(xlabel="s_E", ylabel="φ", ylim=(0, 1), title="share of firms located in the North (vmapped sweep)")
    a.legend(fontsize=7, loc="lower left")
    fig.colorbar(im, ax=a)
    fig.tight_layout()
    fig.savefig(HERE / "baldwin_okubo.png", dpi=110)

    def pick(r, idx):
        vals = {k: float(np.asarray(getattr(r, k))[idx]) for k in ("a_D", "a_X", "a_R", "n_w", "a_bar", "a_bar_star")}
        return {k: (None if np.isnan(v) else v) for k, v in vals.items()}  # ā* does not exist past φ^S

    out = {
        "paper": "000 Baldwin & Okubo (2011)",
        "parameters": dict(s_E=S_E, sigma=SIGMA, rho=RHO, f=F, f_I=F_I),
        "partition_point": pp,
        "sustain_point": ps,
        "short_run_sustain_point": ps_sr,
        "at_phi": {str(p): {"phase": str(np.asarray(lr.phase)[i]), **pick(lr, i)} for i, p in ((40, 0.2), (100, 0.5), (150, 0.75), (190, 0.95))},
        "sigma_rho_2_dabar_star_dphi_at_0.75": {
            "jax_grad": float(jax.grad(lambda q: bo.relocation(q, S_E, 2.0, 2.0, 1.0, 1.0).a_bar_star)(0.75)),
            "paper_closed_form": 0.75 * (S_E * (2 + 0.75**2) / (1 - S_E) - 1) / (2 * (1 + 0.75**2) ** 1.5),
        },
        "welfare_ratio_derived_max_abs_dev_from_1": float(max(jnp.max(jnp.abs(wf.ratio - 1)) for wf in ws.values())),
        "welfare_ratio_paper_max": float(jnp.max(ws[1.0].paper_ratio)),
        "sweep": {"grid": list(P.shape), "compile_plus_first_run_s": t_compile, "run_s": t_run,
                  "device": jax.devices()[0].platform, "jax": jax.__version__, "dtype": "float64"},
        "general_solver_vs_closed_form_max_rel_err": err,
    }
    (HERE / "baldwin_okubo.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
