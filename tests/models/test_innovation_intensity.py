"""Innovation intensity (001 §9.2.2, static Atkeson-Burstein): eq. 29, its open form, the no-exit threshold."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import innovation as inn  # noqa: E402

SIGMA, F, FX, FE, TAU, IOTA, K = 3.0, 1.0, 1.5, 0.1, 1.5, 1.3, 4.0
LOG = inn.LogInnovationCost(0.5)
POW = inn.PowerInnovationCost(2.0, 3.0)
USER = inn.CallableInnovationCost(lambda a: -0.5 * (a + jnp.log1p(-a)))  # = LOG, through JAX derivatives


def brute_alpha(cost_fn, phi, B, iota=IOTA, N=2, tau=TAU):
    """argmax over a fine α grid of (1−α)V(ϕ) + αV(ιϕ) − ϕ c(α), V evaluated directly."""
    s = SIGMA - 1
    n = N - 1

    def V(x):
        return max(0.0, B * x - F) + n * max(0.0, B * tau**-s * x - FX)

    ps = phi**s
    a = np.linspace(0.0, 0.999999, 100001)
    obj = (1 - a) * V(ps) + a * V(iota * ps) - ps * cost_fn(a)
    return a[np.argmax(obj)], obj.max()


@pytest.mark.parametrize("cost", [LOG, POW, USER], ids=["log", "power", "callable"])
def test_eq29_closed_economy_common_intensity(cost):
    B = 0.4
    phi = np.linspace((F / B) ** 0.5 * 1.01, 10, 20)  # above the no-exit threshold ϕ ≥ f/B
    r = inn.innovation_intensity(cost, phi, B, IOTA, SIGMA, n_countries=1)
    g = (IOTA - 1) * B
    want = g / (g + 0.5) if cost is not POW else min(1.0, (g / 2.0) ** 0.5)
    np.testing.assert_allclose(np.asarray(r.alpha), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(r.marginal_value), g, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(cost.marginal(r.alpha)), g, rtol=1e-10)  # eq. 29
    assert bool(jnp.all(r.no_exit))


def test_open_economy_foc_and_exporters_innovate_more():
    B, N = 0.3, 2
    s = SIGMA - 1
    r = inn.innovation_intensity(LOG, jnp.linspace(0.5, 6.0, 400), B, IOTA, SIGMA, TAU, F, FX, N)
    a, sf, ss = np.asarray(r.alpha), np.asarray(r.status_fail), np.asarray(r.status_success)
    gx = (IOTA - 1) * B * (1 + TAU**-s)  # exporters whatever the outcome
    gd = (IOTA - 1) * B
    np.testing.assert_allclose(a[sf == 2], gx / (gx + 0.5), rtol=1e-12)
    np.testing.assert_allclose(a[(sf == 1) & (ss == 1)], gd / (gd + 0.5), rtol=1e-12)
    # footnote 47: firms whose export decision hinges on success lie strictly between
    mid = (sf == 1) & (ss == 2)
    assert mid.any() and np.all((a[mid] > gd / (gd + 0.5)) & (a[mid] < gx / (gx + 0.5)))
    assert np.all(np.diff(a) >= -1e-15)  # intensity rises with productivity
    assert a[sf == 2].min() > a[(sf == 1) & (ss == 1)].max()
    ad, ax = inn.optimal_intensity(LOG, B, IOTA, SIGMA, TAU, N)
    np.testing.assert_allclose([float(ad), float(ax)], [gd / (gd + 0.5), gx / (gx + 0.5)], rtol=1e-12)


def test_no_exit_threshold_is_handled():
    """Below ϕ = f/B a failed innovator exits: the marginal value is ιB − f/ϕ < (ι−1)B, and 0 below f/(ιB)."""
    B = 0.3
    s = SIGMA - 1
    phi = np.linspace((F / (IOTA * B)) ** (1 / s) * 0.8, (F / B) ** (1 / s) * 0.999, 50)
    r = inn.innovation_intensity(LOG, phi, B, IOTA, SIGMA, n_countries=1)
    ps = phi**s
    want_g = np.where(IOTA * B * ps > F, IOTA * B - F / ps, 0.0)
    np.testing.assert_allclose(np.asarray(r.marginal_value), want_g, rtol=1e-12, atol=1e-15)
    assert np.all(np.asarray(r.marginal_value) < (IOTA - 1) * B)
    assert not bool(jnp.any(r.no_exit))
    assert np.all(np.asarray(r.alpha)[want_g == 0] == 0)


@settings(max_examples=15, deadline=None)
@given(phi=hst.floats(0.5, 6.0), B=hst.floats(0.1, 0.8), iota=hst.floats(1.05, 2.0))
def test_optimum_matches_brute_force_grid(phi, B, iota):
    for cost, fn in ((LOG, lambda a: -0.5 * (a + np.log1p(-a))), (POW, lambda a: 2.0 * a**3 / 3), (USER, lambda a: -0.5 * (a + np.log1p(-a)))):
        r = inn.innovation_intensity(cost, phi, B, iota, SIGMA, TAU, F, FX, 2)
        a_bf, v_bf = brute_alpha(fn, phi, B, iota)
        assert abs(float(r.alpha) - a_bf) < 2e-5
        # The grid's own error: the objective is concave in α, so the best grid point (step 1e-5) is below the
        # optimum by at most ½·|f''|·(step/2)², f'' = −ϕ^{σ−1} c''(α). The solver's value may not be below any
        # grid point, and not above the optimum by more than that bound.
        h, ps = 1e-4, phi ** (SIGMA - 1)
        a0 = min(max(a_bf, h), 0.999999 - h)
        curvature = ps * abs(fn(a0 + h) - 2 * fn(a0) + fn(a0 - h)) / h**2
        bound = 0.5 * curvature * (0.5e-5) ** 2 * 4 + 1e-13  # ×4: curvature varies over the grid cell
        v = float(r.expected_profit)
        assert v >= v_bf - 1e-13 * max(1.0, abs(v_bf))
        assert v - v_bf <= bound


def test_alpha_derivative_of_user_cost_matches_finite_difference():
    f = lambda B: inn.innovation_intensity(USER, 3.0, B, IOTA, SIGMA, TAU, F, FX, 2).alpha  # noqa: E731
    d = jax.grad(f)(0.3)
    h = 1e-6
    np.testing.assert_allclose(float(d), (float(f(0.3 + h)) - float(f(0.3 - h))) / (2 * h), rtol=1e-7)


# ------------------------------------------------------------------ equilibrium


@pytest.fixture(scope="module")
def equilibrium():
    return inn.innovation_equilibrium(D.Pareto(K, 1.0), LOG, SIGMA, F, FE, IOTA, TAU, FX, 2, throw=False)  # as the CLI


def test_free_entry_against_scipy_quad(equilibrium):
    e = equilibrium
    assert e.result == optx.RESULTS.successful
    B = float(e.market_demand)
    pts = sorted(float(x) for x in (e.entry_threshold, e.no_exit_threshold, e.export_threshold_success, e.export_threshold))
    edges = pts + [np.inf]

    def prof(p):
        return (
            float(inn.innovation_intensity(LOG, p, B, IOTA, SIGMA, TAU, F, FX, 2).expected_profit) * K * p ** (-K - 1)
        )

    total = sum(integrate.quad(prof, a, b, epsrel=1e-12, limit=200)[0] for a, b in zip(edges[:-1], edges[1:]))
    np.testing.assert_allclose(total, FE, rtol=1e-10)
    # thresholds: f/(ιB) < f/B < τ^s f_X/(ιB) < τ^s f_X/B in ϕ
    s = SIGMA - 1
    np.testing.assert_allclose(pts, np.array([F / (IOTA * B), F / B, TAU**s * FX / (IOTA * B), TAU**s * FX / B]) ** (1 / s), rtol=1e-12)
    assert float(e.alpha_exporter) > float(e.alpha_nonexporter)
    assert float(e.alpha_nonexporter) * 0.5 < float(e.mean_intensity) < float(e.alpha_exporter)


@pytest.mark.slow
def test_equilibrium_derivative_matches_finite_difference(equilibrium):
    def out(t):
        e = inn.innovation_equilibrium(D.Pareto(K, 1.0), LOG, SIGMA, F, FE, IOTA, t, FX, 2)
        return jnp.stack([e.market_demand, e.alpha_exporter])

    d = jax.jacfwd(out)(jnp.asarray(TAU))
    h = 1e-6
    fd = (out(TAU + h) - out(TAU - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(d), np.asarray(fd), rtol=1e-6)


# ------------------------------------------------------------------ failures


def test_bad_costs_and_parameters_name_the_condition():
    with pytest.raises(JaxtradeInputError, match="convexity of c_I"):
        inn.CallableInnovationCost(lambda a: jnp.sin(3 * a) ** 2)
    with pytest.raises(JaxtradeInputError, match="c_I\\(0\\) = 0"):
        inn.CallableInnovationCost(lambda a: 1.0 + a**2)
    with pytest.raises(JaxtradeInputError, match="γ > 1"):
        inn.PowerInnovationCost(1.0, 0.5)
    with pytest.raises(JaxtradeInputError, match="ι > 1"):
        inn.innovation_intensity(LOG, 2.0, 0.3, 1.0, SIGMA)
    with pytest.raises(JaxtradeInputError, match="selection into exporting"):
        inn.innovation_equilibrium(D.Pareto(K, 1.0), LOG, SIGMA, F, FE, IOTA, 1.0, 0.5, 2)
