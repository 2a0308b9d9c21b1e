"""``jaxtrade run``: the main job, with its built-in defaults.

The paper's worked examples (Tyazhelnikov 004, Propositions 4 and 7), then the decomposition of the
gains from lower offshoring costs at the Table 1 defaults (:func:`jaxtrade.cli.decompose.run_default`;
1,000,000 simulated firms; table on screen, JSON and PNG in ``--out-dir``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.production import solve_chain
from .common import count
from .decompose import run_default

PROPOSITION_4 = dict(costs=[[4, 4, 4, 4, 4], [10, 2, 5, 2, 10]], trade_costs=[[0, 1], [1, 0]])


def register(subparsers):
    """Adds the ``run`` subcommand."""
    run = subparsers.add_parser("run", help="the main job: the paper's examples and the decomposition of gains from trade (Table 1 defaults)")
    run.add_argument("--out-dir", default="results", help="where JSON and PNG outputs go (default ./results)")
    run.add_argument("--firms", type=count, default=1_000_000, help="simulated firms (default 1_000_000)")
    run.add_argument("--quick", action="store_true", help="only the default reading of Table 1")
    run.set_defaults(func=main_job)
    return run


def main_job(args) -> int:
    """The main job: the paper's worked examples, then the default pipeline."""
    import jax

    print(f"jaxtrade run — jax {jax.__version__} on {jax.devices()[0].platform}\n")
    print("Tyazhelnikov (2016) Proposition 4 (re-shoring): a1 = (4,4,4,4,4), a2 = (10,2,5,2,10), T = 1 off-diagonal")
    costs = np.asarray(PROPOSITION_4["costs"], float).T
    T = np.asarray(PROPOSITION_4["trade_costs"], float)
    for tau in (2.0, 1.0, 0.25):
        s = solve_chain(costs, T, tau)
        print(f"  τ = {tau:<5} path {(np.asarray(s.path) + 1).tolist()}  MC = {float(s.cost):.4g} (NTMC {float(s.production_cost):.4g}, TTMC {float(s.trade_cost):.4g})")
    print("Proposition 7 (a third country gains from a bilateral FTA):")
    a = np.array([[2, 8, 8], [7, 5, 8], [2, 8, 2]], float)
    T0 = np.array([[0, 2, 2], [2, 0, 0.5], [2, 0.5, 0]])
    T1 = T0.copy()
    T1[0, 1] = T1[1, 0] = 1.0
    for name, TT in (("before", T0), ("after τ12 = 1", T1)):
        print(f"  {name:<14} path {(np.asarray(solve_chain(a, TT, 1.0).path) + 1).tolist()}")
    print()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return run_default(out, firms=args.firms, all_readings=not args.quick)
