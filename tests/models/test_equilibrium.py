"""Section 4 of Tyazhelnikov (004): quasi-linear CES demand, free entry, the mass of firms, welfare.

Three independent routes: (i) the consumer's problem solved numerically (scipy) against the demand
function; (ii) free entry solved by optimistix from the firm sample against the closed forms, the
printed ones included (two are misprinted: see ``docs/errata.md``); (iii) gradients against finite
differences in float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from jaxtrade.engine.validation import JaxtradeInputError
from jaxtrade.models.sequential_ge import (
    QuasiLinearCES,
    aggregate_cost,
    free_entry_closed_form,
    price_and_variety_shares,
    solve_free_entry,
    welfare_elasticity,
)
from jaxtrade.engine.production import solve_chain
from jaxtrade.distributions import Pareto

SIGMA, ZETA = 4.0, 0.5


def _mc_sample(n=2000, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(scale * (1.0 + rng.pareto(3.0, n)), dtype=jnp.float64)


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("zeta", [0.0, -0.1, 0.75, 0.9, float("nan")])
def test_zeta_outside_the_admissible_interval_is_rejected(zeta):
    with pytest.raises(JaxtradeInputError, match="zeta"):
        QuasiLinearCES(SIGMA, zeta)


@pytest.mark.parametrize("sigma", [1.0, 0.5, float("inf")])
def test_sigma_must_exceed_one(sigma):
    with pytest.raises(JaxtradeInputError, match="sigma"):
        QuasiLinearCES(sigma, 0.1)


def test_bad_sunk_cost_and_costs_are_rejected():
    d = QuasiLinearCES(SIGMA, ZETA)
    with pytest.raises(JaxtradeInputError, match="f_s"):
        free_entry_closed_form(d, 1.0, -1.0)
    with pytest.raises(JaxtradeInputError, match="mc"):
        solve_free_entry(d, jnp.array([1.0, -2.0]), 1.0)


# ------------------------------------------------------------------------------------ demand


def test_demand_function_solves_the_consumer_problem():
    """q = P^{(σ−1−ζσ)/(1−ζ)} p^{−σ} maximises Q^ζ/ζ − Σ p q (the corrected eq. 11).

    Also shows the printed exponent (ζ−σ)/(1−ζ) does not.
    """
    sigma, zeta = 3.0, 0.4
    d = QuasiLinearCES(sigma, zeta)
    p = np.array([1.0, 1.3, 0.8])
    rho = (sigma - 1) / sigma

    def neg_surplus(logq):
        q = np.exp(logq)
        big_q = np.sum(q**rho) ** (1 / rho)
        return -(big_q**zeta / zeta - np.sum(p * q))

    best = optimize.minimize(neg_surplus, np.zeros(3), method="BFGS", options={"gtol": 1e-12})
    q_opt = np.exp(best.x)
    price_index = np.sum(p ** (1 - sigma)) ** (1 / (1 - sigma))
    q_formula = np.asarray(d.quantity(p / d.markup, price_index))
    np.testing.assert_allclose(q_formula, q_opt, rtol=1e-6)
    q_printed = price_index ** ((zeta - sigma) / (1 - zeta)) * p ** (-sigma)
    assert np.max(np.abs(q_printed / q_opt - 1)) > 0.1
    # Q = P^{-1/(1-ζ)} and spending P Q:
    np.testing.assert_allclose(np.sum(q_opt**rho) ** (1 / rho), float(d.consumption(price_index)), rtol=1e-6)
    np.testing.assert_allclose(np.sum(p * q_opt), float(d.spending(price_index)), rtol=1e-6)


# ------------------------------------------------------------------------------------ aggregation


def test_aggregate_cost_is_the_ces_power_mean():
    mc = _mc_sample(500)
    want = np.mean(np.asarray(mc) ** (1 - SIGMA)) ** (1 / (1 - SIGMA))
    np.testing.assert_allclose(float(aggregate_cost(mc, SIGMA)), want, rtol=1e-12)
    # Destination axis kept; weights honoured.
    both = jnp.stack([mc, 2.0 * mc], axis=1)
    np.testing.assert_allclose(np.asarray(aggregate_cost(both, SIGMA)), [want, 2 * want], rtol=1e-12)
    w = jnp.linspace(0.5, 1.5, mc.shape[0])
    want_w = (np.sum(np.asarray(w) * np.asarray(mc) ** (1 - SIGMA)) / np.sum(np.asarray(w))) ** (1 / (1 - SIGMA))
    np.testing.assert_allclose(float(aggregate_cost(mc, SIGMA, weights=w)), want_w, rtol=1e-12)
    # No overflow where MC^{1−σ} overflows float32.
    tiny = jnp.asarray([1e-20, 2e-20], jnp.float32)
    assert np.isfinite(float(aggregate_cost(tiny, 4.0)))


def test_aggregate_cost_of_pareto_marginal_costs_by_quadrature():
    """MC ~ Pareto(k, x_m): E[MC^{1−σ}] = k x_m^{1−σ}/(k+σ−1). Gauss-Legendre in u of icdf(u)."""
    k, xm = 2.5, 0.7
    u, w = np.polynomial.legendre.leggauss(200)
    # substitute u = 1 − s^{m} to tame the endpoint: integrand in s is smooth
    s = 0.5 * (u + 1.0)
    mpow = 4.0
    uu = 1.0 - s**mpow
    ww = 0.5 * w * mpow * s ** (mpow - 1)
    mc = Pareto(k, xm).icdf(jnp.asarray(uu))
    got = float(aggregate_cost(mc, SIGMA, weights=jnp.asarray(ww)))
    want = (k * xm ** (1 - SIGMA) / (k + SIGMA - 1)) ** (1 / (1 - SIGMA))
    np.testing.assert_allclose(got, want, rtol=1e-9)


# ------------------------------------------------------------------------------------ free entry


def test_numerical_free_entry_matches_the_closed_forms():
    d = QuasiLinearCES(SIGMA, ZETA)
    mc = _mc_sample()
    f_s = 0.37
    num = solve_free_entry(d, mc, f_s, income=5.0)
    assert num.result == jaxtrade_results_successful()
    assert float(num.residual) < 1e-12
    cf = free_entry_closed_form(d, aggregate_cost(mc, SIGMA), f_s, income=5.0)
    for field in ("price_index", "mass_of_firms", "consumer_surplus", "welfare", "consumption", "numeraire_consumption"):
        np.testing.assert_allclose(float(getattr(num, field)), float(getattr(cf, field)), rtol=1e-11, err_msg=field)
    # Free entry holds in the sample: S firms' expected profit equals the sunk cost.
    profit = np.mean(np.asarray(d.profit(mc, num.price_index)))
    np.testing.assert_allclose(profit, f_s, rtol=1e-11)


def jaxtrade_results_successful():
    import optimistix as optx

    return optx.RESULTS.successful


@pytest.mark.parametrize("sigma,zeta", [(4.0, 0.5), (2.5, 0.2), (8.0, 0.8)])
def test_printed_closed_forms_for_price_index_mass_and_welfare(sigma, zeta):
    """The printed P, the first printed form of S and κ are right; the second printed form of S is not."""
    d = QuasiLinearCES(sigma, zeta)
    mc = _mc_sample(seed=1)
    f_s = 0.8
    num = solve_free_entry(d, mc, f_s)
    pt = sigma / (sigma - 1) * float(aggregate_cost(mc, sigma))
    D = sigma - 1 - zeta * sigma
    p_printed = (sigma * f_s) ** ((1 - zeta) / D) * pt ** ((sigma - 1) * (1 - zeta) / D)
    s_printed_1 = (1 / (sigma * f_s)) ** ((1 - zeta) * (sigma - 1) / D) * pt ** (-zeta * (sigma - 1) / D)
    kappa = (1 - zeta) / zeta * (sigma * f_s) ** (-zeta / D)
    cs_printed = kappa * pt ** (-zeta * (sigma - 1) / D)
    np.testing.assert_allclose(float(num.price_index), p_printed, rtol=1e-10)
    np.testing.assert_allclose(float(num.mass_of_firms), s_printed_1, rtol=1e-10)
    np.testing.assert_allclose(float(num.consumer_surplus), cs_printed, rtol=1e-10)
    # Second printed form: f_s^{+(1−ζ)(σ−1)/D} ((σ−1)/σ^{1/ζ})^{ζ(σ−1)/(ζ−1−ζσ)} M̃C^{−ζ(σ−1)/D}: misprinted.
    mct = float(aggregate_cost(mc, sigma))
    s_printed_2 = f_s ** ((1 - zeta) * (sigma - 1) / D) * ((sigma - 1) / sigma ** (1 / zeta)) ** (zeta * (sigma - 1) / (zeta - 1 - zeta * sigma)) * mct ** (-zeta * (sigma - 1) / D)
    assert abs(s_printed_2 / float(num.mass_of_firms) - 1) > 1e-3
    s_corrected_2 = f_s ** (-(1 - zeta) * (sigma - 1) / D) * ((sigma - 1) / sigma ** (1 / zeta)) ** (zeta * (sigma - 1) / D) * mct ** (-zeta * (sigma - 1) / D)
    np.testing.assert_allclose(float(num.mass_of_firms), s_corrected_2, rtol=1e-10)


def test_several_destination_markets_share_one_free_entry_condition():
    d = QuasiLinearCES(SIGMA, ZETA)
    mc = _mc_sample(seed=2)
    mc2 = jnp.stack([mc, 1.4 * mc[::-1], 0.9 * mc], axis=1)
    num = solve_free_entry(d, mc2, 0.5)
    cf = free_entry_closed_form(d, aggregate_cost(mc2, SIGMA), 0.5)
    np.testing.assert_allclose(np.asarray(num.price_index), np.asarray(cf.price_index), rtol=1e-11)
    np.testing.assert_allclose(float(num.mass_of_firms), float(cf.mass_of_firms), rtol=1e-11)
    total_profit = sum(np.mean(np.asarray(d.profit(mc2[:, k], num.price_index[k]))) for k in range(3))
    np.testing.assert_allclose(total_profit, 0.5, rtol=1e-11)


def test_non_convergence_is_reported_not_hidden():
    d = QuasiLinearCES(SIGMA, ZETA)
    mc = _mc_sample(seed=3)
    # Three very different markets: the log system is non-linear (log-sum-exp of profits).
    mc = jnp.stack([mc, 1e3 * mc, 1e-2 * mc], axis=1)
    out = solve_free_entry(d, mc, 1e-3, max_steps=1, throw=False)
    assert out.result != jaxtrade_results_successful()
    assert float(out.residual) > 1e-6
    with pytest.raises(Exception):
        solve_free_entry(d, mc, 1e-3, max_steps=1, throw=True)


# ------------------------------------------------------------------------------------ welfare


def test_formula_13_is_the_elasticity_of_consumer_surplus_not_of_welfare():
    d = QuasiLinearCES(SIGMA, ZETA)
    mc = _mc_sample(seed=4)
    f_s, income = 0.3, 2.0
    e0 = solve_free_entry(d, mc, f_s, income=income)
    e1 = solve_free_entry(d, 0.93 * mc, f_s, income=income)
    dlnmc = np.log(float(e1.aggregate_cost) / float(e0.aggregate_cost))
    el = float(welfare_elasticity(d))
    np.testing.assert_allclose(el, -ZETA * (SIGMA - 1) / (SIGMA - 1 - ZETA * SIGMA))
    # Exact (not only to first order) for the consumer surplus term:
    np.testing.assert_allclose(np.log(float(e1.consumer_surplus) / float(e0.consumer_surplus)), el * dlnmc, rtol=1e-10)
    # Welfare itself: elasticity el·CS/W at the margin, clearly different from el.
    lnw = lambda lm: jnp.log(free_entry_closed_form(d, jnp.exp(lm), f_s, income=income).welfare)  # noqa: E731
    lm0 = jnp.log(e0.aggregate_cost)
    dw = float(jax.grad(lnw)(lm0))
    share = float(e0.consumer_surplus / e0.welfare)
    np.testing.assert_allclose(dw, el * share, rtol=1e-10)
    assert abs(dw - el) > 0.1 * abs(el)


def test_price_and_variety_channels_are_swapped_in_print():
    """d ln P/d ln p̃ = (σ−1)(1−ζ)/D; the price channel (S fixed) is 1 of it: share D/((1−ζ)(σ−1))."""
    for sigma, zeta in [(4.0, 0.5), (3.0, 0.2)]:
        d = QuasiLinearCES(sigma, zeta)
        lnp = lambda lm: jnp.log(free_entry_closed_form(d, jnp.exp(lm), 0.5).price_index)  # noqa: E731
        total = float(jax.grad(lnp)(jnp.asarray(0.3)))
        D = sigma - 1 - zeta * sigma
        np.testing.assert_allclose(total, (sigma - 1) * (1 - zeta) / D, rtol=1e-12)
        price_share, variety_share = (float(x) for x in price_and_variety_shares(d))
        np.testing.assert_allclose(price_share, 1.0 / total, rtol=1e-12)
        np.testing.assert_allclose(price_share + variety_share, 1.0, rtol=1e-12)
        printed_price_share = zeta / ((1 - zeta) * (sigma - 1))
        assert abs(printed_price_share - price_share) > 0.05


def test_implicit_gradient_of_free_entry_matches_finite_differences():
    d = QuasiLinearCES(SIGMA, ZETA)
    mc = _mc_sample(seed=5, n=300)

    def f(log_fs, scale):
        e = solve_free_entry(d, scale * mc, jnp.exp(log_fs))
        return jnp.log(e.mass_of_firms) + 0.3 * jnp.log(e.price_index)

    g = jax.grad(f, argnums=(0, 1))(jnp.asarray(np.log(0.4)), jnp.asarray(1.1))
    h = 1e-6
    fd0 = (f(np.log(0.4) + h, 1.1) - f(np.log(0.4) - h, 1.1)) / (2 * h)
    fd1 = (f(np.log(0.4), 1.1 + h) - f(np.log(0.4), 1.1 - h)) / (2 * h)
    np.testing.assert_allclose(float(g[0]), float(fd0), rtol=1e-6)
    np.testing.assert_allclose(float(g[1]), float(fd1), rtol=1e-6)


# ------------------------------------------------------------------------------------ Proposition 9 in GE


@given(seed=st.integers(0, 2**31 - 1), tau_hi=st.floats(0.2, 3.0), cut=st.floats(0.05, 0.95))
def test_lower_offshoring_costs_raise_entry_and_consumer_surplus(seed, tau_hi, cut):
    """Proposition 9 + §4.4: τ' < τ ⇒ M̃C falls (weakly) ⇒ more firms, lower P, higher CS."""
    d = QuasiLinearCES(SIGMA, ZETA)
    u = jax.random.uniform(jax.random.key(seed), (256, 6, 2), dtype=jnp.float64, minval=1e-9, maxval=1.0)
    a = Pareto(2.0, 0.5).icdf(u)
    T = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    mc0 = solve_chain(a, T, tau_hi).cost
    mc1 = solve_chain(a, T, tau_hi * cut).cost
    e0 = free_entry_closed_form(d, aggregate_cost(mc0, SIGMA), 1.0)
    e1 = free_entry_closed_form(d, aggregate_cost(mc1, SIGMA), 1.0)
    assert float(e1.aggregate_cost) <= float(e0.aggregate_cost) * (1 + 1e-12)
    assert float(e1.mass_of_firms) >= float(e0.mass_of_firms) * (1 - 1e-12)
    assert float(e1.price_index) <= float(e0.price_index) * (1 + 1e-12)
    assert float(e1.consumer_surplus) >= float(e0.consumer_surplus) * (1 - 1e-12)
