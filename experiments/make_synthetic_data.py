"""Regenerates the bundled SYNTHETIC sales data in jaxtrade/data/ (Tyazhelnikov 004 Table 1).

    python experiments/make_synthetic_data.py

Two periods (2000, 2007) at the paper's Table 1 values (σ = 4, ζ = 0.5, N = 10), 200,000 firms
each, fixed seeds, under the default reading of jaxtrade.calibration.CalibrationModel
(Pareto *productivity* draws, the wage multiplying China's (country 1's) costs, additive unbundling costs
with T = [[0, 1], [1, 0]]) and f_s = 1. The firms are jaxtrade.firm_uniforms at the seeds below (the firms
jaxtrade.simulate sees). Sales follow eq. (S1) of jaxtrade.calibration:
r = σ f_s (MC / M̃C)^{1-σ}, with M̃C the power mean over an independent 1,000,000-firm
simulation. Files: synthetic_sales_{year}.npy (float32) and synthetic_sales.json (metadata).
These are NOT the paper's Chinese data (which are not public).

The bundled files were generated before the calibration drew the engine's Philox firms: with
jax.random.PRNGKey(seed) uniforms and the wage on country 0 (an equivalent reading: the same distribution of
sales). Running this script now draws a new sample from the same model; the bundled one is kept because the
measured results in docs/calibration.md refer to it (synthetic_sales.json, "generator_note").
"""

import json
from pathlib import Path

import numpy as np

from jaxtrade import calibration as cal

SEEDS = {2000: 2000, 2007: 2007}
N_FIRMS = 200_000
POWER_MEAN_FIRMS = 1_000_000
OUT = Path(__file__).resolve().parents[1] / "jaxtrade" / "data"


def main():
    model = cal.CalibrationModel(n_stages=10, sigma=4.0)
    meta = {
        "synthetic": True,
        "description": "SYNTHETIC firm sales generated from the jaxtrade model at Tyazhelnikov (004) Table 1; NOT the Chinese NBS data used in the paper.",
        "generator": "experiments/make_synthetic_data.py",
        "model": {"n_stages": 10, "sigma": 4.0, "zeta": 0.5, "draws": model.draws, "draws_are": model.draws_are,
                  "wage_reading": model.wage_reading, "value_dependent": model.value_dependent, "trade_costs": [[0, 1], [1, 0]]},
        "generator_note": "firms: jaxtrade.firm_uniforms (Philox) at the seeds below",
        "n_firms": N_FIRMS, "power_mean_firms": POWER_MEAN_FIRMS, "periods": {},
    }
    OUT.mkdir(exist_ok=True)
    for year, seed in SEEDS.items():
        params = cal.Parameters(**cal.TABLE1[year], sunk_cost=1.0)
        sales = cal.simulate_sales(params, model, N_FIRMS, seed, power_mean_firms=POWER_MEAN_FIRMS, power_mean_seed=seed + 10_000)
        cal.save_sales(OUT / f"synthetic_sales_{year}.npy", sales)
        meta["periods"][str(year)] = {"parameters": params.as_dict(), "seed": seed, "power_mean_seed": seed + 10_000,
                                      "file": f"synthetic_sales_{year}.npy"}
        print(year, f"median {np.median(sales):.4g}", f"p95 {np.quantile(sales, 0.95):.4g}")
    with open(OUT / "synthetic_sales.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
