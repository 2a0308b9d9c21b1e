"""``jaxtrade offshoring [CONFIG.toml]``: the export-magnification model of paper 003.

Example config (every key optional; these are the defaults)::

    float64 = true

    [distribution]               # productivity ϕ: pareto | truncated_pareto | lognormal | frechet | generalized_gamma
    family = "pareto"
    shape = 5.0
    scale = 1.0

    [parameters]                 # jaxtrade.models.offshoring.equilibrium keywords
    sigma = 4.0
    alpha = 0.5
    n = 3
    tau = 1.6
    tau_I = 1.2
    f_p = 1.0
    f_I = 0.6
    f_ex = 1.0
    f_e = 0.5
    phi_Y = 1.0
    phi_I = 1.0
    phi_Y_w = 0.6
    phi_I_w = 0.9
    beta = 0.5
    L = 1.0

    [sweep]                      # optional: a table over one parameter
    parameter = "tau_I"
    values = [1.1, 1.15, 1.2, 1.25, 1.3]

Flags: ``--set tau_I=1.1`` (repeatable) overrides a parameter, ``--sweep tau_I=1.1:1.3:5`` gives a
sweep from the command line (``start:stop:count``), ``--output OUT.json`` writes the result,
``--plot OUT.png`` draws the profit envelope (one equilibrium) or the sweep. The table shows the
cut-offs (eq. 11, 12, 14), the regime, assumptions A.1-A.3, trade flows and welfare (eq. 17).
"""

from __future__ import annotations

import json
import tomllib

import numpy as np

DEFAULT_PARAMETERS = dict(
    sigma=4.0, alpha=0.5, n=3.0, tau=1.6, tau_I=1.2, f_p=1.0, f_I=0.6, f_ex=1.0, f_e=0.5,
    phi_Y=1.0, phi_I=1.0, phi_Y_w=0.6, phi_I_w=0.9, beta=0.5, L=1.0,
)  # fmt: skip
DEFAULT_DISTRIBUTION = {"family": "pareto", "shape": 5.0, "scale": 1.0}

TABLE = (
    "regime", "phi_min", "phi_off", "phi_ex", "share_offshoring", "share_exporting", "final_exports",
    "average_export_revenue", "mass_of_exporters", "intermediate_imports", "homogeneous_exports", "welfare",
)  # fmt: skip


def _parse_value(text: str):
    from ..engine.validation import fail

    try:
        return float(text)
    except ValueError:
        fail("--set", text, "KEY=NUMBER, e.g. tau_I=1.1")


def _sweep_values(text: str):
    from ..engine.validation import fail

    try:
        name, rng = text.split("=", 1)
        a, b, k = rng.split(":")
        return name.strip(), np.linspace(float(a), float(b), int(k)).tolist()
    except ValueError:
        fail("--sweep", text, "PARAMETER=START:STOP:COUNT, e.g. tau_I=1.1:1.3:5")


def _record(eq) -> dict:
    import optimistix as optx

    from ..models import offshoring as off

    out = {"converged": bool(np.all(np.asarray(eq.result == optx.RESULTS.successful)))}
    for name in eq.__dataclass_fields__:
        if name in ("result", "params", "assumptions"):
            continue
        v = np.asarray(getattr(eq, name))
        out[name] = [None if not np.isfinite(x) else x for x in v.tolist()] if v.ndim else (
            None if v.dtype.kind == "f" and not np.isfinite(v) else v.tolist()
        )  # fmt: skip
    out["regime_name"] = off.regime_name(eq.regime)
    a = eq.assumptions
    out["assumptions"] = {
        "A1": bool(a.A1), "A2": bool(a.A2), "A3": bool(a.A3), "relative_price": float(a.relative_price),
        "p_tilde_1": float(a.p_tilde_1), "p_tilde_2": float(a.p_tilde_2), "messages": a.messages(),
    }  # fmt: skip
    return out


def run_config(cfg: dict, overrides: dict | None = None, sweep: tuple | None = None) -> dict:
    """Solves the equilibrium (and an optional sweep) a parsed config describes; plain Python values.

    Precision is the caller's (the command enables float64 unless ``float64 = false``)."""
    from ..engine.validation import fail
    from ..models import offshoring as off
    from .common import distribution_from_config as _distribution

    params = dict(DEFAULT_PARAMETERS)
    given = dict(cfg.get("parameters", {}))
    given.update(overrides or {})
    unknown = sorted(set(given) - set(params) - {"L_w"})
    if unknown:
        fail("parameters", unknown, f"known parameters are {sorted(params)} and L_w")
    params.update(given)
    dist = _distribution(cfg.get("distribution", DEFAULT_DISTRIBUTION))
    out = {"parameters": params, "distribution": cfg.get("distribution", DEFAULT_DISTRIBUTION)}
    out["equilibrium"] = _record(off.equilibrium(dist, **params))
    if sweep is None and "sweep" in cfg:
        sweep = (cfg["sweep"]["parameter"], list(cfg["sweep"]["values"]))
    if sweep is not None:
        name, values = sweep
        if name not in params:
            fail("sweep.parameter", name, f"one of {sorted(params)}")
        rows = [_record(off.equilibrium(dist, **dict(params, **{name: float(v)}))) for v in values]
        out["sweep"] = {"parameter": name, "values": [float(v) for v in values], "rows": rows}
    return out


def _fmt(v) -> str:
    if v is None:
        return "inf"
    if isinstance(v, (int, np.integer)):
        return str(v)
    return f"{v:.6g}"


def print_table(out: dict) -> None:
    eq = out["equilibrium"]
    print(f"offshoring equilibrium (003): regime {eq['regime_name']}, converged = {eq['converged']}")
    for m in eq["assumptions"]["messages"]:
        print(f"  note: {m}")
    for name in TABLE[1:]:
        print(f"  {name:<24} {_fmt(eq[name])}")
    if "sweep" in out:
        sw = out["sweep"]
        cols = ("regime_name",) + TABLE[1:]
        print()
        print(f"{sw['parameter']:>8} " + " ".join(f"{c[:12]:>12}" for c in cols))
        for v, row in zip(sw["values"], sw["rows"]):
            cells = [row["regime_name"]] + [_fmt(row[c]) for c in TABLE[1:]]
            print(f"{v:>8.4g} " + " ".join(f"{c:>12}" for c in cells))


def plot(out: dict, path: str, cfg: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "sweep" in out:
        sw = out["sweep"]
        x = sw["values"]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for name in ("phi_min", "phi_off", "phi_ex"):
            axes[0].plot(x, [np.nan if r[name] is None else r[name] for r in sw["rows"]], label=name)
        axes[0].set_ylabel("cut-off productivity")
        for name in ("final_exports", "intermediate_imports"):
            axes[1].plot(x, [r[name] for r in sw["rows"]], label=name)
        axes[1].set_ylabel("value (numeraire)")
        axes[2].plot(x, [r["welfare"] for r in sw["rows"]], label="welfare (eq. 17)")
        for ax in axes:
            ax.set_xlabel(sw["parameter"])
            ax.legend(fontsize=8)
    else:
        import jax.numpy as jnp

        from ..models import offshoring as off
        from .common import distribution_from_config as _distribution

        eq = off.equilibrium(_distribution(cfg.get("distribution", DEFAULT_DISTRIBUTION)), **out["parameters"])
        lo = float(eq.phi_min)
        phi = jnp.geomspace(0.7 * lo, 4.0 * float(eq.phi_ex), 400)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(phi, eq.profit(phi), "k", label="profit (best strategy)")
        strat = np.asarray(eq.strategy(phi))
        for j, name in enumerate(off.STRATEGIES):
            sel = strat == j
            if sel.any():
                ax.axvspan(float(phi[sel][0]), float(phi[sel][-1]), alpha=0.15, color=f"C{j}", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("productivity ϕ")
        ax.set_ylabel("profit (labour units)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args) -> int:
    cfg = {}
    if args.config:
        with open(args.config, "rb") as fh:
            cfg = tomllib.load(fh)
    overrides = {}
    for item in args.set or []:
        if "=" not in item:
            from ..engine.validation import fail

            fail("--set", item, "KEY=NUMBER, e.g. tau_I=1.1")
        k, v = item.split("=", 1)
        overrides[k.strip()] = _parse_value(v)
    sweep = _sweep_values(args.sweep) if args.sweep else None
    from .common import float64_scope

    with float64_scope(bool(cfg.get("float64", True))):
        out = run_config(cfg, overrides, sweep)
        print_table(out)
        if args.plot:
            plot(out, args.plot, cfg)
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(out, fh, indent=2)
            fh.write("\n")
    ok = out["equilibrium"]["converged"] and all(r["converged"] for r in out.get("sweep", {}).get("rows", []))
    return 0 if ok else 1


def register(subparsers) -> None:
    """Adds ``offshoring [CONFIG.toml] [--set K=V] [--sweep P=A:B:N] [--output J] [--plot P]``."""
    p = subparsers.add_parser(
        "offshoring", help="export-magnification effect of offshoring (003): cut-offs, trade flows, welfare"
    )
    p.add_argument("config", nargs="?", default=None, help="TOML file: [distribution], [parameters], [sweep]")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--sweep", default=None, metavar="P=START:STOP:COUNT", help="a table over one parameter")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write a PNG (profit envelope, or the sweep)")
    p.set_defaults(func=main)
