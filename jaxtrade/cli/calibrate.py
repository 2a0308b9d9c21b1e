"""``jaxtrade calibrate``: calibrate the sequential-production model to firms' sales (004 §5).

    jaxtrade calibrate SALES.csv --stages 10 --sigma 4 --draws pareto --out result.json [--resume]

``--countries M`` (M > 2: a wage per country, ``wage_2`` … in the JSON) and ``--tree PARENTS`` (a tree
technology, 004 §2.2) calibrate the general model (issue 16 item 6, docs/calibration.md "More countries and trees").

Writes ``result.json`` (``estimates`` keyed ``shape``, ``scale``, ``tau``, ``wage`` (+ ``sunk_cost``),
each with ``value`` and ``std_error``; ``scale`` is held at ``--scale`` and marked not
identified), and ``result.png`` (fitted against data density of log sales). A checkpoint
``result.json.ckpt`` (``result.json.ckpt.start0``, ``.start1``, … for the default multi-start) is written every
``--checkpoint-every`` steps and on Ctrl-C; ``--resume``
continues from it.

A CSV with the header ``sales,offshores`` (``offshores`` 0/1: at least one stage of the firm's chain made
outside the home country 0) switches to the joint likelihood of (sales, offshoring status), which breaks the
wage reflection (``w`` is then not reflected to ``w >= 1``); the JSON's ``data_used`` says what was used
(docs/calibration.md, "Identification from offshoring status"). ``--ignore-offshores`` uses the sales only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .common import parse_tree, save_figure


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the ``calibrate`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser("calibrate", help="calibrate (shape, tau/scale, wage, f_s) to firms' sales by simulated ML (004 §5)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sales", nargs="+", metavar="SALES",
                   help="CSV (one column, header allowed; or two columns with header sales,offshores) or .npy of firms' sales; "
                        "'synthetic:2000' / 'synthetic:2007' for the bundled synthetic data. Two files (periods 0 and 1): both are "
                        "calibrated, then the counterfactual (theta_0, tau_1, w_0) and its decomposition (docs/two_period.md)")
    p.add_argument("--stages", type=int, default=10, help="number of stages N (default 10)")
    p.add_argument("--sigma", type=float, default=4.0, help="elasticity of substitution (default 4)")
    p.add_argument("--draws", default="pareto",
                   help="distribution family of the per-stage draws, a name of jaxtrade.distributions (aliases accepted): pareto (default), "
                        "truncated_pareto, frechet, lognormal, generalized_gamma (gengamma); each a scale family in (shape, scale)")
    p.add_argument("--truncation-ratio", type=float, default=100.0, help="truncated_pareto: upper bound / scale, fixed (default 100)")
    p.add_argument("--gamma-index", type=float, default=2.0,
                   help="generalized_gamma: d/p, fixed (default 2; 1 is the Weibull); shape is p and d = gamma_index * shape")
    p.add_argument("--draws-are", choices=["productivity", "cost"], default=None,
                   help="reading of Table 1: the draws are productivities (default) or costs (jaxtrade.table1)")
    p.add_argument("--draws-as", choices=["productivities", "costs"], default=None, help="alias of --draws-are (earlier spelling)")
    p.add_argument("--wage-reading", choices=["china", "china-inverse", "multiplies", "divides"], default="china",
                   help="w multiplies (china, default) or divides (china-inverse) China's (country 1's) costs; "
                        "multiplies/divides are the earlier spellings (w on country 0: the same distribution, countries relabelled)")
    p.add_argument("--value-dependent", action="store_true", help="ad-valorem (iceberg) unbundling costs instead of additive")
    p.add_argument("--countries", type=int, default=2,
                   help="number of countries M (default 2): home country 0 (wage 1) and countries 1..M-1, each with a wage to estimate "
                        "(JSON: wage, wage_2, ...); trade costs 1 between every pair")
    p.add_argument("--tree", default=None, help="a tree technology (004 §2.2) instead of the chain: each node's parent, -1 for the root, "
                   "e.g. 3,3,4,4,-1 (--stages = nodes; write --tree=-1,0,... when the list starts with the root)")
    p.add_argument("--objective", choices=["kld", "sml", "ks", "cvm"], default="kld")
    p.add_argument("--trim", type=float, default=0.05, help="share of largest firms trimmed in both samples (default 0.05)")
    p.add_argument("--bandwidth", type=float, default=None, help="kernel bandwidth in log sales (default Silverman)")
    p.add_argument("--firms", type=int, default=200_000, help="simulated firms (default 200,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimizer", choices=["newton", "quasi_newton", "bfgs", "lbfgs", "adam", "nelder_mead"], default="quasi_newton",
                   help="quasi_newton (default): trust region with SR1 Hessian updates between finite-difference Hessians (one gradient "
                   "per step); newton: the same trust region with a finite-difference Hessian of the autodiff gradient at every step; "
                   "nelder_mead: derivative-free baseline")
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--start", default=None, help="start values 'shape,scale,tau,wage', then wage_2,... with --countries > 2 "
                   "(default w * 1.25^(k-1)); repeat with ';' for multi-start. Default: a multi-start from Table 1 (2000) and 1.5x and "
                   "0.5x of it in (shape, tau, wages), every run reported in the JSON's optimisation.starts; give one --start for one run")
    p.add_argument("--fixed-wage", type=float, default=None, help="the relative wage w when known from wage data: held fixed, not estimated")
    p.add_argument("--scale", type=float, default=None, help="normalisation of the unidentified scale (default: the start's scale)")
    p.add_argument("--bootstrap", type=int, default=100, help="data bootstrap replicates for standard errors")
    p.add_argument("--sim-replications", type=int, default=8, help="re-simulations for the simulation-noise part of the standard errors")
    p.add_argument("--ignore-offshores", action="store_true", help="calibrate to the sales column only, even when the file has offshores")
    p.add_argument("--offshore-temperature", type=float, default=None,
                   help="kappa of the smooth offshoring status in the joint objective (log cost margin; default min(0.01, 0.01 * (6000/firms)^(1/5)): 0.0079 at the default 200,000 firms, 0.0036 at 1M)")
    p.add_argument("--scales", default=None, help="two periods: the stated scale normalisations 's0,s1' (default: --scale for both)")
    p.add_argument("--normalisations", default=None,
                   help="two periods: comma-separated names from calibration.two_period.NORMALISATIONS (default: every one that applies)")
    p.add_argument("--decompose-firms", type=int, default=400_000, help="two periods: firms per decomposition (default 400,000)")
    p.add_argument("--decompose-draws", type=int, default=30, help="two periods: parametric-bootstrap draws for the standard errors (0: none)")
    p.add_argument("--out", default="result.json")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt (OUT.ckpt.startI per start of a multi-start)")
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--no-plot", action="store_true")
    p.set_defaults(func=run)
    return p


def _load(spec):
    from .. import calibration as cal

    if spec.startswith("synthetic:"):
        return cal.FirmData(cal.synthetic_sales(int(spec.split(":", 1)[1])))
    return cal.load_firms(spec)


def _starts(text, cal, model):
    default = cal.default_start(model)
    if text is None:
        return cal.default_starts(model)
    out = []
    extra = model.n_countries - 2
    for part in text.split(";"):
        vals = [float(v) for v in part.split(",")]
        if len(vals) not in (4, 4 + extra):
            more = "".join(f",wage_{k}" for k in range(2, model.n_countries))
            raise SystemExit(f"--start needs 4 comma-separated values shape,scale,tau,wage{' (or ' + str(4 + extra) + ': ' + more[1:] + ' after them)' if extra else ''}; "
                             f"got {part!r}")
        out.append(cal.Parameters(*vals[:4], extra_wages=tuple(vals[4:]) if len(vals) > 4 else default.extra_wages))
    return out


def _plot(path, grid, data, fitted, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, data, label="data (trimmed, smoothed)")
    ax.plot(grid, fitted, "--", label="model (fitted)")
    ax.set_xlabel("log sales")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def run(args) -> int:
    if len(args.sales) == 1:
        return _run_one(args, args.sales[0], args.out, args.scale)[1]
    if len(args.sales) != 2:
        raise SystemExit(f"calibrate takes one sales file, or two (periods 0 and 1); got {len(args.sales)}")
    if args.resume:
        raise SystemExit("--resume applies to one period: rerun each period with its own --out, then both")
    from ..calibration.two_period import two_period
    from . import two_period as face

    if args.scales is not None:
        try:
            scales = [float(v) for v in args.scales.split(",")]
        except ValueError:
            scales = []
        if len(scales) != 2 or not all(v > 0 for v in scales):
            raise SystemExit(f"--scales needs two positive comma-separated values s0,s1; got {args.scales!r}")
    else:
        scales = [args.scale, args.scale]
    out = Path(args.out)
    results = []
    for t, (src, sc) in enumerate(zip(args.sales, scales)):
        res, code = _run_one(args, src, str(out.with_name(f"{out.stem}.period{t}{out.suffix or '.json'}")), sc)
        if res is None or code != 0:
            print(f"period {t} ({src}) did not finish (exit {code}): no counterfactual", file=sys.stderr)
            return code or 1
        results.append(res)
    from tqdm import tqdm

    names = None if args.normalisations is None else tuple(v.strip() for v in args.normalisations.split(","))
    bar = tqdm(desc="counterfactual", unit="decomposition", file=sys.stderr)

    def progress(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        tp = two_period(results[0], results[1], normalisations=names, n_firms=args.decompose_firms, draws=args.decompose_draws,
                        seed=args.seed, progress=progress)
    finally:
        bar.close()
    face.write(out, tp, sources=args.sales, no_plot=args.no_plot)
    print(f"wrote {out}")
    return 0


def _run_one(args, source, out, scale):
    """One period: calibrate ``source``, write ``out`` (+ PNG), print the estimates. Returns (result or None, exit code)."""
    from tqdm import tqdm

    from .. import calibration as cal

    firms = _load(source)
    sales = firms.sales
    offshores = None if args.ignore_offshores else firms.offshores
    kappa = {} if args.offshore_temperature is None else {"offshore_temperature": args.offshore_temperature}
    model = cal.CalibrationModel(n_stages=args.stages, sigma=args.sigma, draws=args.draws, draws_are=args.draws_are, draws_as=args.draws_as,
                                 wage_reading=args.wage_reading, value_dependent=args.value_dependent, truncation_ratio=args.truncation_ratio,
                                 gamma_index=args.gamma_index, n_countries=args.countries,
                                 tree=None if args.tree is None else parse_tree(args.tree))
    starts = _starts(args.start, cal, model)
    scale = scale if scale is not None else starts[0].scale
    problem = cal.make_problem(sales, model, n_sim=args.firms, seed=args.seed, kind=args.objective, trim=args.trim, bandwidth=args.bandwidth,
                               offshores=offshores, **kappa)
    out = Path(out)
    ckpt = str(out) + ".ckpt"
    ckpt_shown = ckpt if len(starts) == 1 else f"{ckpt}.start0 ... .start{len(starts) - 1}"
    bar = tqdm(total=args.max_steps * len(starts), desc="calibrate", unit="step", file=sys.stderr)

    def callback(rec):
        bar.update(1)
        post = {"objective": f"{rec['objective']:.3e}"}
        if rec["grad_norm"] is not None:
            post["grad"] = f"{rec['grad_norm']:.1e}"
        bar.set_postfix(**post)

    try:
        res = cal.calibrate(None, model, start=starts, scale=scale, problem=problem, optimizer=args.optimizer, max_steps=args.max_steps,
                            bootstrap=args.bootstrap, sim_replications=args.sim_replications, checkpoint=ckpt,
                            checkpoint_every=args.checkpoint_every, resume=args.resume, callback=callback, fixed_wage=args.fixed_wage)
    finally:
        bar.close()
    if res.optimisation.status == "interrupted":
        print(f"interrupted at step {res.optimisation.num_steps}; state saved to {ckpt_shown}; continue with --resume", file=sys.stderr)
        return None, 130
    js = res.to_json()
    js["data"] = {"source": source, "n": int(sales.size), "columns": ["sales"] + (["offshores"] if firms.offshores is not None else []),
                  "offshores_used": offshores is not None}
    if not args.no_plot:
        png = out.with_suffix(".png")
        grid, g, f = cal.fitted_and_data_log_sales(res, problem)
        _plot(png, grid, g, f, f"{args.objective} = {res.optimisation.value:.3e}")
        js["plot"] = str(png)
    tmp = str(out) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(js, fh, indent=2)
    os.replace(tmp, out)
    est = js["estimates"]
    for k in ("shape", "scale", "tau", "wage", "sunk_cost", *[f"wage_{c}" for c in range(2, model.n_countries)]):
        e = est[k]
        se = ("not identified (normalisation)" if not e["identified"] else "held fixed" if e.get("fixed") else
              f"s.e. {e['std_error']:.4g}" if e["std_error"] is not None else "s.e. unbounded (weakly identified)" if e.get("weakly_identified") else "s.e. n/a")
        print(f"{k:>10s} = {e['value']:.5g}  ({se})")
    opt = res.optimisation
    print(f"objective {args.objective} = {opt.value:.4e}; result {opt.status}; steps {opt.num_steps}; wrote {out}")
    if opt.status not in ("converged", "max_steps", "stalled"):
        print(f"the optimiser stopped: {opt.message} The estimates are the last point with a finite objective; its state is in {ckpt_shown}.",
              file=sys.stderr)
        return res, 1
    return res, 0

