"""``jaxtrade melitz-ottaviano [CONFIG.toml]``: variable mark-ups, Melitz-Ottaviano (001 §8).

Example config (every key optional; these are the defaults)::

    model = "open"               # closed | open
    float64 = true

    [distribution]               # productivity φ = 1/c: Pareto(k, 1/c_M) gives G(c) = (c/c_M)^k
    family = "pareto"
    shape = 3.0
    scale = 0.5

    [parameters]
    alpha = 5.0
    gamma = 1.0
    eta = 1.0
    f_E = 0.5
    L = [10.0, 10.0, 10.0]       # a number for model = "closed"
    tau = [[1.0, 1.6, 1.6], [1.6, 1.0, 1.6], [1.6, 1.6, 1.0]]   # destination first; open only

Flags: ``--set alpha=6`` (repeatable) overrides a scalar parameter, ``--output OUT.json`` writes
the result, ``--plot OUT.png`` draws the mark-up schedule μ(c) = (c_D − τc)/2 by market. The
table shows cut-offs, sellers, average price and mark-up, welfare and the regime flags. Exit
status 1 when the equilibrium is not interior (the result code says so), 2 on bad input.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np

DEFAULT_PARAMETERS = dict(alpha=5.0, gamma=1.0, eta=1.0, f_E=0.5)
DEFAULT_L = [10.0, 10.0, 10.0]
DEFAULT_TAU = [[1.0, 1.6, 1.6], [1.6, 1.0, 1.6], [1.6, 1.6, 1.0]]
DEFAULT_DISTRIBUTION = {"family": "pareto", "shape": 3.0, "scale": 0.5}
TABLE = ("cost_cutoff", "n_entrants", "n_sellers", "average_price", "average_markup", "price_variance", "welfare")


def _to_python(v):
    a = np.asarray(v)
    if a.dtype.kind == "f":
        return np.where(np.isfinite(a), a, np.nan).tolist() if a.ndim else (float(a) if np.isfinite(a) else None)
    return a.tolist()


def run_config(cfg: dict, overrides: dict | None = None) -> dict:
    """Solves the economy a parsed config describes; returns plain Python values."""
    import optimistix as optx

    from ..engine.validation import fail
    from ..models import melitz_ottaviano as mo
    from .common import distribution_from_config

    model = cfg.get("model", "open")
    if model not in ("closed", "open"):
        fail("model", model, 'model = "closed" or "open"')
    p = dict(DEFAULT_PARAMETERS)
    given = dict(cfg.get("parameters", {}))
    given.update(overrides or {})
    unknown = sorted(set(given) - set(p) - {"L", "tau"})
    if unknown:
        fail("parameters", unknown, f"known parameters are {sorted(p)}, L and tau")
    p.update(given)
    dist = distribution_from_config(cfg.get("distribution", DEFAULT_DISTRIBUTION))
    scal = {k: float(p[k]) for k in DEFAULT_PARAMETERS}
    if model == "closed":
        L = p.get("L", 10.0)
        if np.ndim(L) != 0:
            fail("L", L, 'a number for model = "closed"')
        eq = mo.closed_economy(dist, L=float(L), throw=False, **scal)
    else:
        L = np.asarray(p.get("L", DEFAULT_L), float)
        tau = np.asarray(p.get("tau", DEFAULT_TAU), float)
        eq = mo.open_economy(dist, L=L, tau=tau, throw=False, **scal)
    out = {"model": model, "parameters": {k: _to_python(v) for k, v in p.items()},
           "distribution": cfg.get("distribution", DEFAULT_DISTRIBUTION)}
    ok = bool(np.all(np.asarray(eq.result == optx.RESULTS.successful)))
    out["converged"] = ok
    out["interior"] = bool(np.all(np.asarray(eq.entry_positive)) and np.all(np.asarray(eq.sellers_positive)))
    for name in eq.__dataclass_fields__:
        if name in ("result", "L", "tau", "gamma"):
            continue
        out[name] = _to_python(getattr(eq, name))
    out["_eq"] = eq
    return out


def _table(out) -> str:
    cols = [np.atleast_1d(np.asarray(out[k], float)) for k in TABLE]
    lines = ["country  " + "  ".join(f"{k:>15s}" for k in TABLE)]
    for j in range(cols[0].shape[0]):
        lines.append(f"{j:7d}  " + "  ".join(f"{c[j]:15.6g}" for c in cols))
    lines.append(f"converged: {out['converged']}   interior: {out['interior']}   "
                 f"entry_positive: {out['entry_positive']}   sellers_positive: {out['sellers_positive']}")
    return "\n".join(lines)


def _plot(out, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eq = out["_eq"]
    cd = np.atleast_1d(np.asarray(eq.cost_cutoff))
    c = np.linspace(0.0, float(cd.max()) * 1.05, 300)
    fig, ax = plt.subplots(figsize=(6, 4))
    mk = np.asarray(eq.markup(c))
    if mk.ndim == 1:
        ax.plot(c, mk, label="closed economy")
    else:
        for n in range(mk.shape[1]):
            ax.plot(c, mk[:, n, n], label=f"domestic sales, market {n}")
            for i in range(mk.shape[2]):
                if i != n:
                    ax.plot(c, mk[:, n, i], ls=":", lw=1, label=f"exports {i}→{n}")
    ax.set_xlabel("unit cost c")
    ax.set_ylabel("mark-up μ = (c_D − τc)/2")
    ax.set_title("Melitz-Ottaviano mark-ups (001 §8)")
    ax.legend(fontsize=7)
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
    if args.model:
        cfg["model"] = args.model
    overrides = parse_overrides(args.set, "alpha=6")
    with float64_scope(bool(cfg.get("float64", True))):
        out = run_config(cfg, overrides)
        print(_table(out))
        if args.plot:
            _plot(out, args.plot)
    out.pop("_eq")
    text = json.dumps(out, indent=2)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    return 0 if out["converged"] else 1


def register(subparsers) -> None:
    """Adds ``melitz-ottaviano [CONFIG.toml] [--model closed|open] [--set K=V] [--output] [--plot]``."""
    p = subparsers.add_parser("melitz-ottaviano", help="variable mark-ups: Melitz-Ottaviano (001 §8)")
    p.add_argument("config", nargs="?", default=None, help="TOML file: model, [distribution], [parameters]")
    p.add_argument("--model", choices=("closed", "open"), default=None, help="override the config's model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scalar parameter")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write the mark-up schedules as a PNG here")
    p.set_defaults(func=main)
