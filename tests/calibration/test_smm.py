"""Gradient-driven SMM for the EKK model (001 §6.4)."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp
import numpy as np
import pytest

from jaxtrade.calibration import smm
from jaxtrade.engine.validation import JaxtradeInputError
from jaxtrade.models import market_penetration as mp

TRUTH = np.array([2.46, 0.91, 1.69, 0.34, -0.65])  # EKK (2011)
MK0 = mp.markets([0.6, 0.3, 0.12], [10.0, 5.0, 4.0])


@pytest.fixture(scope="module")
def data():
    s = mp.simulate(mp.params(*TRUTH), n_firms=30_000, markets=MK0, seed=3)
    return s, mp.Markets.from_sales(s)


@pytest.mark.slow  # ~35 s alone (eager jacrev), ~80 s on a loaded machine
def test_moment_gradients_match_finite_differences(data):
    _, mk = data
    draws = smm.sim_draws(4000, 3, 11)
    g = lambda v: smm.simulated_moments(mp.Params(*v), mk, draws, 0.05)
    f = jax.jit(g)
    v0 = jnp.asarray(TRUTH)
    J = np.asarray(jax.jacrev(g)(v0))  # eager (a jitted jacrev gave NaN here: open issue, see docs)
    h = 1e-6
    for k in range(5):
        e = jnp.zeros(5).at[k].set(h)
        fd = (np.asarray(f(v0 + e)) - np.asarray(f(v0 - e))) / (2 * h)
        np.testing.assert_allclose(J[:, k], fd, rtol=2e-4, atol=1e-6)


@pytest.mark.slow  # ~27-42 s
def test_importance_simulation_reproduces_data_moments_at_truth(data):
    """Hard (τ = 0) moments of the importance-weighted simulator against the data simulated by
    ``simulate`` (u ~ U(0,1)) at the same parameters: standardised differences are sampling noise."""
    s, mk = data
    m_data, omega = smm.moments_from_sales(s, mk)
    S = 60_000
    m_sim = smm.simulated_moments(mp.Params(*jnp.asarray(TRUTH)), mk, smm.sim_draws(S, 3, 11), 0.0)
    z = np.asarray((m_sim - m_data) / jnp.sqrt(jnp.diag(omega) * (1 + s.shape[0] / S)))
    assert np.all(np.isfinite(z))
    assert np.mean(z**2) < 3.0 and np.max(np.abs(z)) < 4.5, z


def test_data_moments_delta_method_against_split_samples(data):
    """Ω from influence functions against the spread of moments over 6 disjoint subsamples."""
    s, mk = data
    _, omega = smm.moments_from_sales(s, mk)
    parts = np.array([np.asarray(smm.moments_from_sales(p, mk)[0]) for p in np.array_split(s, 6)])
    var_split = parts.var(0, ddof=1) / 6
    ratio = var_split / np.asarray(jnp.diag(omega))
    assert 0.2 < np.median(ratio) < 3.0, ratio


def test_estimate_rejects_bad_input(data):
    s, mk = data
    with pytest.raises(JaxtradeInputError, match="sales"):
        smm.estimate(s[:, :2], markets=mk)
    with pytest.raises(JaxtradeInputError, match="sales"):
        smm.estimate(-s, markets=mk)


@pytest.mark.slow
def test_estimate_reaches_objective_minimum_and_full_rank(data):
    """From 0.5× the truth the minimiser ends at an objective no larger than the truth's; the
    moment Jacobian has full rank. (Recovery within 10% is *not* achieved here: see the docs.)"""
    s, mk = data
    est = smm.estimate(s, markets=mk, seed=11, n_sim=20_000, start=mp.params(*(0.5 * TRUTH)), temperatures=(0.05,))
    m_data, omega = smm.moments_from_sales(s, mk)
    q = smm.objective_factory(m_data, 1 / jnp.maximum(jnp.diag(omega), 1e-14), mk, smm.sim_draws(20_000, 3, 11), 0.05)
    assert est.residual <= float(q(smm.from_params(mp.Params(*jnp.asarray(TRUTH))))) + 1e-6
    assert est.jacobian_rank == 5
    assert all(np.isfinite(v) and v > 0 for v in est.std_errors.values())
