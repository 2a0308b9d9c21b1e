"""The export-magnification effect of offshoring (paper 003): jaxtrade.models.offshoring.

Layers: the strategy envelope against brute-force enumeration; the equilibrium against the Pareto
closed forms, against first-principles free entry by scipy quadrature (firm by firm, from the
paper's profit functions, no envelope and no engine), and against the paper's (reconstructed)
equations 11, 12, 14, 15-17, 22-24 and C.3; the results R.1-R.4 and §4.4 as hypothesis property
tests on implicit derivatives; derivatives against central finite differences; vmap; bad input.
"""

import math

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402
from scipy import integrate, optimize, stats  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import offshoring as off  # noqa: E402

# The paper's regime: p_off/p_d = 1.2·(0.6/0.9) = 0.8 ∈ (p̃_1, p̃_2) = (0.731, 0.900); A.3: 1.6 < 4.096.
BASE = dict(
    sigma=4.0, alpha=0.5, n=3.0, tau=1.6, tau_I=1.2, f_p=1.0, f_I=0.6, f_ex=1.0, f_e=0.5,
    phi_Y=1.0, phi_I=1.0, phi_Y_w=0.6, phi_I_w=0.9,
)  # fmt: skip
A3_VIOLATED = dict(BASE, f_I=4.0, f_ex=0.5)  # D → X → OX (§4.2, last paragraph)
A1_VIOLATED = dict(BASE, tau_I=2.0)  # p_off/p_d = 1.33: no offshoring
ALL_OFFSHORE = dict(BASE, phi_Y_w=0.5)  # p_off/p_d = 0.667 < p̃_1
ABOVE_P2 = dict(BASE, phi_Y_w=0.72)  # p_off/p_d = 0.96 > p̃_2 (A.3 holds): exporting-only returns
K = 5.0
PARETO = D.Pareto(K, 1.0)
LOGN = D.LogNormal(0.0, 0.8)


# ---------------------------------------------------------------- independent references (numpy/scipy)


def paper_lines(kw, P_X, beta=0.5, L=1.0):
    """Profit of each strategy from the paper's own equations (8)-(10), (13) and App. A's fourth
    strategy, in units of the numeraire, as functions of ϕ given P_X: returns list of callables."""
    s, a = kw["sigma"] - 1.0, kw["alpha"]
    w = kw["phi_Y"]
    p_d = w / kw["phi_I"]
    p_off = kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"]
    rho = s / kw["sigma"]
    E_X = beta * w * L
    t = kw["tau"] ** (-s)

    def r_H(phi, p_k):  # eq. 8 with φ^k = ϕ/(p_I^k)^α
        eff = phi / p_k**a
        return (w ** (1 - a) / (rho * eff)) ** (-s) * E_X * P_X**s

    n, sg = kw["n"], kw["sigma"]
    fp, fI, fx = kw["f_p"], kw["f_I"], kw["f_ex"]
    return [
        lambda phi: r_H(phi, p_d) / sg - fp * w,  # (9)
        lambda phi: r_H(phi, p_off) / sg - (fp + fI) * w,  # (10)
        lambda phi: (1 + n * t) * r_H(phi, p_d) / sg - (fp + n * fx) * w,  # App. A
        lambda phi: (1 + n * t) * r_H(phi, p_off) / sg - (fp + fI + n * fx) * w,  # (13)
    ], r_H, (p_d, p_off, t)


def brute_force(kw, scipy_dist, P_guess, beta=0.5, L=1.0):
    """First-principles equilibrium: each firm takes the best of the four profit functions or exits;
    free entry ∫ max(0, max_j π_j) dG = f_e w solved for P_X by brentq (bracket [P/1.5, 1.5 P]
    around ``P_guess``) with scipy.quad; the cut-offs are the productivities where the firm's
    choice changes (a scan on a fine grid, then brentq on the two profit functions)."""
    w = kw["phi_Y"]

    def switches(P_X):
        lines, _, _ = paper_lines(kw, P_X, beta, L)
        grid = np.geomspace(scipy_dist.ppf(1e-15), scipy_dist.ppf(1 - 1e-15) * 50, 20001)
        vals = np.stack([f(grid) for f in lines])
        choice = np.where(vals.max(axis=0) > 0, vals.argmax(axis=0), -1)
        out = [] if choice[0] < 0 else [(0.0, -1, int(choice[0]))]
        for i in np.nonzero(choice[1:] != choice[:-1])[0]:
            a, b = int(choice[i]), int(choice[i + 1])
            fa = (lambda x: 0.0) if a < 0 else lines[a]
            root = optimize.brentq(lambda x: lines[b](x) - fa(x), grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15)
            out.append((root, a, b))
        return out

    def expected_profit(P_X):
        sw = switches(P_X)
        lines, _, _ = paper_lines(kw, P_X, beta, L)
        edges = [c for c, _, _ in sw[1:]] + [np.inf]
        return sum(
            integrate.quad(lambda x: lines[j](x) * scipy_dist.pdf(x), lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
            for (lo, _, j), hi in zip(sw, edges)
        )

    f_e = kw["f_e"] * w
    P_X = optimize.brentq(lambda P: expected_profit(P) - f_e, P_guess / 1.5, P_guess * 1.5, xtol=1e-15, rtol=1e-14)
    return P_X, switches(P_X)


def pareto_J(c, k, s, phi0=1.0):
    return s / (k - s) * (phi0 / c) ** k


# ---------------------------------------------------------------- the strategy envelope


def brute_envelope(c, F):
    """Exact enumeration: the best line (or exit) between consecutive pairwise crossings."""
    c5, F5 = np.r_[0.0, c], np.r_[0.0, F]
    cross = {0.0}
    for i in range(5):
        for j in range(5):
            if c5[i] != c5[j]:
                u = (F5[j] - F5[i]) / (c5[j] - c5[i])
                if u > 0:
                    cross.add(u)
    pts = sorted(cross)
    probe = [0.5 * (a + b) for a, b in zip(pts[:-1], pts[1:])] + [2 * pts[-1] + 1.0]
    chain = []
    for u in probe:
        j = int(np.argmax(c5 * u - F5))  # first maximiser: ties go to the lower index
        if not chain or chain[-1] != j:
            chain.append(j)
    return [j - 1 for j in chain if j > 0]


_envelope = jax.jit(off.strategy_envelope)


@jax.jit
def _model_envelope(p):
    return off.assumptions(p), off.strategy_envelope(*off.strategy_lines(p)), off.strategy_lines(p)


@settings(max_examples=60, deadline=None)
@given(
    c=hst.lists(hst.floats(0.1, 5.0), min_size=4, max_size=4),
    F=hst.lists(hst.floats(0.1, 5.0), min_size=4, max_size=4),
)
def test_envelope_matches_enumeration_for_arbitrary_lines(c, F):
    c, F = np.asarray(c), np.asarray(F)
    env = _envelope(jnp.asarray(c), jnp.asarray(F))
    chain = brute_envelope(c, F)
    assert sorted(chain) == [j for j in range(4) if bool(env.active[j])]
    # lower break points: the crossing with the previous chosen line
    prev = [-1] + chain[:-1]
    for j, p in zip(chain, prev):
        cp, Fp = (0.0, 0.0) if p < 0 else (c[p], F[p])
        np.testing.assert_allclose(env.lower[j], (F[j] - Fp) / (c[j] - cp), rtol=1e-12)
        assert int(env.prev[j]) == p
    # the ladder of increments sums to the envelope
    u = np.geomspace(1e-3, 1e3, 301)
    env_val = np.max(np.maximum(0.0, c[None, :] * u[:, None] - F[None, :]), axis=1)
    inc = np.asarray(env.increment_multiplier)[None, :] * u[:, None] - np.asarray(env.increment_fixed_cost)[None, :]
    ladder = np.sum(np.asarray(env.weight)[None, :] * np.maximum(inc, 0.0), axis=1)
    np.testing.assert_allclose(ladder, env_val, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@example(sigma=2.0, alpha=0.5, n=2, tau=1.0, ratio=1.0, f_p=1.7706384794297105, f_I=1.0, f_ex=1.7706384794297105)  # a triple crossing
@given(
    sigma=hst.floats(1.3, 8.0), alpha=hst.floats(0.05, 0.95), n=hst.integers(1, 10),
    tau=hst.floats(1.0, 3.0), ratio=hst.floats(0.05, 1.5), f_p=hst.floats(0.1, 3.0),
    f_I=hst.floats(0.01, 3.0), f_ex=hst.floats(0.05, 3.0),
)  # fmt: skip
def test_sorting_of_strategies_and_assumptions(sigma, alpha, n, tau, ratio, f_p, f_I, f_ex):
    """App. A: A.1-A.3 ⇔ the partition ϕ_min < ϕ_off < ϕ_ex,off (D, O, OX chosen); in every case
    exporting-only and offshoring-only are never both chosen (003 §3.3: 'the two strategies cannot
    occur simultaneously'), and a violated A.1 means no offshoring at all."""
    kw = dict(BASE, sigma=sigma, alpha=alpha, n=float(n), tau=tau, f_p=f_p, f_I=f_I, f_ex=f_ex,
              tau_I=1.0, phi_Y=1.0, phi_I=1.0, phi_I_w=1.0, phi_Y_w=ratio)  # fmt: skip
    a, env, (c, F) = _model_envelope(off.params(**kw))
    act = np.asarray(env.active)
    assert not (act[1] and act[2])
    if abs(ratio - float(a.p_tilde_1)) > 1e-9 and abs(ratio - float(a.p_tilde_2)) > 1e-9 and abs(ratio - 1) > 1e-9:
        assert (bool(a.A1) and bool(a.A2) and bool(a.A3)) == (int(env.regime) == off.PAPER_REGIME)
    if ratio > 1 + 1e-9:
        assert not act[1] and not act[3]
    # the chain agrees with brute-force enumeration of the model's own lines
    c, F = np.asarray(c), np.asarray(F)
    assert sorted(brute_envelope(c, F)) == [j for j in range(4) if act[j]]


# ---------------------------------------------------------------- closed forms and reconstructed equations


@pytest.fixture(scope="module")
def eq_pareto():
    return off.equilibrium(PARETO, **BASE)


@pytest.fixture(scope="module")
def eq_logn():
    return off.equilibrium(LOGN, **BASE)


def eq12(phi_min, kw):
    s, a = kw["sigma"] - 1, kw["alpha"]
    r = kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"] / (kw["phi_Y"] / kw["phi_I"])
    return phi_min * ((r ** (a * (1 - kw["sigma"])) - 1) ** -1 * kw["f_I"] / kw["f_p"]) ** (1 / s)


def eq14(phi_min, kw):
    s, a = kw["sigma"] - 1, kw["alpha"]
    r = kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"] / (kw["phi_Y"] / kw["phi_I"])
    return phi_min * kw["tau"] * r**a * (kw["f_ex"] / kw["f_p"]) ** (1 / s)


def test_pareto_closed_form_and_equations_11_12_14(eq_pareto):
    eq = eq_pareto
    pc = off.pareto_cutoffs(K, 1.0, **BASE)
    assert eq.result == optx.RESULTS.successful and int(eq.regime) == off.PAPER_REGIME
    for name in ("phi_min", "phi_off", "phi_ex", "share_offshoring", "share_exporting"):
        np.testing.assert_allclose(getattr(eq, name), getattr(pc, name), rtol=1e-12)
    np.testing.assert_allclose(eq.phi_off, eq12(float(eq.phi_min), BASE), rtol=1e-13)
    np.testing.assert_allclose(eq.phi_ex, eq14(float(eq.phi_min), BASE), rtol=1e-13)
    np.testing.assert_allclose(eq.phi_ex_off, eq.phi_ex, rtol=0)
    # eq. 11 from the price index: ϕ_min = w^{1−α}(p_d)^α/(ρ P_X) · (σ f_p w/E_X)^{1/(σ−1)}
    s, a, w = BASE["sigma"] - 1, BASE["alpha"], BASE["phi_Y"]
    p_d, rho, E_X = w / BASE["phi_I"], s / BASE["sigma"], 0.5 * w * 1.0
    want = w ** (1 - a) * p_d**a / (rho * eq.price_index_X) * (BASE["sigma"] * BASE["f_p"] * w / E_X) ** (1 / s)
    np.testing.assert_allclose(eq.phi_min, want, rtol=1e-13)
    # free entry with the closed-form J (App. C, eq. C.3 in the ladder form)
    lhs = sum(F * pareto_J(float(c), K, s) for F, c in ((1.0, eq.phi_min), (0.6, eq.phi_off), (3.0, eq.phi_ex)))
    np.testing.assert_allclose(lhs, BASE["f_e"], rtol=1e-12)
    # under Pareto M_E = βL s/(σ k f_e) (total variable profit = f_e k/s)
    np.testing.assert_allclose(eq.mass_of_entrants, 0.5 * s / (BASE["sigma"] * K * BASE["f_e"]), rtol=1e-12)


def test_pareto_closed_form_when_A3_fails():
    """D → X → OX (A.3 violated, §4.2): κ_x = τ (f_ex/f_p)^{1/(σ−1)},
    κ_ox^{σ−1} = f_I/(f_p (1+nτ^{1−σ}) ((p_off/p_d)^{α(1−σ)} − 1)); free entry
    f_p J(ϕ_min) + n f_ex J(κ_x ϕ_min) + f_I J(κ_ox ϕ_min) = f_e."""
    kw = A3_VIOLATED
    eq = off.equilibrium(PARETO, **kw)
    assert off.regime_name(eq.regime) == "D+X+OX"
    s, a = kw["sigma"] - 1, kw["alpha"]
    r = kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"]
    kx = kw["tau"] * (kw["f_ex"] / kw["f_p"]) ** (1 / s)
    kox = (kw["f_I"] / (kw["f_p"] * (1 + kw["n"] * kw["tau"] ** -s) * (r ** (-a * s) - 1))) ** (1 / s)
    br = kw["f_p"] + kw["n"] * kw["f_ex"] * kx**-K + kw["f_I"] * kox**-K
    phi_min = (s / ((K - s) * kw["f_e"]) * br) ** (1 / K)
    np.testing.assert_allclose(eq.phi_min, phi_min, rtol=1e-12)
    np.testing.assert_allclose(eq.phi_ex, kx * phi_min, rtol=1e-12)
    np.testing.assert_allclose(eq.phi_off, kox * phi_min, rtol=1e-12)
    np.testing.assert_allclose(eq.phi_ex_off, eq.phi_off, rtol=0)
    assert float(eq.phi_ex) < float(eq.phi_off)
    with pytest.raises(JaxtradeInputError, match="A.3"):
        off.pareto_cutoffs(K, 1.0, **kw)


def test_no_offshoring_is_melitz_with_composite_costs():
    """A.1 violated: nobody offshores; the model is the symmetric Melitz model (001 §5.5, N = n+1) with
    f = f_p, f_X = f_ex: its Pareto closed form (001 §6.1) gives ϕ_min and ϕ_ex."""
    kw = A1_VIOLATED
    eq = off.equilibrium(PARETO, **kw)
    assert off.regime_name(eq.regime) == "D+X" and not bool(eq.assumptions.A1)
    s, f, fx, tau, n = kw["sigma"] - 1, kw["f_p"], kw["f_ex"], kw["tau"], kw["n"]
    want = (s / (K - s) * (f + n * tau**-K * (fx / f) ** (-K / s) * fx) / kw["f_e"]) ** (1 / K)
    np.testing.assert_allclose(eq.phi_min, want, rtol=1e-12)
    np.testing.assert_allclose(eq.phi_ex, tau * (fx / f) ** (1 / s) * want, rtol=1e-12)
    assert np.isinf(float(eq.phi_off)) and float(eq.intermediate_imports) == 0.0
    assert float(eq.share_offshoring) == 0.0


@pytest.mark.parametrize(
    "kw,regime",
    [(BASE, "D+O+OX"), (A3_VIOLATED, "D+X+OX"), (ALL_OFFSHORE, "O+OX"), (ABOVE_P2, "D+X+OX"), (A1_VIOLATED, "D+X")],
)
def test_first_principles_free_entry_by_scipy(kw, regime):
    """The solver against a firm-by-firm reference: profits from eq. 8-10, 13 (and the fourth
    strategy), each firm's best choice, free entry by scipy.quad + brentq in P_X; cut-offs where the
    choice changes; then masses from R_X = βwL (eq. 20), trade flows and the price index eq. 3 by
    direct aggregation over firms."""
    eq = off.equilibrium(LOGN, **kw)
    assert off.regime_name(eq.regime) == regime and eq.result == optx.RESULTS.successful
    sd = stats.lognorm(s=0.8, scale=1.0)
    P_X, sw = brute_force(kw, sd, float(eq.price_index_X))
    np.testing.assert_allclose(eq.price_index_X, P_X, rtol=1e-11)
    names = ("domestic", "offshoring", "exporting", "offshoring_exporting")
    assert [off.STRATEGIES[b] for _, _, b in sw] == [names[j] for j in range(4) if bool(eq.active[j])]
    for c, _, b in sw:
        np.testing.assert_allclose(eq.strategy_lower[b], c, rtol=1e-11)
    np.testing.assert_allclose(eq.phi_min, sw[0][0], rtol=1e-10)
    if regime == "D+O+OX":
        np.testing.assert_allclose(eq.phi_off, eq12(sw[0][0], kw), rtol=1e-10)
        np.testing.assert_allclose(eq.phi_ex, eq14(sw[0][0], kw), rtol=1e-10)
    # aggregates, firm by firm
    lines, r_H, (p_d, p_off, t) = paper_lines(kw, P_X)
    n, sg, al = kw["n"], kw["sigma"], kw["alpha"]
    edges = [c for c, _, _ in sw] + [np.inf]

    def group_integral(fn):
        return [integrate.quad(lambda x: fn(x, j) * sd.pdf(x), lo, hi, epsrel=1e-13, epsabs=0, limit=200)[0]
                for (lo, _, j), hi in zip(sw, edges[1:])]  # fmt: skip

    def rev(x, j, part):
        pk = p_off if j in (1, 3) else p_d
        home = r_H(x, pk)
        exp_ = n * t * home if j >= 2 else 0.0
        return {"home": home, "exp": exp_, "all": home + exp_}[part]

    R = sum(group_integral(lambda x, j: rev(x, j, "all")))
    ME = 0.5 * kw["phi_Y"] * 1.0 / R  # R_X = M_E ∫ r dG = βwL
    np.testing.assert_allclose(eq.mass_of_entrants, ME, rtol=1e-9)
    exports = ME * sum(group_integral(lambda x, j: rev(x, j, "exp")))
    np.testing.assert_allclose(eq.final_exports, exports, rtol=1e-9)
    im = ME * sum(g for g, (_, _, j) in zip(group_integral(lambda x, j: rev(x, j, "all")), sw) if j in (1, 3))
    np.testing.assert_allclose(eq.intermediate_imports, al * (sg - 1) / sg * im, rtol=1e-9, atol=1e-15)
    # eq. 3: P_X^{1−σ} = Σ_varieties p^{1−σ}, domestic firms plus n foreign exporters (symmetry)
    w, rho = kw["phi_Y"], (sg - 1) / sg

    def p1s(x, j):
        pk = p_off if j in (1, 3) else p_d
        price = w ** (1 - al) * pk**al / (rho * x)
        return price ** (1 - sg) * (1 + (n * t if j >= 2 else 0.0))

    np.testing.assert_allclose(eq.price_index_X, (ME * sum(group_integral(p1s))) ** (1 / (1 - sg)), rtol=1e-9)
    np.testing.assert_allclose(eq.mass_of_exporters, ME * (1 - sd.cdf(float(eq.phi_ex))), rtol=1e-9)


def test_C3_as_printed_double_counts_the_offshoring_gain(eq_logn):
    """App. C (C.2)-(C.3): with U(ϕ', ϕ'') = ∫ (ζ/p_I(ζ)^α)^{σ−1} dG using each firm's own sourcing
    price, the printed f_p j(ϕ_min) + f_I j(ϕ_off) + n f_ex j(ϕ_ex) exceeds f_e by exactly
    f_I[J(ϕ_off) + 1 − G(ϕ_off)]; the correct forms are the ladder (j = Melitz J in ϕ) or the printed
    first and third terms with −f_I (1 − G(ϕ_off)) in the middle (docs/offshoring.md, Errata)."""
    eq, kw = eq_logn, BASE
    sd = stats.lognorm(s=0.8, scale=1.0)
    s, a = kw["sigma"] - 1, kw["alpha"]
    p_d, p_off = 1.0, kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"]
    lo, mid, hi = float(eq.phi_min), float(eq.phi_off), float(eq.phi_ex)

    def q(fn, a_, b_):
        return integrate.quad(lambda x: fn(x) * sd.pdf(x), a_, b_, epsrel=1e-13, epsabs=0, limit=200)[0]

    def J(c):
        return q(lambda x: (x / c) ** s - 1, c, np.inf)

    S = lambda c: sd.sf(c)  # noqa: E731
    eff = lambda x: x / (p_off if x >= mid else p_d) ** a  # noqa: E731  φ(ζ), jump at ϕ_off

    def j_paper(c):  # φ(c)^{1−σ} U(c, ∞) − V(c, ∞)
        return eff(c) ** (-s) * (q(lambda x: eff(x) ** s, c, mid) + q(lambda x: eff(x) ** s, mid, np.inf) if c < mid
                                 else q(lambda x: eff(x) ** s, c, np.inf)) - S(c)  # fmt: skip

    fp, fI, nfx = kw["f_p"], kw["f_I"], kw["n"] * kw["f_ex"]
    ladder = fp * J(lo) + fI * J(mid) + nfx * J(hi)
    np.testing.assert_allclose(ladder, kw["f_e"], rtol=1e-10)
    printed = fp * j_paper(lo) + fI * j_paper(mid) + nfx * j_paper(hi)
    np.testing.assert_allclose(printed - kw["f_e"], fI * (J(mid) + S(mid)), rtol=1e-9)
    assert printed - kw["f_e"] > 0.1 * kw["f_e"]
    corrected = fp * j_paper(lo) - fI * S(mid) + nfx * j_paper(hi)
    np.testing.assert_allclose(corrected, kw["f_e"], rtol=1e-10)


def test_eq15_16_17_aggregation_welfare_and_market_clearing(eq_logn):
    eq, kw = eq_logn, BASE
    s, sg, a, w, beta, L = kw["sigma"] - 1, kw["sigma"], kw["alpha"], kw["phi_Y"], 0.5, 1.0
    rho = s / sg
    # eq. 16 and the line after it: P_X = M_t^{1/(1−σ)} p(φ̃_t), p(φ) = w^{1−α}/(ρφ)
    np.testing.assert_allclose(
        eq.price_index_X, eq.mass_of_varieties ** (1 / (1 - sg)) * w ** (1 - a) / (rho * eq.average_efficiency_t), rtol=1e-12
    )
    # R_X = M r(φ̃) = βwL (eq. 20): σ w B φ̃^{σ−1} is the domestic revenue of the average firm
    np.testing.assert_allclose(eq.domestic_sales + eq.final_exports, beta * w * L, rtol=1e-12)
    # eq. 17, both forms (the second holds because the marginal firm sources at home)
    bhat = beta**beta * (1 - beta) ** (1 - beta)
    np.testing.assert_allclose(eq.welfare, w * bhat * eq.price_index_X ** (-beta), rtol=1e-13)
    p_d = w / kw["phi_I"]
    w17 = eq.phi_min**beta * w * bhat * (rho / (w ** (1 - a) * p_d**a)) ** beta * (beta * L / (sg * kw["f_p"])) ** (beta / s)
    np.testing.assert_allclose(eq.welfare, w17, rtol=1e-12)
    # labour market (§3.5.2): L = L_Y + L_I + L_X + L_e; L_e = M_E f_e
    np.testing.assert_allclose(eq.labor_Y + eq.labor_I + eq.labor_X + eq.labor_entry, L, rtol=1e-12)
    np.testing.assert_allclose(eq.labor_entry, eq.mass_of_entrants * kw["f_e"], rtol=1e-14)
    # intermediates: α ρ of all revenue is spent on intermediates, at home or from W
    np.testing.assert_allclose(eq.intermediate_imports + eq.domestic_intermediates, a * rho * beta * w * L, rtol=1e-12)
    # Y market (eq. 21) with the workbench: (n+1)(1−β)wL + w^w L^w = (n+1)Y + Y^w
    L_w = 3.0
    Y_w = kw["phi_Y_w"] * (L_w - float(eq.workbench_labor_in_I))
    lhs = (kw["n"] + 1) * (1 - beta) * w * L + kw["phi_Y_w"] * L_w
    np.testing.assert_allclose(lhs, (kw["n"] + 1) * eq.output_Y + Y_w, rtol=1e-12)
    # W's trade balance: p_I^w I^w = E_Y^w − Y^w
    I_w = float(eq.workbench_labor_in_I) * kw["phi_I_w"]
    np.testing.assert_allclose(eq.p_I_w * I_w, kw["phi_Y_w"] * L_w - Y_w, rtol=1e-12)
    np.testing.assert_allclose(eq.welfare_workbench, kw["phi_Y_w"])
    # shares of producers add up; the firm-level schedules agree with the aggregates' cut-offs
    np.testing.assert_allclose(np.sum(eq.strategy_share), 1.0, rtol=1e-13)
    assert int(eq.strategy(0.999 * eq.phi_off)) == 0 and int(eq.strategy(1.001 * eq.phi_off)) == 1
    assert int(eq.strategy(1.001 * eq.phi_ex)) == 3 and int(eq.strategy(0.999 * eq.phi_min)) == -1
    assert abs(float(eq.profit(eq.phi_min))) < 1e-12 and abs(float(eq.profit(0.5 * eq.phi_min))) == 0.0


def test_discrete_fall_in_tau_I_equations_22_23_24():
    """Eq. 22: ϕ'_ex/ϕ_ex = (τ'_I/τ_I)^α ϕ'_min/ϕ_min < 1; eq. 23: r'_F/r_F at a fixed ϕ (an
    incumbent exporter) = [(τ'_I/τ_I)^α ϕ'_min/ϕ_min]^{1−σ} > 1; eq. 24: r'_H/r_H = r'_F/r_F."""
    t0, t1 = 1.2, 1.15
    e0, e1 = off.equilibrium(LOGN, **BASE), off.equilibrium(LOGN, **dict(BASE, tau_I=t1))
    a, sg = BASE["alpha"], BASE["sigma"]
    ratio22 = (t1 / t0) ** a * float(e1.phi_min / e0.phi_min)
    np.testing.assert_allclose(float(e1.phi_ex / e0.phi_ex), ratio22, rtol=1e-12)
    assert ratio22 < 1 and float(e1.phi_min) > float(e0.phi_min)
    phi = 1.5 * float(e0.phi_ex)
    rF = float(e1.export_revenue(phi) / e0.export_revenue(phi))
    np.testing.assert_allclose(rF, ratio22 ** (1 - sg), rtol=1e-12)
    np.testing.assert_allclose(float(e1.domestic_revenue(phi) / e0.domestic_revenue(phi)), rF, rtol=1e-12)
    assert rF > 1
    # firms that keep sourcing at home lose revenue (§4.3)
    phi_d = 1.01 * float(e1.phi_min)
    assert float(e1.domestic_revenue(phi_d)) < float(e0.domestic_revenue(phi_d))


# ---------------------------------------------------------------- comparative statics: derivatives


X_NAMES = ("tau_I", "f_I", "tau", "f_ex", "n", "f_e", "alpha")
OUTS = ("phi_min", "phi_off", "phi_ex", "welfare", "intermediate_imports", "final_exports", "mass_of_exporters",
        "market_demand", "intermediate_imports_quantity")  # fmt: skip


def _outputs(x, rest, mu, sd, phi_fixed):
    kw = dict(rest)
    kw.update({k: x[i] for i, k in enumerate(X_NAMES)})
    eq = off.equilibrium(D.LogNormal(mu, sd), **kw)
    return jnp.stack([getattr(eq, o) for o in OUTS] + [eq.export_revenue(phi_fixed), eq.domestic_revenue(phi_fixed)])


_jac = jax.jit(jax.jacfwd(_outputs))
I = {name: i for i, name in enumerate(OUTS + ("rF", "rH"))}  # noqa: E741
X = {name: i for i, name in enumerate(X_NAMES)}


def test_implicit_derivatives_match_central_finite_differences():
    rest = dict(BASE)
    x0 = np.array([BASE[k] for k in X_NAMES])
    phi_fixed = 4.0
    jac = np.asarray(_jac(jnp.asarray(x0), rest, 0.0, 0.8, phi_fixed))
    fd = np.empty_like(jac)
    for j in range(len(x0)):
        h = 1e-5 * x0[j]
        up, dn = x0.copy(), x0.copy()
        up[j] += h
        dn[j] -= h
        fd[:, j] = (np.asarray(_outputs(up, rest, 0.0, 0.8, phi_fixed)) - np.asarray(_outputs(dn, rest, 0.0, 0.8, phi_fixed))) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=2e-6, atol=1e-9)


def _H(c, sd):
    s = BASE["sigma"] - 1
    return integrate.quad(lambda x: (x / c) ** s * sd.pdf(x), c, np.inf, epsrel=1e-13, epsabs=0, limit=200)[0]


def test_appendix_D_elasticities_in_closed_form(eq_logn):
    """Differentiating (C.3) (App. D): with H(c) = ∫_c (ϕ/c)^{σ−1} dG and Σ = Σ_m ΔF_m H(ϕ_m),
    ε(ϕ_min, τ_I) = −α [f_I H_off/p̂ + n f_ex H_ex]/Σ with p̂ = 1 − (p_off/p_d)^{α(σ−1)};
    ε(ϕ_min, f_I) = −f_I S_off/((σ−1)Σ); ε(ϕ_min, τ) = −n f_ex H_ex/Σ;
    ε(ϕ_min, f_ex) = −n f_ex S_ex/((σ−1)Σ)."""
    eq, kw = eq_logn, BASE
    sd = stats.lognorm(s=0.8, scale=1.0)
    s, a = kw["sigma"] - 1, kw["alpha"]
    r = kw["tau_I"] * kw["phi_Y_w"] / kw["phi_I_w"]
    phat = 1 - r ** (a * s)
    Hm, Ho, He = (_H(float(c), sd) for c in (eq.phi_min, eq.phi_off, eq.phi_ex))
    Sg = kw["f_p"] * Hm + kw["f_I"] * Ho + kw["n"] * kw["f_ex"] * He
    x0 = np.array([kw[k] for k in X_NAMES])
    jac = np.asarray(_jac(jnp.asarray(x0), dict(kw), 0.0, 0.8, 4.0))
    el = lambda name: jac[I["phi_min"], X[name]] * kw[name] / float(eq.phi_min)  # noqa: E731
    np.testing.assert_allclose(el("tau_I"), -a * (kw["f_I"] * Ho / phat + kw["n"] * kw["f_ex"] * He) / Sg, rtol=1e-9)
    np.testing.assert_allclose(el("f_I"), -kw["f_I"] * sd.sf(float(eq.phi_off)) / (s * Sg), rtol=1e-9)
    np.testing.assert_allclose(el("tau"), -kw["n"] * kw["f_ex"] * He / Sg, rtol=1e-9)
    np.testing.assert_allclose(el("f_ex"), -kw["n"] * kw["f_ex"] * sd.sf(float(eq.phi_ex)) / (s * Sg), rtol=1e-9)


@hst.composite
def paper_regime(draw):
    """Parameters satisfying A.1-A.3, the relative price drawn inside (p̃_1, p̃_2)."""
    sigma = draw(hst.floats(1.5, 6.0))
    alpha = draw(hst.floats(0.1, 0.9))
    n = float(draw(hst.integers(1, 8)))
    tau = draw(hst.floats(1.05, 2.5))
    f_p = draw(hst.floats(0.2, 2.0))
    f_I = draw(hst.floats(0.05, 2.0))
    f_ex = draw(hst.floats(0.2, 3.0))
    f_e = draw(hst.floats(0.05, 3.0))
    if not f_p + f_I < 0.98 * f_ex * tau ** (sigma - 1):
        f_ex = 1.1 * (f_p + f_I) / tau ** (sigma - 1)
    e = 1 / (alpha * (sigma - 1))
    p1, p2 = (f_p / (f_p + f_I)) ** e, (1 - f_I / (f_ex * tau ** (sigma - 1))) ** e
    lam = draw(hst.floats(0.03, 0.97))
    tau_I = draw(hst.floats(1.01, 2.0))
    ratio = p1 + lam * (p2 - p1)
    return dict(sigma=sigma, alpha=alpha, n=n, tau=tau, tau_I=tau_I, f_p=f_p, f_I=f_I, f_ex=f_ex, f_e=f_e,
                phi_Y=1.0, phi_I=1.0, phi_Y_w=ratio / tau_I, phi_I_w=1.0)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(kw=paper_regime(), mu=hst.floats(-1.0, 1.0), sd=hst.floats(0.2, 1.5), where=hst.floats(1.05, 3.0))
def test_results_R1_to_R4_and_section_4_4_hold_for_any_distribution(kw, mu, sd, where):
    """R.1 ϕ_min rises as τ_I falls, and by less than the direct effect (D.1: −α < ε < 0); R.2 ϕ_ex
    falls and a fixed incumbent exporter's export revenue rises (eq. 23); R.3 intermediate imports
    rise (value and quantity); R.4 welfare rises; §4.4: a fall in f_I raises ϕ_ex and lowers
    incumbent exporters' revenues and ϕ_off, and raises welfare; falls in τ or f_ex raise ϕ_off;
    like Melitz, a fall in τ lowers ϕ_ex and raises ϕ_min."""
    x0 = jnp.asarray([kw[k] for k in X_NAMES])
    eq = off.equilibrium(D.LogNormal(mu, sd), **kw)
    assert int(eq.regime) == off.PAPER_REGIME and eq.result == optx.RESULTS.successful
    phi_fixed = where * float(eq.phi_ex)  # an incumbent exporter
    J = np.asarray(_jac(x0, kw, mu, sd, phi_fixed))
    d = lambda out, x: J[I[out], X[x]]  # noqa: E731
    assert d("phi_min", "tau_I") < 0  # R.1
    assert d("phi_min", "tau_I") * kw["tau_I"] / float(eq.phi_min) > -kw["alpha"]  # (D.1)
    assert d("phi_off", "tau_I") > 0  # ϕ_off falls with τ_I (§4.1)
    assert d("phi_ex", "tau_I") > 0 and d("rF", "tau_I") < 0  # R.2, extensive and intensive
    assert d("intermediate_imports", "tau_I") < 0 and d("intermediate_imports_quantity", "tau_I") < 0  # R.3
    assert d("welfare", "tau_I") < 0  # R.4
    assert d("phi_ex", "f_I") < 0 and d("phi_off", "f_I") > 0 and d("rF", "f_I") > 0  # §4.4
    assert d("welfare", "f_I") < 0
    assert d("phi_off", "tau") < 0 and d("phi_off", "f_ex") < 0  # §4.4
    assert d("phi_ex", "tau") > 0 and d("phi_min", "tau") < 0 and d("phi_min", "n") > 0  # like Melitz


@settings(max_examples=15, deadline=None)
@given(kw=paper_regime(), k_extra=hst.floats(0.1, 4.0))
def test_under_pareto_aggregate_final_exports_and_exporters_rise_as_tau_I_falls(kw, k_extra):
    """Under Pareto M_E = βLs/(σ k f_e) is constant and final exports are
    w β L s n f_ex ϕ_ex^{−k}/((k−s) f_e) (derived in docs/offshoring.md): the export-magnification
    effect then holds for the aggregate value of final-goods exports and the mass of exporters."""
    k, s = kw["sigma"] - 1 + k_extra, kw["sigma"] - 1
    kw = dict(kw, f_e=min(kw["f_e"], 0.5 * s / (k - s) * kw["f_p"]))  # ϕ_min inside the support
    pc = off.pareto_cutoffs(k, 1.0, **kw)
    dist = D.Pareto(k, 1.0)
    eq = off.equilibrium(dist, **kw)
    assert int(eq.regime) == off.PAPER_REGIME
    for name in ("phi_min", "phi_off", "phi_ex"):
        np.testing.assert_allclose(getattr(eq, name), getattr(pc, name), rtol=1e-10)
    np.testing.assert_allclose(eq.mass_of_entrants, 0.5 * s / (kw["sigma"] * k * kw["f_e"]), rtol=1e-10)
    want = 0.5 * s * kw["n"] * kw["f_ex"] * pc.phi_ex ** (-k) / ((k - s) * kw["f_e"])
    np.testing.assert_allclose(eq.final_exports, want, rtol=1e-10)
    h = 1e-6 * kw["tau_I"]
    up = off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] + h))
    dn = off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] - h))
    assert float(dn.final_exports) > float(up.final_exports)
    assert float(dn.mass_of_exporters) > float(up.mass_of_exporters)


def test_aggregate_final_exports_can_fall_for_a_lognormal():
    """Not a theorem beyond Pareto: R.2's margins (ϕ_ex, incumbents' revenue) rise, but with a
    log-normal G the value of final-goods exports can fall as τ_I falls (M_E and the mass of
    exporters fall). Found by a random search; settled here by central differences."""
    kw = dict(sigma=2.392008138777671, alpha=0.6090269228795678, n=1.0, tau=1.929704134773798,
              tau_I=1.0751326948727837, f_p=0.5448605530278048, f_I=0.27940107176128826, f_ex=1.6167233753825139,
              f_e=2.4557556996440835, phi_Y=1.0, phi_I=1.0, phi_Y_w=0.6356219844465751, phi_I_w=1.0)  # fmt: skip
    dist = D.LogNormal(0.0, 0.3)
    h = 1e-4
    up, dn = off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] + h)), off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] - h))
    assert int(up.regime) == off.PAPER_REGIME
    d_exports = float(up.final_exports - dn.final_exports) / (2 * h)
    assert d_exports > 1e-5  # exports fall as τ_I falls …
    assert float(up.phi_ex) > float(dn.phi_ex)  # … although the export cut-off falls (R.2)
    phi = 2.0 * float(up.phi_ex)
    assert float(up.export_revenue(phi)) < float(dn.export_revenue(phi))  # … and incumbents export more


def test_A3_violated_lower_tau_I_raises_the_export_cutoff():
    """§4.2, last paragraph: with D → X → OX, a fall in τ_I (or f_I) raises ϕ_ex (the least productive
    exporters do not offshore) while ϕ_min still rises."""
    dist = LOGN
    h = 1e-5
    for name in ("tau_I", "f_I"):
        up = off.equilibrium(dist, **dict(A3_VIOLATED, **{name: A3_VIOLATED[name] + h}))
        dn = off.equilibrium(dist, **dict(A3_VIOLATED, **{name: A3_VIOLATED[name] - h}))
        assert off.regime_name(up.regime) == "D+X+OX"
        assert float(dn.phi_ex) > float(up.phi_ex) and float(dn.phi_min) > float(up.phi_min)
        assert float(dn.welfare) > float(up.welfare)


# ---------------------------------------------------------------- vmap, regimes, bad input


def _sweep(tau_I, f_I):
    eq = off.equilibrium(LOGN, **dict(BASE, tau_I=tau_I, f_I=f_I), throw=False)
    return eq.phi_min, eq.phi_ex, eq.regime, eq.result, eq.residual, eq.valid_input


def test_vmapped_sweep_crosses_regimes_and_matches_single_solves():
    """One vmapped call over (τ_I, f_I) that spans several regimes (branch-free envelope), with an
    invalid point (τ_I < 1) reported by its result code instead of a number."""
    ti = jnp.asarray([0.9, 1.0, 1.2, 1.4, 1.6, 2.0])
    fi = jnp.asarray([0.05, 0.6, 3.0, 6.0])
    T, Fi = (a.ravel() for a in jnp.meshgrid(ti, fi, indexing="ij"))
    phi_min, phi_ex, regime, result, resid, valid = jax.jit(jax.vmap(_sweep))(T, Fi)
    bad = np.asarray(T) < 1
    assert np.all(np.asarray(result == optx.RESULTS.successful) == ~bad)
    assert not np.any(np.asarray(valid)[bad]) and np.all(np.asarray(valid)[~bad])
    assert np.max(np.asarray(resid)[~bad]) < 1e-12
    assert len(set(np.asarray(regime)[~bad].tolist())) >= 3
    for i in np.nonzero(~bad)[0][::5]:
        e = off.equilibrium(LOGN, **dict(BASE, tau_I=float(T[i]), f_I=float(Fi[i])))
        np.testing.assert_allclose(phi_min[i], e.phi_min, rtol=1e-12)
        np.testing.assert_allclose(phi_ex[i], e.phi_ex, rtol=1e-12)
        assert int(regime[i]) == int(e.regime)


@pytest.mark.parametrize(
    "name,value,match",
    [
        ("sigma", 1.0, "σ > 1"), ("alpha", 1.0, "0 < α < 1"), ("alpha", 0.0, "0 < α < 1"), ("tau", 0.9, "τ ≥ 1"),
        ("tau_I", 0.99, "τ_I ≥ 1"), ("f_I", 0.0, "f_I > 0"), ("f_e", -1.0, "f_e > 0"), ("f_p", float("nan"), "finite"),
        ("phi_I_w", 0.0, "phi_I_w > 0"), ("n", 0.0, "n > 0"), ("beta", 1.5, "0 < β < 1"),
    ],
)  # fmt: skip
def test_bad_input_names_the_condition(name, value, match):
    with pytest.raises(JaxtradeInputError, match=f"`{name}`.*{match}"):
        off.equilibrium(LOGN, **dict(BASE, **{name: value}))


def test_bad_distribution_and_required_assumptions():
    with pytest.raises(JaxtradeInputError, match="σ − 1"):
        off.equilibrium(D.Pareto(2.5, 1.0), **BASE)  # k ≤ σ − 1: infinite average firm size
    with pytest.raises(JaxtradeInputError, match="AbstractDistribution"):
        off.equilibrium("pareto", **BASE)
    with pytest.raises(JaxtradeInputError, match="A.1 violated"):
        off.equilibrium(LOGN, **A1_VIOLATED, require_assumptions=True)
    msgs = off.assumptions(off.params(**A3_VIOLATED)).messages()
    assert any(m.startswith("A.3 violated") for m in msgs)
    assert off.assumptions(off.params(**BASE)).messages() == []
    with pytest.raises(JaxtradeInputError, match="L_w"):
        off.equilibrium(LOGN, **BASE, L_w=1e-3)  # W cannot make the intermediates and still produce Y
    assert math.isfinite(float(off.equilibrium(LOGN, **BASE, L_w=10.0).welfare))


# ---------------------------------------------------------------- slow: other families, throw under jit


@pytest.mark.slow
@pytest.mark.parametrize(
    "dist,scipy_dist",
    [
        (D.Frechet(6.0, 1.0), stats.invweibull(c=6.0, scale=1.0)),
        (D.TruncatedPareto(2.5, 1.0, 40.0), stats.truncpareto(b=2.5, c=40.0)),
    ],
)
def test_other_families_against_first_principles(dist, scipy_dist):
    """Any productivity distribution: Fréchet and a truncated Pareto (shape below σ − 1 is allowed
    when the support is bounded) against the firm-by-firm scipy reference, paper's regime and A.3 violated."""
    for kw in (BASE, A3_VIOLATED):
        eq = off.equilibrium(dist, **kw)
        P_X, sw = brute_force(kw, scipy_dist, float(eq.price_index_X))
        np.testing.assert_allclose(eq.price_index_X, P_X, rtol=1e-9)
        for c, _, b in sw:
            np.testing.assert_allclose(eq.strategy_lower[b], c, rtol=1e-9)
        h = 1e-5
        up = off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] + h))
        dn = off.equilibrium(dist, **dict(kw, tau_I=kw["tau_I"] - h))
        assert float(dn.phi_min) > float(up.phi_min) and float(dn.welfare) > float(up.welfare)  # R.1, R.4


@pytest.mark.slow
def test_invalid_input_under_jit_raises_when_throw():
    f = jax.jit(lambda a: off.equilibrium(LOGN, **dict(BASE, alpha=a)).phi_min)
    assert np.isfinite(float(f(0.5)))
    with pytest.raises(Exception, match="invalid input"):
        jax.block_until_ready(f(1.5))
