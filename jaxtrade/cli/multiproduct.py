"""``jaxtrade multiproduct [CONFIG.toml]``: multi-product firms, Bernard-Redding-Schott (001 §9.1).

Example config (every key optional; these are the defaults)::

    float64 = true

    [distribution]               # ability φ
    family = "pareto"
    shape = 5.0
    scale = 1.0

    [attributes]                 # product attributes λ
    family = "pareto"
    shape = 3.0
    scale = 1.0

    [parameters]
    sigma = 3.0
    F_d = 0.5                    # fixed cost of serving the home market
    F_x = 0.5                    # ... of each export market
    f_d = 1.0                    # fixed cost per product at home
    f_x = 1.0                    # ... per product and export market
    f_e = 0.5
    tau = 1.3
    n_countries = 2

Flags: ``--set KEY=VALUE``, ``--output OUT.json``, ``--plot OUT.png`` (product scope by ability,
home and export market). Exit status 1 when the solve did not converge, 2 on bad input.
"""

from __future__ import annotations

import numpy as np

from .innovation import finish, load_config, table, to_python

DEFAULTS = dict(sigma=3.0, F_d=0.5, F_x=0.5, f_d=1.0, f_x=1.0, f_e=0.5, tau=1.3, n_countries=2)
DEFAULT_DISTRIBUTION = {"family": "pareto", "shape": 5.0, "scale": 1.0}
DEFAULT_ATTRIBUTES = {"family": "pareto", "shape": 3.0, "scale": 1.0}


def run_config(cfg: dict, p: dict):
    import optimistix as optx

    from ..models import multiproduct as mp
    from .common import distribution_from_config

    g = distribution_from_config(cfg.get("distribution", DEFAULT_DISTRIBUTION))
    z = distribution_from_config(cfg.get("attributes", DEFAULT_ATTRIBUTES), "attributes")
    eq = mp.multiproduct_economy(
        g, z, p["sigma"], p["F_d"], p["F_x"], p["f_d"], p["f_x"], p["f_e"], p["tau"], int(p["n_countries"]), throw=False
    )
    out = {"model": "multiproduct", "parameters": dict(p)}
    out["converged"] = bool(np.all(np.asarray(eq.result == optx.RESULTS.successful)))
    for name in eq.__dataclass_fields__:
        if name not in ("result", "attributes", "sigma", "tau", "product_fixed"):
            out[name] = to_python(getattr(eq, name))
    return out, eq


def _plot(eq, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = np.asarray(eq.ability_cutoff)
    phi = np.linspace(0.8 * c.min(), 4 * c.max(), 300)
    sc = np.asarray(eq.scope(phi))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(phi, sc[:, 0], label="home market")
    ax.plot(phi, sc[:, 1], label="each export market")
    ax.set_xlabel("ability φ")
    ax.set_ylabel("product scope 1 − Z(λ*(φ))")
    ax.set_title("Multi-product firms (001 §9.1)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args) -> int:
    from .common import float64_scope

    cfg, p = load_config(args, DEFAULTS)
    with float64_scope(bool(cfg.get("float64", True))):
        out, eq = run_config(cfg, p)
        print(table({k: v for k, v in out.items() if k != "parameters"}))
        if getattr(args, "plot", None):
            _plot(eq, args.plot)
    return finish(out, args)


def register(subparsers) -> None:
    """Adds ``multiproduct [CONFIG.toml] [--set K=V] [--output] [--plot]``."""
    p = subparsers.add_parser("multiproduct", help="multi-product firms, Bernard-Redding-Schott (001 §9.1)")
    p.add_argument("config", nargs="?", default=None, help="TOML file: [distribution], [attributes], [parameters]")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write product scope by ability as a PNG here")
    p.set_defaults(func=main)
