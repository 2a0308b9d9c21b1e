"""Multi-product firms (001 §9.1, Bernard-Redding-Schott 2011): selection within and across firms."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from scipy import integrate, stats  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import multiproduct as mp  # noqa: E402

SIGMA = 3.0
# sigma, F_d, F_x, f_d, f_x, f_e ; tau separately
PARTIAL = (SIGMA, 0.5, 0.5, 1.0, 1.0, 0.5)  # Λ = 4^{1/3} > 1: the marginal firm drops products
FULL = (SIGMA, 1.0, 1.5, 0.1, 0.15, 0.5)  # Λ < 1: the marginal firm supplies every product
G_PARETO, Z_PARETO = D.Pareto(5.0, 1.0), D.Pareto(3.0, 1.0)
G_LOGN, Z_LOGN = D.LogNormal(0.0, 1.0), D.LogNormal(0.0, 0.5)
TAU = 1.3


class TwoPiecePareto(D.AbstractDistribution):
    """Pareto with shape k1 on [1, x0] and k2 < k1 above: the tail gets heavier going up."""

    k1: jax.Array
    k2: jax.Array
    x0: jax.Array

    def log_survival(self, x):
        lx = jnp.log(jnp.maximum(jnp.asarray(x), 1.0))
        l0 = jnp.log(self.x0)
        return -jnp.where(lx <= l0, self.k1 * lx, self.k1 * l0 + self.k2 * (lx - l0))

    def log_isf(self, w):
        w0 = self.k1 * jnp.log(self.x0)
        return jnp.where(w <= w0, w / self.k1, jnp.log(self.x0) + (w - w0) / self.k2)

    def cdf(self, x):
        return -jnp.expm1(self.log_survival(x))

    def log_pdf(self, x):
        x = jnp.asarray(x)
        k = jnp.where(x <= self.x0, self.k1, self.k2)
        return jnp.where(x >= 1.0, jnp.log(k) + self.log_survival(x) - jnp.log(x), -jnp.inf)

    def icdf(self, u):
        return jnp.exp(self.log_isf(-jnp.log1p(-jnp.asarray(u))))

    @property
    def support(self):
        return (1.0, jnp.inf)

    def mean(self):
        return jnp.inf

    def variance(self):
        return jnp.inf


def solve(g, z, params, tau=TAU, N=2, **kw):
    kw.setdefault("throw", False)  # as the CLI calls it: one compilation shared with tests/cli
    return mp.multiproduct_economy(g, z, *params, tau, N, **kw)


@pytest.fixture(scope="module")
def pareto_eq():
    return solve(G_PARETO, Z_PARETO, PARTIAL)


@pytest.fixture(scope="module")
def lognormal_eq():
    return solve(G_LOGN, Z_LOGN, PARTIAL)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("params", [PARTIAL, FULL], ids=["partial_scope", "full_scope"])
def test_pareto_closed_forms(params):
    eq = solve(G_PARETO, Z_PARETO, params)
    cf = mp.pareto_closed_form(5.0, 3.0, *params, TAU, 2)
    assert eq.result == optx.RESULTS.successful
    np.testing.assert_allclose(np.asarray(eq.marginal_attribute_cutoff), cf["Lambda"], rtol=1e-12)
    np.testing.assert_allclose(float(eq.market_demand), cf["B"], rtol=1e-11)
    np.testing.assert_allclose(np.asarray(eq.ability_cutoff), cf["cutoff"], rtol=1e-11)
    np.testing.assert_allclose(cf["total_at_B"], params[-1], rtol=1e-12)
    assert np.all(cf["cutoff"] > 1.0)  # the closed form's premise (cut-offs inside the support)
    # Pareto attributes: revenue per product supplied is σ f_m ν/(ν−s) for partial-scope firms
    if cf["Lambda"][0] > 1 and cf["Lambda"][1] > 1:
        assert float(eq.average_scope[0]) < 1.0


@pytest.mark.slow
def test_lognormal_free_entry_and_sales_against_scipy(lognormal_eq):
    eq = lognormal_eq
    s = SIGMA - 1
    g, z = stats.lognorm(s=1.0), stats.lognorm(s=0.5)
    f = np.array([PARTIAL[3], PARTIAL[4]])
    F = np.array([PARTIAL[1], PARTIAL[2]])
    B = float(eq.market_demand)
    A = B * np.array([1.0, TAU**-s])
    c = (f / A) ** (1 / s)

    def Jz(lam):  # log-normal partial moment in closed form: ∫_{λ*} λ^s dZ = e^{s²σ²/2} Φ((sσ² − ln λ*)/σ)
        sz = 0.5
        mom = np.exp(0.5 * s**2 * sz**2) * stats.norm.sf((np.log(lam) - s * sz**2) / sz)
        return mom / lam**s - z.sf(lam)

    def Sz(lam):
        return z.sf(lam)

    tot = 0.0
    sales = []
    for m, w in ((0, 1.0), (1, 1.0)):
        phi_star = float(eq.ability_cutoff[m])
        prof = integrate.quad(lambda p: (f[m] * Jz(c[m] / p) - F[m]) * g.pdf(p), phi_star, np.inf, epsrel=1e-10)[0]
        tot += w * prof
        sales.append(integrate.quad(lambda p: SIGMA * f[m] * (Jz(c[m] / p) + Sz(c[m] / p)) * g.pdf(p), phi_star, np.inf, epsrel=1e-10)[0])
        # the marginal firm breaks even in m
        np.testing.assert_allclose(f[m] * Jz(c[m] / phi_star), F[m], rtol=1e-10)
    np.testing.assert_allclose(tot, PARTIAL[-1], rtol=1e-8)
    ME = float(eq.mass_of_entrants)
    np.testing.assert_allclose(np.asarray(eq.sales), ME * np.asarray(sales), rtol=1e-8)
    np.testing.assert_allclose(ME * (sales[0] + sales[1]), 1.0, rtol=1e-8)  # βL = 1


# ------------------------------------------------------------------ selection within and across firms


@pytest.mark.parametrize("which", ["pareto", pytest.param("lognormal", marks=pytest.mark.slow)])
def test_selection_within_and_across_firms_brute_force(which, request):
    eq = request.getfixturevalue(f"{which}_eq")
    z = stats.pareto(3.0) if which == "pareto" else stats.lognorm(s=0.5)
    s = SIGMA - 1
    B = float(eq.market_demand)
    A = B * np.array([1.0, TAU**-s])
    f = np.array([PARTIAL[3], PARTIAL[4]])
    F = np.array([PARTIAL[1], PARTIAL[2]])
    cut = np.asarray(eq.ability_cutoff)
    phis = np.concatenate([cut[0] * np.array([0.7, 0.99, 1.01]), cut[1] * np.array([0.99, 1.01, 1.5, 3.0])])
    groups = set()
    for phi in phis:
        # brute force: each product is supplied to m iff its variable profit covers f_m; the firm
        # serves m iff the sum over profitable products covers F_m
        lam = z.ppf(np.linspace(1e-6, 1 - 1e-9, 200001))
        prod_profit = A[:, None] * (phi * lam[None, :]) ** s - f[:, None]
        served = np.array(
            [integrate.quad(lambda l: max(A[m] * (phi * l) ** s - f[m], 0.0) * z.pdf(l), 0, np.inf, limit=200)[0] > F[m] for m in (0, 1)]
        )
        np.testing.assert_array_equal(served, phi >= cut)
        groups.add(int(served[0]) + int(served[1]))
        # worst products are domestic only: exported ⊂ domestic, and scope matches 1 − Z(λ*)
        exp_set, dom_set = prod_profit[1] > 0, prod_profit[0] > 0
        assert np.all(dom_set[exp_set])
        sc = np.asarray(eq.scope(phi))
        np.testing.assert_allclose(sc[served], z.sf(np.asarray(eq.attribute_cutoff(phi)))[served], rtol=1e-10)
        assert np.all(sc[~served] == 0)
    assert groups == {0, 1, 2}  # exit, domestic only, exporters
    # scope rises with ability in both markets
    grid = np.linspace(cut[0], 10 * cut[1], 50)
    assert np.all(np.diff(np.asarray(eq.scope(grid)), axis=0) >= 0)


# ------------------------------------------------------------------ trade liberalisation


@pytest.mark.parametrize("which", ["pareto", pytest.param("lognormal", marks=pytest.mark.slow)])
def test_liberalisation_lowers_scope_of_surviving_firms(which):
    g, z = (G_PARETO, Z_PARETO) if which == "pareto" else (G_LOGN, Z_LOGN)
    hi, lo, aut = solve(g, z, PARTIAL, 1.4), solve(g, z, PARTIAL, 1.2), solve(g, z, PARTIAL, 1.4, N=1)
    for before, after in ((aut, hi), (hi, lo)):
        assert float(after.ability_cutoff[0]) > float(before.ability_cutoff[0])  # least able exit
        phi = np.linspace(float(after.ability_cutoff[0]), 20 * float(after.ability_cutoff[0]), 200)
        d_before, d_after = np.asarray(before.scope(phi))[:, 0], np.asarray(after.scope(phi))[:, 0]
        partial = d_before < 1
        assert np.all(d_after <= d_before)
        assert np.all(d_after[partial] < d_before[partial])  # surviving firms drop their worst products
    # extensive margins of exports rise: exporting firms and exported firm-product pairs
    assert float(lo.firms[1]) > float(hi.firms[1]) and float(lo.products[1]) > float(hi.products[1])
    assert float(lo.sales[1]) > float(hi.sales[1])
    phi = np.linspace(float(hi.ability_cutoff[1]), 5 * float(hi.ability_cutoff[1]), 50)
    assert np.all(np.asarray(lo.scope(phi))[:, 1] >= np.asarray(hi.scope(phi))[:, 1])


def _im_elasticity(g, z, tau=TAU, h=1e-4):
    up, dn = solve(g, z, PARTIAL, tau * np.exp(h)), solve(g, z, PARTIAL, tau * np.exp(-h))
    return float((jnp.log(up.intensive_margin[1]) - jnp.log(dn.intensive_margin[1])) / (2 * h))


def test_intensive_margin_is_ambiguous_both_signs():
    """d ln(exports per exported firm-product)/d ln τ: 0 under Pareto ability (the cut-offs scale
    together), > 0 when the ability tail gets heavier going up (the composition effect wins),
    < 0 when it gets thinner going up (the direct effect wins)."""
    e_pareto = _im_elasticity(G_PARETO, Z_PARETO)
    e_heavy = _im_elasticity(TwoPiecePareto(8.0, 4.0, 2.0), Z_PARETO)
    e_thin = _im_elasticity(TwoPiecePareto(4.0, 8.0, 2.0), Z_PARETO)
    assert abs(e_pareto) < 1e-8
    assert e_heavy > 0.05
    assert e_thin < -0.05


@pytest.mark.slow
def test_intensive_margin_falls_with_tau_under_lognormal():
    assert _im_elasticity(G_LOGN, Z_LOGN) < -0.05


# ------------------------------------------------------------------ derivatives


@pytest.mark.slow
def test_gradient_matches_finite_difference():
    def out(t):
        eq = solve(G_LOGN, Z_LOGN, PARTIAL, t)
        return jnp.stack([eq.market_demand, eq.ability_cutoff[1], eq.intensive_margin[1], eq.welfare])

    d = jax.jacfwd(out)(jnp.asarray(TAU))
    h = 1e-6
    fd = (out(TAU + h) - out(TAU - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(d), np.asarray(fd), rtol=1e-6)


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(attributes=D.Pareto(1.5, 1.0)), "ν > σ − 1"),
        (dict(dist=D.Pareto(2.5, 1.0)), "k > max"),
        (dict(tau=0.9), "τ ≥ 1"),
        (dict(f_x=0.5, tau=1.1), "product sorting"),
        (dict(F_x=0.01, f_x=1.0), "firm sorting"),
    ],
)
def test_bad_input_names_the_condition(kw, msg):
    base = dict(dist=G_PARETO, attributes=Z_PARETO, sigma=SIGMA, F_d=0.5, F_x=0.5, f_d=1.0, f_x=1.0, f_e=0.5, tau=TAU)
    base.update(kw)
    with pytest.raises(JaxtradeInputError, match=msg):
        mp.multiproduct_economy(**base)
