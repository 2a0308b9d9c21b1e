"""The two-period pipeline (jaxtrade.calibration.two_period; 004 §5.3 steps 5-8): the normalisations that make
τ_1 comparable with θ_0, the counterfactual decomposition, its standard errors, and clear errors."""

import dataclasses
import math

import jax
import numpy as np
import pytest

from jaxtrade import JaxtradeInputError, decompose
from jaxtrade import calibration as cal
from jaxtrade.calibration.two_period import NORMALISATIONS, two_period, unit_cost_location

SMALL = cal.CalibrationModel(n_stages=4, sigma=4.0)
TRUTH = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)


@pytest.fixture(scope="module")
def period0():
    sales = cal.simulate_sales(TRUTH, SMALL, 2000, 3)
    prob = cal.make_problem(sales, SMALL, n_sim=2000, seed=3)
    return cal.calibrate(None, SMALL, start=TRUTH, scale=TRUTH.scale, problem=prob, max_steps=150, bootstrap=6, sim_replications=2)


#: A covariance of φ like that of a calibration at n = 200,000 (s.e. 2-5% on shape, ρ, w, f_s). The fixture's own, at
#: N = 4 and 2,000 firms, is that of a nearly flat valley (s.e. of log shape 6.7): used only where that matters.
COV = np.diag([0.02, 0.05, 0.04, 0.03]) ** 2


def _moved(res, d_log_shape=0.0, d_log_rho=0.0, scale=None, cov=COV):
    """``res`` with its estimate moved and a stated covariance: the pipeline's arithmetic, not a calibration."""
    phi = np.asarray(res.phi, np.float64) + np.array([d_log_shape, d_log_rho, 0.0, 0.0])
    inf = res.inference if cov is None else dataclasses.replace(res.inference, covariance=cov)
    return dataclasses.replace(res, phi=phi, inference=inf, scale_normalisation=res.scale_normalisation if scale is None else scale)


def _period1(res0, d_log_shape, d_log_rho, scale):
    return _moved(res0, d_log_shape, d_log_rho, scale)


def test_unit_cost_locations_match_closed_forms():
    with jax.enable_x64(True):  # the closed forms to float64 precision (the library computes in the caller's)
        _unit_cost_locations_match_closed_forms()


def _unit_cost_locations_match_closed_forms():
    # Pareto productivity z ~ (k, 1): the stage cost 1/z has median 2^(-1/k) and mean k/(k+1); Pareto cost a ~ (k, 1):
    # mean k/(k-1) (inf for k <= 1); log-normal: exp(sigma^2/2)
    for k in (0.42, 1.3, 3.0):
        assert unit_cost_location(SMALL, k, "median") == pytest.approx(2.0 ** (-1.0 / k), rel=1e-14)
        assert unit_cost_location(SMALL, k, "mean") == pytest.approx(k / (k + 1.0), rel=1e-9)
    cost = cal.CalibrationModel(n_stages=4, sigma=4.0, draws_are="cost")
    assert unit_cost_location(cost, 3.0, "mean") == pytest.approx(1.5, rel=1e-14)
    assert unit_cost_location(cost, 0.8, "mean") == math.inf
    ln = cal.CalibrationModel(n_stages=4, sigma=4.0, draws="lognormal")
    assert unit_cost_location(ln, 0.5, "mean") == pytest.approx(math.exp(0.125), rel=1e-9)
    with pytest.raises(JaxtradeInputError, match="kind"):
        unit_cost_location(SMALL, 1.0, "mode")


def test_each_normalisation_states_tau_1_in_period_0_units_and_decomposes_it(period0):
    res1 = _period1(period0, math.log(1.5), math.log(0.6), scale=0.18)
    period0 = _moved(period0)
    with jax.enable_x64(True):  # the cost locations in float64, checked below against closed forms at 1e-12
        out = two_period(period0, res1, n_firms=20_000, draws=3, seed=5)
    rows = {r["name"]: r for r in out.rows}
    assert set(rows) == {"equal_scales", "equal_median_cost", "equal_mean_cost", "stated"}
    k0, k1 = (math.exp(float(r.phi[0])) for r in (period0, res1))
    rho0, rho1 = (math.exp(float(r.phi[1])) for r in (period0, res1))
    c0 = SMALL.cost_scale(TRUTH.scale)
    # the statements, checked by closed forms (Pareto productivity draws)
    assert rows["equal_scales"]["tau_0"] == pytest.approx(rho0 * c0, rel=1e-12)
    assert rows["equal_scales"]["tau_1"] == pytest.approx(rho1 * c0, rel=1e-12)
    assert rows["stated"]["tau_1"] == pytest.approx(rho1 * SMALL.cost_scale(0.18), rel=1e-12)
    c1_med = rows["equal_median_cost"]["tau_1"] / rho1
    assert c1_med * 2.0 ** (-1.0 / k1) == pytest.approx(c0 * 2.0 ** (-1.0 / k0), rel=1e-12)
    c1_mean = rows["equal_mean_cost"]["tau_1"] / rho1
    assert c1_mean * k1 / (k1 + 1.0) == pytest.approx(c0 * k0 / (k0 + 1.0), rel=1e-8)
    # each point decomposition is decompose() on (theta_0, tau_1, w_0) with the same firms
    p0 = cal.from_unconstrained(period0.phi, SMALL, TRUTH.scale)
    for name, r in rows.items():
        d = decompose(cal.to_sequential_model(p0, SMALL), r["tau_1"], n_firms=20_000, seed=5, sigma=SMALL.sigma)
        assert r["fragmentation_share"] == float(d.fragmentation_share)
        assert r["total_log_change"] == float(d.total_log_change)
        # a rise of tau makes the fragmentation share negative (re-optimising dampens the rise): flagged, never silent
        assert r["tau_rose"] == (r["tau_1"] >= r["tau_0"])
        if r["tau_rose"]:
            assert r["fragmentation_share"] <= 0 and "ROSE" in r["note"]
        else:
            assert r["total_log_change"] < 0 and 0 <= r["fragmentation_share"] <= 1
        se = r["std_errors"]
        assert r["bootstrap_draws"] == 3 and all(se[k] > 0 and math.isfinite(se[k]) for k in ("tau_1", "total_log_change"))
        lo, hi = r["ci95"]["tau_1"]
        assert lo < hi
    assert NORMALISATIONS[rows["stated"]["name"]] == rows["stated"]["assumes"]
    js = out.to_json()
    assert js["periods"][0]["estimates"]["shape"]["value"] == pytest.approx(k0)
    assert "tau_1" in out.table().splitlines()[0]


def test_a_cheaper_period_1_gives_the_papers_signs(period0):
    # rho falls by 30% at the same shape: under equal scales tau fell, so d ln MC < 0 and the shares lie in [0, 1]
    res1 = _period1(period0, 0.0, math.log(0.7), scale=TRUTH.scale)
    out = two_period(_moved(period0), res1, normalisations=("equal_scales",), n_firms=20_000, draws=0)
    (r,) = out.rows
    assert not r["tau_rose"] and r["total_log_change"] < r["direct_log_change"] < 0
    assert r["fragmentation_share"] + r["direct_share"] == pytest.approx(1.0, abs=1e-12)
    assert r["std_errors"] == {} and r["ci95"] is None and "draws = 0" in r["std_errors_note"]


def test_no_standard_errors_without_a_finite_covariance(period0):
    res1 = _period1(period0, 0.0, math.log(0.7), scale=TRUTH.scale)
    inf = dataclasses.replace(res1.inference, covariance=np.full((4, 4), np.inf))
    res1 = dataclasses.replace(res1, inference=inf)
    (r,) = two_period(_moved(period0), res1, normalisations=("equal_scales",), n_firms=20_000, draws=4).rows
    assert r["std_errors"] == {} and "period 1" in r["std_errors_note"] and "weakly identified" in r["std_errors_note"]
    # a finite (pseudo-inverse) covariance but an unbounded standard error of rho: the draws mean nothing either
    p0 = _moved(period0)
    se = np.asarray(p0.inference.std_errors_phi, np.float64).copy()
    se[1] = np.inf
    p0 = dataclasses.replace(p0, inference=dataclasses.replace(p0.inference, std_errors_phi=se))
    (r,) = two_period(p0, _moved(period0, 0.0, math.log(0.7)), normalisations=("equal_scales",), n_firms=20_000, draws=4).rows
    assert r["std_errors"] == {} and "period 0" in r["std_errors_note"] and "rho" in r["std_errors_note"]


def test_a_nearly_flat_valley_gives_no_standard_error_and_says_why(period0):
    # the fixture's own covariance (s.e. of log shape 6.7, of log rho 43): draws of e^±40 leave the model's range; they
    # are counted and, past 10% of the draws, no standard error is reported (never a crash or a NaN in the statistics)
    res1 = _moved(period0, 0.0, math.log(0.7), cov=None)
    (r,) = two_period(period0, res1, normalisations=("equal_median_cost",), n_firms=20_000, draws=10, seed=2).rows
    assert r["bootstrap_draws"] + r["bootstrap_draws_undefined"] == 10
    assert r["bootstrap_draws_undefined"] > 1
    assert r["std_errors"] == {} and r["ci95"] is None and "quadratic approximation" in r["std_errors_note"]
    assert math.isfinite(r["fragmentation_share"])  # the point estimate stands


def test_cli_two_files_calibrates_both_and_writes_the_counterfactual(tmp_path):
    """``jaxtrade calibrate A.csv B.csv``: each period's JSON (the one-period shape), then the counterfactual JSON with
    one row per normalisation, its table and PNG; the stated scales come from --scales."""
    import json

    from jaxtrade import cli

    files = []
    for t, year in enumerate((2000, 2007)):
        truth = cal.Parameters(**cal.TABLE1[year], sunk_cost=1.0)
        csv = tmp_path / f"sales{t}.csv"
        cal.save_sales(csv, cal.simulate_sales(truth, SMALL, 1500, 2 + t))
        files.append(str(csv))
    out = tmp_path / "both.json"
    argv = ["calibrate", *files, "--stages", "4", "--firms", "1500", "--max-steps", "4", "--bootstrap", "4", "--sim-replications", "0",
            "--scales", "0.13,0.18", "--decompose-firms", "5000", "--decompose-draws", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    for t in range(2):
        js_t = json.loads((tmp_path / f"both.period{t}.json").read_text())
        assert {"value", "std_error"} <= set(js_t["estimates"]["shape"])
    js = json.loads(out.read_text())
    assert [p["normalisation"]["scale"] for p in js["periods"]] == [0.13, 0.18]
    rows = {r["name"]: r for r in js["counterfactual"]["normalisations"]}
    assert set(rows) == {"equal_scales", "equal_median_cost", "equal_mean_cost", "stated"}
    rho1 = js["periods"][1]["estimates"]["tau"]["value"] / SMALL.cost_scale(0.18)
    assert rows["stated"]["tau_1"] == pytest.approx(rho1 * SMALL.cost_scale(0.18), rel=1e-6)
    assert out.with_suffix(".png").is_file() and js["plot"] == str(out.with_suffix(".png"))
    assert [d["source"] for d in js["data"]] == files
    with pytest.raises(SystemExit, match="--scales"):
        cli.main(argv[:-2] + ["--scales", "0.13", "--out", str(out)])
