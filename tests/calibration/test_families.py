"""Every family of jaxtrade.distributions in the calibration (issue 16 item 2; Tyazhelnikov 004 §5.4)."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxtrade import JaxtradeInputError
from jaxtrade import calibration as cal
from jaxtrade.calibration.simulation import _log_unit_draw

FAMILIES = cal.FAMILIES
DEFAULT = ("generalized_gamma",)  # one compile per family (~20 s): the others run in the slow suite


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", [0.4, 2.5])
def test_scale_is_a_pure_scale_on_draws(family, shape):
    """X(shape, s) = s · X(shape, 1) on the same uniforms (the registry's draws), and the calibration's
    closed-form log draw is log X(shape, 1)."""
    model = cal.CalibrationModel(n_stages=3, sigma=4.0, draws=family)
    u = cal.common_uniforms(11, 500, 3).reshape(-1)
    u64 = u.astype(jnp.float64)  # float64 (the test scope enables it): the scale property, not float32 rounding of upper = R·s
    x1 = np.asarray(model.distribution(shape, 1.0).icdf(u64))
    for s in (0.13, 3.7):
        xs = np.asarray(model.distribution(shape, s).icdf(u64))
        np.testing.assert_allclose(xs, s * x1, rtol=1e-9)
    # float32 log draws against the float64 quantile: near u = 1 the truncated Pareto's 1 − u·c is ~R^−k, so float32
    # rounding of u·c costs up to ~1e-5 there
    log_draw = np.asarray(_log_unit_draw(model, jnp.log(jnp.float32(shape)), u), np.float64)
    np.testing.assert_allclose(log_draw, np.log(x1), atol=5e-5 * max(1.0, np.abs(np.log(x1)).max()))


@pytest.mark.parametrize("family", FAMILIES)
def test_sales_invariant_to_the_scale_normalisation(family):
    """Sales (S1) at (shape, scale, τ) equal sales at (shape, 1, τ / cost_scale): only ρ = τ/cost_scale matters."""
    model = cal.CalibrationModel(n_stages=3, sigma=4.0, draws=family)
    a = cal.simulate_sales(cal.Parameters(shape=1.3, scale=0.25, tau=0.5 * model.cost_scale(0.25), wage=1.4), model, 2000, 5)
    b = cal.simulate_sales(cal.Parameters(shape=1.3, scale=1.0, tau=0.5, wage=1.4), model, 2000, 5)
    np.testing.assert_allclose(a, b, rtol=2e-5)


def test_family_names_and_options():
    assert cal.CalibrationModel(3, 4.0, draws="gengamma").draws == "generalized_gamma"  # the registry's alias
    assert cal.CalibrationModel(3, 4.0, draws=" Truncated_Pareto ").draws == "truncated_pareto"
    with pytest.raises(JaxtradeInputError, match="draws"):
        cal.CalibrationModel(3, 4.0, draws="weibull")
    with pytest.raises(JaxtradeInputError, match="truncation_ratio"):
        cal.CalibrationModel(3, 4.0, draws="truncated_pareto", truncation_ratio=1.0)
    with pytest.raises(JaxtradeInputError, match="gamma_index"):
        cal.CalibrationModel(3, 4.0, draws="generalized_gamma", gamma_index=0.0)
    d = cal.CalibrationModel(3, 4.0, draws="truncated_pareto", truncation_ratio=7.0).distribution(2.0, 0.5)
    assert float(d.upper) == pytest.approx(3.5) and float(d.scale) == 0.5
    g = cal.CalibrationModel(3, 4.0, draws="generalized_gamma", gamma_index=3.0).distribution(2.0, 0.5)
    assert (float(g.d), float(g.p), float(g.scale)) == (6.0, 2.0, 0.5)


def test_cli_accepts_registry_names():
    import argparse

    from jaxtrade.cli import calibrate as cli

    sub = argparse.ArgumentParser().add_subparsers()
    p = cli.register(sub)
    args = p.parse_args(["x.csv", "--draws", "gengamma", "--gamma-index", "1.5"])
    assert args.draws == "gengamma" and args.gamma_index == 1.5
    assert cal.CalibrationModel(3, 4.0, draws=args.draws, gamma_index=args.gamma_index).draws == "generalized_gamma"


def _small_calibration(family):
    model = cal.CalibrationModel(n_stages=3, sigma=4.0, draws=family)
    truth = cal.Parameters(shape=1.5, scale=1.0, tau=0.4, wage=1.3, sunk_cost=1.0)
    sales = cal.simulate_sales(truth, model, 800, 21)
    start = cal.Parameters(shape=1.0, scale=1.0, tau=0.6, wage=1.1)
    res = cal.calibrate(sales, model, start=start, n_sim=800, seed=4, max_steps=6, with_inference=False, grid_size=64)
    assert res.optimisation.status in ("converged", "max_steps", "stalled")
    assert math.isfinite(res.optimisation.value) and np.all(np.isfinite(res.phi))
    js = json.loads(json.dumps(res.to_json(), allow_nan=False))
    assert js["model"]["draws"] == family
    assert all(math.isfinite(js["estimates"][k]["value"]) for k in ("shape", "tau", "wage", "sunk_cost"))
    return res


@pytest.mark.parametrize("family", [f if f in DEFAULT else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES])
def test_small_calibration_under_each_family(family):
    """A small calibration (3 stages, 800 firms, 6 Newton steps) runs and returns finite results."""
    _small_calibration(family)
