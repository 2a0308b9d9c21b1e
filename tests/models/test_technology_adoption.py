"""Technology adoption with exporting (001 §9.2.1, Bustos 2011): every ordering of the cut-offs."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate, stats  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import innovation as inn  # noqa: E402

K, SIGMA, F, FE = 4.0, 3.0, 1.0, 0.1
PARETO = D.Pareto(K, 1.0)
LOGN = D.LogNormal(0.0, 0.8)

# (f_x, f_i, tau, iota, N) -> the ordering it must produce
CASES = {
    "export_then_adopt": (1.5, 3.0, 1.5, 1.2, 2),
    "adopt_then_export": (1.5, 1.0, 1.5, 1.2, 2),
    "joint": (1.5, 1.5, 1.5, 1.2, 2),
    "all_export": (0.3, 3.0, 1.5, 1.2, 2),
    "all_adopt": (1.5, 0.3, 1.5, 1.3, 2),
    "all_both": (0.3, 0.2, 1.5, 1.5, 2),
    "closed": (1.5, 1.0, 1.5, 1.2, 1),
    "closed_all_adopt": (1.5, 0.2, 1.5, 1.5, 1),
}
# which groups (0 exit, 1 neither, 2 export only, 3 adopt only, 4 both) each ordering has
GROUPS = {
    "export_then_adopt": {0, 1, 2, 4},
    "adopt_then_export": {0, 1, 3, 4},
    "joint": {0, 1, 4},
    "all_export": {0, 2, 4},
    "all_adopt": {0, 3, 4},
    "all_both": {0, 4},
    "closed": {0, 1, 3},
    "closed_all_adopt": {0, 3},
}


def solve(dist, case, **kw):
    fx, fi, tau, iota, N = CASES[case]
    kw.setdefault("throw", False)  # as the CLI calls it: one compilation shared with tests/cli
    return inn.technology_adoption(dist, SIGMA, F, fx, fi, FE, tau, iota, N, **kw)


def brute_force_group(phi, B, fx, fi, tau, iota, N, sigma=SIGMA, f=F):
    """argmax over exit and the four options evaluated directly (no envelope, no cut-offs)."""
    s = sigma - 1
    n = N - 1
    z = phi**s
    prof = np.stack(
        [
            np.zeros_like(z),
            B * z - f,
            B * z * (1 + n * tau**-s) - f - n * fx,
            B * iota**s * z - f - fi,
            B * iota**s * z * (1 + n * tau**-s) - f - fi - n * fx,
        ]
    )
    return np.argmax(prof, axis=0), prof.max(axis=0)


@pytest.fixture(scope="module")
def solved():
    return {c: (solve(PARETO, c), solve(LOGN, c)) for c in CASES}


# ------------------------------------------------------------------ envelope


@settings(max_examples=30, deadline=None)
@given(
    hst.lists(hst.floats(0.1, 5.0), min_size=4, max_size=4),
    hst.lists(hst.floats(0.1, 5.0), min_size=4, max_size=4),
)
def test_envelope_ladder_equals_brute_force_max(a, F_):
    a, F_ = np.asarray(a), np.asarray(F_)
    env = inn.upper_envelope(jnp.asarray(a), jnp.asarray(F_))
    x = np.linspace(0.0, 60.0, 3001)
    brute = np.maximum(0.0, np.max(a[:, None] * x[None, :] - F_[:, None], axis=0))
    act = np.asarray(env.active)
    ds, dF = np.asarray(env.d_slope), np.asarray(env.d_fixed)
    ladder = np.sum(np.where(act[:, None], np.maximum(0.0, ds[:, None] * x - dF[:, None]), 0.0), axis=0)
    np.testing.assert_allclose(ladder, brute, atol=1e-12)
    # thresholds of active increments equal the lower ends and rise with the slope
    lo = np.asarray(env.lower)[act]
    np.testing.assert_allclose(dF[act] / ds[act], lo, rtol=1e-12)
    order = np.argsort(a[act])
    assert np.all(np.diff(lo[order]) > 0)
    # every line that wins somewhere on the grid is active
    best = np.argmax(a[:, None] * x[None, :] - F_[:, None], axis=0)
    win = (a[best] * x - F_[best]) > 0
    assert set(best[win]) <= set(np.nonzero(act)[0])


# ------------------------------------------------------------------ orderings


@pytest.mark.parametrize("case", list(CASES))
def test_each_ordering_is_found_and_sorts_firms_as_brute_force(case, solved):
    fx, fi, tau, iota, N = CASES[case]
    for eq in solved[case]:
        assert inn.REGIMES[int(eq.regime)] == case
        assert eq.result == optx.RESULTS.successful
        B = float(eq.market_demand)
        lo = float(eq.cutoff)
        phi = np.exp(np.linspace(np.log(0.5 * lo), np.log(20 * lo), 4001))
        # avoid grid points within 1e-9 of a cut-off (ties)
        cuts = np.asarray(eq.option_cutoffs)
        cuts = cuts[np.isfinite(cuts)]
        phi = phi[np.min(np.abs(phi[:, None] / cuts[None, :] - 1.0), axis=1) > 1e-9]
        want, best = brute_force_group(phi, B, fx, fi, tau, iota, N)
        np.testing.assert_array_equal(np.asarray(eq.group(phi)), want)
        np.testing.assert_allclose(np.asarray(eq.profit(phi)), best, rtol=1e-12, atol=1e-12)
        assert set(np.unique(want)) == GROUPS[case]
        np.testing.assert_allclose(float(jnp.sum(eq.group_shares)), 1.0, rtol=1e-13)
        present = {g for g in range(5) if float(eq.group_shares[g]) > 0}
        assert present == GROUPS[case]


@pytest.mark.parametrize("case", ["export_then_adopt", "adopt_then_export", "joint"])
def test_orderings_match_the_closed_form_conditions(case, solved):
    eq = solved[case][0]
    fx, fi, tau, iota, N = CASES[case]
    s, n = SIGMA - 1, N - 1
    I, t = iota**s, tau**-s
    e_then_a = F < tau**s * fx < fi / ((I - 1) * (1 + n * t))
    a_then_e = F < fi / (I - 1) < tau**s * fx / I
    assert e_then_a == (case == "export_then_adopt")
    assert a_then_e == (case == "adopt_then_export")
    # ordering of the cut-offs themselves
    c, cx, ci = float(eq.cutoff), float(eq.export_cutoff), float(eq.adoption_cutoff)
    if case == "export_then_adopt":
        assert c < cx < ci
    elif case == "adopt_then_export":
        assert c < ci < cx
    else:
        assert c < cx == ci


@settings(max_examples=30, deadline=None)
@given(
    fx=hst.floats(0.2, 4.0),
    fi=hst.floats(0.1, 6.0),
    tau=hst.floats(1.0, 3.0),
    iota=hst.floats(1.01, 2.0),
    N=hst.integers(1, 4),
)
def test_regime_conditions_property(fx, fi, tau, iota, N):
    """The three interior orderings are exactly the docstring's conditions; at most one of
    'export only' and 'adopt only' is ever chosen (001 §9.2.1)."""
    r = inn.adoption_regime(SIGMA, F, fx, fi, tau, iota, N)
    act = np.asarray(r.active)
    assert not (act[1] and act[2])
    assert act[3] or N == 1
    s, n = SIGMA - 1, N - 1
    I, t = iota**s, tau**-s
    name = inn.REGIMES[int(r.code)]
    if N > 1:
        # the regimes meet on knife edges (e.g. f = τ^s f_X: 'all_export' vs 'export_then_adopt');
        # within a few ulps of one, rounding in the envelope decides, so ties are left out
        bounds = (F, tau**s * fx, fi / ((I - 1) * (1 + n * t)), fi / (I - 1), tau**s * fx / I, (fi + n * fx) / (I * (1 + n * t) - 1))
        assume(all(abs(a - b) > 1e-9 * max(abs(a), abs(b)) for i, a in enumerate(bounds) for b in bounds[i + 1:]))
        assert (name == "export_then_adopt") == (F < tau**s * fx < fi / ((I - 1) * (1 + n * t)))
        assert (name == "adopt_then_export") == (F < fi / (I - 1) < tau**s * fx / I)
        joint = (not tau**s * fx < fi / ((I - 1) * (1 + n * t))) and (not fi / (I - 1) < tau**s * fx / I)
        joint = joint and F < (fi + n * fx) / (I * (1 + n * t) - 1)
        assert (name == "joint") == joint


@settings(max_examples=25, deadline=None)
@given(
    fx=hst.floats(0.2, 4.0),
    fi=hst.floats(0.1, 6.0),
    tau=hst.floats(1.0, 3.0),
    iota=hst.floats(1.01, 2.0),
    B=hst.floats(0.05, 5.0),
)
def test_sorting_supermodularity(fx, fi, tau, iota, B):
    """Exporting and adopting are upper sets in φ for any demand B (001 footnote 44)."""
    phi = np.exp(np.linspace(-2, 4, 2000))
    g, _ = brute_force_group(phi, B, fx, fi, tau, iota, 2)
    exporting = (g == 2) | (g == 4)
    adopting = (g == 3) | (g == 4)
    producing = g > 0
    for m in (exporting, adopting, producing):
        assert np.all(np.diff(m.astype(int)) >= 0)


# ------------------------------------------------------------------ free entry


@pytest.mark.parametrize("case", list(CASES))
def test_free_entry_pareto_closed_form(case, solved):
    """Under Pareto(k, 1) with cut-offs above 1: J(c) = s/(k−s) c^{−k}, so
    B^{k/s} = f_E (k−s)/s / Σ_k ΔF_k x_k^{−k/s} and φ_k = (x_k/B)^{1/s}."""
    eq = solved[case][0]
    fx, fi, tau, iota, N = CASES[case]
    r = inn.adoption_regime(SIGMA, F, fx, fi, tau, iota, N)
    s = SIGMA - 1
    slopes = np.asarray(eq.slopes)
    fixed = np.asarray(eq.fixed_costs)
    act = np.asarray(r.active)
    order = np.argsort(slopes[act])
    x = np.asarray(r.thresholds)[act][order]
    Fk = fixed[act][order]
    dF = np.diff(np.concatenate([[0.0], Fk]))
    B = (FE * (K - s) / s / np.sum(dF * x ** (-K / s))) ** (s / K)
    np.testing.assert_allclose(float(eq.market_demand), B, rtol=1e-12)
    assert np.min((x / B) ** (1 / s)) > 1.0  # the closed form's premise
    np.testing.assert_allclose(np.sort(np.asarray(eq.option_cutoffs)[act]), np.sort((x / B) ** (1 / s)), rtol=1e-12)


@pytest.mark.parametrize("case", ["export_then_adopt", "adopt_then_export", "joint", "all_adopt"])
def test_free_entry_lognormal_against_scipy_quad(case, solved):
    eq = solved[case][1]
    fx, fi, tau, iota, N = CASES[case]
    B = float(eq.market_demand)
    g = stats.lognorm(s=0.8)
    pts = sorted(float(c) for c in np.asarray(eq.option_cutoffs) if np.isfinite(c))

    def integrand(p):
        return brute_force_group(np.asarray([p]), B, fx, fi, tau, iota, N)[1][0] * g.pdf(p)

    edges = [pts[0]] + pts[1:] + [np.inf]
    total = sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    np.testing.assert_allclose(total, FE, rtol=1e-9)
    # domestic trade share from the same integrals
    s, n = SIGMA - 1, N - 1

    def sales(p, part):
        gidx = int(brute_force_group(np.asarray([p]), B, fx, fi, tau, iota, N)[0][0])
        ad = iota**s if gidx in (3, 4) else 1.0
        ex = n * tau**-s if gidx in (2, 4) else 0.0
        z = p**s * g.pdf(p) * ad * (gidx > 0)
        return z * (1.0 if part == "dom" else ex)

    dom = sum(integrate.quad(sales, a, b, args=("dom",), epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    exp_ = sum(integrate.quad(sales, a, b, args=("exp",), epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    np.testing.assert_allclose(float(eq.domestic_trade_share), dom / (dom + exp_), rtol=1e-9)


def test_closed_economy_without_adoption_value_is_melitz():
    """N = 1 and adoption so costly nobody within reach adopts: the cut-off converges to Melitz."""
    from jaxtrade.models import melitz

    a = inn.technology_adoption(PARETO, SIGMA, F, 1.0, 1e6, FE, 1.0, 1.1, 1, throw=False)
    m = melitz.closed_economy(PARETO, SIGMA, F, FE)
    assert inn.REGIMES[int(a.regime)] == "closed"
    assert np.isinf(float(a.export_cutoff))
    np.testing.assert_allclose(float(a.cutoff), float(m.cutoff), rtol=1e-6)
    np.testing.assert_allclose(float(a.gains_from_trade), 1.0, rtol=1e-14)


# ------------------------------------------------------------------ trade liberalisation


def _cutoffs_vs_tau(case, taus, dist=PARETO):
    fx, fi, _, iota, N = CASES[case]
    f = jax.vmap(lambda t: inn._technology_adoption(
        dist, *(jnp.asarray(v, jnp.float64) for v in (SIGMA, F, fx, fi, FE)), t,
        *(jnp.asarray(v, jnp.float64) for v in (iota, N, 1.0, 1.0)), 64, False, inn.quad.DEFAULT_RULE))
    return f(jnp.asarray(taus))


def test_liberalisation_export_then_adopt_lowers_adoption_cutoff():
    """Bustos regime: a fall in τ lowers φ*_I (more exporters adopt) and φ*_X; under Pareto
    dφ*_I/dτ > 0 exactly when τ^{σ−1} f_X > f (derived in docs/innovation.md)."""
    taus = np.linspace(1.35, 1.6, 6)
    r = _cutoffs_vs_tau("export_then_adopt", taus)
    assert np.all(np.asarray(r.regime) == 0)
    assert np.all(np.diff(np.asarray(r.adoption_cutoff)) > 0)
    assert np.all(np.diff(np.asarray(r.export_cutoff)) > 0)
    assert np.all(np.diff(np.asarray(r.cutoff)) < 0)  # exit rises with liberalisation
    assert np.all(np.diff(np.asarray(r.adopter_share)) < 0)


def test_liberalisation_adopt_then_export_raises_adoption_cutoff():
    """Adopt-before-export regime: adoption is driven by the domestic market, which shrinks as τ
    falls, so φ*_I rises (fewer firms adopt) while φ*_X falls."""
    taus = np.linspace(1.55, 1.8, 6)
    r = _cutoffs_vs_tau("adopt_then_export", taus)
    assert np.all(np.asarray(r.regime) == 1)
    assert np.all(np.diff(np.asarray(r.adoption_cutoff)) < 0)
    assert np.all(np.diff(np.asarray(r.export_cutoff)) > 0)


def test_liberalisation_joint_new_exporters_adopt():
    """Joint regime: every new exporter adopts; φ*_X = φ*_I falls with τ."""
    taus = np.linspace(1.45, 1.6, 6)
    r = _cutoffs_vs_tau("joint", taus)
    assert np.all(np.asarray(r.regime) == 2)
    cx, ci = np.asarray(r.export_cutoff), np.asarray(r.adoption_cutoff)
    np.testing.assert_array_equal(cx, ci)
    assert np.all(np.diff(cx) > 0)
    np.testing.assert_allclose(np.asarray(r.adoption_among_exporters), 1.0)


def test_liberalisation_moves_firms_across_orderings():
    """A fall in τ turns the adopt-then-export ordering into joint and then into export-then-adopt
    (the regime is read from parameters; vmap over τ across regimes)."""
    taus = np.array([1.1, 1.2, 1.3, 1.4, 1.5, 2.0])
    r = _cutoffs_vs_tau("adopt_then_export", taus)
    names = [inn.REGIMES[int(c)] for c in np.asarray(r.regime)]
    fx, fi, _, iota, N = CASES["adopt_then_export"]
    for t, name in zip(taus, names):
        assert name == inn.REGIMES[int(inn.adoption_regime(SIGMA, F, fx, fi, t, iota, N).code)]
    assert names[-1] == "adopt_then_export" and names[0] in ("joint", "export_then_adopt")
    assert bool(jnp.all(r.result == optx.RESULTS.successful))


@settings(max_examples=20, deadline=None)
@given(tau=hst.floats(1.2, 2.0), fx=hst.floats(0.8, 3.0), fi=hst.floats(4.0, 10.0), iota=hst.floats(1.05, 1.3))
def test_bustos_sign_of_adoption_cutoff_in_tau_property(tau, fx, fi, iota):
    """Pareto, export-then-adopt regime: sign(dφ*_I/dτ) = sign(τ^{σ−1} f_X − f) (> 0 under selection)."""
    r = inn.adoption_regime(SIGMA, F, fx, fi, tau, iota, 2)
    if inn.REGIMES[int(r.code)] != "export_then_adopt":
        return
    h = 1e-5 * tau
    up = inn.technology_adoption(PARETO, SIGMA, F, fx, fi, FE, tau + h, iota, 2).adoption_cutoff
    dn = inn.technology_adoption(PARETO, SIGMA, F, fx, fi, FE, tau - h, iota, 2).adoption_cutoff
    assert float(up) > float(dn)


# ------------------------------------------------------------------ derivatives


@pytest.mark.parametrize(
    "case", ["export_then_adopt", pytest.param("adopt_then_export", marks=pytest.mark.slow), pytest.param("joint", marks=pytest.mark.slow)]
)
def test_gradients_match_finite_differences(case):
    fx, fi, tau, iota, N = CASES[case]

    def out(p):
        t, i, fe = p[0], p[1], p[2]
        eq = inn.technology_adoption(LOGN, SIGMA, F, fx, fi, fe, t, i, N)
        return jnp.stack([eq.cutoff, eq.export_cutoff, eq.adoption_cutoff, eq.welfare, eq.domestic_trade_share])

    p0 = jnp.asarray([tau, iota, FE])
    Jac = jax.jacfwd(out)(p0)
    h = 1e-6
    fd = np.stack([(out(p0.at[j].add(h)) - out(p0.at[j].add(-h))) / (2 * h) for j in range(3)], axis=1)
    np.testing.assert_allclose(np.asarray(Jac), fd, rtol=2e-6, atol=1e-8)


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(iota=1.0), "ι > 1"),
        (dict(tau=0.9), "τ ≥ 1"),
        (dict(f_i=-1.0), "f_i > 0"),
        (dict(sigma=1.0), "σ > 1"),
        (dict(n_countries=0), "n_countries ≥ 1"),
    ],
)
def test_bad_input_names_the_condition(kw, msg):
    base = dict(dist=PARETO, sigma=SIGMA, f=F, f_x=1.5, f_i=3.0, f_e=FE, tau=1.5, iota=1.2, n_countries=2)
    base.update(kw)
    with pytest.raises(JaxtradeInputError, match=msg):
        inn.technology_adoption(**base)


def test_thin_pareto_tail_is_rejected():
    with pytest.raises(JaxtradeInputError, match="shape k > σ − 1"):
        inn.technology_adoption(D.Pareto(1.5, 1.0), SIGMA, F, 1.5, 3.0, FE, 1.5, 1.2)


@pytest.mark.slow
def test_nonconvergence_is_a_result_code_not_a_number():
    eq = inn.technology_adoption(LOGN, SIGMA, F, 1.5, 3.0, FE, 1.5, 1.2, max_steps=1, throw=False)
    assert eq.result != optx.RESULTS.successful
