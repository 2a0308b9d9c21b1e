"""Destinations and horizontal FDI (004 §3.3 and §4.5): final-shipment costs τ^F T^F(c_N, d).

- §4.5 at τ = ∞ (no offshoring of parts), M = 2: with whole-chain costs C_j = Σ_i a_ij the firm
  serves each market from the cheaper of "produce there" and "produce in the other country and
  ship". With an iceberg (gross) final-shipment factor τ^d = 1 + τ^F the rule is the paper's ratio
  rule: produce in both countries if τ^d > max(C)/min(C), else produce in the low-cost country and
  export to the high-cost one. With additive shipment costs the comparison is a difference.
- Proposition 6: for τ^F > Σ_j Σ_i a_ij the last stage is made in the destination, so the paths
  differ across destinations; Corollary: then the chosen paths do not minimise the cost of
  production (MC without shipment) for all but at most one destination.
"""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jaxtrade.models.sequential_ge import QuasiLinearCES, aggregate_cost, free_entry_closed_form, solve_free_entry
from jaxtrade.engine.production import solve_chain
from jaxtrade.distributions import Pareto

T2 = jnp.array([[0.0, 1.0], [1.0, 0.0]])
TAU_INF = 1e12  # "τ = ∞": far above any cost in these tests


def _draws(seed, n, n_stages, m, dtype=jnp.float64):
    u = jax.random.uniform(jax.random.key(seed), (n, n_stages, m), dtype=dtype, minval=1e-9, maxval=1.0)
    return Pareto(2.0, 0.5).icdf(u)


@given(seed=st.integers(0, 2**31 - 1), tau_f=st.floats(0.0, 2.0))
def test_section_4_5_ratio_rule_at_infinite_offshoring_costs(seed, tau_f):
    a = _draws(seed, 256, 5, 2)
    factor_minus_one = tau_f * (1.0 - jnp.eye(2))  # gross factor 1 + τ^F off the diagonal
    sol = solve_chain(a, T2, TAU_INF, value_dependent=True, destination_costs=factor_minus_one)
    path = np.asarray(sol.path)  # (F, N, D)
    # No offshoring: every stage in one country, per destination.
    assert np.all(path == path[:, :1, :])
    chain = np.asarray(a.sum(axis=1))  # C_j, (F, 2)
    low = chain.argmin(axis=1)
    high = 1 - low
    ratio = chain.max(axis=1) / chain.min(axis=1)
    gross = 1.0 + tau_f
    site = path[:, 0, :]  # (F, D) production country per destination
    rows = np.arange(len(low))
    # The low-cost market is always served by local production.
    assert np.all(site[rows, low] == low)
    # The high-cost market: local production iff τ^d > max/min; else exported from the low-cost country.
    clear = np.abs(gross - ratio) > 1e-9 * ratio
    np.testing.assert_array_equal(site[rows, high][clear], np.where(gross > ratio, high, low)[clear])
    # Marginal costs: C_local or τ^d C_low.
    want = np.minimum(chain[rows, high], gross * chain[rows, low])
    np.testing.assert_allclose(np.asarray(sol.cost)[rows, high], want, rtol=1e-12)


@given(seed=st.integers(0, 2**31 - 1), tau_f=st.floats(0.0, 5.0))
def test_section_4_5_rule_with_additive_shipment_costs(seed, tau_f):
    a = _draws(seed, 256, 5, 2)
    sol = solve_chain(a, T2, TAU_INF, destination_costs=tau_f * T2)
    chain = np.asarray(a.sum(axis=1))
    site = np.asarray(sol.path)[:, 0, :]
    for d in range(2):
        other = 1 - d
        local = chain[:, d] < chain[:, other] + tau_f
        clear = np.abs(chain[:, d] - chain[:, other] - tau_f) > 1e-9
        np.testing.assert_array_equal(site[:, d][clear], np.where(local, d, other)[clear])


def test_productivity_ordering_is_not_strict_under_the_ratio_rule():
    """§4.5: a more productive firm may export while a less productive one produces in both markets."""
    a_good = jnp.array([[0.5, 0.75], [0.5, 0.75]])  # C = (1, 1.5): ratio 1.5
    a_bad = jnp.array([[5.0, 6.0], [5.0, 6.0]])  # C = (10, 12): ratio 1.2
    sol = solve_chain(jnp.stack([a_good, a_bad]), T2, TAU_INF, value_dependent=True, destination_costs=0.3 * (1.0 - jnp.eye(2)))
    site = np.asarray(sol.path)[:, 0, :]
    assert list(site[0]) == [0, 0]  # exports from country 0 to country 1
    assert list(site[1]) == [0, 1]  # horizontal FDI: produces in both


@given(seed=st.integers(0, 2**31 - 1), tau=st.floats(0.0, 3.0), m=st.sampled_from([2, 3]))
def test_proposition_6_last_stage_in_the_destination(seed, tau, m):
    a = _draws(seed, 64, 4, m)
    t = 1.0 - jnp.eye(m)
    bound = np.asarray(a.sum(axis=(1, 2)))  # Σ_j Σ_i a_ij per firm
    tau_f = jnp.asarray(1.0001 * bound.max())
    sol = solve_chain(a, t, tau, destination_costs=tau_f * t)
    path = np.asarray(sol.path)  # (F, N, D)
    np.testing.assert_array_equal(path[:, -1, :], np.broadcast_to(np.arange(m), (a.shape[0], m)))
    # Paths differ across destinations.
    for d in range(1, m):
        assert np.all(np.any(path[:, :, d] != path[:, :, 0], axis=1))
    # Corollary: at most one destination's path minimises the production-and-offshoring cost.
    mc_plain = np.asarray(solve_chain(a, t, tau).cost)
    cost_d = np.asarray(sol.cost)  # no shipment paid: c_N = d
    n_optimal = np.sum(cost_d <= mc_plain[:, None] * (1 + 1e-12), axis=1)
    assert np.all(n_optimal <= 1)


def test_one_mc_distribution_per_destination_in_equilibrium():
    """Each destination has its own M̃C_d and price index; one free-entry condition for the firms."""
    a = _draws(7, 4000, 6, 2)
    dest = 0.8 * T2
    mc = solve_chain(a, T2, 0.5, destination_costs=dest).cost  # (F, 2)
    demand = QuasiLinearCES(4.0, 0.5)
    eq = solve_free_entry(demand, mc, 0.5)
    cf = free_entry_closed_form(demand, aggregate_cost(mc, 4.0), 0.5)
    np.testing.assert_allclose(np.asarray(eq.price_index), np.asarray(cf.price_index), rtol=1e-11)
    # Symmetric countries: the two destinations' distributions agree up to Monte Carlo error.
    m = np.asarray(aggregate_cost(mc, 4.0))
    assert abs(m[0] / m[1] - 1) < 0.03
    # Shipment costs only raise marginal costs relative to the free-shipment case.
    mc0 = np.asarray(solve_chain(a, T2, 0.5).cost)
    assert np.all(np.asarray(mc) >= mc0[:, None] - 1e-12)
