"""``jaxtrade decompose``: the decomposition of the gains from trade of 004 §5.3-5.4 (Table 1).

Defaults are the paper's Table 1, 2000 → 2007: τ 0.49 → 0.45, σ = 4, ζ = 0.5, N = 10 stages, two
countries (0 = rest of the world, 1 = China), Pareto draws with shape 0.42 and scale 0.13 and the
2000 relative wage w = 1.18 (steps 6-7 hold θ and w at their 2000 values; only τ moves).

The paper does not say how to read "shape", "scale" and w; the reading is an option:

- ``--draws-are cost`` (default): the stage cost is ``a ~ Pareto(shape, scale)`` (``a ≥ scale``,
  ``G(a) = 1 − (scale/a)^shape``); ``--draws-are productivity``: the productivity is
  ``z ~ Pareto(shape, scale)`` and the cost ``a = 1/z`` (``a ≤ 1/scale``).
- ``--wage-reading china`` (default): §5.3's ``F_C = w F_W`` read as China's production costs
  being ``w`` times the rest of the world's: wages ``(1, w)``; ``china-inverse``: w is the rest of
  the world's wage relative to China's, China's costs are ``1/w`` times the rest of the world's:
  wages ``(1, 1/w)``; ``none``: ``w`` ignored, wages ``(1, 1)``. (Multiplying the rest of the
  world's costs by ``w`` instead, wages ``(w, 1)``, is the ``china`` reading with the countries
  relabelled: the draws are i.i.d. and identical across countries and ``T`` is symmetric, so it
  gives the same distribution of MC and is not a separate reading.)
- ``T`` is 1 off the diagonal (additive offshoring costs ``τ T``, eq. 1).

The technology is any the firm's problem takes: ``--tree`` (a parent list, 004 §2.2), ``--value-dependent``
(eq. 7-9) and ``--destination-costs`` (``τ^F T^F``, an ``(M, D)`` matrix ``"a,b;c,d"``, one row per country,
one column per destination market, §3.3). With destinations every result is per destination: one table row,
one JSON list entry and one bar per (reading, destination).

Example::

    jaxtrade decompose --firms 2_000_000 --draws-are productivity --wage-reading china-inverse --out-dir results
    jaxtrade decompose --all-readings --firms 1_000_000
    jaxtrade decompose --tree 2,2,-1 --stages 3 --value-dependent --destination-costs "0,0.6;0.4,0" --firms 200_000

``jaxtrade run`` calls :func:`run_default` (the Table 1 decomposition under every reading).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from ..engine.validation import fail
from .common import count, float64_scope, parse_matrix, parse_tree
from ..models.table1 import DRAW_READINGS, PAPER_FRAGMENTATION_SHARE, TABLE_1, WAGE_READINGS, table1_model


DEFAULTS = dict(tau0=TABLE_1[2000]["tau"], tau1=TABLE_1[2007]["tau"], sigma=TABLE_1[2000]["sigma"], zeta=TABLE_1[2000]["zeta"],
                stages=10, shape=TABLE_1[2000]["shape"], scale=TABLE_1[2000]["scale"], wage=TABLE_1[2000]["wage"],
                firms=1_000_000, seed=0, batches=32, chunk_size=None, dtype="float32", f_s=None, income=None,
                tree=None, value_dependent=False, destination_costs=None)


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the ``decompose`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "decompose",
        help="decompose the gains from lower offshoring costs into direct and fragmentation effects (004 §5.3)",
        description="Tyazhelnikov (2016) §5.3 steps 6-8 with the Table 1 defaults (2000 -> 2007). "
        "Prints total and direct log changes of the aggregate cost, the fragmentation share and the welfare "
        "change with Monte Carlo standard errors; writes JSON and PNG.",
    )
    p.add_argument("--tau0", type=float, default=DEFAULTS["tau0"], help="τ before (default 0.49, Table 1, 2000)")
    p.add_argument("--tau1", type=float, default=DEFAULTS["tau1"], help="τ after (default 0.45, Table 1, 2007)")
    p.add_argument("--sigma", type=float, default=DEFAULTS["sigma"])
    p.add_argument("--zeta", type=float, default=DEFAULTS["zeta"])
    p.add_argument("--stages", type=int, default=DEFAULTS["stages"], help="N (default 10, §5.4)")
    p.add_argument("--shape", type=float, default=DEFAULTS["shape"])
    p.add_argument("--scale", type=float, default=DEFAULTS["scale"])
    p.add_argument("--wage", type=float, default=DEFAULTS["wage"], help="relative wage w (default 1.18, 2000)")
    p.add_argument("--draws-are", choices=DRAW_READINGS, default="cost", help="Pareto(shape, scale) describes costs or productivities (a = 1/z)")
    p.add_argument("--wage-reading", choices=WAGE_READINGS, default="china", help="w multiplies China's costs (wages 1, w), divides them (1, 1/w), or is ignored")
    p.add_argument("--all-readings", action="store_true", help="run every (draws-are × wage-reading) combination")
    p.add_argument("--firms", type=count, default=DEFAULTS["firms"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batches", type=int, default=32, help="batches for the batch-means standard errors")
    p.add_argument("--chunk-size", type=count, default=None)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--f-s", type=float, default=None, help="sunk entry cost f_s (with --income: welfare levels)")
    p.add_argument("--income", type=float, default=None, help="income E (with --f-s: d ln W)")
    p.add_argument("--tree", default=None, help="a tree technology (004 §2.2): each node's parent, -1 for the root, e.g. 3,3,4,4,-1 (--stages = nodes; write --tree=-1,0,... when the list starts with the root)")
    p.add_argument("--value-dependent", action="store_true", help="ad-valorem unbundling costs (eq. 7-9) instead of additive")
    p.add_argument("--destination-costs", default=None,
                   help="final shipment costs τ^F T^F (§3.3) as rows 'a,b;c,d': one row per country (rest of the world, China), "
                   "one column per destination market; results are then per destination")
    p.add_argument("--out-dir", default="results", help="directory for decompose.json and decompose.png")
    p.set_defaults(func=run)
    return p


def _destination_costs(text, countries: int = 2):
    """``--destination-costs`` → an ``(M, D)`` array; a clear error for the wrong number of rows."""
    if text is None:
        return None
    dest = parse_matrix(text, "--destination-costs")
    if dest.shape[0] != countries:
        fail("--destination-costs", text, f"{countries} rows, one per country (rest of the world; China), each with one "
             f"entry per destination market, e.g. '0,0.6;0.4,0'; got {dest.shape[0]} row(s)")
    return dest


def _model(args, draws_are, wage_reading):
    from ..engine.simulate import SequentialModel

    tree = None if args.tree is None else parse_tree(args.tree)
    model = table1_model(shape=args.shape, scale=args.scale, tau=args.tau0, wage=args.wage, stages=args.stages, draws_are=draws_are,
                         wage_reading=wage_reading, tree=tree, value_dependent=bool(args.value_dependent))
    dest = _destination_costs(args.destination_costs, model.countries)
    if dest is None:
        return model
    return SequentialModel(model.stages, model.trade_costs, model.tau, model.draws, draws_are=model.draws_are, wages=model.wages,
                           tree=model.tree, value_dependent=model.value_dependent, destination_costs=dest)


def _decompose_one(args, draws_are, wage_reading):
    import jax.numpy as jnp

    from ..models.decomposition import decompose

    model = _model(args, draws_are, wage_reading)
    t0 = time.perf_counter()
    with float64_scope(args.dtype == "float64"):
        dtype = jnp.float64 if args.dtype == "float64" else jnp.float32
        res = decompose(model, args.tau1, n_firms=args.firms, seed=args.seed, sigma=args.sigma, zeta=args.zeta, f_s=args.f_s, income=args.income, n_batches=args.batches, chunk_size=args.chunk_size, dtype=dtype)
        out = res.summary()
    out.update(draws_are=draws_are, wage_reading=wage_reading, destinations=model.destinations, seconds=time.perf_counter() - t0)
    return out


#: Fields of a result that are scalars, never per destination.
_SCALAR_FIELDS = ("tau", "tau_new", "sigma", "n_firms", "n_batches", "draws_are", "wage_reading", "destinations", "seconds")


def _per_destination(rows):
    """One row per (reading, destination): with destinations the per-destination lists of a result are split
    into rows with a ``destination`` index; without them the rows are returned as they are."""
    out = []
    for r in rows:
        d = r.get("destinations")
        if d is None:
            out.append(dict(r, destination=None))
            continue
        for j in range(d):
            out.append({k: (v if k in _SCALAR_FIELDS or not isinstance(v, list) else v[j]) for k, v in r.items()} | {"destination": j})
    return out


def _label(r, sep=" / "):
    lab = r["draws_are"] + sep + "w:" + r["wage_reading"]
    return lab if r.get("destination") is None else lab + sep + f"d{r['destination']}"


def _num(x, spec, scale=1.0):
    return "n/a" if x is None else format(scale * x, spec)


def _table(rows) -> str:
    rows = _per_destination(rows)
    head = f"{'reading':<34}{'total dlnMC':>22}{'direct dlnMC':>22}{'fragmentation':>20}{'dln(W-E)':>20}{'switch':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{_label(r):<34}"
            f"{_num(r['total_log_change'], '>12.6f')} ±{_num(r['total_log_change_se'], '<9.1e')}"
            f"{_num(r['direct_log_change'], '>12.6f')} ±{_num(r['direct_log_change_se'], '<9.1e')}"
            f"{_num(r['fragmentation_share'], '>10.2f', 100)}% ±{_num(r['fragmentation_share_se'], '<6.2f', 100)}"
            f"{_num(r['consumer_surplus_log_change'], '>11.5f')} ±{_num(r['consumer_surplus_log_change_se'], '<7.1e')}"
            f"{_num(r['share_switching'], '>7.2f', 100)}%"
        )
    if any(r.get("destination") is not None for r in rows):
        lines.append("dN: destination market N (a column of --destination-costs); each market's M̃C from every firm's best path to it")
    lines.append(f"paper (Table 1, §5.4): fragmentation share {100 * PAPER_FRAGMENTATION_SHARE:.1f}%, direct {100 * (1 - PAPER_FRAGMENTATION_SHARE):.1f}%")
    return "\n".join(lines)


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _per_destination(rows)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    labels = [_label(r, "\n") for r in rows]
    x = np.arange(len(rows))
    tot = np.array([-r["total_log_change"] for r in rows])
    dire = np.array([-r["direct_log_change"] for r in rows])
    axes[0].bar(x, dire, label="direct (paths fixed)")
    axes[0].bar(x, tot - dire, bottom=dire, label="fragmentation (paths re-optimised)")
    axes[0].errorbar(x, tot, yerr=[r["total_log_change_se"] for r in rows], fmt="none", color="k", capsize=3)
    axes[0].set_xticks(x, labels, fontsize=7, rotation=20)
    axes[0].set_ylabel("−d ln M̃C")
    axes[0].set_title(f"fall in the aggregate cost, τ {np.mean(rows[0]['tau']):.2f} → {np.mean(rows[0]['tau_new']):.2f}")
    axes[0].legend(fontsize=8)
    nan = lambda v: np.nan if v is None else v  # noqa: E731
    share = np.array([nan(r["fragmentation_share"]) for r in rows])
    axes[1].bar(x, 100 * share, yerr=[100 * nan(r["fragmentation_share_se"]) for r in rows], capsize=3)
    axes[1].axhline(100 * PAPER_FRAGMENTATION_SHARE, color="r", ls="--", label="paper: 24.6%")
    axes[1].set_xticks(x, labels, fontsize=7, rotation=20)
    axes[1].set_ylabel("fragmentation share, %")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def decompose_table1(out_dir, readings, params: dict) -> int:
    """Decomposes the Table 1 change under each ``(draws_are, wage_reading)`` of ``readings``;
    prints the table and writes ``decompose.json`` and ``decompose.png`` to ``out_dir``."""
    import jax

    args = argparse.Namespace(**params)
    rows = [_decompose_one(args, a, w) for a, w in readings]
    print(_table(rows))
    os.makedirs(out_dir, exist_ok=True)
    meta = dict(
        command="decompose",
        paper="Tyazhelnikov (2016) §5.3 steps 6-8, Table 1",
        parameters={k: params[k] for k in DEFAULTS},
        paper_fragmentation_share=PAPER_FRAGMENTATION_SHARE,
        device=str(jax.devices()[0]),
        jax_version=jax.__version__,
        python=platform.python_version(),
    )
    json_path = os.path.join(out_dir, "decompose.json")
    with open(json_path, "w") as f:
        json.dump(dict(meta, results=rows), f, indent=2)
    png_path = os.path.join(out_dir, "decompose.png")
    _plot(rows, png_path)
    print(f"wrote {json_path} and {png_path}")
    return 0


def run(args) -> int:
    """The ``decompose`` subcommand."""
    readings = [(a, w) for a in DRAW_READINGS for w in WAGE_READINGS] if args.all_readings else [(args.draws_are, args.wage_reading)]
    return decompose_table1(args.out_dir, readings, {k: getattr(args, k) for k in DEFAULTS})


def run_default(out_dir, *, firms: int = 1_000_000, all_readings: bool = True) -> int:
    """The default pipeline of ``jaxtrade run``: the Table 1 decomposition under every reading
    (or only the default one)."""
    readings = [(a, w) for a in DRAW_READINGS for w in WAGE_READINGS] if all_readings else [("cost", "china")]
    return decompose_table1(out_dir, readings, dict(DEFAULTS, firms=int(firms)))
