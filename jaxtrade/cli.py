"""The ``jaxtrade`` command line.

Subcommands: ``run`` (the main job), ``solve`` (one firm's problem), and the faces of the models:
``simulate``, ``decompose``, ``calibrate``, ``melitz``. Each face module registers its own parser.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np

from ._validation import JaxtradeInputError, fail

# Face modules that add a subcommand with `register(subparsers)`.
def float64_scope(float64: bool):
    """Float64 for one command's computation (``jax.enable_x64`` as a context manager), restored
    afterwards: the library never flips ``jax_enable_x64`` globally, on import or otherwise."""
    import contextlib

    import jax

    return jax.enable_x64(True) if float64 else contextlib.nullcontext()


_FACES = ("_cli_simulate", "_cli_decompose", "_cli_calibrate", "_cli_melitz")

PROPOSITION_4 = dict(costs=[[4, 4, 4, 4, 4], [10, 2, 5, 2, 10]], trade_costs=[[0, 1], [1, 0]])


def _matrix(text, name):
    try:
        rows = [[float(x) for x in r.split(",") if x.strip()] for r in text.split(";") if r.strip()]
    except ValueError:
        fail(name, text, "rows separated by ';' of comma-separated numbers, e.g. '4,4,4;10,2,5'")
    if not rows or len({len(r) for r in rows}) != 1:
        fail(name, text, "rows separated by ';' with the same number of comma-separated entries")
    return np.asarray(rows, dtype=np.float64)


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
            cfg[key] = _matrix(val, "--" + key.replace("_", "-")) if key in ("costs", "trade_costs", "destination_costs") else [float(x) for x in val.split(",")]
    if args.value_dependent:
        cfg["value_dependent"] = True
    if "costs" not in cfg:
        fail("--costs", None, "give the production costs (one row per country, e.g. '4,4,4,4,4;10,2,5,2,10') or --config")
    return cfg


def cmd_solve(args) -> int:
    from ._production import solve_chain

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


def cmd_run(args) -> int:
    """The main job: the paper's worked examples, then the default pipeline."""
    import jax

    print(f"jaxtrade run — jax {jax.__version__} on {jax.devices()[0].platform}\n")
    print("Tyazhelnikov (2016) Proposition 4 (re-shoring): a1 = (4,4,4,4,4), a2 = (10,2,5,2,10), T = 1 off-diagonal")
    from ._production import solve_chain

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
    try:
        from ._cli_decompose import run_default
    except ImportError:  # pragma: no cover - the decomposition face is part of the package
        run_default = None
    if run_default is not None:
        return run_default(out, firms=args.firms, all_readings=not args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxtrade", description="Heterogeneous-firm models of trade and offshoring in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the main job: the paper's examples and the decomposition of gains from trade (Table 1 defaults)")
    run.add_argument("--out-dir", default="results", help="where JSON and PNG outputs go (default ./results)")
    run.add_argument("--firms", type=lambda s: int(s.replace("_", "")), default=1_000_000, help="simulated firms (default 1_000_000)")
    run.add_argument("--quick", action="store_true", help="only the default reading of Table 1")
    run.set_defaults(func=cmd_run)
    solve = sub.add_parser("solve", help="one firm's sequential-production problem, stage by stage (004 §2)")
    solve.add_argument("--config", help="TOML or JSON file with costs (one row per country), trade_costs, tau, wages, destination_costs, value_dependent")
    solve.add_argument("--costs", help="production costs, one row per country: '4,4,4,4,4;10,2,5,2,10'")
    solve.add_argument("--trade-costs", dest="trade_costs", help="T as rows 'a,b;c,d' (default 1 off the diagonal)")
    solve.add_argument("--tau", help="τ: a number, or N-1 comma-separated numbers (default 1)")
    solve.add_argument("--wages", help="comma-separated wages, one per country")
    solve.add_argument("--destination-costs", dest="destination_costs", help="τ^F T^F as rows per country, one column per destination")
    solve.add_argument("--value-dependent", action="store_true", help="iceberg / ad-valorem trade costs (eq. 7-8)")
    solve.add_argument("--json", help="also write the solution as JSON here")
    solve.set_defaults(func=cmd_solve)
    for name in _FACES:
        importlib.import_module(f"jaxtrade.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except JaxtradeInputError as err:
        print(f"jaxtrade {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxtrade {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
