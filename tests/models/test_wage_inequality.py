"""Wage inequality and trade (001 §10; Helpman-Itskhoki-Redding 2010): G_w, S_{l,d}, inequality vs openness."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate, optimize  # noqa: E402

from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import wage_inequality as wi  # noqa: E402

KW = dict(k=4.0, zeta_l=1.0, zeta_w=0.5, psi_l=0.5, psi_w=0.3, upsilon_x=2.0)


def firm_level(rho, k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x):
    """l(φ), w(φ) with φ_d = l_d = w_d = 1 (001 §10's power functions), straight from the text."""
    def l(phi):
        return np.where(phi >= rho, upsilon_x**psi_l, 1.0) * phi**zeta_l

    def w(phi):
        return np.where(phi >= rho, upsilon_x**psi_w, 1.0) * phi**zeta_w

    return l, w


def _pieces(rho):
    return [1.0, rho] if np.isfinite(rho) and rho > 1 else [1.0]


@pytest.mark.parametrize("rho", [1.0, 1.3, 2.5, 10.0, np.inf])
def test_measures_against_firm_level_integrals(rho):
    d = wi.wage_distribution(**KW, export_cutoff_ratio=rho)
    k = KW["k"]
    l, w = firm_level(rho, **KW)
    edges = _pieces(rho) + [np.inf]

    def E(h):  # employment-weighted mean over firms, φ ~ Pareto(k, 1)
        num = sum(integrate.quad(lambda p: l(p) * h(w(p)) * k * p ** (-k - 1), a, b, epsrel=1e-12, limit=200)[0] for a, b in zip(edges[:-1], edges[1:]))
        den = sum(integrate.quad(lambda p: l(p) * k * p ** (-k - 1), a, b, epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
        return num / den

    den_dom = integrate.quad(lambda p: l(p) * k * p ** (-k - 1), 1.0, rho if np.isfinite(rho) else np.inf)[0] if rho > 1 else 0.0
    den_all = sum(integrate.quad(lambda p: l(p) * k * p ** (-k - 1), a, b, epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    Sd = den_dom / den_all
    np.testing.assert_allclose(float(d.employment_share_domestic), Sd, rtol=1e-10, atol=1e-14)
    m1, m2 = E(np.log), E(lambda x: np.log(x) ** 2)
    np.testing.assert_allclose(float(d.variance_log_wage), m2 - m1**2, rtol=1e-9)
    mu = E(lambda x: x)
    np.testing.assert_allclose(float(d.mean_wage), mu, rtol=1e-10)
    np.testing.assert_allclose(float(d.theil), E(lambda x: x / mu * np.log(x / mu)), rtol=1e-8, atol=1e-13)
    # Gini from the cdf: 1 − (1/μ) ∫ (1 − G)^2 dw
    pts = sorted({1.0, float(d.top_domestic_wage), float(d.lowest_exporter_wage)} - {np.inf})
    wedges = [0.0] + pts + [np.inf]
    g2 = sum(integrate.quad(lambda x: (1 - float(d.cdf(x))) ** 2, a, b, epsrel=1e-12, limit=200)[0] for a, b in zip(wedges[:-1], wedges[1:]))
    np.testing.assert_allclose(float(d.gini), 1 - g2 / mu, rtol=1e-9)


def test_cdf_is_a_distribution_and_matches_weighted_monte_carlo():
    rho = 2.0
    d = wi.wage_distribution(**KW, export_cutoff_ratio=rho)
    m, wx = float(d.top_domestic_wage), float(d.lowest_exporter_wage)
    grid = np.concatenate([np.linspace(0.5, 1.0, 5), np.linspace(1.0, 50.0, 5000)])
    G = np.asarray(d.cdf(grid))
    assert np.all(np.diff(G) >= 0) and G[0] == 0.0 and G[-1] > 0.99
    # joins: continuous at the top domestic wage, flat on [m, w_x]
    eps = 1e-9
    np.testing.assert_allclose(float(d.cdf(m - eps)), float(d.cdf(m + eps)), atol=1e-8)
    np.testing.assert_allclose(float(d.cdf(m)), float(d.employment_share_domestic), rtol=1e-13)
    np.testing.assert_allclose(float(d.cdf(0.5 * (m + wx))), float(d.employment_share_domestic), rtol=1e-13)
    np.testing.assert_allclose(float(d.cdf(wx + eps)), float(d.employment_share_domestic), atol=1e-8)
    # Monte Carlo from the firm level: employment-weighted empirical cdf of wages
    rng = np.random.default_rng(0)
    phi = (1 - rng.random(2_000_000)) ** (-1 / KW["k"])
    l, w = firm_level(rho, **KW)
    wt, wg = l(phi), w(phi)
    order = np.argsort(wg)
    ecdf = np.cumsum(wt[order]) / wt.sum()
    q = np.searchsorted(wg[order], grid[5::50], side="right") - 1
    emp = np.where(q >= 0, ecdf[np.maximum(q, 0)], 0.0)
    np.testing.assert_allclose(emp, np.asarray(d.cdf(grid[5::50])), atol=4e-3)


def test_erratum_printed_domestic_piece_does_not_join():
    """001 prints G_{w,d} with denominator 1 − (w_d/w_x)^{ζ_g}; then S_{l,d} G_{w,d} at the top
    domestic wage falls short of S_{l,d} (G_w would jump there). The denominator must be
    1 − (w_d/m)^{ζ_g} with m = w_d ρ^{ζ_w}."""
    d = wi.wage_distribution(**KW, export_cutoff_ratio=2.0)
    th, m, wx, Sd = (float(x) for x in (d.wage_shape, d.top_domestic_wage, d.lowest_exporter_wage, d.employment_share_domestic))
    printed_at_m = Sd * (1 - m**-th) / (1 - wx**-th)
    assert printed_at_m < Sd - 1e-3  # a jump of S_{l,d} − printed at m
    np.testing.assert_allclose(th, (KW["k"] - KW["zeta_l"]) / KW["zeta_w"], rtol=1e-14)  # ζ_g = (k − ζ_l)/ζ_w


@settings(max_examples=30, deadline=None)
@given(
    k=hst.floats(2.0, 8.0),
    zl=hst.floats(0.1, 1.5),
    zw=hst.floats(0.05, 0.5),
    pl=hst.floats(0.0, 2.0),
    pw=hst.floats(0.01, 1.0),
    ux=hst.floats(1.05, 4.0),
    rho=hst.floats(1.001, 50.0),
)
def test_hir_proposition_more_inequality_when_only_some_firms_export(k, zl, zw, pl, pw, ux, rho):
    """HIR (2010), 001 §10: the same inequality in the closed economy and when all firms export,
    strictly more when some but not all do (Gini, Theil, variance of log wages)."""
    if (k - zl) / zw <= 1.05:
        return
    kw = dict(k=k, zeta_l=zl, zeta_w=zw, psi_l=pl, psi_w=pw, upsilon_x=ux)
    closed = wi.wage_distribution(**kw, export_cutoff_ratio=np.inf)
    allx = wi.wage_distribution(**kw, export_cutoff_ratio=1.0)
    some = wi.wage_distribution(**kw, export_cutoff_ratio=rho)
    for name in ("gini", "theil", "variance_log_wage"):
        c, a, s = (float(getattr(x, name)) for x in (closed, allx, some))
        np.testing.assert_allclose(a, c, rtol=1e-11)
        assert s > c, (name, s, c)
    th = (k - zl) / zw
    np.testing.assert_allclose(float(closed.gini), 1 / (2 * th - 1), rtol=1e-12)  # Pareto(ζ_g)
    np.testing.assert_allclose(float(closed.variance_log_wage), 1 / th**2, rtol=1e-12)


def test_gradients_match_finite_differences():
    def out(p):
        d = wi.wage_distribution(k=p[0], zeta_l=1.0, zeta_w=0.5, psi_l=0.5, psi_w=p[1], upsilon_x=2.0, export_cutoff_ratio=p[2])
        return jnp.stack([d.gini, d.theil, d.variance_log_wage, d.employment_share_domestic])

    p0 = jnp.asarray([4.0, 0.3, 1.7])
    J = jax.jacfwd(out)(p0)
    h = 1e-6
    fd = np.stack([(out(p0.at[j].add(h)) - out(p0.at[j].add(-h))) / (2 * h) for j in range(3)], axis=1)
    np.testing.assert_allclose(np.asarray(J), fd, rtol=1e-6, atol=1e-10)


# ------------------------------------------------------------------ structural model

HIR = dict(beta=0.75, gamma=0.5, delta=3.0, ability_shape=1.5, productivity_shape=3.0, f_d=1.0, f_x=2.0)


def _firm_optimum(theta, ups, beta, gamma, delta, ka):
    """Brute force: max over (n, a_c) of r/(1+βγ) − n − a_c^δ/δ, r = Υ^{1−β} (θ (n a_c^{−k})^γ k a_c/(k−1))^β."""
    def neg(x):
        n, ac = np.exp(x)
        h = n * ac**-ka
        r = ups ** (1 - beta) * (theta * h**gamma * ka * ac / (ka - 1)) ** beta
        return -(r / (1 + beta * gamma) - n - ac**delta / delta)

    res = optimize.minimize(neg, np.zeros(2), method="Nelder-Mead", options=dict(xatol=1e-13, fatol=1e-15, maxiter=20000))
    n, ac = np.exp(res.x)
    h = n * ac**-ka
    r = ups ** (1 - beta) * (theta * h**gamma * ka * ac / (ka - 1)) ** beta
    return r, h, beta * gamma / (1 + beta * gamma) * r / h, -res.fun


def test_structural_exponents_against_brute_force_firm_optimisation():
    p = wi.hir_parameters(tau=1.5, **HIR)
    b, g, de, ka = HIR["beta"], HIR["gamma"], HIR["delta"], HIR["ability_shape"]
    ux = float(p.upsilon_x)
    r1, h1, w1, _ = _firm_optimum(3.0, 1.0, b, g, de, ka)
    r2, h2, w2, _ = _firm_optimum(6.0, 1.0, b, g, de, ka)
    r3, h3, w3, _ = _firm_optimum(3.0, ux, b, g, de, ka)
    np.testing.assert_allclose(np.log(w2 / w1) / np.log(2), float(p.zeta_w), rtol=1e-5)
    np.testing.assert_allclose(np.log(h2 / h1) / np.log(2), float(p.zeta_l), rtol=1e-5)
    np.testing.assert_allclose(np.log(w3 / w1) / np.log(ux), float(p.psi_w), rtol=1e-5)
    np.testing.assert_allclose(np.log(h3 / h1) / np.log(ux), float(p.psi_l), rtol=1e-5)
    np.testing.assert_allclose(ux, 1 + 1.5 ** (-b / (1 - b)), rtol=1e-14)


def test_structural_export_cutoff_from_profits():
    """ρ solves Γ/(1+βγ)·r_d ρ^{β/Γ}(Υ^{(1−β)/Γ} − 1) = f_x with Γ r_d/(1+βγ) = f_d."""
    p = wi.hir_parameters(tau=1.5, **HIR)
    G, b = float(p.big_gamma), HIR["beta"]
    rho = float(p.export_cutoff_ratio)
    assert rho > 1 and not bool(p.all_export)
    np.testing.assert_allclose(rho ** (b / G) * (float(p.upsilon_x) ** ((1 - b) / G) - 1), HIR["f_x"] / HIR["f_d"], rtol=1e-12)


def test_inequality_rises_then_falls_with_openness():
    taus = [1.0, 1.1, 1.2, 1.5, 2.0, 3.0, np.inf]
    path = wi.inequality_against_tau(taus, **dict(HIR, f_x=0.3))
    g = path["gini"]
    all_export = path["export_cutoff_ratio"] == 1.0
    assert all_export[0] and np.isinf(path["export_cutoff_ratio"][-1])
    np.testing.assert_allclose(g[0], g[-1], rtol=1e-11)  # all export == closed
    inner = ~all_export & np.isfinite(path["export_cutoff_ratio"])
    assert inner.sum() >= 3 and np.all(g[inner] > g[-1])
    top = np.argmax(g)
    assert 0 < top < len(g) - 1


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(k=0.9), "k > ζ_l"),
        (dict(k=1.4), "ζ_g must exceed 1"),
        (dict(upsilon_x=0.8), "Υ_x ≥ 1"),
        (dict(psi_w=-0.1), "ψ_w ≥ 0"),
        (dict(export_cutoff_ratio=0.5), "φ_x/φ_d ≥ 1"),
        (dict(zeta_w=0.0), "ζ_w > 0"),
    ],
)
def test_bad_input_names_the_condition(kw, msg):
    base = dict(KW, export_cutoff_ratio=2.0)
    base.update(kw)
    with pytest.raises(JaxtradeInputError, match=msg):
        wi.wage_distribution(**base)


@pytest.mark.parametrize(
    "kw, msg", [(dict(delta=1.2), "δ > k_a"), (dict(gamma=0.9), "γ k_a < 1"), (dict(productivity_shape=1.0), "productivity shape"), (dict(beta=1.0), "0 < β < 1")]
)
def test_structural_bad_input(kw, msg):
    base = dict(HIR, tau=1.5)
    base.update(kw)
    with pytest.raises(JaxtradeInputError, match=msg):
        wi.hir_parameters(**base)
