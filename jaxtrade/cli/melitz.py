"""``jaxtrade melitz CONFIG.toml``: solve a Melitz-type equilibrium from a TOML file.

Example config::

    model = "symmetric"          # closed | symmetric | multi_country | export_vs_fdi | dynamic
    float64 = true               # enable x64 for this run (never on library import)

    [distribution]
    family = "pareto"            # pareto | truncated_pareto | lognormal | frechet | generalized_gamma (alias gengamma)
    shape = 4.0
    scale = 1.0

    [parameters]
    sigma = 3.0
    f = 1.0
    f_x = 1.5
    f_e = 0.1
    tau = 1.5
    n_countries = 3
    L = 1.0

For ``multi_country`` give ``tau`` and ``f`` as nested lists (destination first), ``f_e`` and
``L`` as lists, and optionally ``outside_good = false`` and ``beta``. The result's fields are
printed as JSON (and written to ``--output`` if given), with ``converged`` and ``condition`` (the
violated regularity condition or corner, "satisfied" otherwise); the exit code is 1 unless converged.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np

from .common import distribution_from_config

def run_config(cfg: dict) -> dict:
    """Solves the model a parsed config describes; returns its fields as plain Python values.

    Precision is the caller's (the ``jaxtrade melitz`` command enables float64 unless the config says
    ``float64 = false``)."""
    from ..models import melitz

    model = cfg.get("model", "symmetric")
    p = dict(cfg.get("parameters", {}))
    dist = distribution_from_config(cfg.get("distribution", {"family": "pareto", "shape": 4.0, "scale": 1.0}))
    if model == "closed":
        res = melitz.closed_economy(dist, p["sigma"], p["f"], p["f_e"], p.get("L", 1.0), beta=p.get("beta", 1.0),
                                    throw=False)
    elif model == "symmetric":
        res = melitz.symmetric_open_economy(
            dist, p["sigma"], p["f"], p["f_x"], p["f_e"], p["tau"], p.get("n_countries", 2), p.get("L", 1.0),
            beta=p.get("beta", 1.0), throw=False,
        )
    elif model == "multi_country":
        res = melitz.multi_country(
            dist, p["sigma"], np.asarray(p["tau"], float), np.asarray(p["f"], float), np.asarray(p["f_e"], float),
            np.asarray(p["L"], float), beta=p.get("beta", 1.0), outside_good=p.get("outside_good", True),
            throw=False,
        )
    elif model == "export_vs_fdi":
        res = melitz.export_versus_fdi(
            dist, p["sigma"], p["f"], p["f_x"], p["f_i"], p["f_e"], p["tau"], p.get("n_countries", 2), p.get("L", 1.0),
            throw=False,
        )
    elif model == "dynamic":
        res = melitz.dynamic_melitz(
            dist, p["sigma"], p["tau"], p["F_D"], p["F_X"], p["F_I"], p["delta"], p.get("L", 1.0), p.get("rho", 0.0),
            throw=False,
        )
    else:
        raise SystemExit(f"unknown model {model!r}")
    out = {"model": model}
    for name in res.__dataclass_fields__:
        v = getattr(res, name)
        if name == "result":
            import optimistix as optx

            out["converged"] = bool(np.all(np.asarray(v == optx.RESULTS.successful)))
            continue
        if name == "condition":
            if v is not None and np.ndim(v._value) == 0:
                from ..engine.selection import CONDITIONS

                out["condition"] = CONDITIONS[v] or "satisfied"
            continue
        try:
            out[name] = np.asarray(v).tolist()
        except Exception:  # noqa: BLE001
            continue
    return out


def main(args) -> int:
    with open(args.config, "rb") as fh:
        cfg = tomllib.load(fh)
    from .common import float64_scope

    with float64_scope(bool(cfg.get("float64", True))):  # equilibria in float64 unless the config says otherwise
        out = run_config(cfg)
    text = json.dumps(out, indent=2)
    if getattr(args, "output", None):
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    print(text)
    return 0 if out.get("converged", True) else 1


def register(subparsers) -> None:
    """Adds ``melitz CONFIG.toml [--output OUT.json]`` to an argparse subparsers object."""
    p = subparsers.add_parser("melitz", help="solve a Melitz-type equilibrium from a TOML config (001, 002)")
    p.add_argument("config", help="TOML file: model, [distribution], [parameters]")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.set_defaults(func=main)

