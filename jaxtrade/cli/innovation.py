"""``jaxtrade innovation [CONFIG.toml]``: technology adoption (Bustos) and innovation intensity (001 §9.2).

Example config (every key optional; these are the defaults)::

    model = "adoption"           # adoption (§9.2.1) | intensity (§9.2.2)
    float64 = true

    [distribution]               # productivity φ
    family = "pareto"
    shape = 4.0
    scale = 1.0

    [parameters]
    sigma = 3.0
    f = 1.0
    f_x = 1.5
    f_i = 3.0                    # adoption only: fixed cost of the new technology
    f_e = 0.1
    tau = 1.5
    iota = 1.2                   # productivity factor ι > 1
    n_countries = 2
    kappa = 0.5                  # intensity only: c_I(α) = −κ[α + log(1 − α)]

Flags: ``--model``, ``--set KEY=VALUE`` (repeatable), ``--output OUT.json``, ``--plot OUT.png``
(cut-offs, or intensities, against τ). Prints a table; exit status 1 when the solve did not
converge, 2 on bad input.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np

DEFAULTS = dict(sigma=3.0, f=1.0, f_x=1.5, f_i=3.0, f_e=0.1, tau=1.5, iota=1.2, n_countries=2, kappa=0.5)
DEFAULT_DISTRIBUTION = {"family": "pareto", "shape": 4.0, "scale": 1.0}


def to_python(v):
    """JSON-friendly values (non-finite floats become None)."""
    a = np.asarray(v)
    if a.dtype.kind == "f":
        if a.ndim:
            return [x if np.isfinite(x) else None for x in a.tolist()]
        return float(a) if np.isfinite(a) else None
    if a.dtype.kind == "b":
        return a.tolist()
    try:
        return a.tolist()
    except Exception:  # noqa: BLE001
        return str(v)


def load_config(args, defaults):
    """Config file, ``--model`` and ``--set`` overrides → (cfg, parameters)."""
    from ..engine.validation import fail
    from .common import parse_overrides

    cfg = {}
    if getattr(args, "config", None):
        with open(args.config, "rb") as fh:
            cfg = tomllib.load(fh)
    if getattr(args, "model", None):
        cfg["model"] = args.model
    p = dict(defaults)
    given = dict(cfg.get("parameters", {}))
    given.update(parse_overrides(getattr(args, "set", None), "tau=1.4"))
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        fail("parameters", unknown, f"known parameters are {sorted(defaults)}")
    p.update(given)
    return cfg, p


def table(rows: dict) -> str:
    w = max(len(k) for k in rows)
    return "\n".join(f"{k:<{w}s}  {v}" for k, v in rows.items())


def finish(out: dict, args) -> int:
    text = json.dumps(out, indent=2)
    if getattr(args, "output", None):
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    return 0 if out.get("converged", True) else 1


def run_config(cfg: dict, p: dict) -> dict:
    import optimistix as optx

    from ..engine.validation import fail
    from ..models import innovation as inn
    from .common import distribution_from_config

    model = cfg.get("model", "adoption")
    dist = distribution_from_config(cfg.get("distribution", DEFAULT_DISTRIBUTION))
    out = {"model": model, "parameters": dict(p), "distribution": cfg.get("distribution", DEFAULT_DISTRIBUTION)}
    if model == "adoption":
        eq = inn.technology_adoption(
            dist, p["sigma"], p["f"], p["f_x"], p["f_i"], p["f_e"], p["tau"], p["iota"], int(p["n_countries"]), throw=False
        )
        out["regime"] = inn.REGIMES[int(eq.regime)]
        skip = ("result", "slopes", "fixed_costs", "sigma", "regime")
    elif model == "intensity":
        cost = inn.LogInnovationCost(p["kappa"])
        eq = inn.innovation_equilibrium(
            dist, cost, p["sigma"], p["f"], p["f_e"], p["iota"], p["tau"], p["f_x"], int(p["n_countries"]), throw=False
        )
        skip = ("result",)
    else:
        fail("model", model, 'model = "adoption" or "intensity"')
    out["converged"] = bool(np.all(np.asarray(eq.result == optx.RESULTS.successful)))
    for name in eq.__dataclass_fields__:
        if name not in skip:
            out[name] = to_python(getattr(eq, name))
    return out


def _plot(cfg, p, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    taus = np.linspace(1.05, 2.5, 30)
    rows = []
    for t in taus:
        rows.append(run_config(cfg, dict(p, tau=float(t))))
    fig, ax = plt.subplots(figsize=(6, 4))
    if cfg.get("model", "adoption") == "adoption":
        for key in ("cutoff", "export_cutoff", "adoption_cutoff"):
            ax.plot(taus, [r[key] if r[key] is not None else np.nan for r in rows], label=key)
        ax.set_ylabel("productivity cut-off")
        ax.set_title("Technology adoption (001 §9.2.1)")
    else:
        for key in ("alpha_nonexporter", "alpha_exporter", "mean_intensity"):
            ax.plot(taus, [r[key] for r in rows], label=key)
        ax.set_ylabel("innovation intensity α")
        ax.set_title("Innovation intensity (001 §9.2.2)")
    ax.set_xlabel("τ")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args) -> int:
    from .common import float64_scope

    cfg, p = load_config(args, DEFAULTS)
    with float64_scope(bool(cfg.get("float64", True))):
        out = run_config(cfg, p)
        print(table({k: v for k, v in out.items() if k not in ("parameters", "distribution")}))
        if getattr(args, "plot", None):
            _plot(cfg, p, args.plot)
    return finish(out, args)


def register(subparsers) -> None:
    """Adds ``innovation [CONFIG.toml] [--model adoption|intensity] [--set K=V] [--output] [--plot]``."""
    p = subparsers.add_parser("innovation", help="technology adoption and innovation intensity (001 §9.2)")
    p.add_argument("config", nargs="?", default=None, help="TOML file: model, [distribution], [parameters]")
    p.add_argument("--model", choices=("adoption", "intensity"), default=None, help="override the config's model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write a sweep over τ as a PNG here")
    p.set_defaults(func=main)
