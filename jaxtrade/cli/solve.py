"""``jaxtrade solve``: one firm's sequential-production problem, stage by stage (Tyazhelnikov 004 §2).

Example::

    jaxtrade solve --costs "4,4,4,4,4;10,2,5,2,10" --tau 1
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..engine.production import solve_chain
from ..engine.validation import fail
from .common import parse_floats, parse_matrix


def register(subparsers):
    """Adds the ``solve`` subcommand."""
    solve = subparsers.add_parser("solve", help="one firm's sequential-production problem, stage by stage (004 §2)")
    solve.add_argument("--config", help="TOML or JSON file with costs (one row per country), trade_costs, tau, wages, destination_costs, value_dependent")
    solve.add_argument("--costs", help="production costs, one row per country: '4,4,4,4,4;10,2,5,2,10'")
    solve.add_argument("--trade-costs", dest="trade_costs", help="T as rows 'a,b;c,d' (default 1 off the diagonal)")
    solve.add_argument("--tau", help="τ: a number, or N-1 comma-separated numbers (default 1)")
    solve.add_argument("--wages", help="comma-separated wages, one per country")
    solve.add_argument("--destination-costs", dest="destination_costs", help="τ^F T^F as rows per country, one column per destination")
    solve.add_argument("--value-dependent", action="store_true", help="iceberg / ad-valorem trade costs (eq. 7-8)")
    solve.add_argument("--json", help="also write the solution as JSON here")
    solve.set_defaults(func=run)
    return solve


def _solve_config(args) -> dict:
    cfg = {}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            fail("config", str(path), "the file must exist")
        if path.suffix == ".json":
            cfg = json.loads(path.read_text())
        else:
            import tomllib

            cfg = tomllib.loads(path.read_text())
    for key in ("costs", "trade_costs", "tau", "wages", "destination_costs"):
        val = getattr(args, key)
        if val is not None:
            cfg[key] = parse_matrix(val, "--" + key.replace("_", "-")) if key in ("costs", "trade_costs", "destination_costs") else parse_floats(val, "--" + key)
    if args.value_dependent:
        cfg["value_dependent"] = True
    if "costs" not in cfg:
        fail("--costs", None, "give the production costs (one row per country, e.g. '4,4,4,4,4;10,2,5,2,10') or --config")
    return cfg


def run(args) -> int:
    """The ``solve`` subcommand: prints the optimal path and the cost decomposition."""
    cfg = _solve_config(args)
    costs = np.asarray(cfg["costs"], dtype=np.float64).T  # rows per country -> (stages, countries)
    n, m = costs.shape
    T = np.asarray(cfg.get("trade_costs", 1.0 - np.eye(m)), dtype=np.float64)
    tau = np.asarray(cfg.get("tau", 1.0), dtype=np.float64)
    tau = tau.reshape(()) if tau.size == 1 else tau
    wages = cfg.get("wages")
    dest = cfg.get("destination_costs")
    sol = solve_chain(costs, T, tau, wages=None if wages is None else np.asarray(wages, float), value_dependent=bool(cfg.get("value_dependent", False)), destination_costs=None if dest is None else np.asarray(dest, float))
    dests = [None] if dest is None else list(range(np.asarray(dest).shape[1]))
    out = []
    for d in dests:
        pick = (lambda x: x) if d is None else (lambda x, d=d: x[..., d])
        path = np.asarray(sol.path if d is None else sol.path[:, d])
        print(("" if d is None else f"destination {d + 1}: ") + "stage  country  cost")
        for i, c in enumerate(path):
            print(f"{i + 1:>5}  {c + 1:>7}  {costs[i, c] * (1 if wages is None else wages[c]):.6g}")
        rec = {k: np.asarray(pick(getattr(sol, k))).tolist() for k in ("cost", "production_cost", "trade_cost", "crossings", "transport_quantity", "labour")}
        rec["path"] = (path + 1).tolist()
        print(f"MC = {rec['cost']:.6g}  (production NTMC {rec['production_cost']:.6g} + trade TTMC {rec['trade_cost']:.6g}); "
              f"{rec['crossings']} border crossing(s); countries used {sorted(set(rec['path']))}")
        out.append(rec)
    if args.json:
        Path(args.json).write_text(json.dumps(out if dest is not None else out[0], indent=2))
    return 0
