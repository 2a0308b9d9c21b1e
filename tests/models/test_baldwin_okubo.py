"""Baldwin & Okubo (2011, paper 000): heterogeneous footloose firms, relocation, productivity, welfare.

Three ways: the Pareto closed forms of the paper, the general-G solver (optimistix root-finding on
the definitions (15)/(19), implicit derivatives) and independent scipy references (quad/brentq on
the equilibrium conditions written out from the definitions). Results 1-7 are property tests;
misprints are settled by the tests named in docs/baldwin_okubo.md (Errata).
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate, optimize  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import baldwin_okubo as bo  # noqa: E402

SIG, RHO, F, FI, SE = 2.0, 2.0, 1.0, 0.8, 0.6  # β = 2, α = 1, A = f_I(β−1)/f = 0.8
H = bo.pareto_costs(RHO)
OK = optx.RESULTS.successful
PROP = settings(max_examples=15, deadline=None)


def params():
    """(s_E, σ, ρ, f_I) with β = ρ/(σ−1) ∈ (1.1, 6) and A = f_I(β−1)/f ∈ (0.1, 0.95)."""
    return hst.tuples(
        hst.floats(0.52, 0.9), hst.floats(1.3, 5.0), hst.floats(1.1, 6.0), hst.floats(0.1, 0.95)
    ).map(lambda t: (t[0], t[1], t[2] * (t[1] - 1.0), t[3] / (t[2] - 1.0)))


# ------------------------------------------------------------------ scipy references (Pareto G = a^ρ)


def sp_M(x, sigma, rho):
    """∫_0^x a^{1−σ} dG = ∫_0^x ρ a^{α−1} da by scipy's QAWS rule (algebraic end-point weight)."""
    al = 1 - sigma + rho
    return integrate.quad(lambda a: rho, 0, x, weight="alg", wvar=(al - 1, 0), epsabs=0, epsrel=1e-13)[0] if x > 0 else 0.0


def sp_M1(x, sigma, rho):
    al = 1 - sigma + rho
    return integrate.quad(lambda a: rho, 0, x, weight="alg", wvar=(al, 0), epsabs=0, epsrel=1e-13)[0] if x > 0 else 0.0


def sp_G(x, rho):
    return integrate.quad(lambda a: rho, 0, x, weight="alg", wvar=(rho - 1, 0), epsabs=0, epsrel=1e-13)[0] if x > 0 else 0.0


def sp_V(b, f, sigma, rho):
    a = min((b / f) ** (1 / (sigma - 1)), 1.0)
    return b * sp_M(a, sigma, rho) - f * sp_G(a, rho)


def sp_markets(s_n, n_w, a_D, a_X, a_R, phi, sigma, rho):
    """eq. (15) (a_R ≤ a_X) / (19) (a_R ≥ a_X) integrated by scipy, written out case by case."""
    G = a_D**rho
    M = lambda lo, hi: (sp_M(hi, sigma, rho) - sp_M(lo, sigma, rho)) / G  # noqa: E731
    n, ns = s_n * n_w, (1 - s_n) * n_w
    if a_R <= a_X:
        m = n * M(0, a_D) + ns * M(0, a_R) + ns * phi * M(a_R, a_X)
        ms = phi * n * M(0, a_X) + phi * ns * M(0, a_R) + ns * M(a_R, a_D)
    else:
        m = n_w * M(0, a_R) + n * M(a_R, a_D)
        ms = n_w * phi * M(0, a_X) + ns * M(a_R, a_D)
    return m, ms


# ------------------------------------------------------------------ §2.2 autarky


@pytest.mark.slow
def test_autarky_closed_form_general_solver_and_scipy():
    aut = bo.autarky(SIG, RHO, F, FI, SE)
    gen = bo.autarky_general(H, SIG, F, FI, SE)
    beta = RHO / (SIG - 1)
    np.testing.assert_allclose(aut.a_D, (FI * (beta - 1) / F) ** (1 / RHO), rtol=1e-14)  # eq. 6
    np.testing.assert_allclose(aut.n, SE * (beta - 1) / (F * beta), rtol=1e-14)
    # scipy: free entry (4) with the cut-off condition (3), brentq in a_D
    aD = optimize.brentq(lambda a: sp_V(F * a ** (SIG - 1), F, SIG, RHO) - FI, 1e-3, 1.0, xtol=1e-15)
    for r in (aut, gen):
        np.testing.assert_allclose(r.a_D, aD, rtol=1e-10)
        assert r.result == OK and r.residual < 1e-12
    np.testing.assert_allclose(gen.n_w, aut.n_w, rtol=1e-12)


@pytest.mark.slow
def test_autarky_lognormal_costs_against_scipy():
    dist = D.LogNormal(0.3, 0.6)  # productivity 1/a log-normal: a log-normal on (0, ∞)
    sigma, f, f_I = 3.0, 1.0, 0.2
    aut = bo.autarky_general(dist, sigma, f, f_I, 0.6)
    # ∫_0^{a_D} (a^{1−σ}B − f) dG with a = 1/z, z log-normal: z ≥ 1/a_D
    pdf = lambda z: np.exp(-((np.log(z) - 0.3) ** 2) / (2 * 0.36)) / (z * 0.6 * np.sqrt(2 * np.pi))  # noqa: E731

    def fe(aD):
        B = f * aD ** (sigma - 1)
        return integrate.quad(lambda z: (z ** (sigma - 1) * B - f) * pdf(z), 1 / aD, np.inf, limit=400, epsabs=0, epsrel=1e-12)[0] - f_I

    aD = optimize.brentq(fe, 0.05, 5.0, xtol=1e-15)
    np.testing.assert_allclose(aut.a_D, aD, rtol=1e-9)


# ------------------------------------------------------------------ §3.1 entry then relocation (eq. 7-9)


def test_autarky_closed_form_vs_scipy():
    aut = bo.autarky(SIG, RHO, F, FI, SE)
    beta = RHO / (SIG - 1)
    aD = optimize.brentq(lambda a: sp_V(F * a ** (SIG - 1), F, SIG, RHO) - FI, 1e-3, 1.0, xtol=1e-15)
    np.testing.assert_allclose(aut.a_D, aD, rtol=1e-10)
    np.testing.assert_allclose(aut.n, SE * (beta - 1) / (F * beta), rtol=1e-14)
    assert aut.result == OK and aut.residual < 1e-12
    # the general-G solver at φ = 0 is autarky (eq. 3-4): n = s_E n^w with the autarky cut-off
    g0 = bo.entry_then_relocation_general(H, 0.0, SE, SIG, F, FI)
    np.testing.assert_allclose(g0.a_D, aut.a_D, rtol=1e-12)
    np.testing.assert_allclose(g0.n, aut.n, rtol=1e-12)


def test_general_G_relocation_solver_dd_point():
    """Default-run check of the general-G relocation solver (location condition by bisection with
    implicit differentiation) against the closed forms, one φ in the DD phase. The full grid (both
    phases, the corner, before entry) and the implicit derivatives run in the slow tests."""
    for phi in (0.75,):
        g = bo.relocation_general(H, phi, SE, SIG, F, FI)
        c = bo.relocation(phi, SE, SIG, RHO, F, FI)
        assert g.phase == c.phase and g.result == OK
        for name in ("a_D", "a_X", "a_R", "n_w", "a_bar"):
            np.testing.assert_allclose(getattr(g, name), getattr(c, name), rtol=1e-10, err_msg=name)


def test_entry_closed_forms_eq9_vs_scipy_and_general_solver():
    phi = 0.5
    e = bo.entry_then_relocation(phi, SE, SIG, RHO, F, FI)
    g = bo.entry_then_relocation_general(H, phi, SE, SIG, F, FI)
    beta = RHO / (SIG - 1)
    u = phi**beta
    np.testing.assert_allclose(e.a_D, (FI * (beta - 1) / (F * (1 + u))) ** (1 / RHO), rtol=1e-14)
    np.testing.assert_allclose(e.s_n, 0.5 + (1 + u) / (1 - u) * (SE - 0.5), rtol=1e-14)  # HME
    np.testing.assert_allclose(e.n_w, (1 - 1 / beta) / (F * (1 + u)), rtol=1e-14)
    # scipy: free entry (8) with B = B*, then the linear market conditions (7)
    aD = optimize.brentq(lambda a: sp_V(F * a ** (SIG - 1), F, SIG, RHO) + sp_V(phi * F * a ** (SIG - 1), F, SIG, RHO) - FI,
                         1e-3, 1.0, xtol=1e-15)
    B = F * aD ** (SIG - 1)
    aX = (phi * B / F) ** (1 / (SIG - 1))
    PD, PX = sp_M(aD, SIG, RHO) / aD**RHO, phi * sp_M(aX, SIG, RHO) / aD**RHO
    n, ns = np.linalg.solve([[PD, PX], [PX, PD]], [SE / B, (1 - SE) / B])
    for r in (e, g):
        np.testing.assert_allclose(r.a_D, aD, rtol=1e-10)
        np.testing.assert_allclose(r.n, n, rtol=1e-9)
        np.testing.assert_allclose(r.n_star, ns, rtol=1e-9)
        assert r.result == OK


@PROP
@given(params(), hst.floats(0.01, 0.999))
def test_result1_instant_entry_relieves_all_relocation_pressure(p, frac):
    """Result 1: with instantaneous entry/exit B = B* (re-evaluated from the market definitions of
    eq. 7), so the relocation gains (13)-(14) vanish; s_n exceeds s_E (HME) and stays ≤ 1 up to φ^S."""
    s_E, sigma, rho, f_I = p
    phi = frac * float(bo.sustain_point(s_E, sigma, rho))
    e = bo.entry_then_relocation(phi, s_E, sigma, rho, 1.0, f_I)
    assert e.result == OK and e.phase == "no_relocation"
    np.testing.assert_allclose(e.B, e.B_star, rtol=1e-10)
    if phi > 0:
        assert abs(float(e.relocation_gain_X)) <= 1e-9 * float(e.B) * float(e.a_X) ** (1 - sigma)
    assert abs(float(e.relocation_gain_D)) <= 1e-9 * float(e.B) * float(e.a_D) ** (1 - sigma)
    assert s_E - 1e-12 <= float(e.s_n) <= 1.0 + 1e-12
    assert float(e.n_star) >= -1e-12


def test_entry_corner_past_sustain_point_is_an_equilibrium():
    """Past φ^S eq. 9 would give s_n > 1; the corner has only Northern firms, B > B*, and Southern
    entrants would make losses: V(B*) + V(φB) < f_I (scipy)."""
    phi = 0.95
    e = bo.entry_then_relocation(phi, SE, SIG, RHO, F, FI)
    g = bo.entry_then_relocation_general(H, phi, SE, SIG, F, FI)
    assert e.phase == "full_agglomeration" and g.phase == "full_agglomeration"
    assert e.s_n == 1.0 and float(e.B) > float(e.B_star)
    np.testing.assert_allclose(g.a_D, e.a_D, rtol=1e-12)
    np.testing.assert_allclose(g.a_X, e.a_X, rtol=1e-12)
    north = sp_V(float(e.B), F, SIG, RHO) + sp_V(phi * float(e.B_star), F, SIG, RHO)
    south = sp_V(float(e.B_star), F, SIG, RHO) + sp_V(phi * float(e.B), F, SIG, RHO)
    np.testing.assert_allclose(north, FI, rtol=1e-10)
    assert south < FI
    assert np.isnan(float(e.a_bar_star))  # no Southern firms: flagged by the phase, not a number


def test_productivity_eq10_weights_and_eq11_derivative():
    phi, sigma, rho, f, f_I = 0.4, 2.5, 3.0, 1.0, 0.5
    e = bo.entry_then_relocation(phi, SE, sigma, rho, f, f_I)
    W_X, W_D = bo.hft_productivity_weights(phi, sigma, rho, f, f_I)
    al = 1 - sigma + rho
    # ā = ∫_0^{a_X} W_X a^α da + ∫_{a_X}^{a_D} W_D a^α da (after eq. 10)
    a_bar = integrate.quad(lambda a: W_X * a**al, 0, float(e.a_X), epsabs=0, epsrel=1e-13)[0] + integrate.quad(lambda a: W_D * a**al, float(e.a_X), float(e.a_D), epsabs=0, epsrel=1e-13)[0]
    np.testing.assert_allclose(e.a_bar, a_bar, rtol=1e-12)
    # eq. (10) by scipy from its definition
    num = (1 + phi) * sp_M1(float(e.a_X), sigma, rho) + sp_M1(float(e.a_D), sigma, rho) - sp_M1(float(e.a_X), sigma, rho)
    den = (1 + phi) * sp_M(float(e.a_X), sigma, rho) + sp_M(float(e.a_D), sigma, rho) - sp_M(float(e.a_X), sigma, rho)
    np.testing.assert_allclose(e.a_bar, num / den, rtol=1e-10)
    # eq. (11), its four terms, equals jax.grad and a central difference; negative
    d11 = bo.hft_productivity_derivative(jnp.asarray(phi), sigma, rho, f, f_I)
    dg = jax.grad(lambda p: bo.entry_then_relocation(p, SE, sigma, rho, f, f_I).a_bar)(phi)
    h = 1e-6
    fd = (bo.entry_then_relocation(phi + h, SE, sigma, rho, f, f_I).a_bar - bo.entry_then_relocation(phi - h, SE, sigma, rho, f, f_I).a_bar) / (2 * h)
    np.testing.assert_allclose(d11, dg, rtol=1e-12)
    np.testing.assert_allclose(dg, fd, rtol=1e-7)
    assert d11 < 0
    # footnote 11: d ln W_X/dφ = (1 − φ^{β−1})/((1+φ)(1+φ^β))
    beta = rho / (sigma - 1)
    dl = jax.grad(lambda p: jnp.log(bo.hft_productivity_weights(p, sigma, rho, f, f_I)[0]))(phi)
    np.testing.assert_allclose(dl, (1 - phi ** (beta - 1)) / ((1 + phi) * (1 + phi**beta)), rtol=1e-12)


# ------------------------------------------------------------------ §3.2 relocation (eq. 12-20)


@pytest.mark.parametrize("entry", [True, False])
@pytest.mark.parametrize("phi", [0.05, 0.3, 0.6, 0.7, 0.78, 0.9])
def test_relocation_closed_forms_solve_the_definitions_by_scipy(entry, phi):
    """The Pareto closed forms (17), (20), (22) satisfy B = B* with the markets (15)/(19)
    integrated by scipy, the export cut-off condition, and (entry) the domestic cut-off and free
    entry; an independent brentq on the location condition recovers a_R."""
    r = bo.relocation(phi, SE, SIG, RHO, F, FI, entry=entry)
    assert r.result == OK
    a_D, a_X, a_R, n_w = (float(x) for x in (r.a_D, r.a_X, r.a_R, r.n_w))
    if r.phase == "full_agglomeration":
        assert a_R == a_D
        return
    m, ms = sp_markets(SE, n_w, a_D, a_X, a_R, phi, SIG, RHO)
    B, Bs = SE / m, (1 - SE) / ms
    np.testing.assert_allclose(B, Bs, rtol=1e-9)
    np.testing.assert_allclose(phi * a_X ** (1 - SIG) * B, F, rtol=1e-9)
    if entry:
        np.testing.assert_allclose(a_D ** (1 - SIG) * B, F, rtol=1e-9)
        np.testing.assert_allclose(sp_V(B, F, SIG, RHO) + sp_V(phi * B, F, SIG, RHO), FI, rtol=1e-9)
    else:
        np.testing.assert_allclose(a_D, float(bo.autarky(SIG, RHO, F, FI).a_D), rtol=1e-14)  # eq. 12
    loc = lambda x: np.log(SE * sp_markets(SE, n_w, a_D, a_X, x, phi, SIG, RHO)[1]) - np.log((1 - SE) * sp_markets(SE, n_w, a_D, a_X, x, phi, SIG, RHO)[0])  # noqa: E731
    aR = optimize.brentq(loc, 1e-12, a_D * (1 - 1e-12), xtol=1e-15)
    np.testing.assert_allclose(a_R, aR, rtol=1e-8)
    assert r.phase == ("XX" if phi <= 1 / 1.5 else "DD")


@pytest.mark.slow
@pytest.mark.parametrize("entry", [True, False])
def test_general_G_solver_agrees_with_pareto_closed_forms(entry):
    phis = jnp.array([0.0, 0.2, 0.5, 2 / 3, 0.72, 0.8, 0.9, 1.0])
    closed = bo.relocation(phis, SE, SIG, RHO, F, FI, entry=entry)
    gen = jax.vmap(lambda p: bo.relocation_general(H, p, SE, SIG, F, FI, entry=entry))(phis)
    assert list(closed.phase) == list(gen.phase)
    for name in ("a_D", "a_X", "a_R", "n_w", "B", "B_star", "a_bar"):
        np.testing.assert_allclose(getattr(gen, name), getattr(closed, name), rtol=1e-10, atol=1e-14, err_msg=name)
    keep = np.asarray(closed.phase_code) < 2
    np.testing.assert_allclose(np.asarray(gen.a_bar_star)[keep], np.asarray(closed.a_bar_star)[keep], rtol=1e-10)
    assert np.all(np.asarray(gen.result == OK)) and np.all(np.asarray(gen.residual) < 1e-11)


@pytest.mark.slow
def test_general_G_solver_lognormal_satisfies_its_conditions_by_scipy():
    """A non-Pareto G (productivity 1/a log-normal): the solver's a_D, a_X, a_R satisfy free entry,
    the cut-offs and B = B* with every integral redone by scipy quad."""
    mu, s, sigma, f, f_I, s_E, phi = 0.2, 0.5, 3.0, 1.0, 0.15, 0.65, 0.3
    dist = D.LogNormal(mu, s)
    r = bo.relocation_general(dist, phi, s_E, sigma, f, f_I)
    assert r.result == OK and r.phase == "XX"
    pdf = lambda z: np.exp(-((np.log(z) - mu) ** 2) / (2 * s * s)) / (z * s * np.sqrt(2 * np.pi))  # noqa: E731
    Mq = lambda x: integrate.quad(lambda z: z ** (sigma - 1) * pdf(z), 1 / x, np.inf, limit=400, epsabs=0, epsrel=1e-13)[0] if x > 0 else 0.0  # noqa: E731
    Gq = lambda x: integrate.quad(pdf, 1 / x, np.inf, limit=400, epsabs=0, epsrel=1e-13)[0]  # noqa: E731
    a_D, a_X, a_R, n_w = (float(x) for x in (r.a_D, r.a_X, r.a_R, r.n_w))
    B = f * a_D ** (sigma - 1)
    Vq = lambda b: b * Mq((b / f) ** (1 / (sigma - 1))) - f * Gq((b / f) ** (1 / (sigma - 1)))  # noqa: E731
    np.testing.assert_allclose(Vq(B) + Vq(phi * B), f_I, rtol=1e-9)
    np.testing.assert_allclose(phi * a_X ** (1 - sigma) * B, f, rtol=1e-12)
    GD = Gq(a_D)
    m = n_w / GD * (s_E * Mq(a_D) + (1 - s_E) * (Mq(a_R) + phi * (Mq(a_X) - Mq(a_R))))
    ms = n_w / GD * (s_E * phi * Mq(a_X) + (1 - s_E) * (phi * Mq(a_R) + Mq(a_D) - Mq(a_R)))
    np.testing.assert_allclose(s_E / m, B, rtol=1e-9)
    np.testing.assert_allclose((1 - s_E) / ms, B, rtol=1e-9)
    # the partition point is distribution-free
    pp = float(bo.partition_point(s_E))
    lo = bo.relocation_general(dist, pp * 0.999, s_E, sigma, f, f_I)
    hi = bo.relocation_general(dist, pp * 1.001, s_E, sigma, f, f_I)
    assert lo.phase == "XX" and hi.phase == "DD"
    assert float(lo.a_R) < float(lo.a_X) and float(hi.a_R) > float(hi.a_X)


@PROP
@given(params(), hst.floats(0.05, 0.95))
def test_result2_most_efficient_exporters_gain_most(p, frac):
    """Result 2 (eq. 13-14 at the no-relocation state): B > B*, the gain is positive, falls in a on
    each piece and is unbounded as a → 0; it is the firms with the lowest a that move first."""
    s_E, sigma, rho, f_I = p
    phi = frac * float(bo.partition_point(s_E))
    st = bo.initial_state(phi, s_E, sigma, rho, 1.0, f_I)
    assert st.result == OK and float(st.B) > float(st.B_star)
    a = np.linspace(1e-3, 1.0, 200) * float(st.a_D)
    v = np.asarray(bo.relocation_gains(a, phi, st.B, st.B_star, st.a_X_south, sigma))
    assert np.all(v > 0)
    x = a <= float(st.a_X_south)
    assert np.all(np.diff(v[x]) < 0) and np.all(np.diff(v[~x]) < 0)
    tiny = np.asarray(bo.relocation_gains(np.array([1e-9, 1e-6]) * float(st.a_D), phi, st.B, st.B_star, st.a_X_south, sigma))
    assert tiny[0] > tiny[1] > v[0]  # unbounded as a → 0: the most efficient move first


@pytest.mark.slow
def test_initial_state_general_G_matches_pareto():
    a = bo.initial_state(0.4, SE, SIG, RHO, F, FI)
    b = bo.initial_state(0.4, SE, SIG, RHO, F, FI, dist=H)
    for name in ("B", "B_star", "a_X_north", "a_X_south"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-11)


@PROP
@given(params(), hst.one_of(hst.just(0.0), hst.floats(1e-6, 1.0)))
def test_result3_two_phases_partition_and_sustain_points(p, frac):
    """Result 3: a_R rises with φ; XX (a_R ≤ a_X) below φ^P = (1−s_E)/s_E, DD above; a_R = a_X at
    φ^P and a_R = a_D at φ^S = ((1−s_E)/s_E)^{1/β}; full agglomeration past it; φ^P < φ^S < 1."""
    s_E, sigma, rho, f_I = p
    pp, ps = float(bo.partition_point(s_E)), float(bo.sustain_point(s_E, sigma, rho))
    assert pp < ps < 1
    phi = frac
    r = bo.relocation(phi, s_E, sigma, rho, 1.0, f_I)
    assert r.result == OK
    a_D, a_X, a_R = float(r.a_D), float(r.a_X), float(r.a_R)
    if phi <= pp:
        assert r.phase == "XX" and a_R <= a_X * (1 + 1e-12)
    elif phi <= ps:
        assert r.phase == "DD" and a_X <= a_R <= a_D * (1 + 1e-12)
    else:
        assert r.phase == "full_agglomeration" and a_R == a_D
    at_p = bo.relocation(pp, s_E, sigma, rho, 1.0, f_I)
    np.testing.assert_allclose(at_p.a_R, at_p.a_X, rtol=1e-12)
    at_s = bo.relocation(ps, s_E, sigma, rho, 1.0, f_I)
    np.testing.assert_allclose(at_s.a_R, at_s.a_D, rtol=1e-10)
    grid = bo.relocation(jnp.linspace(0.0, 1.0, 41), s_E, sigma, rho, 1.0, f_I)
    assert np.all(np.diff(np.asarray(grid.a_R / grid.a_D)) >= -1e-12)
    assert np.all(np.diff(np.asarray(grid.north_share)) >= -1e-12)


@PROP
@given(params())
def test_result4_sustain_point_rises_in_rho(p):
    s_E, sigma, rho, _ = p
    ps = [float(bo.sustain_point(s_E, sigma, r)) for r in (rho, 2 * rho, 20 * rho)]
    assert ps[0] < ps[1] < ps[2] < 1
    assert 1 - float(bo.sustain_point(s_E, sigma, 1e6 * rho)) < 1e-5  # ρ → ∞: no full agglomeration


def test_short_run_sustain_point_and_export_cutoff_eq17():
    """Before entry/exit a_D stays at autarky, a_X solves (17) and a_R reaches a_D at
    (1−s_E)^{1/β}/s_E (not at the paper's φ^S, which needs the ratio of cut-offs of §3.2.1)."""
    s_E, sigma, rho, f_I = 0.75, 2.0, 3.0, 0.5  # β = 3: (1/4)^{1/3}/0.75 = 0.84 < 1
    ps = float(bo.short_run_sustain_point(s_E, sigma, rho))
    assert ps < 1
    r = bo.relocation(ps, s_E, sigma, rho, 1.0, f_I, entry=False)
    np.testing.assert_allclose(r.a_R, r.a_D, rtol=1e-9)
    r2 = bo.relocation(float(bo.sustain_point(s_E, sigma, rho)), s_E, sigma, rho, 1.0, f_I, entry=False)
    assert float(r2.a_R) < float(r2.a_D) * (1 - 1e-3)
    # eq. (17) second expression (and (31) corrected) at the solution
    beta = rho / (sigma - 1)
    al = 1 - sigma + rho
    for phi in (0.2, 0.3):
        q = bo.relocation(phi, s_E, sigma, rho, 1.0, f_I, entry=False)
        aX = float(q.a_X)
        lhs = phi * aX ** (1 - sigma) * (beta - 1) * f_I / ((f_I * (beta - 1)) ** (1 - 1 / beta) + phi * aX**al)
        np.testing.assert_allclose(lhs, 1.0, rtol=1e-12)


# ------------------------------------------------------------------ §3.2.1 (eq. 21-22) and §3.3 (eq. 24)


def test_eq21_sign_misprint_and_eq22():
    """(21) printed with s_n/s_E − φ^β: at s_n = s_E it would raise n^w above (12); the domestic
    cut-off condition with (16) gives + φ^β, and then the global free-entry condition of footnote
    15 gives (22)."""
    phi = 0.5
    r = bo.relocation(phi, SE, SIG, RHO, F, FI)
    beta = RHO / (SIG - 1)
    u = phi**beta
    np.testing.assert_allclose(r.n_w, (beta - 1) / (F * beta) / (1 + u), rtol=1e-14)
    printed = (beta - 1) / (F * beta) / (1 - u)
    assert abs(printed / float(r.n_w) - 1) > 0.5
    # footnote 15: 1/n^w = f + f (a_X/a_D)^ρ + f_I/a_D^ρ
    np.testing.assert_allclose(1 / r.n_w, F + F * (r.a_X / r.a_D) ** RHO + FI / r.a_D**RHO, rtol=1e-13)
    np.testing.assert_allclose(r.a_D, (FI * (beta - 1) / F / (1 + u)) ** (1 / RHO), rtol=1e-14)


@PROP
@given(params(), hst.floats(0.05, 0.95), hst.floats(0.0, 1.0))
def test_general_case_eq24_corrected(p, frac, w):
    """§3.3: for s_n between s_E and the HME share of (9), a_R from the corrected (24) satisfies
    B = B* by scipy; s_n = s_n^HME gives a_R = 0 (the HFT equilibrium, Result 1); printed (24)
    (without the (s_E − s_n) a_D^α term) would not."""
    s_E, sigma, rho, f_I = p
    phi = frac * float(bo.partition_point(s_E))
    hme = float(bo.entry_then_relocation(phi, s_E, sigma, rho, 1.0, f_I).s_n)
    s_n = s_E + w * (hme - s_E)
    g = bo.general_case(phi, s_n, s_E, sigma, rho, 1.0, f_I)
    assert g.result == OK and g.residual < 1e-10
    m, ms = sp_markets(s_n, float(g.n_w), float(g.a_D), float(g.a_X), float(g.a_R), phi, sigma, rho)
    np.testing.assert_allclose(s_E / m, (1 - s_E) / ms, rtol=1e-8)
    e = bo.entry_then_relocation(phi, s_E, sigma, rho, 1.0, f_I)
    np.testing.assert_allclose(g.a_D, e.a_D, rtol=1e-13)  # free entry pins the cut-offs
    np.testing.assert_allclose(g.n_w, e.n_w, rtol=1e-13)


def test_general_case_hme_share_means_no_relocation_and_printed_eq24_fails():
    phi = 0.4
    e = bo.entry_then_relocation(phi, SE, SIG, RHO, F, FI)
    g = bo.general_case(phi, e.s_n, SE, SIG, RHO, F, FI)
    assert float(g.a_R) < 1e-6 * float(g.a_D)
    al = 1 - SIG + RHO
    printed = (float(e.s_n) + SE - 1) / ((1 - float(e.s_n)) * (1 - phi)) * phi * float(e.a_X) ** al
    assert printed ** (1 / al) > 0.1 * float(e.a_D)
    # beyond the HME share relocation would have to run southwards: flagged, or raised
    bad = bo.general_case(phi, float(e.s_n) + 0.02, SE, SIG, RHO, F, FI, throw=False)
    assert bad.result != OK
    with pytest.raises(Exception):
        bo.general_case(phi, float(e.s_n) + 0.02, SE, SIG, RHO, F, FI)


@pytest.mark.slow
def test_general_case_general_G_solver_with_s_n():
    phi = 0.4
    e = bo.entry_then_relocation(phi, SE, SIG, RHO, F, FI)
    s_n = 0.5 * (SE + float(e.s_n))
    gg = bo.relocation_general(H, phi, SE, SIG, F, FI, s_n=s_n)
    gp = bo.general_case(phi, s_n, SE, SIG, RHO, F, FI)
    for name in ("a_D", "a_X", "a_R", "n_w", "a_bar", "a_bar_star"):
        np.testing.assert_allclose(getattr(gg, name), getattr(gp, name), rtol=1e-10, err_msg=name)


# ------------------------------------------------------------------ §3.2.2 productivity (eq. 23, Result 5)


def test_xx_phase_south_average_misprint_settled_by_quadrature():
    """The printed XX-phase ā* has (1+φ) where φ belongs; the definition (TP* and the weights)
    integrated by scipy agrees with the module, not with the print."""
    phi = 0.4
    r = bo.relocation(phi, SE, SIG, RHO, F, FI)
    assert r.phase == "XX"
    aD, aX, aR = float(r.a_D), float(r.a_X), float(r.a_R)
    num = (1 + phi) * (sp_M1(aX, SIG, RHO) - sp_M1(aR, SIG, RHO)) + sp_M1(aD, SIG, RHO) - sp_M1(aX, SIG, RHO)
    den = (1 + phi) * (sp_M(aX, SIG, RHO) - sp_M(aR, SIG, RHO)) + sp_M(aD, SIG, RHO) - sp_M(aX, SIG, RHO)
    np.testing.assert_allclose(r.a_bar_star, num / den, rtol=1e-10)
    al = 1 - SIG + RHO
    printed = al / (1 + al) * ((1 + phi) * aX ** (1 + al) - (1 + phi) * aR ** (1 + al) + aD ** (1 + al) - aR ** (1 + al)) / (
        (1 + phi) * aX**al - (1 + phi) * aR**al + aD**al - aR**al)
    assert abs(printed / (num / den) - 1) > 1e-3


@pytest.mark.parametrize("sigma,rho,f_I", [(2.0, 2.0, 0.8), (3.0, 5.0, 0.3), (1.5, 2.0, 0.2)])
def test_eq23_dd_phase_south_average(sigma, rho, f_I):
    """(23) with the power 1/ρ on its last factor equals the DD-phase ā* (and the DD closed form)."""
    pp, ps = float(bo.partition_point(SE)), float(bo.sustain_point(SE, sigma, rho))
    phis = jnp.linspace(pp + 1e-3, ps - 1e-3, 7)
    r = bo.relocation(phis, SE, sigma, rho, 1.0, f_I)
    assert all(p == "DD" for p in r.phase)
    np.testing.assert_allclose(r.a_bar_star, bo.small_nation_productivity_dd(phis, SE, sigma, rho, 1.0, f_I), rtol=1e-11)
    al = 1 - sigma + rho
    np.testing.assert_allclose(r.a_bar_star, al / (1 + al) * (r.a_D ** (1 + al) - r.a_R ** (1 + al)) / (r.a_D**al - r.a_R**al), rtol=1e-11)


@pytest.mark.parametrize("s_E,f_I", [(0.55, 1.0), (0.7, 0.6)])
def test_sigma_rho_2_closed_form_derivative_vs_grad_and_finite_differences(s_E, f_I):
    """§3.2.2: for σ = ρ = 2, dā*/dφ = φ(s(2+φ²)/(1−s) − 1)/(2(1+φ²)^{3/2}) × (f_I(β−1)/f)^{1/ρ}
    (the paper's expression is the case f_I = f); positive: freer trade lowers small-nation
    productivity. jax.grad through `relocation` and through eq. (23) and a central difference agree."""
    pp, ps = float(bo.partition_point(s_E)), float(bo.sustain_point(s_E, 2.0, 2.0))
    A = f_I * (2 - 1) / 1.0
    for phi in np.linspace(pp + 0.01, ps - 0.01, 4):
        closed = phi * (s_E * (2 + phi**2) / (1 - s_E) - 1) / (2 * (1 + phi**2) ** 1.5) * A**0.5
        g1 = jax.grad(lambda p: bo.relocation(p, s_E, 2.0, 2.0, 1.0, f_I).a_bar_star)(phi)
        g2 = jax.grad(lambda p: bo.small_nation_productivity_dd(p, s_E, 2.0, 2.0, 1.0, f_I))(phi)
        h = 1e-6
        fd = (bo.relocation(phi + h, s_E, 2.0, 2.0, 1.0, f_I).a_bar_star - bo.relocation(phi - h, s_E, 2.0, 2.0, 1.0, f_I).a_bar_star) / (2 * h)
        np.testing.assert_allclose(g1, closed, rtol=1e-12)
        np.testing.assert_allclose(g2, closed, rtol=1e-12)
        np.testing.assert_allclose(fd, closed, rtol=1e-7)
        assert closed > 0


@PROP
@given(params(), hst.floats(0.01, 0.99))
def test_result5_relocation_helps_north_and_dampens_south_productivity(p, frac):
    """Result 5 (levels): with relocation the North's sales-weighted ā is below, and the South's
    ā* above, the no-relocation ā of §3.1 at the same φ (the North gets an extra helping of
    efficient firms, the South loses them)."""
    s_E, sigma, rho, f_I = p
    phi = frac * float(bo.sustain_point(s_E, sigma, rho))
    r = bo.relocation(phi, s_E, sigma, rho, 1.0, f_I)
    e = bo.entry_then_relocation(phi, s_E, sigma, rho, 1.0, f_I)
    assert float(r.a_bar) <= float(e.a_bar) * (1 + 1e-12)
    assert float(r.a_bar_star) >= float(e.a_bar) * (1 - 1e-12)


@PROP
@given(params(), hst.floats(0.02, 0.98))
def test_result5_dd_phase_freer_trade_lowers_small_nation_productivity(p, frac):
    """Result 5 (DD phase): dā*/dφ > 0 — the South loses its best remaining firms faster than
    selection raises its productivity. (The paper expects the opposite sign for small ρ; over
    β ∈ (1.1, 6) and σ ∈ (1.3, 5) no such case turned up.)"""
    s_E, sigma, rho, f_I = p
    pp, ps = float(bo.partition_point(s_E)), float(bo.sustain_point(s_E, sigma, rho))
    phi = pp + frac * (ps - pp)
    d = jax.grad(lambda q: bo.relocation(q, s_E, sigma, rho, 1.0, f_I).a_bar_star)(phi)
    assert d > 0


def test_result5_xx_phase_sign_depends_on_rho_and_north_claim_fails_near_sustain_point():
    """In the XX phase the sign of dā*/dφ depends on the parameters; the paper's claim that freer
    trade always raises the large nation's productivity in the DD phase fails near φ^S (migrants
    are then the South's least efficient firms)."""
    s_E, sigma = 0.6, 1.5
    dS = lambda phi, rho, fI: jax.grad(lambda q: bo.relocation(q, s_E, sigma, rho, 1.0, fI).a_bar_star)(phi)  # noqa: E731
    assert dS(0.05, 1.0, 0.5) < 0 < dS(0.6, 1.0, 0.5)  # β = 2
    dN = jax.grad(lambda q: bo.relocation(q, s_E, sigma, 1.0, 1.0, 0.5).a_bar)
    assert dN(0.3) < 0 < dN(0.8)  # φ^P = 0.667 < 0.8 < φ^S = 0.816


# ------------------------------------------------------------------ §4 welfare (eq. 25-26, Results 6-7)


@PROP
@given(params(), hst.one_of(hst.just(0.0), hst.floats(1e-3, 0.98)), hst.floats(0.0, 1.0))
def test_result6_and_7_small_nation_welfare(p, frac, w):
    """Result 6: m̄* (small-nation welfare) rises with φ with and without relocation. Eq. (26): the
    ratio of the two m̄* computed from their market definitions is 1 for every s_n between s_E and
    the HME share (free entry pins a_D), so the paper's Result 7 (ratio > 1 when s_n > s_E, which
    :func:`paper_welfare_ratio` reproduces from the paper's (22)) does not follow."""
    s_E, sigma, rho, f_I = p
    ps = float(bo.sustain_point(s_E, sigma, rho))
    phi = frac * ps
    hme = float(bo.entry_then_relocation(phi, s_E, sigma, rho, 1.0, f_I).s_n)
    s_n = s_E + w * (hme - s_E)
    wf = bo.small_nation_welfare(phi, s_E, sigma, rho, 1.0, f_I, s_n=s_n)
    assert bool(wf.ok)
    np.testing.assert_allclose(wf.ratio, 1.0, rtol=1e-11)
    np.testing.assert_allclose(wf.m_bar_star_no_reloc, wf.a_D_no_reloc ** (1 - sigma) * (1 - s_E), rtol=1e-11)
    assert (float(wf.paper_ratio) > 1) == (s_n > s_E * (1 + 1e-12)) or abs(float(wf.paper_ratio) - 1) < 1e-12
    dm = jax.grad(lambda q: bo.small_nation_welfare(q, s_E, sigma, rho, 1.0, f_I).m_bar_star_reloc)(phi + 1e-3)
    dh = jax.grad(lambda q: bo.entry_then_relocation(q, s_E, sigma, rho, 1.0, f_I).m_bar_star)(phi + 1e-3)
    assert dm > 0 and dh > 0


def test_eq26_as_printed_is_not_one_at_s_n_equal_s_E():
    beta = RHO / (SIG - 1)
    for phi in (0.3, 0.6):
        u = phi**beta
        printed = ((1 + beta * 0 / (1 + u)) / (1 + u)) ** (1 / beta)
        assert printed < 1 - 1e-2
        np.testing.assert_allclose(bo.paper_welfare_ratio(phi, SE, SE, SIG, RHO), 1.0, rtol=1e-15)


# ------------------------------------------------------------------ §5.1.1 appendix


@pytest.mark.parametrize("phi", [0.5, pytest.param(0.2, marks=pytest.mark.slow), pytest.param(0.65, marks=pytest.mark.slow)])
def test_appendix_order_of_relocation(phi):
    """Quadratic adjustment costs: the marginal mover's gain (13) falls as the relocated range a'
    grows and vanishes at a_R of (30) = (17): firms move in order of efficiency."""
    tr = bo.relocation_transition(phi, SE, SIG, RHO, F, FI)
    g = np.asarray(tr.marginal_gain)
    assert np.all(np.diff(g) < 0) and np.all(g[:-1] > 0)
    assert abs(g[-1]) < 1e-10 * g[0]
    np.testing.assert_allclose(tr.B[-1], tr.B_star[-1], rtol=1e-10)
    al = 1 - SIG + RHO
    end = bo.relocation(phi, SE, SIG, RHO, F, FI, entry=False)
    np.testing.assert_allclose(tr.a_R, (phi * (2 * SE - 1) / ((1 - phi) * (1 - SE))) ** (1 / al) * end.a_X, rtol=1e-13)


def test_eq31_misprint():
    """(31) printed with ((β−1) f_I f)^{1−1/β}; with f ≠ 1 it fails at the equilibrium a_X,
    while (17) (with f_I(β−1)/f) holds."""
    f, f_I, phi = 2.0, 1.0, 0.3
    beta, al = RHO / (SIG - 1), 1 - SIG + RHO
    aX = float(bo.relocation(phi, SE, SIG, RHO, f, f_I, entry=False).a_X)
    lhs = phi * aX ** (1 - SIG)
    right = lhs / (phi * aX**al + ((beta - 1) * f_I / f) ** (1 - 1 / beta))
    printed = lhs / (phi * aX**al + ((beta - 1) * f_I * f) ** (1 - 1 / beta))
    np.testing.assert_allclose(right, f / f_I / (beta - 1), rtol=1e-12)
    assert abs(printed / (f / f_I / (beta - 1)) - 1) > 0.1


# ------------------------------------------------------------------ derivatives, boundaries, errors, batches


@pytest.mark.slow
def test_implicit_derivatives_of_general_solver_vs_closed_forms_and_fd():
    for entry in (True, False):
        for phi in (0.3, 0.75):
            gfun = lambda q, e=entry: bo.relocation_general(H, q, SE, SIG, F, FI, entry=e).a_R  # noqa: E731
            cfun = lambda q, e=entry: bo.relocation(q, SE, SIG, RHO, F, FI, entry=e).a_R  # noqa: E731
            dg, dc = jax.grad(gfun)(phi), jax.grad(cfun)(phi)
            h = 1e-6
            fd = (cfun(phi + h) - cfun(phi - h)) / (2 * h)
            np.testing.assert_allclose(dg, dc, rtol=1e-8)
            np.testing.assert_allclose(dc, fd, rtol=1e-7)
    # a derivative in s_E and in σ of a general-G (log-normal) solve against finite differences
    dist = D.LogNormal(0.2, 0.5)
    fn = lambda sE, sg: bo.relocation_general(dist, 0.3, sE, sg, 1.0, 0.15).a_R  # noqa: E731
    dsE, dsg = jax.grad(fn, argnums=(0, 1))(0.65, 3.0)
    h = 1e-5
    np.testing.assert_allclose(dsE, (fn(0.65 + h, 3.0) - fn(0.65 - h, 3.0)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(dsg, (fn(0.65, 3.0 + h) - fn(0.65, 3.0 - h)) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize("entry", [True, False])
def test_boundaries_are_finite_not_nan(entry):
    pp = float(bo.partition_point(SE))
    ps = float(bo.sustain_point(SE, SIG, RHO))
    for phi in (0.0, pp, ps, 1.0):
        r = bo.relocation(phi, SE, SIG, RHO, F, FI, entry=entry)
        assert r.result == OK
        for name in ("a_D", "a_X", "a_R", "n_w", "B", "B_star", "a_bar"):
            assert np.isfinite(float(getattr(r, name))), (phi, name)
        d = jax.grad(lambda q: bo.relocation(q, SE, SIG, RHO, F, FI, entry=entry).a_R)(phi)
        assert np.isfinite(float(d)) or phi == 0.0
    # s_E = ½: the symmetric case, no relocation; φ^P = φ^S = 1
    for phi in (0.0, 0.5, 1.0):
        r = bo.relocation(phi, 0.5, SIG, RHO, F, FI, entry=entry)
        assert r.result == OK and r.phase == "XX" and float(r.a_R) == 0.0
        assert np.isfinite(float(r.a_bar_star))
        e = bo.entry_then_relocation(phi, 0.5, SIG, RHO, F, FI)
        assert float(e.s_n) == 0.5 and e.result == OK
    assert float(bo.partition_point(0.5)) == 1.0 and float(bo.sustain_point(0.5, SIG, RHO)) == 1.0


def test_bad_inputs_raise_clear_errors():
    cases = [
        (dict(sigma=1.0), "σ > 1"),
        (dict(rho=0.9), "β = ρ/(σ−1) > 1"),
        (dict(s_E=0.4), "½ ≤ s_E < 1"),
        (dict(s_E=1.0), "½ ≤ s_E < 1"),
        (dict(phi=1.2), "0 ≤ φ ≤ 1"),
        (dict(phi=-0.1), "0 ≤ φ ≤ 1"),
        (dict(f=0.0), "f > 0"),
        (dict(f_I=-1.0), "f_I > 0"),
        (dict(f_I=2.0), "a_D ≤ a_0 = 1"),
    ]
    base = dict(phi=0.3, s_E=SE, sigma=SIG, rho=RHO, f=F, f_I=FI)
    for change, msg in cases:
        kw = {**base, **change}
        with pytest.raises(JaxtradeInputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            bo.relocation(**kw)
    with pytest.raises(JaxtradeInputError, match="s_E"):
        bo.relocation_general(H, 0.3, 1.1, SIG, F, FI)
    with pytest.raises(JaxtradeInputError, match="β"):
        bo.sustain_point(0.6, 3.0, 1.5)


def test_traced_invalid_input_gives_result_code_or_raises():
    phis = jnp.array([0.3, 1.5])  # the second is invalid, seen only under jit
    out = jax.jit(lambda p: bo.relocation(p, SE, SIG, RHO, F, FI, throw=False))(phis)
    good = np.asarray(out.result == OK)
    assert good[0] and not good[1]
    with pytest.raises(Exception):
        jax.block_until_ready(jax.jit(lambda p: bo.relocation(p, SE, SIG, RHO, F, FI).a_R)(phis))


def test_vmapped_sweep_over_phi_and_s_E_in_one_compiled_call():
    phis, ses = jnp.meshgrid(jnp.linspace(0, 1, 21), jnp.linspace(0.5, 0.9, 9), indexing="ij")
    sweep = jax.jit(lambda p, s: bo.relocation(p, s, SIG, RHO, F, FI))
    r = sweep(phis, ses)
    assert r.a_R.shape == (21, 9) and np.all(np.asarray(r.result == OK))
    one = bo.relocation(float(phis[13, 4]), float(ses[13, 4]), SIG, RHO, F, FI)
    np.testing.assert_allclose(r.a_R[13, 4], one.a_R, rtol=1e-14)
    assert r.phase.shape == (21, 9)
    assert r["a_D"] is r.a_D
