"""Asymmetric countries, gravity (001 §5.1-5.7, §6.2), Krugman, HMY and Baldwin & Robert-Nicoud (002)."""

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import integrate, stats

from jaxtrade import distributions as D
from jaxtrade import melitz

SIGMA, K = 3.0, 4.0


def random_world(n, seed):
    rng = np.random.default_rng(seed)
    tau = 1.0 + rng.uniform(0.2, 1.0, (n, n))
    np.fill_diagonal(tau, 1.0)
    f = rng.uniform(1.3, 2.0, (n, n))
    np.fill_diagonal(f, 1.0)
    fe = rng.uniform(0.08, 0.15, n)
    L = rng.uniform(1.0, 5.0, n)
    return tau, f, fe, L


@pytest.fixture(scope="module")
def pareto_world():
    tau, f, fe, L = random_world(4, 0)
    eq = melitz.multi_country(D.Pareto(K, 1.0), SIGMA, tau, f, fe, L, beta=0.4)
    return eq, tau, f, fe, L


def test_gravity_margins_entry_and_trade_shares_match_pareto_closed_forms(pareto_world):
    eq, tau, f, fe, L = pareto_world
    assert eq.result == optx.RESULTS.successful
    assert bool(jnp.all(eq.entry_positive)) and bool(jnp.all(eq.outside_good_produced))
    assert bool(jnp.all(eq.export_cutoff >= 1.0))  # cut-offs inside the support: closed forms apply
    # eq. 20: extensive margin M_Ei (φ_min/φ_ni)^k, intensive margin σ k f_ni/(k−σ+1)
    np.testing.assert_allclose(eq.extensive_margin, eq.mass_of_entrants[None, :] * eq.export_cutoff ** (-K), rtol=1e-12)
    np.testing.assert_allclose(eq.intensive_margin, f * SIGMA * K / (K - SIGMA + 1), rtol=1e-12)
    # eq. 22: M_Ei = (σ−1) L_i/(k σ f_Ei) with L_i the sector's labour
    np.testing.assert_allclose(eq.mass_of_entrants, (SIGMA - 1) * eq.sector_labor / (K * SIGMA * fe), rtol=1e-12)
    # eq. 23 (w = 1): λ_ni ∝ (L_i/f_Ei) τ_ni^{−k} f_ni^{1−k/(σ−1)}
    num = (eq.sector_labor / fe)[None, :] * tau ** (-K) * f ** (1 - K / (SIGMA - 1))
    np.testing.assert_allclose(eq.trade_shares, num / num.sum(axis=1, keepdims=True), rtol=1e-11)
    # eq. 12: price index from the domestic cut-off alone
    P12 = SIGMA / (SIGMA - 1) * (np.diag(f) * SIGMA / (0.4 * L)) ** (1 / (SIGMA - 1)) / eq.cutoff
    np.testing.assert_allclose(eq.price_index, P12, rtol=1e-12)


def test_symmetric_world_reduces_to_symmetric_open_economy():
    n, tau, fx = 3, 1.6, 1.7
    T = np.full((n, n), tau)
    np.fill_diagonal(T, 1.0)
    Fm = np.full((n, n), fx)
    np.fill_diagonal(Fm, 1.0)
    dist = D.LogNormal(0.1, 0.8)
    a = melitz.multi_country(dist, SIGMA, T, Fm, 0.1, 2.0)
    b = melitz.symmetric_open_economy(dist, SIGMA, 1.0, fx, 0.1, tau, n, L=2.0)
    np.testing.assert_allclose(a.cutoff, b.cutoff, rtol=1e-12)
    np.testing.assert_allclose(a.export_cutoff[0, 1], b.export_cutoff, rtol=1e-12)
    np.testing.assert_allclose(a.domestic_trade_share, b.domestic_trade_share, rtol=1e-11)
    np.testing.assert_allclose(a.welfare, b.welfare, rtol=1e-11)


def test_home_market_effect_in_entry():
    """001 §5.6: with an outside good, M_Ei/M_Ei' > L̄_i/L̄_i' for the larger country."""
    T = np.array([[1.0, 1.5], [1.5, 1.0]])
    Fm = np.array([[1.0, 1.6], [1.6, 1.0]])
    L = np.array([3.0, 1.0])
    eq = melitz.multi_country(D.LogNormal(0.0, 0.7), SIGMA, T, Fm, 0.1, L, beta=0.3)
    assert float(eq.mass_of_entrants[0] / eq.mass_of_entrants[1]) > 3.0
    assert float(eq.trade_flows[1, 0]) > float(eq.trade_flows[0, 1])  # the large country runs a surplus


# ---------------------------------------------------------------- wages from trade balance (§5.7)


@pytest.mark.parametrize("dist", [D.Pareto(K, 1.0), D.LogNormal(0.0, 1.0)], ids=["pareto", "lognormal"])
def test_unilateral_liberalisation_signs_section_5_7(dist):
    L = jnp.array([0.01, 1.0])  # country 1 small
    f = jnp.array([[1.0, 1.5], [1.5, 1.0]])

    def out(t12, t21):
        tau = jnp.array([[1.0, t12], [t21, 1.0]])
        m = melitz.multi_country(dist, SIGMA, tau, f, 0.1, L, outside_good=False)
        return jnp.stack([m.wage[0], m.export_cutoff[1, 0], m.cutoff[0], m.welfare[0]])

    d12, d21 = jax.jacfwd(out, argnums=(0, 1))(1.6, 1.6)
    d12, d21 = np.asarray(d12), np.asarray(d21)
    # a fall in τ_12 (country 1's imports): w_1 falls, φ*_21 falls, φ*_11 rises, welfare rises
    assert d12[0] > 0 and d12[1] > 0 and d12[2] < 0 and d12[3] < 0
    # a fall in τ_21 (country 1's exports): w_1 rises, φ*_21 falls, φ*_11 rises, welfare rises
    assert d21[0] < 0 and d21[1] > 0 and d21[2] < 0 and d21[3] < 0


def test_trade_is_balanced_without_outside_good():
    tau, f, fe, L = random_world(3, 1)
    eq = melitz.multi_country(D.LogNormal(0.0, 0.9), SIGMA, tau, f, fe, L, outside_good=False)
    X = np.asarray(eq.trade_flows)
    exports = X.sum(axis=0) - np.diag(X)
    imports = X.sum(axis=1) - np.diag(X)
    np.testing.assert_allclose(exports, imports, rtol=1e-10)
    np.testing.assert_allclose(X.sum(axis=1), eq.wage * L, rtol=1e-10)


# ---------------------------------------------------------------- Krugman benchmark


def test_krugman_gains_follow_acr_with_elasticity_sigma_minus_one():
    kr = melitz.krugman_economy(SIGMA, 1.0, 1.7, 4, L=3.0, f_e=0.5)
    np.testing.assert_allclose(kr.gains_from_trade, melitz.acr_welfare_gain(kr.domestic_trade_share, SIGMA - 1), rtol=1e-14)


def test_melitz_and_krugman_have_different_trade_elasticities_and_gains():
    # Same σ, τ, fixed costs; Krugman productivity = the Melitz autarky average productivity φ̃_A.
    dist = D.Pareto(K, 1.0)
    tau, f, fx, fe = 1.5, 1.0, 1.5, 0.1
    mel = melitz.symmetric_open_economy(dist, SIGMA, f, fx, fe, tau, 2)
    aut = melitz.closed_economy(dist, SIGMA, f, fe)
    kr = melitz.krugman_economy(SIGMA, f, tau, 2, f_e=fe / aut.survival_probability, productivity=aut.average_productivity)
    # same autarky welfare by construction
    kra = melitz.krugman_economy(SIGMA, f, tau, 2, f_e=fe / aut.survival_probability, productivity=aut.average_productivity)
    np.testing.assert_allclose(kra.welfare / kra.gains_from_trade, aut.welfare, rtol=1e-12)
    assert float(melitz.trade_elasticity(dist, SIGMA, f, fx, fe, tau, 2)) == pytest.approx(K, rel=1e-12)
    assert float(mel.gains_from_trade) != pytest.approx(float(kr.gains_from_trade), rel=1e-3)


# ---------------------------------------------------------------- Helpman-Melitz-Yeaple


def test_hmy_free_entry_holds_with_brute_force_strategy_choice():
    dist = D.LogNormal(0.0, 0.8)
    sigma, f, fx, fi, fe, tau, n = 3.0, 1.0, 1.5, 6.0, 0.1, 1.4, 3
    eq = melitz.export_versus_fdi(dist, sigma, f, fx, fi, fe, tau, n)
    assert float(eq.cutoff) < float(eq.export_cutoff) < float(eq.fdi_cutoff)
    B = float(eq.market_demand)

    def profit(phi):  # each foreign market: best of nothing, export, FDI
        z = phi ** (sigma - 1)
        foreign = max(0.0, B * tau ** (1 - sigma) * z - fx, B * z - fi)
        return max(0.0, B * z - f) + (n - 1) * foreign

    pdf = lambda x: stats.lognorm.pdf(x, 0.8)  # noqa: E731
    pts = [float(eq.cutoff), float(eq.export_cutoff), float(eq.fdi_cutoff)]
    total = 0.0
    edges = [pts[0], pts[1], pts[2], pts[2] * 1e3]
    for a, b in zip(edges[:-1], edges[1:]):
        total += integrate.quad(lambda x: profit(x) * pdf(x), a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
    np.testing.assert_allclose(total, fe, rtol=1e-9)
    # indifference at the FDI cut-off
    zI = float(eq.fdi_cutoff) ** (sigma - 1)
    np.testing.assert_allclose(B * tau ** (1 - sigma) * zI - fx, B * zI - fi, rtol=1e-11)


# ---------------------------------------------------------------- Baldwin & Robert-Nicoud (002)


def test_brn_closed_forms_match_the_engine():
    sigma, k, tau, FD, FX, FI, delta, L = 3.0, 5.0, 1.4, 1.0, 1.5, 0.3, 0.1, 2.0
    cf = melitz.baldwin_robert_nicoud(sigma, k, tau, FD, FX, FI, delta, L)
    num = melitz.dynamic_melitz(D.Pareto(k, 1.0), sigma, tau, FD, FX, FI, delta, L)
    np.testing.assert_allclose(1.0 / num.cutoff, cf.domestic_cost_cutoff, rtol=1e-12)
    np.testing.assert_allclose(1.0 / num.export_cutoff, cf.export_cost_cutoff, rtol=1e-12)
    np.testing.assert_allclose(num.expected_fixed_cost, cf.expected_fixed_cost, rtol=1e-12)
    np.testing.assert_allclose(num.mass_of_firms, cf.mass_of_firms, rtol=1e-12)
    np.testing.assert_allclose(num.growth_rate, cf.growth_rate, rtol=1e-12)
    # the static mass n (002 eq. 8) is the Melitz mass of producers with f = δF_D, f_X = δF_X, f_E = δF_I
    mel = melitz.symmetric_open_economy(D.Pareto(k, 1.0), sigma, delta * FD, delta * FX, delta * FI, tau, 2, L=L)
    np.testing.assert_allclose(mel.mass_of_firms, cf.mass_of_firms, rtol=1e-12)


def test_brn_measured_productivity_is_inverse_producer_price_index():
    sigma, k, tau, FD, FX, FI, delta, L = 3.0, 5.0, 1.4, 1.0, 1.5, 0.3, 0.1, 2.0
    cf = melitz.baldwin_robert_nicoud(sigma, k, tau, FD, FX, FI, delta, L)
    # PPI^{1−σ} = n ∫_0^{a_D} (a/(1−1/σ))^{1−σ} k a^{k−1}/a_D^k da, by quadrature
    aD, n = float(cf.domestic_cost_cutoff), float(cf.mass_of_firms)
    integ = integrate.quad(lambda a: (a / (1 - 1 / sigma)) ** (1 - sigma) * k * a ** (k - 1) / aD**k, 0, aD, epsrel=1e-13)[0]
    np.testing.assert_allclose(cf.measured_productivity, (n * integ) ** (1 / (sigma - 1)), rtol=1e-11)


@settings(max_examples=25, deadline=None)
@given(
    tau=hst.floats(1.05, 3.0),
    fx_over_fd=hst.floats(1.0, 3.0),
    rho=hst.sampled_from([0.0, 0.03]),
    k=hst.floats(2.5, 8.0),
)
def test_result_3_growth_falls_with_openness(tau, fx_over_fd, rho, k):
    """002 Result 3: g falls as Ω rises (freer trade), with ρ = 0 (eq. 14) and ρ > 0 (eq. 26)."""
    sigma = 2.5
    beta = k / (sigma - 1)
    FI = 0.5 / (beta - 1)  # keeps a_D < 1 for every Ω ≥ 0

    def g(t):
        return melitz.baldwin_robert_nicoud(sigma, k, t, 1.0, fx_over_fd, FI, 0.05, 1.0, rho).growth_rate

    def omega(t):
        return melitz.baldwin_robert_nicoud(sigma, k, t, 1.0, fx_over_fd, FI, 0.05, 1.0, rho).openness

    dg = float(jax.grad(g)(tau))
    dom = float(jax.grad(omega)(tau))
    assert dom < 0  # openness falls with τ
    assert dg / dom < 0  # so dg/dΩ < 0


def test_brn_result_2_physical_productivity_rises_but_measured_falls_with_openness():
    """002 Result 2 holds for physical average productivity φ̃ ∝ 1/a_D; the measured productivity
    defined above eq. 10 (1/PPI of national firms) falls with Ω because n ∝ 1/(1+Ω) (docs/melitz.md)."""
    sigma, k, FD, FX, delta = 3.0, 5.0, 1.0, 1.5, 0.1
    FI = 0.5 / (k / (sigma - 1) - 1)
    lo, hi = (melitz.baldwin_robert_nicoud(sigma, k, t, FD, FX, FI, delta) for t in (2.5, 1.2))
    assert float(hi.openness) > float(lo.openness)
    assert float(hi.average_productivity) > float(lo.average_productivity)
    assert float(hi.mass_of_firms) < float(lo.mass_of_firms)
    assert float(hi.measured_productivity) < float(lo.measured_productivity)


def test_corner_equilibrium_is_a_failure_never_successful_with_negative_masses():
    """A remote small country cannot sustain entry (home market effect): the interior equations give
    M_E < 0 there. Before: result == successful with masses −0.066 and −2.92, flows −0.75, shares
    −1.02 and only a side flag; now a failure naming the corner (and an error with throw=True)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (10, 2))
    tau = 1.1 + np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(tau, 1.0)
    f = np.full((10, 10), 1.4)
    np.fill_diagonal(f, 1.0)
    L = rng.uniform(1.0, 10.0, 10)
    eq = melitz.multi_country(D.Pareto(K, 1.0), SIGMA, tau, f, 0.1, L, beta=0.3, throw=False)
    assert eq.result != optx.RESULTS.successful
    assert eq.condition == melitz.CONDITIONS.corner_no_entry
    assert not bool(jnp.all(eq.entry_positive))
    np.testing.assert_array_equal(np.asarray(eq.entry_positive), np.asarray(eq.mass_of_entrants) > 0)
    assert float(jnp.min(eq.mass_of_entrants)) < 0  # the numbers are the interior equations' (not an equilibrium)
    with pytest.raises(Exception, match="corner equilibrium: free entry cannot hold"):
        melitz.multi_country(D.Pareto(K, 1.0), SIGMA, tau, f, 0.1, L, beta=0.3, throw=True)


def test_corner_is_a_failure_code_under_jit_and_vmap_and_throw_names_it():
    """Two countries, an outside good: raising country 2's entry cost f_E2 from 0.1 to 0.3 moves it from
    interior entry (M_E = 0.5, 0.5) to a corner (the interior equations give M_E2 = −0.32). Under
    jit(vmap) each element carries its own code: the interior ones successful, the corner
    ``corner_no_entry`` with a failure result (never successful); throw=True raises
    JaxtradeSolveError naming the corner and the batch index."""
    tau = jnp.array([[1.0, 1.3], [1.3, 1.0]])
    f = jnp.array([[1.0, 1.4], [1.4, 1.0]])
    L = jnp.ones(2)
    fe2 = jnp.array([0.1, 0.3, 0.2])

    def solve(x, throw=False):
        return melitz.multi_country(D.Pareto(K, 1.0), SIGMA, tau, f, jnp.stack([0.1, x]), L, beta=0.3, throw=throw)

    eq = jax.jit(jax.vmap(solve))(fe2)
    C = melitz.CONDITIONS
    ok = np.asarray(eq.result._value) == optx.RESULTS.successful._value
    np.testing.assert_array_equal(ok, [True, False, True])
    assert int(eq.result._value[1]) == optx.RESULTS.nonlinear_divergence._value
    np.testing.assert_array_equal(
        np.asarray(eq.condition._value), [C.satisfied._value, C.corner_no_entry._value, C.satisfied._value]
    )
    me = np.asarray(eq.mass_of_entrants)
    np.testing.assert_allclose(me[0], [0.5, 0.5], rtol=1e-12)  # symmetric: M_E = βL/(σ(f_E/S + ...)) equal
    assert me[1, 1] < 0 and not bool(eq.entry_positive[1, 1]) and bool(jnp.all(eq.entry_positive[2]))
    # throw=True under jit(vmap): a named error with the batch index, whichever field is kept (raised
    # from the host callback, it reaches the caller inside jax's runtime error, with its name)
    with pytest.raises(Exception, match=r"JaxtradeSolveError: no equilibrium: corner equilibrium: free entry cannot hold.*batch index 1; 1 of 3 failed"):
        jax.block_until_ready(jax.jit(jax.vmap(lambda x: solve(x, throw=True).welfare))(fe2))


@pytest.mark.parametrize("outside_good", [True, False])
def test_multi_country_implicit_derivatives_match_finite_differences(outside_good):
    L = jnp.array([1.0, 2.0, 1.5])
    f = jnp.array([[1.0, 1.5, 1.6], [1.5, 1.0, 1.4], [1.6, 1.4, 1.0]])
    T = jnp.array([[1.0, 1.5, 1.7], [1.6, 1.0, 1.4], [1.8, 1.3, 1.0]])
    beta = 0.5 if outside_good else 1.0

    def out(t01):
        m = melitz.multi_country(D.LogNormal(0.0, 1.0), SIGMA, T.at[0, 1].set(t01), f, 0.1, L, beta=beta,
                                 outside_good=outside_good)
        return jnp.concatenate([m.wage, m.cutoff, m.welfare, m.domestic_trade_share])

    x = 1.5
    jf = np.asarray(jax.jacfwd(out)(x))
    h = 1e-5
    fd = (np.asarray(out(x + h)) - np.asarray(out(x - h))) / (2 * h)
    np.testing.assert_allclose(jf, fd, rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------- issue 18: Krugman, 002 feasibility, untested results

C = melitz.CONDITIONS


def test_krugman_firms_export_only_when_it_pays():
    """Before: every firm exported even at a loss (export profit −1.6 at τ = 3, −0.51 at τ = 1.3).
    Now firms export iff τ^{1−σ}(f + f_e) ≥ f_x, and the export profit of the equilibrium played (or of
    a deviation) is never negative for exporters, never positive for non-exporters."""
    taus = jnp.linspace(1.05, 3.0, 40)
    for fx in (0.0, 0.5, 2.0):
        kr = jax.vmap(lambda t: melitz.krugman_economy(SIGMA, 1.0, t, 3, f_e=1.0, f_x=fx))(taus)
        ex, pr = np.asarray(kr.exporting), np.asarray(kr.export_profit)
        assert np.all(pr[ex] >= -1e-15) and np.all(pr[~ex] < 0)
        np.testing.assert_array_equal(ex, np.asarray(taus) ** (1 - SIGMA) * 2.0 >= fx)
        assert np.all(np.asarray(kr.domestic_trade_share)[~ex] == 1.0)
        assert np.all(np.asarray(kr.gains_from_trade)[~ex] == 1.0)
        assert np.all(np.asarray(kr.gains_from_trade)[ex] >= 1.0)


def test_section_6_3_melitz_gains_exceed_krugman_where_the_claim_holds_and_the_counter_case():
    """001 §6.3: 'greater welfare gains from a given reduction in trade costs than in the homogeneous
    firm benchmark'. Same σ, f, f_x, f_E; Krugman productivity = φ̃_A and entry cost f_E/(1 − G(φ*_A))
    (so autarky welfare is equal). Holds where exporting does not pay homogeneous firms (f_x = 2,
    τ 3 → 1.3: Melitz +3.96 %, Krugman 0); fails where Krugman firms all export (f_x = 0.47, τ 2 → 1.5:
    Melitz +5.81 %, Krugman +7.50 %): docs/melitz.md."""
    dist = D.Pareto(K, 1.0)
    f, fe = 1.0, 0.1
    aut = melitz.closed_economy(dist, SIGMA, f, fe)
    fek, phi = float(fe / aut.survival_probability), float(aut.average_productivity)

    def gains(fx, t0, t1):
        m = jax.vmap(lambda t: melitz.symmetric_open_economy(dist, SIGMA, f, fx, fe, t, 2).welfare)(jnp.array([t0, t1]))
        kr = [melitz.krugman_economy(SIGMA, f, t, 2, f_e=fek, f_x=fx, productivity=phi) for t in (t0, t1)]
        return float(m[1] / m[0]) - 1, float(kr[1].welfare / kr[0].welfare) - 1, [bool(k.exporting) for k in kr]

    kra = melitz.krugman_economy(SIGMA, f, 2.0, 2, f_e=fek, f_x=2.0, productivity=phi)
    np.testing.assert_allclose(kra.welfare / kra.gains_from_trade, aut.welfare, rtol=1e-12)
    gm, gk, ex = gains(2.0, 3.0, 1.3)
    assert ex == [False, False] and gk == 0.0 and gm == pytest.approx(0.039554, abs=1e-6) and gm > gk
    gm, gk, ex = gains(0.47, 2.0, 1.5)
    assert ex == [True, True] and gm == pytest.approx(0.058127, abs=1e-6) and gk == pytest.approx(0.074968, abs=1e-6)
    assert gk > gm  # the counter-case


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed_form", "engine"])
def test_002_feasibility_negative_growth_is_reported(closed_form):
    """Before: g < 0 and negative I-sector labour were returned unflagged. ρ = 0.5 makes g < 0 here
    while L_I = (δ + g)F̄ stays ≥ 0; with ρ = 1.5, L_I < 0 too."""
    sigma, k, tau, FD, FX, FI, delta, L = 3.0, 5.0, 1.4, 1.0, 1.5, 0.3, 0.1, 2.0
    rho = jnp.array([0.0, 0.5, 1.5])
    if closed_form:
        fn = lambda r: melitz.baldwin_robert_nicoud(sigma, k, tau, FD, FX, FI, delta, L, r, throw=False)  # noqa: E731
    else:
        fn = lambda r: melitz.dynamic_melitz(D.Pareto(k, 1.0), sigma, tau, FD, FX, FI, delta, L, r, throw=False)  # noqa: E731
    eq = jax.jit(jax.vmap(fn))(rho)
    g, LI, LP = (np.asarray(x) for x in (eq.growth_rate, eq.innovation_labor, eq.production_labor))
    assert g[0] > 0 and g[1] < 0 and g[2] < 0 and LI[1] >= 0 and LI[2] < 0
    np.testing.assert_array_equal(np.asarray(eq.feasible), [True, False, False])
    codes = np.asarray(eq.condition._value)
    assert codes[0] == C.satisfied._value and codes[1] == codes[2] == C.negative_growth._value
    np.testing.assert_array_equal(np.asarray(eq.result._value == optx.RESULTS.successful._value), [True, False, False])
    # eq. 18 (E = (L − L_I)/(1 − 1/σ)) holds with L_I = (δ + g) F̄: an independent check of L_I
    E = L + np.asarray(rho) * np.asarray(eq.expected_fixed_cost)
    np.testing.assert_allclose(E, LP / (1 - 1 / sigma), rtol=1e-12)
    with pytest.raises(Exception, match=r"growth rate g < 0.*batch index 1"):
        jax.vmap(lambda r: melitz.baldwin_robert_nicoud(sigma, k, tau, FD, FX, FI, delta, L, r).growth_rate)(rho)


def test_hmy_shares_match_pareto_closed_forms():
    k, sigma, f, fx, fi, fe, tau, n = K, SIGMA, 1.0, 1.5, 6.0, 0.1, 1.4, 3
    eq = melitz.export_versus_fdi(D.Pareto(k, 1.0), sigma, f, fx, fi, fe, tau, n)
    c, cx, ci = float(eq.cutoff), float(eq.export_cutoff), float(eq.fdi_cutoff)
    s = sigma - 1
    np.testing.assert_allclose(cx, tau * (fx / f) ** (1 / s) * c, rtol=1e-13)
    np.testing.assert_allclose(ci, ((fi - fx) / (f * (1 - tau**-s))) ** (1 / s) * c, rtol=1e-13)
    np.testing.assert_allclose(eq.exporter_share, (c / cx) ** k - (c / ci) ** k, rtol=1e-12)
    np.testing.assert_allclose(eq.fdi_share, (c / ci) ** k, rtol=1e-12)
    # affiliate sales / exports: ∫_{φI} φ^s dG / (τ^{−s}(∫_{φX} − ∫_{φI})), ∫_c φ^s dG ∝ c^{s−k}
    np.testing.assert_allclose(eq.fdi_to_export_sales, ci ** (s - k) / (tau**-s * (cx ** (s - k) - ci ** (s - k))), rtol=1e-12)


@pytest.mark.slow
def test_outside_good_import_liberalisation_can_lower_welfare():
    """001 §5.7: 'in the presence of an outside sector, reductions in variable trade costs on imports
    can be welfare reducing' (home market effect). Country 0 lowers τ_01 (its imports): its welfare falls."""
    f = jnp.array([[1.0, 1.5], [1.5, 1.0]])
    L = jnp.array([1.0, 1.0])

    def w0(t01):
        return melitz.multi_country(D.Pareto(K, 1.0), SIGMA, jnp.array([[1.0, t01], [1.6, 1.0]]), f, 0.1, L, beta=0.4).welfare[0]

    d = float(jax.grad(w0)(1.6))
    assert d > 0  # a fall in τ_01 lowers U_0
    h = 1e-5
    np.testing.assert_allclose(d, (float(w0(1.6 + h)) - float(w0(1.6 - h))) / (2 * h), rtol=1e-6)


@pytest.mark.slow
def test_acr_with_labour_reallocation_eq_24_25_and_multi_sector():
    """001 §6.3: Û_n = Π_j λ_nnj^{−β_j/k_j} (L_nj^open/L_nj^closed)^{β_j/k_j}. With an outside good each
    sector j is its own multi_country equilibrium (w = 1); autarky is closed_economy per country. Checked
    for one sector and for J = 2 sectors with different k_j and β_j (labour moves across sectors)."""
    tau = np.array([[1.0, 1.5, 1.8], [1.4, 1.0, 1.6], [1.7, 1.3, 1.0]])
    f = np.array([[1.0, 1.5, 1.6], [1.5, 1.0, 1.4], [1.6, 1.4, 1.0]])
    L = np.array([1.0, 3.0, 2.0])
    sectors = [(4.0, 0.3), (6.0, 0.2)]
    lam, lr, U_ratio = [], [], []
    for k, beta in sectors:
        op = melitz.multi_country(D.Pareto(k, 1.0), SIGMA, tau, f, 0.1, L, beta=beta)
        assert op.result == optx.RESULTS.successful
        cl = jax.vmap(lambda l: melitz.closed_economy(D.Pareto(k, 1.0), SIGMA, 1.0, 0.1, l, beta=beta).price_index)(jnp.asarray(L))
        lam.append(np.asarray(op.domestic_trade_share))
        lr.append(np.asarray(op.sector_labor) / (beta * L))  # closed: sector labour = β L̄
        U_ratio.append((np.asarray(op.price_index) / np.asarray(cl)) ** (-beta))
    lam, lr = np.stack(lam, -1), np.stack(lr, -1)
    ks, betas = np.array([s[0] for s in sectors]), np.array([s[1] for s in sectors])
    assert np.max(np.abs(lr - 1)) > 0.01  # labour does reallocate
    for j in range(2):  # one sector: (λ/L̂)^{−β/k}
        np.testing.assert_allclose(U_ratio[j], melitz.acr_welfare_gain(lam[:, j], ks[j], labor_ratio=lr[:, j]) ** betas[j], rtol=1e-11)
        np.testing.assert_allclose(U_ratio[j], melitz.acr_welfare_gain(lam[:, j:j + 1], ks[j:j + 1], betas[j:j + 1], lr[:, j:j + 1]), rtol=1e-11)
    np.testing.assert_allclose(np.prod(U_ratio, axis=0), melitz.acr_welfare_gain(lam, ks, betas, lr), rtol=1e-11)
    # without the labour term the formula is wrong here
    assert np.max(np.abs(np.asarray(melitz.acr_welfare_gain(lam, ks, betas)) / np.prod(U_ratio, axis=0) - 1)) > 1e-3


def test_truncated_pareto_zero_trade_flows():
    """001 §6.3 (Helpman, Melitz & Rubinstein 2008): no firm exports from i to n when φ*_ni is above
    the upper bound of G_i: the flow is exactly zero, the margins too."""
    tau = np.array([[1.0, 1.3], [4.0, 1.0]])
    f = np.array([[1.0, 1.4], [1.4, 1.0]])
    eq = melitz.multi_country(D.TruncatedPareto(3.0, 1.0, 4.0), SIGMA, tau, f, 0.1, np.array([1.0, 1.0]), beta=0.4)
    assert eq.result == optx.RESULTS.successful
    assert float(eq.export_cutoff[1, 0]) > 4.0 and float(eq.trade_flows[1, 0]) == 0.0
    assert float(eq.extensive_margin[1, 0]) == 0.0 and float(eq.trade_flows[0, 1]) > 0.0


def test_footnote_31_domestic_variety_falls_with_opening():
    """001 fn. 31: under Pareto, w_i f_ni > w_n f_nn (n ≠ i) suffices for the mass of varieties
    available for domestic consumption, Σ_i M_Ei (1 − G_i(φ*_ni)), to fall when trade opens."""
    tau = np.array([[1.0, 1.4, 1.6], [1.5, 1.0, 1.3], [1.7, 1.2, 1.0]])
    f = np.array([[1.0, 1.3, 1.5], [1.2, 1.0, 1.4], [1.6, 1.1, 1.0]])
    L = np.array([2.0, 1.0, 3.0])
    op = melitz.multi_country(D.Pareto(K, 1.0), SIGMA, tau, f, 0.1, L, beta=0.3)
    cl = jax.vmap(lambda l: melitz.closed_economy(D.Pareto(K, 1.0), SIGMA, 1.0, 0.1, l, beta=0.3).mass_of_firms)(jnp.asarray(L))
    open_varieties = np.asarray(op.extensive_margin).sum(axis=1)
    assert np.all(open_varieties < np.asarray(cl))


@pytest.mark.slow
def test_one_sector_unequal_sizes_have_unequal_wages_errata():
    """001 §5.6 derives M_E ∝ L̄ for one sector from a common market demand B, i.e. equal wages; with a
    size ratio of 3 the wages differ (w_0 = 1.0886 here). Under Pareto M_E ∝ L̄ survives anyway (eq. 22
    has no wage); under a log-normal it does not (docs/melitz.md, Errata)."""
    T = np.array([[1.0, 1.5], [1.5, 1.0]])
    Fm = np.array([[1.0, 1.5], [1.5, 1.0]])
    L = np.array([3.0, 1.0])
    par = melitz.multi_country(D.Pareto(K, 1.0), SIGMA, T, Fm, 0.1, L, outside_good=False)
    assert float(par.wage[0]) == pytest.approx(1.08859, abs=1e-5)
    np.testing.assert_allclose(par.mass_of_entrants[0] / par.mass_of_entrants[1], 3.0, rtol=1e-12)
    ln = melitz.multi_country(D.LogNormal(0.0, 1.0), SIGMA, T, Fm, 0.1, L, outside_good=False)
    assert float(ln.wage[0]) > 1.01
    assert abs(float(ln.mass_of_entrants[0] / ln.mass_of_entrants[1]) - 3.0) > 1e-3
