"""The export-magnification effect of offshoring (paper 003) as τ_I falls.

Writes ``experiments/offshoring.json`` and ``experiments/offshoring.png``:

1. a path τ_I = 1.0 … 1.6 (one vmapped call per distribution, log-normal and Pareto) at the
   parameters of ``tests/models/test_offshoring.py::BASE``: cut-offs (eq. 11, 12, 14), export
   revenue of a fixed incumbent exporter (eq. 23, intensive margin), mass of exporters and the export
   cut-off (extensive margin), the value of final-goods exports, intermediate imports (R.3) and
   welfare (eq. 17, R.4), with the regime (which strategies firms choose) along the path;
2. a vmapped sweep over (τ_I, f_I) on a 41 × 41 grid in one call: the regime map (where
   A.1-A.3 hold and what happens where they fail) and welfare;
3. the elasticities of R.1-R.4 and §4.4 at the base point by implicit differentiation, with the
   sign the paper claims.

Run: ``python experiments/offshoring.py`` (float64; 2.5-3.5 min measured on a shared 2-core CPU, mostly compilation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import offshoring as off  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = dict(
    sigma=4.0, alpha=0.5, n=3.0, tau=1.6, tau_I=1.2, f_p=1.0, f_I=0.6, f_ex=1.0, f_e=0.5,
    phi_Y=1.0, phi_I=1.0, phi_Y_w=0.6, phi_I_w=0.9,
)  # fmt: skip
DISTS = {"lognormal(0, 0.8)": D.LogNormal(0.0, 0.8), "pareto(5, 1)": D.Pareto(5.0, 1.0)}
FIELDS = ("phi_min", "phi_off", "phi_ex", "mass_of_exporters", "final_exports", "intermediate_imports",
          "intermediate_imports_quantity", "welfare", "share_offshoring", "intermediate_share_of_imports")  # fmt: skip

# the paper's claims: sign of d(output)/d(parameter) (R.1-R.4, §4.4)
CLAIMS = {
    ("phi_min", "tau_I"): -1, ("phi_off", "tau_I"): +1, ("phi_ex", "tau_I"): +1, ("export_revenue_at", "tau_I"): -1,
    ("intermediate_imports", "tau_I"): -1, ("welfare", "tau_I"): -1,
    ("phi_ex", "f_I"): -1, ("phi_off", "f_I"): +1, ("export_revenue_at", "f_I"): +1, ("welfare", "f_I"): -1,
    ("phi_off", "tau"): -1, ("phi_off", "f_ex"): -1, ("phi_ex", "tau"): +1, ("phi_min", "tau"): -1,
}  # fmt: skip


def path(dist, taus, phi_fixed):
    def one(t):
        eq = off.equilibrium(dist, **dict(BASE, tau_I=t), throw=False)
        out = {k: getattr(eq, k) for k in FIELDS}
        out["export_revenue_incumbent"] = eq.export_revenue(phi_fixed)
        out["regime"] = eq.regime
        out["ok"] = eq.result == optx.RESULTS.successful
        return out

    return jax.jit(jax.vmap(one))(taus)


def sweep(dist, taus, fis):
    def one(t, fi):
        eq = off.equilibrium(dist, **dict(BASE, tau_I=t, f_I=fi), throw=False)
        return eq.regime, eq.welfare, eq.final_exports, eq.result == optx.RESULTS.successful

    T, Fi = (a.ravel() for a in jnp.meshgrid(taus, fis, indexing="ij"))
    f = jax.jit(jax.vmap(one))
    t0 = time.perf_counter()
    jax.block_until_ready(f(T, Fi))
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(T, Fi))
    t_run = time.perf_counter() - t0
    return [np.asarray(x).reshape(len(taus), len(fis)) for x in out], t_first, t_run


def _clean(x):
    a = np.asarray(x)
    if a.dtype == bool:
        return a.tolist()
    if a.dtype.kind == "f":
        return [None if not np.isfinite(v) else float(v) for v in a.ravel()] if a.ndim else (
            None if not np.isfinite(a) else float(a))  # fmt: skip
    return a.tolist()


def _round(x):
    """Floats to 7 significant digits, so the JSON stays small."""
    if isinstance(x, float):
        return float(f"{x:.7g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x


def main():
    taus = jnp.linspace(1.0, 1.6, 61)
    res = {"parameters": BASE, "tau_I": np.asarray(taus).tolist(), "paths": {}}
    # a fixed firm that exports along the whole path: 1.2 × the largest export cut-off
    for name, dist in DISTS.items():
        probe = path(dist, taus, 1.0)
        phi_fixed = 1.2 * float(np.nanmax(np.where(np.isfinite(probe["phi_ex"]), probe["phi_ex"], np.nan)))
        out = path(dist, taus, phi_fixed)
        assert bool(jnp.all(out["ok"])), name
        res["paths"][name] = {k: _clean(v) for k, v in out.items()} | {"phi_fixed": phi_fixed}
        res["paths"][name]["regime_name"] = [off.regime_name(r) for r in np.asarray(out["regime"])]
    # (τ_I, f_I) sweep in one vmapped call
    ts, fis = jnp.linspace(1.0, 1.6, 41), jnp.geomspace(0.05, 6.0, 41)
    (reg, wel, exp_, ok), t_first, t_run = sweep(DISTS["lognormal(0, 0.8)"], ts, fis)
    assert ok.all()
    res["sweep"] = {
        "tau_I": np.asarray(ts).tolist(), "f_I": np.asarray(fis).tolist(), "regime": reg.tolist(),
        "welfare": wel.tolist(), "final_exports": exp_.tolist(),
        "regimes_seen": sorted({off.regime_name(r) for r in reg.ravel()}),
        "seconds_compile_and_run": t_first, "seconds_run": t_run, "points": int(reg.size),
        "device": jax.devices()[0].platform, "jax": jax.__version__,
    }  # fmt: skip
    # elasticities at the base point (implicit differentiation) and the paper's signs
    dist = DISTS["lognormal(0, 0.8)"]
    e0 = off.equilibrium(dist, **BASE)
    phi_fixed = 1.5 * float(e0.phi_ex)
    stats = {}
    for wrt in ("tau_I", "f_I", "tau", "f_ex"):
        cs = off.comparative_statics(dist, wrt=wrt, at_phi=phi_fixed, **BASE)
        for out_name in ("phi_min", "phi_off", "phi_ex", "export_revenue_at", "final_exports", "mass_of_exporters",
                         "intermediate_imports", "welfare"):  # fmt: skip
            v, d = (float(x) for x in cs[out_name])
            claim = CLAIMS.get((out_name, wrt))
            stats[f"d ln {out_name} / d ln {wrt}"] = {
                "elasticity": d * BASE[wrt] / v, "paper_sign": claim,
                "agrees": None if claim is None else bool(np.sign(d) == claim),
            }
    res["elasticities"] = stats
    res["all_paper_signs_agree"] = all(s["agrees"] for s in stats.values() if s["agrees"] is not None)
    (HERE / "offshoring.json").write_text(json.dumps(_round(res), separators=(",", ":")) + "\n")
    plot(res)
    print(f"sweep: {reg.size} equilibria, first call {t_first:.1f} s (compile), then {t_run * 1e3:.1f} ms; regimes "
          f"{res['sweep']['regimes_seen']}; paper signs agree: {res['all_paper_signs_agree']}")  # fmt: skip


def plot(res):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(res["tau_I"])
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))

    def arr(v):
        return np.asarray([np.nan if x is None else x for x in v], float)

    for (name, p), ls in zip(res["paths"].items(), ("-", "--")):
        base = int(np.argmin(abs(t - 1.2)))
        ax = axes[0, 0]
        for k, c in (("phi_min", "C0"), ("phi_off", "C1"), ("phi_ex", "C2")):
            ax.plot(t, arr(p[k]), ls, color=c, label=f"{k} [{name}]" if ls == "-" or k == "phi_min" else None)
        ax = axes[0, 1]
        ax.plot(t, arr(p["export_revenue_incumbent"]) / arr(p["export_revenue_incumbent"])[base], ls, color="C3",
                label=f"incumbent's export revenue [{name}]")  # fmt: skip
        ax.plot(t, arr(p["final_exports"]) / arr(p["final_exports"])[base], ls, color="C4", label=f"final exports [{name}]")
        ax.plot(t, arr(p["mass_of_exporters"]) / arr(p["mass_of_exporters"])[base], ls, color="C5",
                label=f"mass of exporters [{name}]")  # fmt: skip
        axes[0, 2].plot(t, arr(p["intermediate_imports"]), ls, color="C6", label=f"value [{name}]")
        axes[0, 2].plot(t, arr(p["intermediate_imports_quantity"]), ls, color="C7", label=f"quantity [{name}]")
        axes[1, 0].plot(t, arr(p["welfare"]) / arr(p["welfare"])[base], ls, color="C8", label=name)
    p = res["paths"]["lognormal(0, 0.8)"]
    names = p["regime_name"]
    for ax in axes[0].tolist() + [axes[1, 0]]:
        edges = [0] + [i for i in range(1, len(names)) if names[i] != names[i - 1]] + [len(names) - 1]
        for a, b in zip(edges[:-1], edges[1:]):
            ax.axvspan(t[a], t[b], alpha=0.06 * (1 + (a // 3) % 2), color="k")
        ax.set_xlabel("τ_I (variable offshoring cost)")
        ax.legend(fontsize=6)
    axes[0, 0].set_title("cut-offs (eq. 11, 12, 14); shading: regimes " + " | ".join(dict.fromkeys(names)), fontsize=8)
    axes[0, 1].set_title("export-magnification: exports relative to τ_I = 1.2", fontsize=9)
    axes[0, 2].set_title("intermediate imports (R.3)", fontsize=9)
    axes[1, 0].set_title("welfare W = w/P, relative to τ_I = 1.2 (eq. 17, R.4)", fontsize=9)
    sw = res["sweep"]
    reg = np.asarray(sw["regime"])
    codes = sorted(set(reg.ravel().tolist()))
    idx = np.vectorize({c: i for i, c in enumerate(codes)}.get)(reg)
    ax = axes[1, 1]
    im = ax.pcolormesh(sw["tau_I"], sw["f_I"], idx.T, cmap="tab10", vmin=0, vmax=9, shading="nearest")
    for i, c in enumerate(codes):
        ys, xs = np.nonzero(idx.T == i)
        ax.text(np.asarray(sw["tau_I"])[int(np.median(xs))], np.asarray(sw["f_I"])[int(np.median(ys))],
                off.regime_name(c), fontsize=7, ha="center")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("τ_I")
    ax.set_ylabel("f_I")
    ax.set_title(f"regimes, {reg.size} equilibria in one vmapped call (D+O+OX: A.1-A.3 hold)", fontsize=8)
    del im
    ax = axes[1, 2]
    cs = ax.contourf(sw["tau_I"], sw["f_I"], np.asarray(sw["welfare"]).T, 20)
    fig.colorbar(cs, ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("τ_I")
    ax.set_ylabel("f_I")
    ax.set_title("welfare (eq. 17) over (τ_I, f_I)", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "offshoring.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
