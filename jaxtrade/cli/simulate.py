"""``jaxtrade simulate``: the Monte Carlo of 004 §4.2 from the command line.

Example::

    jaxtrade simulate --firms 10_000_000 --stages 10 --countries 2 \\
        --draws pareto:shape=0.42,scale=0.13 --tau 0.45 --wages 1,1.18 --sigma 4 \\
        --out results.json --plot results.png
    jaxtrade simulate --firms 1_000_000 --tree 2,2,-1 --stages 3 --draws pareto:shape=2,scale=0.5 \\
        --tau 0.3,0.2 --value-dependent --destination-costs "0,0.6;0.4,0" --sigma 4

A tree is a parent list (``--tree``, 004 §2.2, ``--stages`` = its nodes); ``--value-dependent`` makes the
unbundling (and final shipment) costs iceberg / ad valorem (eq. 7-9); ``--destination-costs`` is
``τ^F T^F`` (§3.3), one row per country and one column per destination market: every statistic of the
summary then has a trailing destination axis and ``--plot`` draws one density per destination.

Float64 with ``--dtype float64`` (inside :func:`jaxtrade.cli.common.float64_scope`). Non-finite firms
are counted in the summary's ``n_nonfinite`` and reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from ..engine.distributions import FAMILIES
from ..engine.validation import fail
from .common import count, float64_scope, parse_distribution, parse_floats, parse_matrix, parse_tree

def register(subparsers) -> argparse.ArgumentParser:
    """Adds the ``simulate`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "simulate",
        help="Monte Carlo of many firms: draws, sequential production, summary of marginal costs",
        description="Simulates firms that draw stage costs and solve the sequential-production problem "
        "(Tyazhelnikov 2016, §4.2); writes the summary of the distribution of marginal costs as JSON.",
    )
    p.add_argument("--firms", type=count, required=True, help="number of firms (10_000_000 is fine)")
    p.add_argument("--stages", type=int, required=True, help="N, stages of the chain")
    p.add_argument("--countries", type=int, default=2, help="M, countries (default 2)")
    p.add_argument(
        "--draws",
        required=True,
        help="distribution of the draws, e.g. pareto:shape=0.42,scale=0.13; one for all countries or one per "
        "country separated by ';' (families: " + ", ".join(FAMILIES) + ")",
    )
    p.add_argument("--draws-are", choices=("cost", "productivity"), default="cost")
    p.add_argument("--tau", required=True, help="τ: a number or N-1 comma-separated numbers")
    p.add_argument("--trade-costs", default=None, help="T as rows 'a,b;c,d' (default: 1 off the diagonal)")
    p.add_argument("--wages", default=None, help="comma-separated wages, one per country (default 1)")
    p.add_argument("--value-dependent", action="store_true", help="iceberg / ad-valorem trade costs (eq. 7-8)")
    p.add_argument("--tree", default=None, help="a tree technology (004 §2.2): each node's parent, -1 for the root, e.g. 3,3,4,4,-1 (--stages = nodes; write --tree=-1,0,... when the list starts with the root)")
    p.add_argument("--destination-costs", default=None, help="final shipment costs τ^F T^F as rows per country, one column per destination")
    p.add_argument("--sigma", type=float, default=None, help="CES elasticity σ: adds the power mean of MC")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-size", type=count, default=None, help="firms per kernel call (multiple of 65536 × devices)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--uniform-bits", type=int, choices=(16, 23), default=16)
    p.add_argument("--bins", type=int, default=2048, help="histogram bins of log MC")
    p.add_argument("--no-paths", action="store_true", help="only the MC distribution (skip path statistics; faster)")
    p.add_argument("--save-costs", default=None, help="write every firm's MC to this .npy file (needs memory)")
    p.add_argument("--out", default=None, help="JSON output file (default: print to stdout)")
    p.add_argument("--plot", default=None, help="PNG of the density of log MC")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _build_model(args):
    from ..engine.simulate import SequentialModel

    m = args.countries
    specs = [s for s in args.draws.split(";") if s.strip()]
    draws = [parse_distribution(s) for s in specs]
    if len(draws) not in (1, m):
        fail("--draws", args.draws, f"one distribution, or one per country (M = {m})")
    draws = draws[0] if len(draws) == 1 else tuple(draws)
    trade = parse_matrix(args.trade_costs, "--trade-costs") if args.trade_costs else 1.0 - np.eye(m)
    tau = parse_floats(args.tau, "--tau")
    tau = tau[0] if len(tau) == 1 else np.asarray(tau)
    wages = None if args.wages is None else np.asarray(parse_floats(args.wages, "--wages"))
    tree = None if args.tree is None else parse_tree(args.tree)
    dest = None if args.destination_costs is None else parse_matrix(args.destination_costs, "--destination-costs")
    return SequentialModel(args.stages, trade, tau, draws, draws_are=args.draws_are, wages=wages, value_dependent=args.value_dependent,
                           tree=tree, destination_costs=dest)


def _plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.asarray(summary.log_cost_edges)
    counts = np.asarray(summary.log_cost_counts)[1:-1]
    width = np.diff(edges)
    counts = counts[:, None] if counts.ndim == 1 else counts  # (B, D): one density per destination market
    fig, ax = plt.subplots(figsize=(6, 4))
    for d in range(counts.shape[1]):
        ax.stairs(counts[:, d] / max(1, summary.n_firms) / width, edges, label=None if counts.shape[1] == 1 else f"destination {d}")
    if counts.shape[1] > 1:
        ax.legend(fontsize=8)
    ax.set_xlabel("log marginal cost, log MC")
    ax.set_ylabel("density")
    ax.set_title(f"{summary.n_firms:,} firms")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> int:
    """Runs the ``simulate`` subcommand; returns the exit status."""
    import jax
    import jax.numpy as jnp

    from ..engine.simulate import simulate

    with float64_scope(args.dtype == "float64"):
        model = _build_model(args)
        bar = None
        if not args.no_progress:
            from tqdm import tqdm

            bar = tqdm(total=args.firms, unit="firm", unit_scale=True, desc="simulate", file=sys.stderr)
        t0 = time.perf_counter()
        res = simulate(
            model,
            args.firms,
            seed=args.seed,
            chunk_size=args.chunk_size,
            keep=args.save_costs is not None,
            sigma=args.sigma,
            dtype=jnp.dtype(args.dtype),
            uniform_bits=args.uniform_bits,
            bins=args.bins,
            paths=not args.no_paths,
            progress=None if bar is None else bar.update,
        )
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        out = {
            "command": "simulate",
            "arguments": {k: v for k, v in vars(args).items() if k != "func"},
            "summary": res.summary.to_dict(),
            "run": {
                "seconds": seconds,
                "firms_per_second": args.firms / seconds,
                "chunk_size": res.chunk_size,
                "n_chunks": res.n_chunks,
                "n_devices": res.n_devices,
                "device": str(jax.devices()[0].device_kind),
                "platform": jax.devices()[0].platform,
                "jax": jax.__version__,
                "python": platform.python_version(),
                "dtype": res.dtype,
                "uniform_bits": res.uniform_bits,
            },
        }
        if args.save_costs:
            np.save(args.save_costs, np.asarray(res.cost))
        text = json.dumps(out, indent=2)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        else:
            print(text)
        if args.plot:
            _plot(res.summary, args.plot)
        return 0

