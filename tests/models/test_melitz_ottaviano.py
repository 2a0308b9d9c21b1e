"""Melitz-Ottaviano variable mark-ups (001 §8): closed forms, scipy references, brute-force welfare,
implicit derivatives against finite differences, and the pro-competitive effects as properties."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate, optimize, stats  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import melitz_ottaviano as mo  # noqa: E402

K, CM = 3.0, 2.0
PARETO = D.Pareto(K, 1.0 / CM)
LOGN = D.LogNormal(0.2, 0.5)
PAR = dict(alpha=5.0, gamma=1.0, eta=1.0, f_E=0.5)
OK = optx.RESULTS.successful


def lognormal_cost_pdf(mu, s):
    """Density of c = 1/φ when log φ ~ N(μ, s²): log c ~ N(−μ, s²)."""
    return stats.lognorm(s, scale=np.exp(-mu)).pdf


def scipy_moment(pdf, x, m):
    return integrate.quad(lambda c: (x - c) ** m * pdf(c), 0.0, x, limit=200, epsabs=0, epsrel=1e-12)[0]


# ---------------------------------------------------------------- closed economy


@settings(max_examples=25, deadline=None)
@given(
    k=hst.floats(1.2, 8.0),
    c_M=hst.floats(0.5, 3.0),
    L=hst.floats(1.0, 200.0),
    gamma=hst.floats(0.1, 3.0),
    f_E=hst.floats(0.05, 2.0),
)
def test_closed_economy_pareto_closed_form(k, c_M, L, gamma, f_E):
    """001 §8: c_D = (γφ/L)^{1/(k+2)}, φ = 2(k+1)(k+2)c_M^k f_E; N = 2(k+1)γ(α−c_D)/(η c_D);
    U = 1 + (α−c_D)(α − (k+1)c_D/(k+2))/(2η) (MO 2008 eq. 12); choke price (27) = c_D."""
    cD = float(mo.pareto_cost_cutoff(k, c_M, L, gamma, f_E))
    assume(cD < 0.98 * c_M)
    alpha, eta = 4.0 * c_M, 1.3
    eq = mo.closed_economy(D.Pareto(k, 1.0 / c_M), L=L, alpha=alpha, gamma=gamma, eta=eta, f_E=f_E)
    assert eq.result == OK
    np.testing.assert_allclose(eq.cost_cutoff, cD, rtol=1e-12)
    np.testing.assert_allclose(eq.n_sellers, 2 * (k + 1) * gamma * (alpha - cD) / (eta * cD), rtol=1e-10)
    np.testing.assert_allclose(eq.average_cost, k / (k + 1) * cD, rtol=1e-10)
    np.testing.assert_allclose(eq.average_price, (2 * k + 1) / (2 * (k + 1)) * cD, rtol=1e-10)
    var_c = k / (k + 2) * cD**2 - (k / (k + 1) * cD) ** 2
    np.testing.assert_allclose(eq.price_variance, var_c / 4, rtol=1e-9)
    U = 1 + (alpha - cD) * (alpha - (k + 1) / (k + 2) * cD) / (2 * eta)
    np.testing.assert_allclose(eq.welfare, U, rtol=1e-10)
    np.testing.assert_allclose(eq.choke_price, cD, rtol=1e-10)


def test_closed_economy_when_every_entrant_produces():
    """c_D > c_M (all draws survive): H(x) = x² − 2x E[c] + E[c²], not the Pareto formula."""
    L, g, fE = 0.5, 1.0, 0.5
    eq = mo.closed_economy(PARETO, L=L, alpha=20.0, gamma=g, eta=1.0, f_E=fE)
    Ec, Ec2 = K / (K + 1) * CM, K / (K + 2) * CM**2
    x = optimize.brentq(lambda x: L / (4 * g) * (x * x - 2 * x * Ec + Ec2) - fE, CM, 100.0, xtol=1e-15)
    assert eq.result == OK and float(eq.cost_cutoff) > CM
    np.testing.assert_allclose(eq.cost_cutoff, x, rtol=1e-12)
    np.testing.assert_allclose(eq.survival_probability, 1.0, rtol=1e-15)
    assert float(mo.pareto_cost_cutoff(K, CM, L, g, fE)) != pytest.approx(x, rel=1e-3)


def test_closed_economy_lognormal_against_scipy_and_brute_force_welfare():
    """Free entry by brentq on scipy quadrature; N from (27); U by integrating the utility function
    over the equilibrium consumption bundle (q^c(c) = (c_D − c)/(2γ), q_0 = 1 − N E[p q^c])."""
    mu, s = 0.2, 0.5
    L, a, g, e, fE = 10.0, 5.0, 1.0, 1.0, 0.5
    eq = mo.closed_economy(LOGN, L=L, alpha=a, gamma=g, eta=e, f_E=fE)
    pdf = lognormal_cost_pdf(mu, s)
    cD = optimize.brentq(lambda x: L / (4 * g) * scipy_moment(pdf, x, 2) - fE, 0.05, 10.0, xtol=1e-14)
    assert eq.result == OK
    np.testing.assert_allclose(eq.cost_cutoff, cD, rtol=1e-11)
    Gd = integrate.quad(pdf, 0, cD, epsrel=1e-13)[0]
    Kd = scipy_moment(pdf, cD, 1)
    NE = 2 * g * (a - cD) / (e * Kd)
    N = NE * Gd
    np.testing.assert_allclose(eq.n_sellers, N, rtol=1e-9)
    np.testing.assert_allclose(eq.choke_price, cD, rtol=1e-10)

    def E(f):  # mean over sellers
        return integrate.quad(lambda c: f(c) * pdf(c), 0, cD, epsrel=1e-13)[0] / Gd

    q = lambda c: (cD - c) / (2 * g)  # noqa: E731
    p = lambda c: (cD + c) / 2  # noqa: E731
    Q = N * E(q)
    q0 = 1.0 - N * E(lambda c: p(c) * q(c))
    U_direct = q0 + a * Q - 0.5 * g * N * E(lambda c: q(c) ** 2) - 0.5 * e * Q**2
    np.testing.assert_allclose(eq.welfare, U_direct, rtol=1e-10)
    # demand (26) holds for every variety: p = α − γ q − η Q
    np.testing.assert_allclose(p(0.3 * cD), a - g * q(0.3 * cD) - e * Q, rtol=1e-10)
    # the four firm equations
    c = jnp.asarray([0.2 * cD, 0.9 * cD, 1.1 * cD])
    np.testing.assert_allclose(eq.markup(c), np.maximum(0.5 * (cD - np.asarray(c)), 0), rtol=1e-10)
    np.testing.assert_allclose(eq.profit(c), L / (4 * g) * np.maximum(cD - np.asarray(c), 0) ** 2, rtol=1e-10)
    np.testing.assert_allclose(eq.revenue(c)[:2], L * np.asarray(p(c[:2]) * q(c[:2])), rtol=1e-10)
    assert float(eq.revenue(c)[2]) == 0.0 and float(eq.price(c)[2]) == 0.0
    # differentiated spending and labour (entry + production) by direct integration
    np.testing.assert_allclose(eq.differentiated_spending, N * E(lambda c: p(c) * q(c)), rtol=1e-10)
    lab = NE * fE + L * NE * Gd * E(lambda c: c * q(c))
    np.testing.assert_allclose(eq.labour_demand, lab, rtol=1e-10)


@pytest.mark.parametrize(
    "dist, pdf, lo",
    [
        (D.TruncatedPareto(3.0, 0.5, 3.0),
         lambda c: 3 * 0.5**3 * c ** (3 + 1) / (1 - (0.5 / 3) ** 3) / c**2 * ((c >= 1 / 3) & (c <= 2)), 1 / 3),
        pytest.param(D.Frechet(3.0, 1.0), lambda c: stats.invweibull(3.0).pdf(1 / c) / c**2, 1e-9,
                     marks=pytest.mark.slow),
    ],
    ids=["truncated_pareto", "frechet"],
)
def test_cost_moments_against_scipy(dist, pdf, lo):
    """K and H over a bounded cost support (truncated Pareto: costs in [1/3, 2]), from the engine's
    tail rule, against scipy quad, below, inside and above the support."""
    for x in (0.2, 0.4, 0.9, 1.7, 2.5):
        G, Kx, Hx = mo.cost_moments(dist, jnp.asarray(x))
        top = min(x, 2.0) if isinstance(dist, D.TruncatedPareto) else x
        ref = [integrate.quad(lambda c: (x - c) ** m * pdf(c), lo, top, epsrel=1e-13, limit=200)[0]
               if top > lo else 0.0 for m in (0, 1, 2)]
        np.testing.assert_allclose([G, Kx, Hx], ref, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- open economy


def test_open_economy_eq28_symmetric_pareto():
    """Eq. (28): c_Dn = {γφ/(L_n [1 + (M−1)τ^{−k}])}^{1/(k+2)}, c_Xni = c_Dn/τ, for unequal L."""
    tau, M = 1.6, 3
    T = np.full((M, M), tau)
    np.fill_diagonal(T, 1.0)
    L = jnp.asarray([8.0, 10.0, 14.0])
    eq = mo.open_economy(PARETO, L=L, tau=jnp.asarray(T), **PAR)
    phi = 2 * (K + 1) * (K + 2) * CM**K * PAR["f_E"]
    want = (PAR["gamma"] * phi / (np.asarray(L) * (1 + (M - 1) * tau ** (-K)))) ** (1 / (K + 2))
    assert eq.result == OK
    np.testing.assert_allclose(eq.cost_cutoff, want, rtol=1e-12)
    np.testing.assert_allclose(eq.export_cutoff, want[:, None] / T, rtol=1e-12)
    # under Pareto the delivered-cost distribution in n is the closed-economy one: U_n as in autarky at c_Dn
    a, e = PAR["alpha"], PAR["eta"]
    np.testing.assert_allclose(eq.welfare, 1 + (a - want) * (a - (K + 1) / (K + 2) * want) / (2 * e), rtol=1e-10)
    np.testing.assert_allclose(eq.n_sellers, 2 * (K + 1) * PAR["gamma"] * (a - want) / (e * want), rtol=1e-10)
    np.testing.assert_allclose(eq.choke_price, want, rtol=1e-10)


def test_open_economy_asymmetric_pareto_linear_closed_form():
    """Any τ under Pareto: Σ_n τ_ni^{−k} L_n c_Dn^{k+2} = γφ (linear in L_n c_Dn^{k+2})."""
    tau = jnp.asarray([[1.0, 1.4, 1.9], [1.7, 1.0, 1.5], [1.6, 1.3, 1.0]])
    L = jnp.asarray([10.0, 8.0, 12.0])
    eq = mo.open_economy(PARETO, L=L, tau=tau, **PAR)
    phi = 2 * (K + 1) * (K + 2) * CM**K * PAR["f_E"]
    x = np.linalg.solve(np.asarray(tau).T ** (-K), PAR["gamma"] * phi * np.ones(3))
    assert eq.result == OK
    np.testing.assert_allclose(eq.cost_cutoff, (x / np.asarray(L)) ** (1 / (K + 2)), rtol=1e-12)
    np.testing.assert_allclose(eq.cost_cutoff, mo.pareto_open_cost_cutoffs(K, CM, L, tau, 1.0, 0.5), rtol=1e-12)


def test_open_economy_asymmetric_lognormal_against_scipy():
    """M = 2, asymmetric τ and L, log-normal φ: free entry by scipy fsolve on quad integrals, then
    entrants from (27), sellers and trade flows."""
    mu, s = 0.2, 0.5
    pdf = lognormal_cost_pdf(mu, s)
    tau = np.asarray([[1.0, 1.3], [1.8, 1.0]])
    L = np.asarray([10.0, 6.0])
    a, g, e, fE = PAR["alpha"], PAR["gamma"], PAR["eta"], PAR["f_E"]
    eq = mo.open_economy(LOGN, L=jnp.asarray(L), tau=jnp.asarray(tau), **PAR)

    def fe(logc):
        c = np.exp(logc)
        return [np.log(sum(L[n] * tau[n, i] ** 2 * scipy_moment(pdf, c[n] / tau[n, i], 2) for n in range(2)))
                - np.log(4 * g * fE) for i in range(2)]

    cD = np.exp(optimize.fsolve(fe, np.log([1.0, 1.0]), xtol=1e-14))
    assert eq.result == OK
    np.testing.assert_allclose(eq.cost_cutoff, cD, rtol=1e-10)
    x = cD[:, None] / tau
    Km = np.array([[scipy_moment(pdf, x[n, i], 1) for i in range(2)] for n in range(2)])
    Hm = np.array([[scipy_moment(pdf, x[n, i], 2) for i in range(2)] for n in range(2)])
    Gm = np.array([[scipy_moment(pdf, x[n, i], 0) for i in range(2)] for n in range(2)])
    NE = np.linalg.solve(0.5 * e * tau * Km, g * (a - cD))
    np.testing.assert_allclose(eq.n_entrants, NE, rtol=1e-9)
    np.testing.assert_allclose(eq.n_sellers, (NE[None, :] * Gm).sum(1), rtol=1e-9)
    flows = NE[None, :] * L[:, None] / (4 * g) * np.array(
        [[integrate.quad(lambda c: (cD[n] ** 2 - (tau[n, i] * c) ** 2) * pdf(c), 0, x[n, i], epsrel=1e-13)[0]
          for i in range(2)] for n in range(2)])
    np.testing.assert_allclose(eq.trade_flows, flows, rtol=1e-9)
    np.testing.assert_allclose(eq.choke_price, cD, rtol=1e-10)
    # the one-country open economy is the closed economy
    cl = mo.closed_economy(LOGN, L=10.0, **PAR)
    one = mo.open_economy(LOGN, L=jnp.asarray([10.0]), tau=jnp.ones((1, 1)), **PAR)
    np.testing.assert_allclose(one.cost_cutoff[0], cl.cost_cutoff, rtol=1e-14)
    np.testing.assert_allclose(one.welfare[0], cl.welfare, rtol=1e-14)


# ---------------------------------------------------------------- pro-competitive effects (implicit derivatives)


def _closed_outputs(L, sig):
    eq = mo.closed_economy(D.LogNormal(0.2, sig), L=L, **PAR)
    return jnp.stack([jnp.log(eq.cost_cutoff), eq.n_sellers, eq.average_price, eq.average_markup,
                      eq.markup(0.5), eq.welfare, eq.price_variance])


_closed_jac = jax.jit(jax.jacfwd(_closed_outputs))


@settings(max_examples=20, deadline=None)
@given(L=hst.floats(5.0, 60.0), sig=hst.floats(0.2, 0.8))
def test_market_size_is_pro_competitive(L, sig):
    """001 §8: a larger market has a lower cost cut-off, more sellers, lower average price, lower
    mark-ups (also for a given cost), higher welfare and less price dispersion, by implicit
    differentiation of the solve (log-normal productivity)."""
    out = _closed_outputs(L, sig)
    assume(float(out[0]) < np.log(4.0))  # interior, well below α
    d = np.asarray(_closed_jac(L, sig))
    dlogc, dN, dp, dmu, dmu_c, dU, dvar = d
    assert dlogc < 0 and dN > 0 and dp < 0 and dmu < 0 and dmu_c < 0 and dU > 0 and dvar < 0


def test_market_size_derivatives_against_pareto_and_finite_differences():
    """Pareto: d log c_D/d log L = −1/(k+2) exactly; log-normal: implicit derivatives against central
    differences of the solve."""
    g = jax.grad(lambda L: jnp.log(mo.closed_economy(PARETO, L=L, **PAR).cost_cutoff))(10.0)
    np.testing.assert_allclose(10.0 * g, -1 / (K + 2), rtol=1e-10)
    L, sig, h = 12.0, 0.5, 1e-4
    jac = np.asarray(_closed_jac(L, sig))
    fd = (np.asarray(_closed_outputs(L + h, sig)) - np.asarray(_closed_outputs(L - h, sig))) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=2e-6, atol=1e-10)


def _two_country(t, dist):
    """Outputs of the two-country economy as functions of t = (τ_01, τ_10)."""
    tau = jnp.asarray([[1.0, 0.0], [0.0, 1.0]]) + t[0] * jnp.asarray([[0.0, 1.0], [0.0, 0.0]]) + t[1] * jnp.asarray(
        [[0.0, 0.0], [1.0, 0.0]])
    eq = mo.open_economy(dist, L=jnp.asarray([10.0, 10.0]), tau=tau, **PAR)
    return jnp.stack([eq.cost_cutoff[0], eq.cost_cutoff[1], eq.welfare[0], eq.welfare[1],
                      eq.n_entrants[0], eq.n_entrants[1], eq.average_markup[0], eq.average_price[0],
                      eq.markup(0.5)[0, 0]])


@pytest.mark.parametrize(
    "dist", [PARETO, pytest.param(LOGN, marks=pytest.mark.slow)], ids=["pareto", "lognormal"]
)
def test_liberalisation_multilateral_gain_and_unilateral_long_run_loss(dist):
    """001 §8, by implicit differentiation of the solve (checked against central differences):

    * multilateral liberalisation (both τ fall together) lowers c_D, the average mark-up, the
      mark-up of a given firm and the average price, and raises welfare (pro-competitive effect);
    * unilateral liberalisation (country 0 lowers its import barrier τ_01, entry adjusting) raises
      c_D0 and lowers U_0, while c_D1 falls and U_1 rises: entry relocates to country 1.
    Pareto: c_D0^{k+2} L_0 = γφ(1 − τ_10^{−k})/(1 − τ_01^{−k} τ_10^{−k}) as a closed-form check."""
    t = jnp.asarray([1.6, 1.6])
    jac = np.asarray(jax.jacfwd(_two_country)(t, dist))
    multi, uni = jac @ np.array([1.0, 1.0]), jac[:, 0]
    assert multi[0] > 0 and multi[2] < 0  # lower common τ: c_D down, U up
    assert multi[6] > 0 and multi[7] > 0 and multi[8] > 0  # mark-ups and prices down
    assert uni[0] < 0 and uni[1] > 0  # lower τ_01: c_D0 up, c_D1 down
    assert uni[2] > 0 and uni[3] < 0  # lower τ_01: U_0 down, U_1 up (long run)
    assert uni[4] > 0 and uni[5] < 0  # entry relocates from 0 to 1
    h = 1e-5
    for j in range(2):
        e = h * np.eye(2)[j]
        fd = (np.asarray(_two_country(t + e, dist)) - np.asarray(_two_country(t - e, dist))) / (2 * h)
        np.testing.assert_allclose(jac[:, j], fd, rtol=1e-5, atol=1e-9)
    if dist is PARETO:
        phi = 2 * (K + 1) * (K + 2) * CM**K * 0.5
        c0 = lambda a: (phi * (1 - 1.6**-K) / (1 - a**-K * 1.6**-K) / 10.0) ** (1 / (K + 2))  # noqa: E731
        np.testing.assert_allclose(_two_country(t, dist)[0], c0(1.6), rtol=1e-12)
        np.testing.assert_allclose(uni[0], (c0(1.6 + 1e-6) - c0(1.6 - 1e-6)) / 2e-6, rtol=1e-7)


def test_unilateral_liberalisation_short_run_gain():
    """001 §8: holding the firms fixed (short run), the liberalising country gains: its cut-off
    falls and welfare rises; with entry adjusting (long run) it loses."""
    L = jnp.asarray([10.0, 10.0])
    tau0 = jnp.asarray([[1.0, 1.6], [1.6, 1.0]])
    tau1 = jnp.asarray([[1.0, 1.4], [1.6, 1.0]])
    base = mo.open_economy(LOGN, L=L, tau=tau0, **PAR)
    kw = dict(alpha=PAR["alpha"], gamma=PAR["gamma"], eta=PAR["eta"])
    sr0 = mo.short_run_economy(LOGN, n_entrants=base.n_entrants, L=L, tau=tau0, **kw)
    np.testing.assert_allclose(sr0.cost_cutoff, base.cost_cutoff, rtol=1e-11)  # same point
    np.testing.assert_allclose(sr0.welfare, base.welfare, rtol=1e-11)
    sr1 = mo.short_run_economy(LOGN, n_entrants=base.n_entrants, L=L, tau=tau1, **kw)
    lr1 = mo.open_economy(LOGN, L=L, tau=tau1, **PAR)
    assert sr1.result == OK and lr1.result == OK
    assert float(sr1.welfare[0]) > float(base.welfare[0]) > float(lr1.welfare[0])
    np.testing.assert_allclose(sr1.welfare[1], base.welfare[1], rtol=1e-11)  # market 1 untouched


# ---------------------------------------------------------------- batching, regimes and bad input


def test_vmap_sweep_matches_loop_and_flags_regimes_per_point():
    Ls = jnp.asarray([8.0, 20.0, 60.0])
    f = jax.vmap(lambda L: mo.closed_economy(PARETO, L=L, **PAR, throw=False))
    batch = f(Ls)
    for j, L in enumerate(np.asarray(Ls)):
        np.testing.assert_allclose(batch.cost_cutoff[j], mo.pareto_cost_cutoff(K, CM, L, 1.0, 0.5), rtol=1e-12)
    assert bool(jnp.all(batch.result._value == OK._value))
    # α below c_D at a small market: no seller there, reported per batch element
    g = jax.vmap(lambda L: mo.closed_economy(PARETO, L=L, alpha=1.6, gamma=1.0, eta=1.0, f_E=0.5, throw=False))
    b2 = g(Ls)
    cds = np.asarray(mo.pareto_cost_cutoff(K, CM, np.asarray(Ls), 1.0, 0.5))
    assert not np.all(cds < 1.6) and np.any(cds < 1.6)
    np.testing.assert_array_equal(np.asarray(b2.sellers_positive), cds < 1.6)
    np.testing.assert_array_equal(np.asarray(b2.result._value == OK._value), cds < 1.6)


def test_no_entry_country_is_reported_not_returned():
    """A small, remote country attracts no entry (N_E < 0 from the interior formulas): the result
    code and ``entry_positive`` say so; with throw=True the solve raises naming the regime."""
    tau = jnp.asarray([[1.0, 1.5, 1.8], [1.5, 1.0, 1.6], [1.8, 1.6, 1.0]])
    L = jnp.asarray([10.0, 5.0, 20.0])
    eq = mo.open_economy(PARETO, L=L, tau=tau, **PAR, throw=False)
    assert eq.result == mo.REGIME_FAILURE
    np.testing.assert_array_equal(np.asarray(eq.entry_positive), [True, False, True])
    with pytest.raises(Exception, match="no interior equilibrium"):
        mo.open_economy(PARETO, L=L, tau=tau, **PAR)
    with pytest.raises(Exception, match="no variety is sold"):
        mo.closed_economy(PARETO, L=2.0, alpha=1.5, gamma=1.0, eta=1.0, f_E=0.5)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(gamma=0.0), "gamma"),
        (dict(eta=-1.0), "eta"),
        (dict(alpha=0.0), "alpha"),
        (dict(f_E=0.0), "f_E"),
        (dict(L=-1.0), "L"),
    ],
)
def test_bad_scalar_input_names_the_condition(kw, name):
    args = dict(L=10.0, **PAR)
    args.update(kw)
    with pytest.raises(JaxtradeInputError, match=f"`{name}`"):
        mo.closed_economy(PARETO, **args)


def test_bad_open_input_names_the_condition():
    L = jnp.asarray([10.0, 10.0])
    with pytest.raises(JaxtradeInputError, match="τ_ni ≥ 1"):
        mo.open_economy(PARETO, L=L, tau=jnp.asarray([[1.0, 0.9], [1.2, 1.0]]), **PAR)
    with pytest.raises(JaxtradeInputError, match="τ_nn = 1"):
        mo.open_economy(PARETO, L=L, tau=jnp.asarray([[1.1, 1.2], [1.2, 1.0]]), **PAR)
    with pytest.raises(JaxtradeInputError, match="shape"):
        mo.open_economy(PARETO, L=jnp.asarray([1.0, 2.0, 3.0]), tau=jnp.ones((2, 2)), **PAR)
    # bounded productivity φ ≤ 4: lowest cost 1/4, α must exceed it
    with pytest.raises(JaxtradeInputError, match="lowest unit cost"):
        mo.closed_economy(D.TruncatedPareto(3.0, 0.5, 4.0), L=10.0, alpha=0.2, gamma=1.0, eta=1.0, f_E=0.5)
    with pytest.raises(JaxtradeInputError, match="AbstractDistribution"):
        mo.closed_economy("pareto", L=10.0, **PAR)


# ---------------------------------------------------------------- command line


def test_cli_open_economy_table_json_png(tmp_path, capsys):
    """``jaxtrade melitz-ottaviano CONFIG``: eq. (28) in the JSON, a table on stdout, a PNG."""
    import json

    from jaxtrade.cli import main

    cfg = tmp_path / "mo.toml"
    cfg.write_text(
        'model = "open"\n[distribution]\nfamily = "pareto"\nshape = 3.0\nscale = 0.5\n'
        "[parameters]\nalpha = 5.0\ngamma = 1.0\neta = 1.0\nf_E = 0.5\nL = [8.0, 10.0, 14.0]\n"
        "tau = [[1.0, 1.6, 1.6], [1.6, 1.0, 1.6], [1.6, 1.6, 1.0]]\n"
    )
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["melitz-ottaviano", str(cfg), "--output", str(out), "--plot", str(png)]) == 0
    res = json.loads(out.read_text())
    phi = 2 * (K + 1) * (K + 2) * CM**K * 0.5
    want = (phi / (np.array([8.0, 10.0, 14.0]) * (1 + 2 * 1.6**-K))) ** (1 / (K + 2))
    assert res["converged"] is True and res["interior"] is True
    np.testing.assert_allclose(res["cost_cutoff"], want, rtol=1e-12)
    assert "cost_cutoff" in capsys.readouterr().out and png.stat().st_size > 0
    # a corner is an exit status, not a success; bad input is status 2 with the condition named
    assert main(["melitz-ottaviano", "--model", "closed", "--set", "alpha=1.0", "--set", "L=10"]) == 1
    assert main(["melitz-ottaviano", "--model", "closed", "--set", "gamma=-1", "--set", "L=10"]) == 2
    assert "gamma > 0" in capsys.readouterr().err
