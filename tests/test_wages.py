"""Endogenous wages (004 §3.5): Lemma 2, Proposition 8 (numerically), smoothing, implicit gradients.

The closure is documented in ``jaxtrade/_wages.py``: Section 4 goods market with free entry,
country 1's wage the numeraire (a homogeneous sector there), labour markets 2..M clear.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxtrade._equilibrium import QuasiLinearCES, free_entry_closed_form
from jaxtrade._production import solve_chain
from jaxtrade._validation import JaxtradeInputError
from jaxtrade._wages import labour_demand, solve_wages
from jaxtrade.distributions import Pareto


def _draws(seed, n, n_stages, m):
    u = jax.random.uniform(jax.random.key(seed), (n, n_stages, m), dtype=jnp.float64, minval=1e-9, maxval=1.0)
    return Pareto(2.0, 0.5).icdf(u)


def _t(m):
    return 1.0 - jnp.eye(m)


DEMAND = QuasiLinearCES(4.0, 0.5)


# --------------------------------------------------------------------------------- Lemma 2


@given(seed=st.integers(0, 2**31 - 1), m=st.sampled_from([2, 3]), k=st.integers(0, 2), up=st.floats(1.001, 3.0), tau=st.floats(0.0, 2.0))
def test_lemma_2_firm_labour_demand_does_not_rise_with_own_wage(seed, m, k, up, tau):
    k = k % m
    a = _draws(seed, 128, 5, m)
    w = jnp.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, m))
    w_up = w.at[k].multiply(up)
    l0 = np.asarray(solve_chain(a, _t(m), tau, wages=w).labour)[:, k]
    l1 = np.asarray(solve_chain(a, _t(m), tau, wages=w_up).labour)[:, k]
    assert np.all(l1 <= l0 + 1e-12)


@jax.jit
def _aggregate_ld(w, a, tau, f_s):
    return labour_demand(w, a, _t(a.shape[-1]), tau, DEMAND, f_s)[0]


@given(seed=st.integers(0, 2**31 - 1), m=st.sampled_from([2, 3]), k=st.integers(0, 2), up=st.floats(1.01, 3.0), tau=st.floats(0.01, 2.0))
def test_aggregate_own_wage_labour_demand_falls(seed, m, k, up, tau):
    """The aggregate Lemma 2 (module docstring): ε(L_k^D, w_k) ≤ ((σ−1)(1−ζ/D) − σ) E_ω[s] < 0."""
    k = k % m
    a = _draws(seed, 512, 5, m)
    w = jnp.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, m))
    l0 = float(_aggregate_ld(w, a, tau, 0.3)[k])
    l1 = float(_aggregate_ld(w.at[k].multiply(up), a, tau, 0.3)[k])
    assert l1 <= l0 * (1 + 1e-12)
    if l1 > 0:
        assert l1 < l0


def test_aggregate_labour_demand_formula_matches_firm_level_sum():
    """L_k^D = S E[q(MC) L_Dk] with q from demand (11 corrected) equals (σ−1) f_s S ∂ln M̃C/∂w_k."""
    a = _draws(1, 1000, 5, 3)
    w = jnp.array([1.0, 0.7, 1.3])
    f_s = 0.4
    ld, mct, s, p = labour_demand(w, a, _t(3), 0.4, DEMAND, f_s)
    sol = solve_chain(a, _t(3), 0.4, wages=w)
    q = DEMAND.quantity(sol.cost, p)
    direct = s * np.mean(np.asarray(q)[:, None] * np.asarray(sol.labour), axis=0)
    np.testing.assert_allclose(np.asarray(ld), direct, rtol=1e-10)
    # τ = 0: M̃C is homogeneous of degree one in w, the wage bill is the variable cost (σ−1) f_s S.
    ld0, _, s0, _ = labour_demand(w, a, _t(3), 0.0, DEMAND, f_s)
    np.testing.assert_allclose(float(jnp.sum(w * ld0)), 3.0 * f_s * float(s0), rtol=1e-10)


# --------------------------------------------------------------------------------- Proposition 8


@pytest.mark.parametrize("zeta", [0.2, 0.6])
def test_proposition_8_existence_and_uniqueness_for_two_countries(zeta):
    """Over a grid of (τ, L_2, ζ): the exact excess demand for country-2 labour is non-increasing in
    w_2 on a log grid, strictly falling while country 2 is used, and changes sign once; the
    bisection solver finds the crossing."""
    demand = QuasiLinearCES(4.0, zeta)
    a = _draws(2, 1000, 5, 2)

    @jax.jit
    def ld2(w2, tau):
        return labour_demand(jnp.stack([jnp.ones_like(w2), w2]), a, _t(2), tau, demand, 0.3)[0][1]

    grid = jnp.exp(jnp.linspace(np.log(1e-3), np.log(1e3), 41))
    for tau in (0.05, 0.5, 3.0):
        ld = np.asarray(jax.vmap(lambda w: ld2(w, tau))(grid))
        assert np.all(np.diff(ld) <= 1e-12 * ld[:-1])
        used = ld[1:] > 0
        assert np.all(np.diff(ld)[used] < 0)
        for l2 in (0.01, 1.0, 100.0):
            z = ld - l2
            assert z[0] > 0 and z[-1] < 0  # existence on the grid
            assert np.sum(np.diff(np.sign(z)) != 0) == 1  # one crossing
            eq = solve_wages(a, _t(2), tau, jnp.array([1e6, l2]), demand=demand, f_s=0.3)
            assert eq.result == optx.RESULTS.successful
            i = int(np.argmax(z < 0))
            assert float(grid[i - 1]) <= float(eq.wages[1]) <= float(grid[i])


def test_three_countries_newton_from_many_starts_finds_one_equilibrium():
    """Existence for M = 3 over a small grid of (τ, L_2, L_3); from four distant starts the same wages."""
    a = _draws(3, 1000, 5, 3)
    for tau, supply in ((0.4, [1e6, 0.5, 2.0]), (0.05, [1e6, 5.0, 0.1]), (1.5, [1e6, 0.05, 0.05])):
        supply = jnp.array(supply)
        found = []
        for start in ([1.0, 1.0, 1.0], [1.0, 0.1, 10.0], [1.0, 5.0, 0.2], [1.0, 0.3, 0.3]):
            eq = solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, temperature=0.02, initial_wages=jnp.array(start))
            assert eq.result == optx.RESULTS.successful
            assert float(eq.residual) < 1e-10
            np.testing.assert_allclose(np.asarray(eq.labour_demand)[1:], np.asarray(supply)[1:], rtol=1e-9)
            found.append(np.asarray(eq.wages))
        for w in found[1:]:
            np.testing.assert_allclose(w, found[0], rtol=1e-8)


def test_smoothed_equilibrium_converges_as_temperature_vanishes():
    """w(t) → w(exact) as t → 0. The smoothing bias falls fast (≥ 10x from t = 0.1 to 0.01); below
    that what is left is the firm-level granularity of a finite sample (a firm within t of a tie
    between two paths), so the error is bounded by 1/n, the labour-demand weight of one firm."""
    n = 1000
    a = _draws(4, n, 5, 2)
    supply = jnp.array([1e6, 1.0])
    exact = solve_wages(a, _t(2), 0.3, supply, demand=DEMAND, f_s=0.1)
    assert exact.result == optx.RESULTS.successful
    errs = []
    for temp in (0.1, 0.01, 0.003, 0.001):
        eq = solve_wages(a, _t(2), 0.3, supply, demand=DEMAND, f_s=0.1, temperature=temp)
        assert eq.result == optx.RESULTS.successful
        errs.append(abs(float(eq.wages[1]) / float(exact.wages[1]) - 1))
    assert errs[1] < errs[0] / 10
    assert max(errs[2:]) < 1.0 / n


def test_implicit_gradient_of_wages_wrt_tau_matches_finite_differences():
    a = _draws(5, 1000, 5, 3)  # same shapes as the other M = 3 tests: one compilation
    supply = jnp.array([1e6, 0.8, 1.5])

    def w_of(tau):
        return solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, temperature=0.02).wages[1:]

    jac = np.asarray(jax.jacrev(w_of)(jnp.asarray(0.4)))  # reverse mode through optx.ImplicitAdjoint
    h = 1e-5
    fd = (np.asarray(w_of(0.4 + h)) - np.asarray(w_of(0.4 - h))) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=1e-9)
    assert np.all(np.abs(jac) > 1e-6)


def test_closure_check_and_failures_are_reported():
    a = _draws(6, 1000, 5, 2)
    eq = solve_wages(a, _t(2), 0.3, jnp.array([1e-6, 1.0]), demand=DEMAND, f_s=0.3)
    assert float(eq.numeraire_sector_labour) < 0  # country 1 cannot supply its parts sector
    bad = solve_wages(a, _t(2), 0.3, jnp.array([1e6, 1.0]), demand=DEMAND, f_s=0.3, temperature=0.01, initial_wages=jnp.array([1.0, 1e3]), max_steps=1, throw=False)
    assert bad.result != optx.RESULTS.successful
    assert float(bad.residual) > 1e-3
    with pytest.raises(JaxtradeInputError, match="temperature"):
        solve_wages(_draws(6, 10, 3, 3), _t(3), 0.3, jnp.ones(3), demand=DEMAND, f_s=0.3)
    with pytest.raises(JaxtradeInputError, match="labour_supply"):
        solve_wages(a, _t(2), 0.3, jnp.ones(3), demand=DEMAND, f_s=0.3)
    with pytest.raises(JaxtradeInputError, match="labour_supply"):
        solve_wages(a, _t(2), 0.3, jnp.array([1.0, -1.0]), demand=DEMAND, f_s=0.3)


def test_wage_equilibrium_is_consistent_with_free_entry():
    a = _draws(7, 1000, 5, 2)
    eq = solve_wages(a, _t(2), 0.3, jnp.array([1e6, 2.0]), demand=DEMAND, f_s=0.3, temperature=0.01)
    mc = solve_chain(a, _t(2), 0.3, wages=eq.wages, temperature=0.01).cost
    cf = free_entry_closed_form(DEMAND, jnp.mean(mc**-3.0) ** (-1 / 3.0), 0.3)
    np.testing.assert_allclose(float(eq.mass_of_firms), float(cf.mass_of_firms), rtol=1e-10)
    np.testing.assert_allclose(float(eq.price_index), float(cf.price_index), rtol=1e-10)
