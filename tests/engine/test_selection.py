"""The selection engine: free entry with strategies, result codes, solvers, vmap."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest

from jaxtrade.engine import selection as sel
from jaxtrade import distributions as D


def one_market(dist, sigma, mult, fixed, weight, f_e):
    st = sel.Strategies(
        multiplier=jnp.asarray(mult, float),
        fixed_cost=jnp.asarray(fixed, float),
        weight=jnp.asarray(weight, float),
        origin=(0,) * len(mult),
        market=(0,) * len(mult),
    )
    return sel.SelectionProblem(jnp.asarray(sigma, float), dist, st, jnp.asarray([f_e], float), 1)


def test_closed_economy_cutoff_matches_pareto_closed_form():
    k, sigma, f, f_e = 4.0, 3.0, 1.0, 0.1
    sol = sel.solve_selection(one_market(D.Pareto(k, 1.0), sigma, [1.0], [f], [1.0], f_e))
    want = ((sigma - 1) / (k - sigma + 1) * f / f_e) ** (1 / k)  # 001 §6.1
    np.testing.assert_allclose(sol.cutoffs[0], want, rtol=1e-13)
    assert sol.result == optx.RESULTS.successful
    assert sol.residual < 1e-12
    assert int(sol.steps) <= 4  # the log-residual is linear in log B under Pareto


def test_cutoff_formula_and_free_entry_hold_at_solution_for_lognormal():
    d, sigma = D.LogNormal(0.3, 0.9), 4.0
    prob = one_market(d, sigma, [1.0, 0.5], [1.0, 2.0], [1.0, 3.0], 0.2)
    sol = sel.solve_selection(prob)
    B = float(sol.demand[0])
    np.testing.assert_allclose(sol.cutoffs, (np.array([1.0, 2.0]) / (np.array([1.0, 0.5]) * B)) ** (1 / 3), rtol=1e-13)
    lhs = float(jnp.sum(jnp.array([1.0, 3.0]) * jnp.array([1.0, 2.0]) * sol.J))
    np.testing.assert_allclose(lhs, 0.2, rtol=1e-12)


def test_bisection_agrees_with_newton():
    prob = one_market(D.LogNormal(0.0, 1.0), 3.0, [1.0], [1.0], [1.0], 0.5)
    newton = sel.solve_selection(prob)
    bis = sel.solve_selection(
        prob,
        solver=optx.Bisection(rtol=1e-14, atol=1e-14),
        log_demand0=0.0,
        options=dict(lower=-20.0, upper=20.0),
        max_steps=200,
    )
    assert bis.result == optx.RESULTS.successful
    np.testing.assert_allclose(bis.log_demand, newton.log_demand, rtol=1e-12)


def test_max_steps_reached_is_a_result_code_and_throw_raises():
    prob = one_market(D.LogNormal(0.0, 1.0), 3.0, [1.0], [1.0], [1.0], 0.5)
    sol = sel.solve_selection(prob, max_steps=1, throw=False)
    assert sol.result == optx.RESULTS.nonlinear_max_steps_reached
    assert sol.residual > 1e-6
    with pytest.raises(Exception, match="maximum number of steps"):
        sel.solve_selection(prob, max_steps=1, throw=True)


def test_nan_input_is_a_named_failure_not_a_silent_nan():
    st = sel.Strategies(jnp.array([1.0]), jnp.array([jnp.nan]), jnp.array([1.0]), (0,), (0,))
    prob = sel.SelectionProblem(jnp.asarray(3.0), D.Pareto(4.0, 1.0), st, jnp.array([0.1]), 1)
    sol = sel.solve_selection(prob, throw=False)
    assert sol.result != optx.RESULTS.successful
    with pytest.raises(Exception):
        sel.solve_selection(prob, throw=True)


def test_vmap_matches_loop_and_reports_per_element_results():
    taus = jnp.linspace(1.2, 2.5, 7)

    def solve(t):
        prob = one_market(D.Pareto(4.0, 1.0), 3.0, [1.0, 1.0], [1.0, 1.5], [1.0, 2.0], 0.1)
        prob = eqx.tree_at(lambda p: p.strategies.multiplier, prob, jnp.stack([1.0, t ** (-2.0)]))
        return sel.solve_selection(prob, throw=False)

    batched = jax.jit(jax.vmap(solve))(taus)
    loop = np.array([float(solve(t).cutoffs[0]) for t in taus])
    np.testing.assert_allclose(batched.cutoffs[:, 0], loop, rtol=1e-13)
    assert batched.result.shape == (7,) if hasattr(batched.result, "shape") else True
    assert np.all(np.asarray(batched.residual) < 1e-12)


def test_tuple_of_distributions_equals_batched_parameters():
    # Two origins, two markets: per-origin distributions given as a tuple or as batched parameters.
    tau = 1.4
    mult = jnp.array([1.0, tau**-2.0, tau**-2.0, 1.0])  # (n,i) = (0,0),(0,1),(1,0),(1,1)
    fixed = jnp.array([1.0, 1.6, 1.6, 1.0])
    st = sel.Strategies(mult, fixed, jnp.ones(4), (0, 1, 0, 1), (0, 0, 1, 1))
    fe = jnp.array([0.1, 0.15])
    tup = (D.Pareto(4.0, 1.0), D.Pareto(5.0, 1.2))
    bat = D.Pareto(jnp.array([4.0, 5.0]), jnp.array([1.0, 1.2]))
    a = sel.solve_selection(sel.SelectionProblem(jnp.asarray(3.0), tup, st, fe, 2))
    b = sel.solve_selection(sel.SelectionProblem(jnp.asarray(3.0), bat, st, fe, 2))
    np.testing.assert_allclose(a.log_demand, b.log_demand, rtol=1e-13)
    mixed = (D.Pareto(4.0, 1.0), D.LogNormal(0.2, 0.6))
    c = sel.solve_selection(sel.SelectionProblem(jnp.asarray(3.0), mixed, st, fe, 2))
    assert c.result == optx.RESULTS.successful and c.residual < 1e-12


def test_implicit_derivative_of_demand_matches_finite_differences():
    def logB(fe):
        return sel.solve_selection(one_market(D.LogNormal(0.0, 0.8), 3.0, [1.0], [1.0], [1.0], fe)).log_demand[0]

    fe = 0.3
    g = jax.grad(logB)(fe)
    h = 1e-5
    fd = (logB(fe + h) - logB(fe - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7)


_ITEMS = [name for name in sel.CONDITIONS._name_to_item if name != "satisfied"]


@pytest.mark.parametrize("name", _ITEMS)
def test_every_condition_is_a_failure_code_and_throw_names_it_with_the_batch_index(name):
    """Issue 18, item 1: each condition is a failure result under jit(vmap) (never successful) and,
    with throw=True, an error carrying its own message and the first failing batch index."""
    item = getattr(sel.CONDITIONS, name)

    def one(i, throw):
        cond = sel.CONDITIONS.where(i == 0, sel.CONDITIONS.satisfied, item)
        return sel.report(optx.RESULTS.successful, cond, throw)._value

    idx = jnp.arange(3)
    res = jax.jit(jax.vmap(lambda i: one(i, False)))(idx)
    np.testing.assert_array_equal(
        np.asarray(res), [optx.RESULTS.successful._value] + [optx.RESULTS.nonlinear_divergence._value] * 2
    )
    msg = sel.CONDITIONS[item]
    with pytest.raises(Exception, match=r"no equilibrium: " + __import__("re").escape(msg) + r" \(batch index 1; 2 of 3 failed\)"):
        jax.block_until_ready(jax.jit(jax.vmap(lambda i: one(i, True)))(idx))
