"""``jaxtrade wage-inequality [CONFIG.toml]``: wage inequality and trade (001 §10, Helpman-Itskhoki-Redding).

Example config (every key optional; these are the defaults)::

    model = "structural"         # structural (HIR 2010: τ drives openness) | reduced (001 §10's power laws)

    [parameters]                 # structural
    beta = 0.75
    gamma = 0.5
    delta = 3.0
    ability_shape = 1.5
    productivity_shape = 3.0
    f_d = 1.0
    f_x = 0.3
    tau = 1.5
    # reduced: k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, export_cutoff_ratio

Flags: ``--model``, ``--set KEY=VALUE``, ``--output OUT.json``, ``--plot OUT.png`` (the structural
model's Gini, Theil and variance of log wages against τ; the reduced form's G_w). Prints a table.
"""

from __future__ import annotations

import numpy as np

from .innovation import finish, load_config, table, to_python

STRUCTURAL = dict(beta=0.75, gamma=0.5, delta=3.0, ability_shape=1.5, productivity_shape=3.0, f_d=1.0, f_x=0.3, tau=1.5)
REDUCED = dict(k=4.0, zeta_l=1.0, zeta_w=0.5, psi_l=0.5, psi_w=0.3, upsilon_x=2.0, export_cutoff_ratio=2.0)
MEASURES = ("employment_share_domestic", "variance_log_wage", "gini", "theil", "mean_wage", "top_domestic_wage", "lowest_exporter_wage")


def run_config(cfg: dict, p: dict) -> dict:
    from ..models import wage_inequality as wi

    model = cfg.get("model", "structural")
    out = {"model": model, "parameters": dict(p)}
    if model == "structural":
        hp = wi.hir_parameters(**p)
        for name in ("zeta_l", "zeta_w", "psi_l", "psi_w", "upsilon_x", "export_cutoff_ratio", "big_gamma", "all_export"):
            out[name] = to_python(getattr(hp, name))
        wd = hp.wage_distribution()
    else:
        wd = wi.wage_distribution(**p)
    for name in MEASURES:
        out[name] = to_python(getattr(wd, name))
    return out


def _plot(cfg, p, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..models import wage_inequality as wi

    fig, ax = plt.subplots(figsize=(6, 4))
    if cfg.get("model", "structural") == "structural":
        q = {k: v for k, v in p.items() if k != "tau"}
        taus = np.concatenate([np.linspace(1.0, 4.0, 60), [np.inf]])
        path_ = wi.inequality_against_tau(taus, **q)
        for key in ("gini", "theil", "variance_log_wage"):
            ax.plot(taus[:-1], path_[key][:-1] / path_[key][-1], label=f"{key} / closed economy")
        ax.set_xlabel("τ")
        ax.set_ylabel("relative to the closed economy")
        ax.set_title("Wage inequality against openness (001 §10)")
    else:
        wd = wi.wage_distribution(**p)
        w = np.linspace(0.9, 4 * float(wd.lowest_exporter_wage), 600)
        ax.plot(w, np.asarray(wd.cdf(w)))
        ax.set_xlabel("wage w / w_d")
        ax.set_ylabel("G_w(w)")
        ax.set_title("Distribution of wages across workers (001 §10)")
    ax.legend() if ax.get_legend_handles_labels()[0] else None
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args) -> int:
    from ..engine.validation import fail
    from .common import float64_scope

    import tomllib

    model = args.model
    if model is None and getattr(args, "config", None):
        with open(args.config, "rb") as fh:
            model = tomllib.load(fh).get("model", "structural")
    model = model or "structural"
    if model not in ("structural", "reduced"):
        fail("model", model, 'model = "structural" or "reduced"')
    cfg, p = load_config(args, STRUCTURAL if model == "structural" else REDUCED)
    cfg["model"] = model
    with float64_scope(True):
        out = run_config(cfg, p)
        print(table({k: v for k, v in out.items() if k != "parameters"}))
        if getattr(args, "plot", None):
            _plot(cfg, p, args.plot)
    return finish(out, args)


def register(subparsers) -> None:
    """Adds ``wage-inequality [CONFIG.toml] [--model structural|reduced] [--set K=V] [--output] [--plot]``."""
    p = subparsers.add_parser("wage-inequality", help="wage inequality and trade, Helpman-Itskhoki-Redding (001 §10)")
    p.add_argument("config", nargs="?", default=None, help="TOML file: model, [parameters]")
    p.add_argument("--model", choices=("structural", "reduced"), default=None, help="override the config's model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("--output", "-o", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write a PNG here")
    p.set_defaults(func=main)
