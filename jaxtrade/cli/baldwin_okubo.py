"""``jaxtrade baldwin-okubo [CONFIG.toml]``: relocation of heterogeneous footloose firms (paper 000).

Example config (every key optional; flags override the file)::

    float64 = true        # enable x64 for this run (never on library import)
    entry = true          # relocation then entry/exit (default) or, false, before entry (§3.2)

    [parameters]
    s_E = 0.6             # North's expenditure share, in [1/2, 1)
    sigma = 2.0
    rho = 2.0             # Pareto shape of the cost draws, G[a] = a^rho on [0, 1]
    f = 1.0
    f_I = 0.8
    phi = [0.2, 0.5, 0.75, 0.95]   # freeness of trade: one number or a list

Prints a table (φ, phase, a_D, a_X, a_R, ā, ā*, the welfare ratio (26) with relocation) with the
partition and sustain points, writes the results as JSON (``--output``) and a plot of the thresholds
against φ (``--plot``).
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np

_DEFAULTS = dict(s_E=0.6, sigma=2.0, rho=2.0, f=1.0, f_I=0.8, phi=[0.2, 0.5, 0.75, 0.95])


def _clean(x):
    x = float(x)
    return None if math.isnan(x) else x


def run_config(cfg: dict) -> dict:
    """Solves the relocation equilibrium a parsed config describes (precision is the caller's)."""
    import optimistix as optx

    from ..models import baldwin_okubo as bo

    p = {**_DEFAULTS, **cfg.get("parameters", {})}
    entry = bool(cfg.get("entry", True))
    phis = np.atleast_1d(np.asarray(p["phi"], dtype=float))
    args = (p["s_E"], p["sigma"], p["rho"], p["f"], p["f_I"])
    r = bo.relocation(phis, *args, entry=entry)
    hft = bo.entry_then_relocation(phis, *args)
    ps = float(bo.sustain_point(p["s_E"], p["sigma"], p["rho"]))
    wf = bo.small_nation_welfare(np.minimum(phis, ps), *args)
    rows = []
    for i, phi in enumerate(phis):
        rows.append(dict(
            phi=float(phi), phase=str(np.asarray(r.phase)[i]),
            a_D=_clean(r.a_D[i]), a_X=_clean(r.a_X[i]), a_R=_clean(r.a_R[i]), n_w=_clean(r.n_w[i]),
            north_share=_clean(r.north_share[i]), a_bar=_clean(r.a_bar[i]), a_bar_star=_clean(r.a_bar_star[i]),
            a_bar_no_relocation=_clean(hft.a_bar[i]), m_bar_star=_clean(r.m_bar_star[i]),
            welfare_ratio=_clean(wf.ratio[i]) if phi <= ps else None,
            residual=_clean(r.residual[i]),
        ))
    return dict(
        model="baldwin_okubo", entry=entry, parameters={k: p[k] for k in ("s_E", "sigma", "rho", "f", "f_I")},
        beta=p["rho"] / (p["sigma"] - 1.0),
        partition_point=float(bo.partition_point(p["s_E"])),
        sustain_point=ps if entry else float(bo.short_run_sustain_point(p["s_E"], p["sigma"], p["rho"])),
        converged=bool(np.all(np.asarray(r.result == optx.RESULTS.successful))),
        rows=rows,
    )


def _table(out: dict) -> str:
    head = f"{'phi':>6} {'phase':>18} {'a_D':>9} {'a_X':>9} {'a_R':>9} {'a_bar':>9} {'a_bar*':>9} {'welfare(26)':>11}"
    fmt = lambda v: f"{v:9.5f}" if v is not None else f"{'—':>9}"  # noqa: E731
    lines = [
        f"Baldwin-Okubo ({'relocation then entry' if out['entry'] else 'relocation before entry'}); "
        f"β = {out['beta']:.4g}, φ^P = {out['partition_point']:.6g}, φ^S = {out['sustain_point']:.6g}",
        head,
    ]
    for r in out["rows"]:
        w = f"{r['welfare_ratio']:11.6f}" if r["welfare_ratio"] is not None else f"{'—':>11}"
        lines.append(f"{r['phi']:6.3f} {r['phase']:>18} {fmt(r['a_D'])} {fmt(r['a_X'])} {fmt(r['a_R'])} "
                     f"{fmt(r['a_bar'])} {fmt(r['a_bar_star'])} {w}")
    return "\n".join(lines)


def _plot(out: dict, path: str, cfg: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..models import baldwin_okubo as bo

    p = out["parameters"]
    grid = np.linspace(0.0, 1.0, 201)
    r = bo.relocation(grid, p["s_E"], p["sigma"], p["rho"], p["f"], p["f_I"], entry=out["entry"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in ("a_D", "a_X", "a_R"):
        ax.plot(grid, np.asarray(getattr(r, name)), label=name)
    for x in (out["partition_point"], out["sustain_point"]):
        if x <= 1:
            ax.axvline(x, color="k", lw=0.6, ls=":")
    ax.set(xlabel="freeness of trade φ", ylabel="marginal-cost thresholds", title="Baldwin-Okubo relocation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args) -> int:
    cfg = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        if not path.exists():
            from ..engine.validation import fail

            fail("config", str(path), "the file must exist")
        cfg = tomllib.loads(path.read_text())
    params = dict(cfg.get("parameters", {}))
    for key in ("s_E", "sigma", "rho", "f", "f_I"):
        v = getattr(args, key, None)
        if v is not None:
            params[key] = v
    if getattr(args, "phi", None):
        params["phi"] = [float(x) for x in args.phi.split(",") if x.strip()]
    cfg["parameters"] = params
    if getattr(args, "before_entry", False):
        cfg["entry"] = False
    from .common import float64_scope

    with float64_scope(bool(cfg.get("float64", True))):
        out = run_config(cfg)
        if getattr(args, "plot", None):
            _plot(out, args.plot, cfg)
    print(_table(out))
    if getattr(args, "output", None):
        Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if out["converged"] else 1


def register(subparsers) -> None:
    """Adds ``baldwin-okubo [CONFIG.toml] [flags]`` (alias ``baldwin_okubo``)."""
    p = subparsers.add_parser(
        "baldwin-okubo", aliases=["baldwin_okubo"],
        help="relocation of heterogeneous firms between a large and a small nation (Baldwin & Okubo, 000)",
    )
    p.add_argument("config", nargs="?", default=None, help="TOML file: entry, [parameters] s_E, sigma, rho, f, f_I, phi")
    p.add_argument("--phi", help="comma-separated freeness values, e.g. 0.2,0.5,0.9")
    for key in ("s_E", "sigma", "rho", "f", "f_I"):
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, type=float, default=None)
    p.add_argument("--before-entry", action="store_true", help="the relocation equilibrium before entry/exit (§3.2)")
    p.add_argument("--output", "-o", default=None, help="write the results as JSON here")
    p.add_argument("--plot", default=None, help="write a PNG of a_D, a_X, a_R against φ here")
    p.set_defaults(func=main)
