"""``jaxtrade market_penetration simulate|estimate``: the EKK (2011) model with Arkolakis (2010)
marketing costs (001 §6.4) from the command line.

Examples::

    jaxtrade market_penetration simulate --firms 1_000_000 --entry-share 0.6,0.3,0.12 \\
        --mean-sales 10,5,4 --set theta_tilde=2.46 --save-sales sales.npy --output sim.json --plot sim.png
    jaxtrade market_penetration estimate sales.npy --n-sim 50_000 --output est.json --plot est.png

``simulate`` writes firm-by-destination sales (``--save-sales``, ``.npy`` or ``.csv``; rows are potential
firms, 0 = no sale), a JSON summary (entry shares and mean sales of sellers per market, against the
``markets`` it conditions on) and a PNG (entry against market size; sales relative to the market's mean
per market). ``estimate`` reads such a matrix, conditions on its markets (``Markets.from_sales``) and runs
the gradient SMM of :func:`jaxtrade.calibration.smm.estimate` (progress bar per L-BFGS step); JSON with
the estimates, standard errors, result, Jacobian rank and singular values; PNG of data against model
moments. Exit status 1 when the estimate did not converge (or the Jacobian is rank deficient), 2 on bad
input.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .common import count, float64_scope, parse_floats, parse_overrides, save_figure

DEFAULTS = dict(theta_tilde=2.46, lam=0.91, sigma_a=1.69, sigma_h=0.34, rho=-0.65)  # EKK (2011) estimates
DEFAULT_SHARES = "0.6,0.3,0.12"
DEFAULT_MEAN_SALES = "10,5,4"


def _params(args):
    from ..engine.validation import fail
    from ..models import market_penetration as mp

    p = dict(DEFAULTS)
    given = parse_overrides(args.set, "theta_tilde=2.5")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        fail("--set", unknown, f"known parameters are {sorted(DEFAULTS)}")
    p.update(given)
    return p, mp.params(**p)


def _markets(args):
    from ..models import market_penetration as mp

    es = parse_floats(args.entry_share, "--entry-share")
    ms = parse_floats(args.mean_sales, "--mean-sales")
    size = parse_floats(args.size, "--size") if args.size else None
    return mp.markets(es, ms, size=size)


def _write_json(path, obj):
    tmp = str(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def _save_sales(path, sales):
    if str(path).endswith(".csv"):
        np.savetxt(path, sales, delimiter=",", fmt="%.17g")
    else:
        np.save(path, sales)


def load_sales(path):
    """A (firms × markets) sales matrix from ``.npy`` or ``.csv`` (comma-separated, no header)."""
    from ..engine.validation import fail

    if not os.path.exists(path):
        fail("sales", path, "an existing .npy or .csv file")
    s = np.load(path) if str(path).endswith(".npy") else np.loadtxt(path, delimiter=",", ndmin=2)
    if s.ndim != 2:
        fail("sales", s.shape, "a (n_firms, n_markets) matrix")
    return np.asarray(s, dtype=float)


def summary(sales, markets) -> dict:
    d = sales > 0
    cnt = d.sum(0)
    return dict(
        n_firms=int(sales.shape[0]),
        entry_share=(cnt / sales.shape[0]).tolist(),
        entry_share_target=np.asarray(markets.entry_share).tolist(),
        mean_sales=(sales.sum(0) / np.maximum(cnt, 1)).tolist(),
        mean_sales_target=np.asarray(markets.mean_sales).tolist(),
        active_share=float(d.any(1).mean()),
        mean_markets_entered=float(d.sum(1)[d.any(1)].mean()) if d.any() else 0.0,
    )


def plot_data(path, sales, markets, title="EKK model (001 §6.4)"):
    """Entry share against market size (log-log) and each market's sales relative to its mean (survival)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = sales > 0
    share = d.mean(0)
    size = np.asarray(markets.size) if markets.size is not None else np.asarray(markets.mean_sales) * np.asarray(markets.entry_share)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ok = share > 0
    ax.loglog(size[ok], share[ok], "o", label="simulated")
    ax.loglog(size, np.asarray(markets.entry_share), "x", label="markets (target)")
    if ok.sum() >= 2:
        b = np.polyfit(np.log(size[ok]), np.log(share[ok]), 1)
        xs = np.geomspace(size.min(), size.max(), 20)
        ax.loglog(xs, np.exp(np.polyval(b, np.log(xs))), "-", lw=0.8, label=f"slope {b[0]:.2f}")
    ax.set_xlabel("market size" if markets.size is not None else "N_n/N × mean sales")
    ax.set_ylabel("share of potential firms selling, N_n/N")
    ax.set_title("Entry and market size")
    ax.legend(fontsize=8)
    ax = axes[1]
    m = sales.shape[1]
    for n in sorted(set(np.linspace(0, m - 1, min(m, 6)).astype(int))):
        x = sales[d[:, n], n]
        if x.size < 2:
            continue
        r = np.sort(x / x.mean())
        surv = 1.0 - np.arange(r.size) / r.size
        ax.loglog(r, surv, lw=1, label=f"market {n} (N/N={share[n]:.3f})")
    ax.set_xlabel("sales relative to the market's mean")
    ax.set_ylabel("share of sellers with larger sales")
    ax.set_title("Sales distributions by market")
    ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_fit(path, est, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    md, mm = np.asarray(est.moments_data), np.asarray(est.moments_model)
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(md)), 4.2))
    i = np.arange(len(md))
    ax.plot(i, md, "o", label="data")
    ax.plot(i, mm, "x", label="model at the estimate")
    ax.set_xticks(i)
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_title(f"SMM fit (objective {est.residual:.3g})")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def run_simulate(args) -> int:
    from tqdm import tqdm

    from ..models import market_penetration as mp

    with float64_scope(True):
        pdict, p = _params(args)
        mk = _markets(args)
        bar = tqdm(total=args.firms, unit="firm", unit_scale=True, desc="simulate", file=sys.stderr)
        try:
            sales = mp.simulate(p, n_firms=args.firms, markets=mk, seed=args.seed, chunk_firms=args.chunk_firms, progress=bar.update)
        finally:
            bar.close()
        out = dict(parameters=pdict, seed=args.seed, markets=dict(entry_share=np.asarray(mk.entry_share).tolist(),
                   mean_sales=np.asarray(mk.mean_sales).tolist(), size=None if mk.size is None else np.asarray(mk.size).tolist()))
        out["summary"] = summary(sales, mk)
        if args.save_sales:
            _save_sales(args.save_sales, sales)
            out["sales_file"] = args.save_sales
        if args.plot:
            plot_data(args.plot, sales, mk)
            out["plot"] = args.plot
    if args.output:
        _write_json(args.output, out)
    sm = out["summary"]
    print(f"firms {sm['n_firms']}  active {sm['active_share']:.4f}  mean markets entered {sm['mean_markets_entered']:.3f}")
    for n, (a, b, c, e) in enumerate(zip(sm["entry_share"], sm["entry_share_target"], sm["mean_sales"], sm["mean_sales_target"])):
        print(f"market {n}: entry share {a:.5f} (target {b:.5f})  mean sales {c:.4g} (target {e:.4g})")
    return 0


def _result_name(result) -> str:
    import optimistix as optx

    for name in ("successful", "max_steps_reached", "nonlinear_divergence"):
        if result == getattr(optx.RESULTS, name):
            return name
    return str(result)


def run_estimate(args) -> int:
    from tqdm import tqdm

    from ..calibration import smm
    from ..models import market_penetration as mp

    with float64_scope(True):
        sales = load_sales(args.sales)
        mk = mp.Markets.from_sales(sales)
        temps = parse_floats(args.temperatures, "--temperatures")
        starts = None
        if args.start:
            vals = parse_floats(args.start, "--start")
            if len(vals) != 5:
                from ..engine.validation import fail

                fail("--start", args.start, "five numbers: theta_tilde,lam,sigma_a,sigma_h,rho")
            starts = mp.params(*vals)
        bar = tqdm(total=args.max_steps * len(temps), unit="step", desc="estimate", file=sys.stderr)

        def progress(rec):
            bar.update(1)
            bar.set_postfix(tau=f"{rec['temperature']:.3g}", objective=f"{rec['objective']:.4g}")

        try:
            est = smm.estimate(sales, markets=mk, seed=args.seed, start=starts, n_sim=args.n_sim, temperatures=temps,
                               max_steps=args.max_steps, progress=progress)
        finally:
            bar.close()
        names = smm.moment_names(mk.n_markets)
        out = dict(
            sales_file=args.sales, n_firms=int(sales.shape[0]), n_markets=mk.n_markets,
            params=est.params, std_errors=est.std_errors, result=_result_name(est.result), converged=bool(est.result == smm.optx.RESULTS.successful),
            num_steps=int(est.num_steps), objective=float(est.residual), jacobian_rank=int(est.jacobian_rank),
            singular_values=np.asarray(est.singular_values).tolist(), moment_names=names,
            moments_data=np.asarray(est.moments_data).tolist(), moments_model=np.asarray(est.moments_model).tolist(),
            seconds=float(est.seconds), n_sim=int(args.n_sim), seed=int(args.seed), temperatures=temps,
        )
        if args.plot:
            _plot_fit(args.plot, est, names)
            out["plot"] = args.plot
    if args.output:
        _write_json(args.output, out)
    w = max(len(k) for k in est.params)
    for k, v in est.params.items():
        print(f"{k:<{w}s}  {v:.4f}  (s.e. {est.std_errors[k]:.4f})")
    print(f"objective {est.residual:.4g}  steps {est.num_steps}  Jacobian rank {est.jacobian_rank}  {est.seconds:.1f} s  {out['result']}")
    return 0 if out["converged"] and est.jacobian_rank == 5 else 1


def register(subparsers) -> None:
    """Adds ``market_penetration simulate ...`` and ``market_penetration estimate SALES ...``."""
    p = subparsers.add_parser("market_penetration", help="EKK (2011) / Arkolakis (2010) marketing costs: simulate, estimate (001 §6.4)")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("simulate", help="firm-by-destination sales of the source's potential firms")
    s.add_argument("--firms", type=count, default=100_000, help="potential firms (1_000_000 is fine)")
    s.add_argument("--entry-share", default=DEFAULT_SHARES, help="N_n/N per market, comma-separated (default %(default)s)")
    s.add_argument("--mean-sales", default=DEFAULT_MEAN_SALES, help="mean sales of sellers per market (default %(default)s)")
    s.add_argument("--size", default=None, help="market sizes X_n (optional; the x-axis of the entry plot)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help=f"a parameter ({', '.join(DEFAULTS)}); default EKK's estimates")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--chunk-firms", type=count, default=None, help="firms per kernel call (results do not depend on it)")
    s.add_argument("--save-sales", default=None, help="write the sales matrix here (.npy or .csv)")
    s.add_argument("--output", "-o", default=None, help="JSON summary")
    s.add_argument("--plot", default=None, help="PNG: entry against market size, sales distributions")
    s.set_defaults(func=run_simulate)
    e = sub.add_parser("estimate", help="gradient SMM of (theta_tilde, lam, sigma_a, sigma_h, rho)")
    e.add_argument("sales", help="sales matrix (.npy or .csv), rows = potential firms, 0 = no sale")
    e.add_argument("--n-sim", type=count, default=50_000, help="simulated firms (fixed draws)")
    e.add_argument("--seed", type=int, default=1, help="seed of the simulation draws")
    e.add_argument("--temperatures", default="0.1,0.03", help="annealing schedule of the entry smoothing")
    e.add_argument("--start", default=None, help="theta_tilde,lam,sigma_a,sigma_h,rho (default the estimator's)")
    e.add_argument("--max-steps", type=int, default=200, help="L-BFGS steps per temperature")
    e.add_argument("--output", "-o", default=None, help="JSON result")
    e.add_argument("--plot", default=None, help="PNG: data against model moments")
    e.set_defaults(func=run_estimate)
