"""``jaxtrade factor-abundance [CONFIG.toml]``: heterogeneous firms in Heckscher-Ohlin (001 §7).

Example config (every key optional; these are the defaults)::

    float64 = true

    [distribution]               # productivity φ
    family = "pareto"
    shape = 4.0
    scale = 1.0

    [parameters]
    sigma = 3.0
    beta = [0.7, 0.3]            # skill intensity by sector
    shares = [0.5, 0.5]          # expenditure shares by sector
    skilled = [1.2, 0.8]         # endowments by country
    unskilled = [0.8, 1.2]
    f = 1.0
    f_X = 1.5
    f_E = 0.2
    tau = 1.3

Solves autarky, costly trade and free trade (τ = 1, f_X = 0) and prints, for each, the domestic
cut-offs and average productivity by country and sector, factor prices and real rewards.
``--set tau=1.5`` (repeatable) overrides a scalar parameter, ``--output OUT.json`` writes the
results, ``--plot OUT.png`` draws the cut-off rise from autarky by sector. Exit status 1 when an
equilibrium is a corner (specialisation, no selection into exporting), 2 on bad input.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np

DEFAULT_PARAMETERS = dict(sigma=3.0, beta=[0.7, 0.3], shares=[0.5, 0.5], skilled=[1.2, 0.8], unskilled=[0.8, 1.2],
                          f=1.0, f_X=1.5, f_E=0.2, tau=1.3)
DEFAULT_DISTRIBUTION = {"family": "pareto", "shape": 4.0, "scale": 1.0}
SHOW = ("domestic_cutoff", "average_productivity", "relative_wage", "real_skilled_wage", "real_unskilled_wage")


def _record(eq) -> dict:
    import optimistix as optx

    out = {"converged": bool(np.all(np.asarray(eq.result == optx.RESULTS.successful)))}
    for name in eq.__dataclass_fields__:
        if name == "result":
            continue
        out[name] = np.asarray(getattr(eq, name)).tolist()
    return out


def run_config(cfg: dict, overrides: dict | None = None) -> dict:
    """Autarky, costly trade and free trade for a parsed config; plain Python values."""
    from ..engine.validation import fail
    from ..models import factor_abundance as fa
    from .common import distribution_from_config

    p = dict(DEFAULT_PARAMETERS)
    given = dict(cfg.get("parameters", {}))
    given.update(overrides or {})
    unknown = sorted(set(given) - set(p))
    if unknown:
        fail("parameters", unknown, f"known parameters are {sorted(p)}")
    p.update(given)
    dist = distribution_from_config(cfg.get("distribution", DEFAULT_DISTRIBUTION))
    arr = {k: np.asarray(p[k], float) for k in ("beta", "shares", "skilled", "unskilled")}
    common = dict(sigma=float(p["sigma"]), f=float(p["f"]), f_E=float(p["f_E"]), **arr)
    au = fa.autarky(dist, **common)
    tr = fa.equilibrium(dist, **common, f_X=float(p["f_X"]), tau=float(p["tau"]), throw=False)
    ft = fa.free_trade(dist, **common, throw=False)
    return {"parameters": p, "distribution": cfg.get("distribution", DEFAULT_DISTRIBUTION),
            "autarky": _record(au), "trade": _record(tr), "free_trade": _record(ft)}


def _table(out) -> str:
    lines = []
    for regime in ("autarky", "trade", "free_trade"):
        r = out[regime]
        lines.append(f"[{regime}] converged: {r['converged']}")
        for k in SHOW:
            lines.append(f"  {k:22s} {np.array2string(np.asarray(r[k]), precision=5)}")
    return "\n".join(lines)


def _plot(out, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    au = np.asarray(out["autarky"]["domestic_cutoff"])
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = ["country 0, sector 0", "country 0, sector 1", "country 1, sector 0", "country 1, sector 1"]
    x = np.arange(4)
    for k, (regime, w) in enumerate((("trade", -0.2), ("free_trade", 0.2))):
        rise = (np.asarray(out[regime]["domestic_cutoff"]) / au).ravel()
        ax.bar(x + w, 100 * (rise - 1), width=0.4, label=regime.replace("_", " "))
    ax.set_xticks(x, labels, rotation=15, fontsize=8)
    ax.set_ylabel("rise of the zero-profit cut-off from autarky (%)")
    ax.set_title("Selection by sector (001 §7; sector 0 skill intensive)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args) -> int:
    from ..engine.validation import fail
    from .common import float64_scope, parse_overrides

    cfg = {}
    if args.config:
        with open(args.config, "rb") as fh:
            cfg = tomllib.load(fh)
    overrides = parse_overrides(args.set, "tau=1.5")
    with float64_scope(bool(cfg.get("float64", True))):
        out = run_config(cfg, overrides)
    print(_table(out))
    if args.plot:
        _plot(out, args.plot)
    text = json.dumps(out, indent=2)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    ok = out["autarky"]["converged"] and out["trade"]["converged"] and out["free_trade"]["converged"]
    return 0 if ok else 1


def register(subparsers) -> None:
    """Adds ``factor-abundance [CONFIG.toml] [--set K=V] [--output OUT.json] [--plot OUT.png]``."""
    p = subparsers.add_parser("factor-abundance", help="heterogeneous firms and factor abundance (001 §7)")
    p.add_argument("config", nargs="?", default=None, help="TOML file: [distribution], [parameters]")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scalar parameter")
    p.add_argument("--output", "-o", default=None, help="write the results as JSON here")
    p.add_argument("--plot", default=None, help="write the cut-off rises as a PNG here")
    p.set_defaults(func=main)
