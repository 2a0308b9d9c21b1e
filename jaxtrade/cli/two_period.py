"""The two-period face of ``jaxtrade calibrate A.csv B.csv``: the counterfactual table, JSON and PNG
(004 §5.3 steps 5-8; :func:`jaxtrade.calibration.two_period.two_period`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .common import save_figure


def plot(path, result) -> None:
    """Fragmentation share and ``τ_1/τ_0`` by normalisation, with the bootstrap's 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in result.rows if r["tau_1"] is not None]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(len(rows))
    names = [r["name"].replace("_", "\n") for r in rows]
    for ax, key, label, f in ((axes[0], "fragmentation_share", "fragmentation share of d ln MC (%)", 100.0),
                              (axes[1], "tau_1", "tau_1 / tau_0 (period-0 cost units)", None)):
        vals, lo, hi = [], [], []
        for r in rows:
            scale = f if f is not None else 1.0 / r["tau_0"]
            v = r[key] * scale
            ci = (r.get("ci95") or {}).get(key)
            vals.append(v)
            # the point estimate may lie outside the bootstrap percentiles (a skewed map): no negative bar
            lo.append(max(v - ci[0] * scale, 0.0) if ci else 0.0)
            hi.append(max(ci[1] * scale - v, 0.0) if ci else 0.0)
        colours = ["tab:red" if r["tau_rose"] else "tab:blue" for r in rows]
        has_ci = any(lo) or any(hi)
        ax.bar(x, vals, yerr=[lo, hi] if has_ci else None, color=colours, capsize=4 if has_ci else 0)
        ax.set_xticks(x, names, fontsize=8)
        ax.set_ylabel(label, fontsize=9)
        ax.axhline(1.0 if f is None else 0.0, color="k", lw=0.6)
    fig.suptitle("counterfactual (theta_0, tau_1, w_0) by normalisation (red: tau rose; bars: bootstrap 95%)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def write(out, result, *, sources, no_plot: bool) -> dict:
    """Writes OUT (JSON, atomically) and OUT.png; prints the table; returns the JSON."""
    out = Path(out)
    js = result.to_json()
    js["data"] = [{"source": s, "n": int(r.statistics["n_data"])} for s, r in zip(sources, result.results)]
    if not no_plot:
        png = out.with_suffix(".png")
        plot(png, result)
        js["plot"] = str(png)
    tmp = str(out) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(js, fh, indent=2)
    os.replace(tmp, out)
    print(result.table())
    return js
