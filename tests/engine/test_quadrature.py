"""Accuracy of the tail quadrature (jaxtrade.engine.quadrature) against closed forms and scipy.quad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxtrade.engine import quadrature as quad
from jaxtrade import distributions as D


def pareto_J(k, s, xm, c):
    """001 footnote 26 (c ≥ x_m) and E[φ^s]/c^s − 1 below the support."""
    if c >= xm:
        return s / (k - s) * (xm / c) ** k
    return k / (k - s) * (xm / c) ** s - 1.0


@pytest.mark.parametrize("k,s", [(3.8, 3.0), (3.05, 3.0), (5.0, 1.0), (10.0, 4.0), (2.0, 0.5)])
def test_J_matches_pareto_closed_form(k, s):
    cuts = np.array([0.5, 1.0, 1.7, 30.0, 1e4])
    got = np.asarray(quad.J(D.Pareto(k, 1.0), jnp.asarray(cuts), s))
    want = np.array([pareto_J(k, s, 1.0, c) for c in cuts])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_partial_moment_and_survival_pareto():
    k, s, xm = 4.5, 2.0, 0.7
    d = D.Pareto(k, xm)
    c = jnp.asarray([0.8, 2.0, 50.0])
    np.testing.assert_allclose(quad.survival(d, c), (xm / np.asarray(c)) ** k, rtol=1e-14)
    want = k * xm**k / (k - s) * np.asarray(c) ** (s - k)
    np.testing.assert_allclose(quad.partial_moment(d, c, s), want, rtol=1e-13)


def _quad_J(pdf, c, s, upper=np.inf, lower=0.0):
    # integrate in log φ for robustness: φ pdf(φ) dlogφ
    lo = np.log(max(c, lower)) if max(c, lower) > 0 else -50.0
    hi = np.log(upper) if np.isfinite(upper) else lo + 200.0
    f = lambda lx: np.expm1(s * (lx - np.log(c))) * pdf(np.exp(lx)) * np.exp(lx)  # noqa: E731
    val, _ = integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=1000, points=None)
    return val


CASES = [
    ("lognormal", D.LogNormal(0.0, 1.0), lambda x: stats.lognorm.pdf(x, 1.0), lambda q: np.exp(stats.norm.ppf(q))),
    ("lognormal-narrow", D.LogNormal(0.5, 0.1), lambda x: stats.lognorm.pdf(x, 0.1, scale=np.exp(0.5)), lambda q: np.exp(0.5 + 0.1 * stats.norm.ppf(q))),
    ("lognormal-wide", D.LogNormal(1.0, 2.0), lambda x: stats.lognorm.pdf(x, 2.0, scale=np.exp(1.0)), lambda q: np.exp(1.0 + 2.0 * stats.norm.ppf(q))),
    ("frechet", D.Frechet(5.0, 1.0), lambda x: stats.invweibull.pdf(x, 5.0), lambda q: stats.invweibull.ppf(q, 5.0)),
    ("generalized-gamma", D.GeneralizedGamma(1.0, 2.0, 1.5), lambda x: stats.gengamma.pdf(x, 2.0 / 1.5, 1.5), lambda q: stats.gengamma.ppf(q, 2.0 / 1.5, 1.5)),
]


@pytest.mark.parametrize("name,dist,pdf,ppf", CASES, ids=[c[0] for c in CASES])
def test_J_matches_scipy_quad(name, dist, pdf, ppf):
    s = 3.0
    qs = [1e-6, 0.01, 0.5, 0.99, 1 - 1e-9]
    if name == "generalized-gamma":
        qs = qs[:-1]  # generic icdf fallback: the far tail is resolved only to 1 − 64 eps
    cuts = np.array([ppf(q) for q in qs])
    got = np.asarray(quad.J(dist, jnp.asarray(cuts), s))
    want = np.array([_quad_J(pdf, c, s) for c in cuts])
    rtol = 1e-11 if name != "generalized-gamma" else 1e-9
    np.testing.assert_allclose(got, want, rtol=rtol)


def test_truncated_pareto_matches_quad_and_vanishes_above_support():
    k, xm, ub, s = 1.5, 1.0, 20.0, 2.5  # k < s is allowed with a bounded support
    d = D.TruncatedPareto(k, xm, ub)
    cuts = np.array([0.5, 1.0, 3.0, 19.0])
    c_mass = 1 - (xm / ub) ** k
    pdf = lambda x: np.where((x >= xm) & (x <= ub), k * xm**k * x ** (-k - 1) / c_mass, 0.0)  # noqa: E731
    want = np.array([_quad_J(pdf, c, s, upper=ub, lower=xm) for c in cuts])
    np.testing.assert_allclose(quad.J(d, jnp.asarray(cuts), s), want, rtol=1e-11)
    assert float(quad.J(d, 25.0, s)) == 0.0


def test_J_gradient_in_distribution_parameters_matches_finite_differences():
    s, c = 3.0, 1.3

    def f(theta):
        return quad.J(D.LogNormal(theta[0], theta[1]), c, s)

    theta = jnp.array([0.2, 0.8])
    g = jax.grad(f)(theta)
    h = 1e-6
    fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_gradient_in_cutoff_is_minus_s_times_moment_over_cutoff():
    # dJ/dφ* = −(s/φ*) ∫_{φ*} (φ/φ*)^s dG  (the boundary term vanishes: the integrand is 0 at φ*)
    d, s, c = D.LogNormal(0.0, 0.7), 2.0, 1.1
    g = jax.grad(lambda x: quad.J(d, x, s))(c)
    S, Jv = quad.selection_integrals(d, c, s)
    np.testing.assert_allclose(g, -s / c * (Jv + S), rtol=1e-12)


def test_float32_accuracy_is_documented_level():
    d = D.Pareto(jnp.float32(4.0), jnp.float32(1.0))
    got = quad.J(d, jnp.float32(2.0), 2.0)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), pareto_J(4.0, 2.0, 1.0, 2.0), rtol=1e-5)


def test_generic_fallback_for_unknown_family():
    # A distribution without closed-form inverse survival uses icdf(1 − e^{−w}).
    class Exponentialish(D.AbstractDistribution):
        rate: jax.Array

        def cdf(self, x):
            return -jnp.expm1(-self.rate * x)

        def log_pdf(self, x):
            return jnp.log(self.rate) - self.rate * x

        def icdf(self, u):
            return -jnp.log1p(-u) / self.rate

        @property
        def support(self):
            return (0.0, jnp.inf)

        def mean(self):
            return 1 / self.rate

        def variance(self):
            return 1 / self.rate**2

    d = Exponentialish(jnp.asarray(2.0))
    s, c = 2.0, 0.7
    want = _quad_J(lambda x: 2.0 * np.exp(-2.0 * x), c, s)
    np.testing.assert_allclose(quad.J(d, c, s), want, rtol=1e-10)


# ---------------------------------------------------------------- heavy (power-law) tails, user distributions

from scipy import special as sps  # noqa: E402


from tests.user_distributions import LogLogistic  # noqa: E402


def loglogistic_J(a, b, s, c):
    """Closed form: ∫_c^∞ φ^s dG = a^s B(1 + s/b, 1 − s/b) I_{S(c)}(1 − s/b, 1 + s/b), S = 1/(1 + (c/a)^b)."""
    sv = 1.0 / (1.0 + (c / a) ** b)
    p, q = 1.0 + s / b, 1.0 - s / b
    return a**s * sps.beta(p, q) * sps.betainc(q, p, sv) / c**s - sv


@pytest.mark.parametrize("b", [4.0, 3.0, 2.5, 2.2, 2.1])
def test_power_law_tails_down_to_sigma_minus_one_plus_0_1_match_incomplete_beta(b):
    """Tail index b down to s + 0.1 (s = σ − 1 = 2). Before the density rule (icdf fallback truncated
    at 1 − 64 eps) the closed-economy cut-off errors were 1.3e-7 (b = 4) … 4.5 % (b = 2.2); J itself is
    now within 1e-13 of the closed form, and the returned error estimate bounds the actual error."""
    a, s = 1.3, 2.0
    d = LogLogistic(jnp.asarray(a), jnp.asarray(b))
    assert quad.uses_density_rule(d)
    cuts = np.array([0.05, 1.0, 7.0, 300.0, 1e6])
    lc = jnp.log(jnp.asarray(cuts))[:, None]
    # ∫_c (φ/c)^s dG = J + S, with its error estimate
    got, err = quad.tail_integral_with_error(d, jnp.asarray(cuts), lambda lp, dd: jnp.exp(s * (lp - lc) - dd))
    want = np.array([loglogistic_J(a, b, s, c) for c in cuts])
    sv = 1 / (1 + (cuts / a) ** b)
    np.testing.assert_allclose(quad.J(d, jnp.asarray(cuts), s), want, rtol=1e-13)
    np.testing.assert_allclose(got, want + sv, rtol=1e-13)
    # the estimate bounds the error (up to the reference's own rounding, ~4 eps relative)
    assert np.all(np.abs(np.asarray(got) - (want + sv)) <= np.asarray(err) + 4e-15 * (want + sv))
    assert np.all(np.asarray(quad.J_error(d, jnp.asarray(cuts), s)) <= 1e-12 * want)
    # survival deep in the tail from the density (1 − cdf would have cancelled)
    np.testing.assert_allclose(quad.survival(d, jnp.asarray(cuts)), 1 / (1 + (cuts / a) ** b), rtol=1e-13)


def test_divergent_tail_is_detected_by_the_error_estimate():
    """b ≤ s: E[φ^s] = ∞. The integral is not finite and the error estimate says so (inf), and the
    distribution's tail index names the reason (b ≤ σ − 1)."""
    d = LogLogistic(jnp.asarray(1.0), jnp.asarray(1.9))
    err = quad.J_error(d, jnp.asarray([1.0, 10.0]), 2.0)
    assert np.all(~np.isfinite(np.asarray(err)) | (np.asarray(err) > 1e3))
    assert float(d.tail_index()) == pytest.approx(1.9, rel=1e-6)
    # Pareto with k < s through the inverse-survival rule: the same detection
    errp = quad.J_error(D.Pareto(1.9, 1.0), jnp.asarray([1.0]), 2.0)
    assert not np.isfinite(float(errp[0])) or float(errp[0]) > 1e3


def test_error_estimates_are_small_and_honest_for_the_built_in_families():
    s = 3.0
    for dist, c in [(D.Pareto(3.05, 1.0), 2.0), (D.LogNormal(0.0, 1.0), 0.3), (D.Frechet(5.0, 1.0), 1.5)]:
        v, e = float(quad.J(dist, c, s)), float(quad.J_error(dist, c, s))
        assert 0 < e < 1e-12 * v


def _lognormal_J_quad(mu, sd, c, s):
    """``J`` by scipy.quad in ``z = log φ`` over the normal density, split at the mode and at the
    peak of the moment ``μ + sσ²``."""
    lc = np.log(c)
    f = lambda z: np.expm1(s * (z - lc)) * stats.norm.pdf(z, mu, sd)  # noqa: E731
    hi = max(lc, mu + s * sd * sd) + 40.0 * sd
    pts = [p for p in (mu, mu + s * sd * sd) if lc < p < hi]
    return integrate.quad(f, lc, hi, epsabs=0, epsrel=1e-13, limit=2000, points=pts or None)[0]


@pytest.mark.parametrize("mu,sd,s", [(1.0, 2.0, 5.0), (-1.0, 3.0, 3.0), (0.5, 0.1, 2.0), (0.0, 1.0, 2.0)])
def test_lognormal_gaussian_rule_wide_and_heavy_moments(mu, sd, s):
    # the log-normal is integrated over its density in log φ (quadrature._gaussian_rule), split at the
    # peak μ + sσ² of the moment: accurate also where that peak lies 10σ above the mode (the
    # inverse-survival rule reached 8e-10 at (1, 2, 5))
    d = D.LogNormal(mu, sd)
    assert quad.uses_gaussian_rule(d)
    cuts = np.exp(mu + sd * stats.norm.ppf([1e-9, 1e-6, 0.01, 0.5, 0.99, 1 - 1e-9]))
    got = np.asarray(quad.J(d, jnp.asarray(cuts), s))
    want = np.array([_lognormal_J_quad(mu, sd, c, s) for c in cuts])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    err = np.asarray(quad.J_error(d, jnp.asarray(cuts), s))
    assert np.all(err <= 1e-12 * np.abs(want))


class _UserLogNormal(D.AbstractDistribution):
    """A user's log-normal written from scratch (generic tail methods) that offers ``log_gaussian``."""

    m: jax.Array
    s: jax.Array

    def cdf(self, x):
        return jax.scipy.special.ndtr((jnp.log(x) - self.m) / self.s)

    def log_pdf(self, x):
        z = (jnp.log(x) - self.m) / self.s
        return -jnp.log(x) - jnp.log(self.s) - 0.5 * jnp.log(2.0 * jnp.pi) - 0.5 * z * z

    def icdf(self, u):
        return jnp.exp(self.m + self.s * jax.scipy.special.ndtri(u))

    @property
    def support(self):
        return (0.0, jnp.inf)

    def mean(self):
        return jnp.exp(self.m + 0.5 * self.s**2)

    def variance(self):
        return jnp.inf

    def log_gaussian(self):
        return self.m, self.s


def test_gaussian_rule_is_a_capability_not_a_type():
    # any family whose log_gaussian() returns (mu, sigma) gets the Gaussian rule; the others do not
    assert not quad.uses_gaussian_rule(D.Pareto(shape=3.0, scale=1.0))
    assert not quad.uses_gaussian_rule(LogLogistic(a=jnp.asarray(1.0), b=jnp.asarray(3.0)))
    mu, sd, s = 0.3, 1.2, 2.5
    user = _UserLogNormal(m=jnp.asarray(mu), s=jnp.asarray(sd))
    assert quad.uses_gaussian_rule(user)
    cuts = np.exp(mu + sd * stats.norm.ppf([1e-6, 0.3, 0.99]))
    got = np.asarray(quad.J(user, jnp.asarray(cuts), s))
    want = np.array([_lognormal_J_quad(mu, sd, c, s) for c in cuts])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_array_equal(got, np.asarray(quad.J(D.LogNormal(mu, sd), jnp.asarray(cuts), s)))
