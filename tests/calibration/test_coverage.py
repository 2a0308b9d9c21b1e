"""Honest sales-only intervals (issue 16, item 4): over 20 synthetic replications the reported 95% intervals of
the parameters that one period's sales identify (shape and f_s, docs/calibration.md) cover the truth at least
90% of the time, and the weakly identified ones carry ``std_error: null`` rather than a false precision.

Measured (2026-12-02, 20 replications, N = 4, 5,000 firms, 20,000 simulated, 7.5 min on 2 loaded cores): shape
covered in 17 of 17 reported intervals (3 null), f_s in 14 of 15 (5 null)."""

import math

import numpy as np
import pytest

from jaxtrade import calibration as cal

SMALL = cal.CalibrationModel(n_stages=4, sigma=4.0)
TRUTH = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)


def _replication(r, n_data, n_sim):
    sales = cal.simulate_sales(TRUTH, SMALL, n_data, 10_000 + r)  # data and simulation draws independent
    res = cal.calibrate(sales, SMALL, start=TRUTH, scale=TRUTH.scale, n_sim=n_sim, seed=r, max_steps=200, bootstrap=30,
                        sim_replications=6)
    est = res.to_json()["estimates"]
    out = {}
    for k in ("shape", "sunk_cost"):
        e = est[k]
        se = e["std_error"]
        out[k] = None if se is None else abs(e["value"] - getattr(TRUTH, k)) <= 1.96 * se
    for k in ("tau", "wage"):  # a null standard error must be flagged, never a silent gap
        e = est[k]
        assert e["std_error"] is not None or e.get("weakly_identified") or not e["identified"]
        assert e["std_error"] is None or (math.isfinite(e["std_error"]) and e["std_error"] > 0)
    return out, res.optimisation.status


@pytest.mark.slow
def test_sales_only_intervals_cover_the_identified_parameters():
    rows = [_replication(r, n_data=5_000, n_sim=20_000) for r in range(20)]
    for k in ("shape", "sunk_cost"):
        covered = [row[k] for row, _ in rows]
        # identified: a finite interval in at least two thirds of the replications (at N = 4 and 5,000 firms the
        # flat (rho, w) valley also tilts shape or f_s in some samples: then null, flagged weakly_identified)
        assert sum(c is None for c in covered) <= len(rows) // 3, (k, covered)
        hits = [c for c in covered if c is not None]
        assert np.mean(hits) >= 0.9, (k, covered, [s for _, s in rows])  # the reported intervals are honest
