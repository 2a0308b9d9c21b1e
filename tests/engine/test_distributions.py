"""Tests of ``jaxtrade.distributions``: closed forms against SciPy, icdf∘cdf, sampling (moments and
KS at a fixed seed), reparameterisation gradients against finite differences (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
from hypothesis import given
from hypothesis import strategies as hs

from jaxtrade import JaxtradeInputError
from jaxtrade import distributions as jd

# (jaxtrade distribution, independent SciPy reference, names of the parameters)
CASES = {
    "pareto": (lambda: jd.Pareto(5.0, 0.13), lambda: st.pareto(b=5.0, scale=0.13), ("shape", "scale")),
    "pareto_fat": (lambda: jd.Pareto(0.42, 0.13), lambda: st.pareto(b=0.42, scale=0.13), ("shape", "scale")),
    "truncated_pareto": (
        lambda: jd.TruncatedPareto(1.3, 0.5, 4.0),
        lambda: st.truncpareto(b=1.3, c=8.0, scale=0.5),
        ("shape", "scale", "upper"),
    ),
    "truncated_pareto_k1": (
        lambda: jd.TruncatedPareto(1.0, 0.5, 4.0),
        lambda: st.truncpareto(b=1.0, c=8.0, scale=0.5),
        ("shape", "scale", "upper"),
    ),
    "frechet": (lambda: jd.Frechet(6.0, 2.0), lambda: st.invweibull(c=6.0, scale=2.0), ("shape", "scale")),
    "lognormal": (lambda: jd.LogNormal(-0.3, 0.5), lambda: st.lognorm(s=0.5, scale=np.exp(-0.3)), ("mu", "sigma")),
    "gengamma": (
        lambda: jd.GeneralizedGamma(1.5, 2.0, 1.5),
        lambda: st.gengamma(a=2.0 / 1.5, c=1.5, scale=1.5),
        ("scale", "d", "p"),
    ),
    "gengamma_small_shape": (
        lambda: jd.GeneralizedGamma(0.8, 0.4, 2.0),
        lambda: st.gengamma(a=0.2, c=2.0, scale=0.8),
        ("scale", "d", "p"),
    ),
}
FINITE_FOURTH_MOMENT = ["pareto", "truncated_pareto", "frechet", "lognormal", "gengamma", "gengamma_small_shape"]
U = np.array([1e-9, 1e-4, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-6])


@pytest.mark.parametrize("name", list(CASES))
def test_cdf_logpdf_icdf_match_scipy(name):
    make, ref, _ = CASES[name]
    dist, rv = make(), ref()
    x = rv.ppf(U)
    np.testing.assert_allclose(dist.icdf(U), x, rtol=1e-9)
    np.testing.assert_allclose(dist.cdf(x), U, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(dist.log_pdf(x), rv.logpdf(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_icdf_inverts_cdf_and_pdf_is_cdf_derivative(name):
    dist = CASES[name][0]()
    u = jnp.asarray(U)
    np.testing.assert_allclose(dist.cdf(dist.icdf(u)), u, rtol=1e-9, atol=1e-15)
    x = dist.icdf(jnp.asarray([0.05, 0.3, 0.6, 0.95]))
    dcdf = jax.vmap(jax.grad(dist.cdf))(x)
    np.testing.assert_allclose(dcdf, dist.pdf(x), rtol=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_moments_match_scipy(name):
    make, ref, _ = CASES[name]
    dist, rv = make(), ref()
    m, v = rv.stats("mv")
    mean, var = float(dist.mean()), float(dist.variance())
    if np.isfinite(m):
        np.testing.assert_allclose(mean, m, rtol=1e-9)
    else:
        assert mean == np.inf
    if np.isfinite(v):
        np.testing.assert_allclose(var, v, rtol=1e-8)
    else:
        assert var == np.inf


def test_support_outside_has_zero_density():
    d = jd.TruncatedPareto(2.0, 1.0, 3.0)
    assert float(d.log_pdf(0.5)) == -np.inf and float(d.log_pdf(3.5)) == -np.inf
    assert float(d.cdf(0.5)) == 0.0 and float(d.cdf(3.5)) == 1.0
    p = jd.Pareto(2.0, 1.0)
    assert float(p.cdf(0.9)) == 0.0 and float(p.log_pdf(0.9)) == -np.inf
    for d in (jd.Frechet(2.0, 1.0), jd.LogNormal(0.0, 1.0), jd.GeneralizedGamma(1.0, 2.0, 1.0)):
        assert float(d.cdf(-1.0)) == 0.0 and float(d.log_pdf(-1.0)) == -np.inf


@pytest.mark.parametrize("name", FINITE_FOURTH_MOMENT)
def test_sample_moments_and_ks_float32(name):
    """float32 draws at a fixed seed: KS p-value and sample mean/variance within 5 standard errors."""
    make, ref, _ = CASES[name]
    dist, rv = make(), ref()
    n = 200_000
    x = np.asarray(dist.sample(jax.random.key(0), (n,), dtype=jnp.float32), dtype=np.float64)
    assert x.dtype == np.float64 and np.all(np.isfinite(x))
    assert st.kstest(x, rv.cdf).pvalue > 1e-3
    m, v = rv.stats("mv")
    mu4 = rv.expect(lambda y: (y - m) ** 4)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n)
    assert abs(x.var() - v) < 5 * np.sqrt((mu4 - v**2) / n)


@pytest.mark.parametrize("name", list(CASES))
def test_icdf_gradients_match_finite_differences(name):
    """Reparameterisation: ∂ icdf(u; θ)/∂θ against central differences in float64."""
    make, _, params = CASES[name]
    dist = make()
    u = jnp.asarray([0.02, 0.3, 0.8, 0.999])
    for p in params:
        theta = float(getattr(dist, p))

        def f(t, p=p):
            return eqx_set(dist, p, t).icdf(u)

        jac = jax.jacfwd(f)(jnp.asarray(theta))
        h = 1e-6 * max(1.0, abs(theta))
        fd = (f(theta + h) - f(theta - h)) / (2 * h)
        np.testing.assert_allclose(jac, fd, rtol=2e-6, atol=1e-9, err_msg=p)
        # reverse mode agrees with forward mode
        g = jax.grad(lambda t: jnp.sum(f(t)))(jnp.asarray(theta))
        np.testing.assert_allclose(g, jnp.sum(jac), rtol=1e-10)


def eqx_set(dist, field, value):
    import equinox as eqx

    return eqx.tree_at(lambda d: getattr(d, field), dist, jnp.asarray(value))


def test_gammaincinv_matches_scipy():
    a = np.array([0.02, 0.1, 0.3, 0.7, 1.0, 1.5, 2.5, 10.0, 100.0, 1000.0])[:, None]
    p = np.array([1e-12, 1e-6, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-6, 1 - 1e-12])[None, :]
    ref = sp.gammaincinv(a, p)
    got = np.asarray(jd.gammaincinv(a, p))
    ok = ref > 0  # a = 0.02, p = 1e-12 underflows float64 as well
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-11)
    # float32: relative error limited by float32 gammainc and the conditioning of the inverse.
    p32 = p[:, :-1].astype(np.float32)
    got32 = np.asarray(jd.gammaincinv(a.astype(np.float32), p32))
    assert got32.dtype == np.float32
    ref32 = sp.gammaincinv(a, p32.astype(np.float64))
    normal = ref32 > np.finfo(np.float32).tiny * 10
    np.testing.assert_allclose(got32[normal], ref32[normal], rtol=1e-4)
    assert np.all(got32[~normal] < 1e-36)  # underflow to (sub)normal tiny numbers, not NaN


def test_gammaincinv_gradients_match_finite_differences():
    a, p, h = 2.3, 0.37, 1e-6
    ga, gp = jax.grad(jd.gammaincinv, argnums=(0, 1))(a, p)
    np.testing.assert_allclose(ga, (sp.gammaincinv(a + h, p) - sp.gammaincinv(a - h, p)) / (2 * h), rtol=1e-7)
    np.testing.assert_allclose(gp, (sp.gammaincinv(a, p + h) - sp.gammaincinv(a, p - h)) / (2 * h), rtol=1e-7)


@given(
    k=hs.floats(0.2, 8.0),
    s=hs.floats(0.05, 5.0),
    u=hs.floats(1e-6, 1 - 1e-6),
)
def test_property_scale_family_and_monotone(k, s, u):
    """Every family but the log-normal is a scale family: icdf(u; s) = s·icdf(u; 1); icdf is increasing."""
    for make in (
        lambda sc: jd.Pareto(k, sc),
        lambda sc: jd.TruncatedPareto(k, sc, 3.0 * sc),
        lambda sc: jd.Frechet(k, sc),
        lambda sc: jd.GeneralizedGamma(sc, k, 1.0 + k / 4),
    ):
        np.testing.assert_allclose(make(s).icdf(u), s * make(1.0).icdf(u), rtol=1e-9)
        lo, hi = make(s).icdf(0.9 * u), make(s).icdf(u)
        assert lo <= hi


@pytest.mark.parametrize(
    "build, arg",
    [
        (lambda: jd.Pareto(0.0, 1.0), "shape"),
        (lambda: jd.Pareto(1.0, -1.0), "scale"),
        (lambda: jd.TruncatedPareto(1.0, 2.0, 1.5), "upper"),
        (lambda: jd.Frechet(1.0, np.nan), "scale"),
        (lambda: jd.LogNormal(np.inf, 1.0), "mu"),
        (lambda: jd.LogNormal(0.0, 0.0), "sigma"),
        (lambda: jd.GeneralizedGamma(1.0, -2.0, 1.0), "d"),
        (lambda: jd.GeneralizedGamma(1.0, 2.0, 0.0), "p"),
    ],
)
def test_bad_parameters_raise_named_error(build, arg):
    with pytest.raises(JaxtradeInputError, match=f"`{arg}`"):
        build()


def test_construct_under_trace_and_jit():
    """Distributions built from traced parameters (inside grad/jit) skip value checks and differentiate."""

    def mean_draw(shape):
        return jnp.mean(jd.Pareto(shape, 1.0).icdf(jnp.asarray([0.1, 0.5, 0.9])))

    g = jax.jit(jax.grad(mean_draw))(3.0)
    u = np.array([0.1, 0.5, 0.9])
    expected = np.mean(np.log1p(-u) / 9.0 * (1 - u) ** (-1 / 3.0))
    np.testing.assert_allclose(g, expected, rtol=1e-12)


# ---------------------------------------------------------------- the tail methods and the registry

TAIL_INDEX = {"pareto": 5.0, "pareto_fat": 0.42, "frechet": 6.0}


@pytest.mark.parametrize("name", list(CASES))
def test_tail_methods_match_scipy_deep_in_the_tail(name):
    """log_survival against scipy's logsf (to the 1 − 1e-12 quantile); log_inverse_survival inverts it
    (where the family has a closed form); tail_index is the power-law index or inf."""
    make, ref, _ = CASES[name]
    dist, rv = make(), ref()
    q = np.array([1e-6, 0.3, 0.9, 1 - 1e-6, 1 - 1e-12])
    if "truncated" in name:  # next to the upper bound 1 − G is ill-conditioned in x
        q = q[:-1]
    x = rv.isf(1 - q)
    np.testing.assert_allclose(dist.log_survival(jnp.asarray(x)), rv.logsf(x), rtol=1e-9, atol=1e-13)
    if dist.exact_tail:
        # (a truncated Pareto's φ(w) reaches its upper bound in float64 beyond w ≈ 30)
        w = jnp.asarray([1e-8, 0.5, 3.0] if "truncated" in name else [1e-8, 0.5, 3.0, 30.0, 200.0])
        lx, valid = dist.log_inverse_survival(w)
        assert bool(jnp.all(valid))
        # round trip through scipy's survival function: −logsf(φ(w)) = w
        np.testing.assert_allclose(-rv.logsf(np.exp(np.asarray(lx))), w, rtol=1e-7)
    b = float(dist.tail_index())
    assert b == pytest.approx(TAIL_INDEX[name], rel=1e-14) if name in TAIL_INDEX else b == np.inf


def test_generic_tail_index_estimate_reads_a_power_law():
    class LogLogistic(jd.AbstractDistribution):  # survival 1/(1 + x^b): tail index b
        b: jax.Array

        def cdf(self, x):
            return 1.0 / (1.0 + jnp.asarray(x) ** (-self.b))

        def log_pdf(self, x):
            z = jnp.log(jnp.asarray(x))
            return jnp.log(self.b) + (self.b - 1) * z - 2 * jnp.logaddexp(0.0, self.b * z)

        def icdf(self, u):
            return (u / (1 - u)) ** (1 / self.b)

        @property
        def support(self):
            return (0.0, jnp.inf)

        def mean(self):
            return jnp.inf

        def variance(self):
            return jnp.inf

    for b in (2.1, 4.0):
        assert float(LogLogistic(jnp.asarray(b)).tail_index()) == pytest.approx(b, rel=1e-6)
    # the generic log_survival fallback is log1p(−cdf)
    d = LogLogistic(jnp.asarray(3.0))
    np.testing.assert_allclose(d.log_survival(2.0), -np.log1p(8.0), rtol=1e-13)


def test_families_registry_builds_every_family_by_one_spelling():
    assert set(jd.FAMILIES) == {"pareto", "truncated_pareto", "frechet", "lognormal", "generalized_gamma", "gengamma"}
    assert jd.FAMILIES["gengamma"] is jd.FAMILIES["generalized_gamma"] is jd.GeneralizedGamma
    assert jd.ALIASES == {"gengamma": "generalized_gamma"}
    for name, (make, _, names) in CASES.items():
        d = make()
        fam = {jd.Pareto: "pareto", jd.TruncatedPareto: "truncated_pareto", jd.Frechet: "frechet",
               jd.LogNormal: "lognormal", jd.GeneralizedGamma: "generalized_gamma"}[type(d)]
        assert jd.parameter_names(fam) == names
        again = jd.by_name(fam, **{n: float(getattr(d, n)) for n in names})
        assert type(again) is type(d)
        np.testing.assert_array_equal(again.icdf(jnp.asarray(U)), d.icdf(jnp.asarray(U)))
    assert jd.parameter_names("GenGamma") == ("scale", "d", "p")  # case-insensitive, alias accepted


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: jd.by_name("weibull", shape=1.0), r"family.*one of pareto, truncated_pareto, frechet, lognormal, generalized_gamma"),
        (lambda: jd.by_name("pareto", shape=2.0), r"pareto needs parameters shape, scale \(missing: scale\)"),
        (lambda: jd.by_name("lognormal", mu=0.0, sigma=1.0, shape=2.0), r"parameters of lognormal are mu, sigma \(unknown: shape\)"),
        (lambda: jd.parameter_names("normal"), r"known distribution family"),
        (lambda: jd.by_name("pareto", shape=-1.0, scale=1.0), r"shape > 0"),
    ],
)
def test_registry_errors_name_the_family_and_its_parameters(call, match):
    with pytest.raises(JaxtradeInputError, match=match):
        call()


def test_concrete_families_are_final_and_share_the_abstract_base():
    for cls in set(jd.FAMILIES.values()):
        assert issubclass(cls, jd.AbstractDistribution)
        assert getattr(cls, "__final__", False) is True  # typing.final
        assert cls.exact_tail == (cls is not jd.GeneralizedGamma)
