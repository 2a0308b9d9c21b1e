"""Market-penetration costs and the EKK model (001 §6.4): closed forms, limits, simulator."""

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import integrate, optimize, stats

from jaxtrade.engine.validation import JaxtradeInputError
from jaxtrade.models import market_penetration as mp

P = mp.params(2.46, 0.91, 1.69, 0.34, -0.65)  # EKK (2011) estimates
MK = mp.markets([0.6, 0.3, 0.15], [10.0, 5.0, 4.0])


@settings(max_examples=25, deadline=None)
@given(x=hst.floats(0.2, 20.0), lam=hst.floats(0.2, 5.0))
def test_optimal_share_maximises_profit(x, lam):
    """e* = max(0, 1 − x^{−λ}) against a bounded numerical maximisation of x e − M(e)."""
    obj = lambda e: -(x * e - float(mp.marketing_cost(e, lam)))
    res = optimize.minimize_scalar(obj, bounds=(0.0, 1.0 - 1e-12), method="bounded", options={"xatol": 1e-12})
    e_num = res.x if -res.fun > 0 else 0.0
    e_cf = float(mp.optimal_share(x, lam))
    assert -obj(e_cf) >= -res.fun - 1e-9  # the closed form is at least as good
    assert e_cf == pytest.approx(e_num, abs=2e-5)


def test_marketing_cost_limits_and_derivative():
    e = np.linspace(0.0, 0.95, 20)
    np.testing.assert_allclose(mp.marketing_cost(e, 1.0), -np.log1p(-e), rtol=1e-12)
    np.testing.assert_allclose(mp.marketing_cost(e, 1.0 + 1e-6), -np.log1p(-e), rtol=1e-5)
    np.testing.assert_allclose(mp.marketing_cost(e, 1e7), e, atol=1e-6)  # λ → ∞: fixed cost e·εF
    assert float(mp.marketing_cost(0.0, 0.5)) == 0.0
    dm = jax.vmap(jax.grad(lambda e: mp.marketing_cost(e, 0.7)))(e)
    np.testing.assert_allclose(dm, (1 - e) ** (-1 / 0.7), rtol=1e-10)  # M'(e) = (1−e)^{−1/λ}


def test_lambda_infinity_is_fixed_cost_melitz():
    x = np.array([0.5, 0.99, 1.01, 3.0])
    np.testing.assert_allclose(mp.optimal_share(x, 1e6), (x > 1).astype(float), atol=1e-4)
    # profit at e* tends to x − 1 (pay ε F once, reach everyone)
    e = mp.optimal_share(3.0, 1e6)
    assert float(3.0 * e - mp.marketing_cost(e, 1e6)) == pytest.approx(2.0, rel=1e-4)


def test_hurdles_match_entry_shares_against_quadrature():
    lub = np.asarray(mp.hurdles(P, MK.entry_share))
    tt, sh = 2.46, 0.34
    for l, share in zip(lub, np.asarray(MK.entry_share)):
        mass = integrate.quad(lambda z: min(1.0, np.exp(l + tt * sh * z)) * stats.norm.pdf(z), -12, 12, points=[-l / (tt * sh)])[0]
        assert mass == pytest.approx(share, rel=1e-9)


def test_mean_sales_against_nested_quadrature():
    """The calibrated scale σF_n gives mean sales of sellers X̄_n (scipy nested quad, independent)."""
    p = mp.params(2.0, 0.6, 0.5, 0.4, 0.3)
    mk = mp.markets([0.5, 0.1], [7.0, 3.0])
    lub, scale = (np.asarray(a) for a in mp.sales_scales(p, mk))
    tt, lam, sa, sh, rho = 2.0, 0.6, 0.5, 0.4, 0.3
    for n in range(2):
        def inner(z):
            h = sh * z
            ma = np.exp(rho * sa * z + 0.5 * sa**2 * (1 - rho**2))
            b = min(1.0, np.exp(lub[n] + tt * h))
            x = lambda u: np.exp(h) * (u / np.exp(lub[n])) ** (-1 / tt)
            f = lambda u: ma * np.exp(-h) * (x(u) - x(u) ** (1 - lam))
            return integrate.quad(f, 0, b, limit=200)[0] * stats.norm.pdf(z)
        tot = integrate.quad(inner, -10, 10, points=[-lub[n] / (tt * sh)], limit=200)[0]
        assert scale[n] * tot / float(mk.entry_share[n]) == pytest.approx(float(mk.mean_sales[n]), rel=1e-6)


def test_simulate_matches_markets_and_is_chunk_invariant():
    n = 60_000
    s1 = mp.simulate(P, n_firms=n, markets=MK, seed=7, chunk_firms=1000)
    s2 = mp.simulate(P, n_firms=n, markets=MK, seed=7, chunk_firms=7777)  # ragged last chunk
    s3 = mp.simulate(P, n_firms=n, markets=MK, seed=7)  # default chunk, one call
    assert s1.shape == (n, 3)
    assert np.array_equal(s1, s2) and np.array_equal(s1, s3)  # bitwise, whatever the chunking
    sub = mp.simulate(P, n_firms=1000, markets=MK, seed=7, first_firm=30_000, chunk_firms=333)
    assert np.array_equal(sub, s1[30_000:31_000])
    streamed = np.concatenate([c for _, c in mp.simulate_chunks(P, n_firms=n, markets=MK, seed=7, chunk_firms=25_000)])
    assert np.array_equal(streamed, s1)
    d = s1 > 0
    share = np.asarray(MK.entry_share)
    se = np.sqrt(share * (1 - share) / n)
    assert np.all(np.abs(d.mean(0) - share) < 4 * se)
    mean = s1.sum(0) / d.sum(0)
    se_mean = s1.std(0, where=d) / np.sqrt(d.sum(0))
    assert np.all(np.abs(mean - np.asarray(MK.mean_sales)) < 5 * se_mean)
    # sales are σF (α/η) x e*: on entry strictly positive, otherwise zero
    assert np.all(s1 >= 0)


def test_counterfactual_partial_equilibrium_and_no_change():
    """τ̂ = 1 changes nothing; a PE fall in barriers (P̂ = 1) leaves home sales as they were and
    raises every firm's foreign sales, so no decile loses and nobody exits; in the GE version (home
    imports cheaper, P̂_home < 1) marginal home sellers exit."""
    kw = dict(sigma=3.0, n_firms=5000, replications=2, seed=4)
    none = mp.counterfactual(P, MK, trade_cost_change=1.0, **kw)
    np.testing.assert_array_equal(none.change, 0.0)
    pe = mp.counterfactual(P, MK, **kw)
    np.testing.assert_allclose(pe.kappa, [1.0, 0.9**-2, 0.9**-2], rtol=1e-12)
    assert np.all(pe.change >= 0) and np.all(pe.exit_share == 0) and pe.total_change > 0
    ge = mp.counterfactual(P, MK, own_share=[0.6, 0.9, 0.9], **kw)
    theta = 2.46 * 2.0
    p_home = (0.6 + 0.4 * 0.9**-theta) ** (-1 / theta)
    np.testing.assert_allclose(ge.price_index[0], p_home, rtol=1e-12)
    np.testing.assert_allclose(ge.kappa[0], p_home**2, rtol=1e-12)
    assert ge.exit_share[0] > 0 and ge.change[9] > 0  # marginal home sellers exit, the top decile gains
    # bookkeeping: the total change is the deciles' change plus the entrants' sales
    assert ge.total_change == pytest.approx(ge.change.sum() + ge.entrant_sales, rel=1e-10)
    with pytest.raises(JaxtradeInputError, match="own_share"):
        mp.counterfactual(P, MK, own_share=[0.5, 0.5], **kw)


def test_small_dispersion_gives_strict_hierarchy():
    p = mp.params(2.0, 0.9, 1e-6, 1e-6, 0.0)
    s = mp.simulate(p, n_firms=20_000, markets=MK, seed=1)
    d = s > 0
    assert np.all(d[:, 1] <= d[:, 0]) and np.all(d[:, 2] <= d[:, 1])
    q = mp.simulate(P, n_firms=20_000, markets=MK, seed=1) > 0
    assert np.any(q[:, 2] & ~q[:, 0])  # with EKK's dispersion the hierarchy is imperfect


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(lam=0.0), "lam"),
        (dict(rho=1.0), "rho"),
        (dict(sigma_a=0.0), "sigma_a"),
        (dict(sigma_h=-1.0), "sigma_h"),
        (dict(theta_tilde=0.9), "theta_tilde"),
    ],
)
def test_bad_parameters(kw, name):
    base = dict(theta_tilde=2.0, lam=1.0, sigma_a=1.0, sigma_h=0.5, rho=0.0)
    base.update(kw)
    with pytest.raises(JaxtradeInputError, match=name):
        mp.params(**base)


def test_bad_markets():
    with pytest.raises(JaxtradeInputError, match="entry_share"):
        mp.markets([0.5, 1.2], [1.0, 1.0])
    with pytest.raises(JaxtradeInputError, match="mean_sales"):
        mp.markets([0.5, 0.2], [1.0])
    with pytest.raises(JaxtradeInputError, match="lam"):
        mp.optimal_share(2.0, -1.0)
