"""Endogenous wages (004 §3.5): Lemma 2, Proposition 8 (numerically), smoothing, implicit gradients.

The closure is documented in ``jaxtrade/models/wages.py``: Section 4 goods market with free entry,
country 1's wage the numeraire (a homogeneous sector there), labour markets 2..M clear.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxtrade.models.sequential_ge import QuasiLinearCES, free_entry_closed_form
from jaxtrade.engine.production import solve_chain
from jaxtrade.engine.validation import JaxtradeInputError
from jaxtrade.models.wages import labour_demand, solve_wages
from jaxtrade.distributions import Pareto


def _draws(seed, n, n_stages, m):
    u = jax.random.uniform(jax.random.key(seed), (n, n_stages, m), dtype=jnp.float64, minval=1e-9, maxval=1.0)
    return Pareto(2.0, 0.5).icdf(u)


def _t(m):
    return 1.0 - jnp.eye(m)


DEMAND = QuasiLinearCES(4.0, 0.5)


# --------------------------------------------------------------------------------- Lemma 2


@given(seed=st.integers(0, 2**31 - 1), m=st.sampled_from([2, 3]), k=st.integers(0, 2), up=st.floats(1.001, 3.0), tau=st.floats(0.0, 2.0))
def test_lemma_2_firm_labour_demand_does_not_rise_with_own_wage(seed, m, k, up, tau):
    k = k % m
    a = _draws(seed, 128, 5, m)
    w = jnp.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, m))
    w_up = w.at[k].multiply(up)
    l0 = np.asarray(solve_chain(a, _t(m), tau, wages=w).labour)[:, k]
    l1 = np.asarray(solve_chain(a, _t(m), tau, wages=w_up).labour)[:, k]
    assert np.all(l1 <= l0 + 1e-12)


@jax.jit
def _aggregate_ld(w, a, tau, f_s):
    return labour_demand(w, a, _t(a.shape[-1]), tau, DEMAND, f_s)[0]


@given(seed=st.integers(0, 2**31 - 1), m=st.sampled_from([2, 3]), k=st.integers(0, 2), up=st.floats(1.01, 3.0), tau=st.floats(0.01, 2.0))
def test_aggregate_own_wage_labour_demand_falls(seed, m, k, up, tau):
    """The aggregate Lemma 2 (module docstring): ε(L_k^D, w_k) ≤ ((σ−1)(1−ζ/D) − σ) E_ω[s] < 0."""
    k = k % m
    a = _draws(seed, 512, 5, m)
    w = jnp.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, m))
    l0 = float(_aggregate_ld(w, a, tau, 0.3)[k])
    l1 = float(_aggregate_ld(w.at[k].multiply(up), a, tau, 0.3)[k])
    assert l1 <= l0 * (1 + 1e-12)
    if l1 > 0:
        assert l1 < l0


def test_aggregate_labour_demand_formula_matches_firm_level_sum():
    """L_k^D = S E[q(MC) L_Dk] with q from demand (11 corrected) equals (σ−1) f_s S ∂ln M̃C/∂w_k."""
    a = _draws(1, 1000, 5, 3)
    w = jnp.array([1.0, 0.7, 1.3])
    f_s = 0.4
    ld, mct, s, p = labour_demand(w, a, _t(3), 0.4, DEMAND, f_s)
    sol = solve_chain(a, _t(3), 0.4, wages=w)
    q = DEMAND.quantity(sol.cost, p)
    direct = s * np.mean(np.asarray(q)[:, None] * np.asarray(sol.labour), axis=0)
    np.testing.assert_allclose(np.asarray(ld), direct, rtol=1e-10)
    # τ = 0: M̃C is homogeneous of degree one in w, the wage bill is the variable cost (σ−1) f_s S.
    ld0, _, s0, _ = labour_demand(w, a, _t(3), 0.0, DEMAND, f_s)
    np.testing.assert_allclose(float(jnp.sum(w * ld0)), 3.0 * f_s * float(s0), rtol=1e-10)


# --------------------------------------------------------------------------------- Proposition 8


@pytest.mark.parametrize("zeta", [0.2, 0.6])
def test_proposition_8_existence_and_uniqueness_for_two_countries(zeta):
    """Over a grid of (τ, L_2, ζ): the exact excess demand for country-2 labour is non-increasing in
    w_2 on a log grid, strictly falling while country 2 is used, and changes sign once; the
    bisection solver finds the crossing."""
    demand = QuasiLinearCES(4.0, zeta)
    a = _draws(2, 1000, 5, 2)

    @jax.jit
    def ld2(w2, tau):
        return labour_demand(jnp.stack([jnp.ones_like(w2), w2]), a, _t(2), tau, demand, 0.3)[0][1]

    grid = jnp.exp(jnp.linspace(np.log(1e-3), np.log(1e3), 41))
    for tau in (0.05, 0.5, 3.0):
        ld = np.asarray(jax.vmap(lambda w: ld2(w, tau))(grid))
        assert np.all(np.diff(ld) <= 1e-12 * ld[:-1])
        used = ld[1:] > 0
        assert np.all(np.diff(ld)[used] < 0)
        for l2 in (0.01, 1.0, 100.0):
            z = ld - l2
            assert z[0] > 0 and z[-1] < 0  # existence on the grid
            assert np.sum(np.diff(np.sign(z)) != 0) == 1  # one crossing
            eq = solve_wages(a, _t(2), tau, jnp.array([1e6, l2]), demand=demand, f_s=0.3)
            assert eq.result == optx.RESULTS.successful
            i = int(np.argmax(z < 0))
            assert float(grid[i - 1]) <= float(eq.wages[1]) <= float(grid[i])


def test_three_countries_newton_from_many_starts_finds_one_equilibrium():
    """Existence for M = 3 over a small grid of (τ, L_2, L_3); from four distant starts the same wages."""
    a = _draws(3, 1000, 5, 3)
    for tau, supply in ((0.4, [1e6, 0.5, 2.0]), (0.05, [1e6, 5.0, 0.1]), (1.5, [1e6, 0.05, 0.05])):
        supply = jnp.array(supply)
        found = []
        for start in ([1.0, 1.0, 1.0], [1.0, 0.1, 10.0], [1.0, 5.0, 0.2], [1.0, 0.3, 0.3]):
            eq = solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, temperature=0.02, initial_wages=jnp.array(start))
            assert eq.result == optx.RESULTS.successful
            assert float(eq.residual) < 1e-10
            np.testing.assert_allclose(np.asarray(eq.labour_demand)[1:], np.asarray(supply)[1:], rtol=1e-9)
            found.append(np.asarray(eq.wages))
        for w in found[1:]:
            np.testing.assert_allclose(w, found[0], rtol=1e-8)


def test_smoothed_equilibrium_converges_as_temperature_vanishes():
    """w(t) → w(exact) as t → 0. The smoothing bias falls fast (≥ 10x from t = 0.1 to 0.01); below
    that what is left is the firm-level granularity of a finite sample (a firm within t of a tie
    between two paths), so the error is bounded by 1/n, the labour-demand weight of one firm."""
    n = 1000
    a = _draws(4, n, 5, 2)
    supply = jnp.array([1e6, 1.0])
    exact = solve_wages(a, _t(2), 0.3, supply, demand=DEMAND, f_s=0.1)
    assert exact.result == optx.RESULTS.successful
    errs = []
    for temp in (0.1, 0.01, 0.003, 0.001):
        eq = solve_wages(a, _t(2), 0.3, supply, demand=DEMAND, f_s=0.1, temperature=temp)
        assert eq.result == optx.RESULTS.successful
        errs.append(abs(float(eq.wages[1]) / float(exact.wages[1]) - 1))
    assert errs[1] < errs[0] / 10
    assert max(errs[2:]) < 1.0 / n


def test_implicit_gradient_of_wages_wrt_tau_matches_finite_differences():
    a = _draws(5, 1000, 5, 3)  # same shapes as the other M = 3 tests: one compilation
    supply = jnp.array([1e6, 0.8, 1.5])

    def w_of(tau):
        return solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, temperature=0.02).wages[1:]

    jac = np.asarray(jax.jacrev(w_of)(jnp.asarray(0.4)))  # reverse mode through optx.ImplicitAdjoint
    h = 1e-5
    fd = (np.asarray(w_of(0.4 + h)) - np.asarray(w_of(0.4 - h))) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=1e-9)
    assert np.all(np.abs(jac) > 1e-6)


def test_closure_check_and_failures_are_reported():
    a = _draws(6, 1000, 5, 2)
    eq = solve_wages(a, _t(2), 0.3, jnp.array([1e-6, 1.0]), demand=DEMAND, f_s=0.3)
    assert float(eq.numeraire_sector_labour) < 0  # country 1 cannot supply its parts sector
    bad = solve_wages(a, _t(2), 0.3, jnp.array([1e6, 1.0]), demand=DEMAND, f_s=0.3, temperature=0.01, initial_wages=jnp.array([1.0, 1e3]), max_steps=1, throw=False)
    assert bad.result != optx.RESULTS.successful
    assert float(bad.residual) > 1e-3
    with pytest.raises(JaxtradeInputError, match="temperature"):
        solve_wages(a, _t(2), 0.3, jnp.ones(2), demand=DEMAND, f_s=0.3, temperature=-1.0)
    with pytest.raises(JaxtradeInputError, match="closure"):
        solve_wages(a, _t(2), 0.3, jnp.ones(2), demand=DEMAND, f_s=0.3, closure="walras")
    with pytest.raises(JaxtradeInputError, match="labour_supply"):
        solve_wages(a, _t(2), 0.3, jnp.ones(3), demand=DEMAND, f_s=0.3)
    with pytest.raises(JaxtradeInputError, match="labour_supply"):
        solve_wages(a, _t(2), 0.3, jnp.array([1.0, -1.0]), demand=DEMAND, f_s=0.3)


def test_wage_equilibrium_is_consistent_with_free_entry():
    a = _draws(7, 1000, 5, 2)
    eq = solve_wages(a, _t(2), 0.3, jnp.array([1e6, 2.0]), demand=DEMAND, f_s=0.3, temperature=0.01)
    mc = solve_chain(a, _t(2), 0.3, wages=eq.wages, temperature=0.01).cost
    cf = free_entry_closed_form(DEMAND, jnp.mean(mc**-3.0) ** (-1 / 3.0), 0.3)
    np.testing.assert_allclose(float(eq.mass_of_firms), float(cf.mass_of_firms), rtol=1e-10)
    np.testing.assert_allclose(float(eq.price_index), float(cf.price_index), rtol=1e-10)


@pytest.mark.parametrize("value_dependent", [False, True])
def test_exact_wages_for_a_tree_clear_labour_markets_by_brute_force(value_dependent):
    """Trees and value-dependent (iceberg) costs through the wage equilibrium (004 §3.5 with §2.2).

    Independent check: at the solved wage, labour demand recomputed from ln M̃C by enumerating every
    firm's M^n assignments (brute force, not the recursion) and a central finite difference in w_2 (not
    the envelope theorem) equals country 2's labour supply."""
    from jaxtrade import Tree, brute_force_tree

    tree = Tree([2, 2, -1])  # two parts assembled at the root
    a = _draws(11, 400, 3, 2)
    T, tau, supply = _t(2), jnp.asarray([0.3, 0.2]), jnp.asarray([50.0, 0.8])
    eq = solve_wages(a, T, tau, supply, demand=DEMAND, f_s=1.0, tree=tree, value_dependent=value_dependent)
    assert eq.result == optx.RESULTS.successful
    w2 = float(eq.wages[1])

    def log_mc_tilde(w):
        mc = brute_force_tree(a, tree, T, tau, wages=jnp.asarray([1.0, w]), value_dependent=value_dependent).cost
        return np.log(np.mean(np.asarray(mc) ** (1 - DEMAND.sigma))) / (1 - DEMAND.sigma)

    h = 1e-6 * w2
    dlog = (log_mc_tilde(w2 + h) - log_mc_tilde(w2 - h)) / (2 * h)
    mass = free_entry_closed_form(DEMAND, np.exp(log_mc_tilde(w2)), 1.0).mass_of_firms
    ld2 = (DEMAND.sigma - 1.0) * 1.0 * float(mass) * dlog
    np.testing.assert_allclose(ld2, 0.8, rtol=1e-5)
    np.testing.assert_allclose(float(eq.labour_demand[1]), 0.8, rtol=1e-6)
    with pytest.raises(JaxtradeInputError, match="one row per node"):
        solve_wages(a[:, :2], T, tau, supply, demand=DEMAND, f_s=1.0, tree=tree)


def test_exact_wages_for_three_countries_from_many_starts():
    """M = 3 with the exact minimum (no smoothing): the homotopy + Gauss-Seidel polish ends where every
    market's exact excess demand changes sign in its own wage, from four distant starts at the same wages,
    and next to the smooth equilibrium at a small temperature."""
    from jaxtrade.models.wages import _excess_vector

    a = _draws(3, 500, 5, 3)
    tau, supply = 0.4, jnp.array([1e6, 0.5, 2.0])
    found = []
    for start in ([1.0, 1.0, 1.0], [1.0, 0.1, 10.0], [1.0, 5.0, 0.2], [1.0, 0.3, 0.3]):
        eq = solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, initial_wages=jnp.array(start))
        assert eq.result == optx.RESULTS.successful
        found.append(np.log(np.asarray(eq.wages[1:])))
    for y in found[1:]:
        np.testing.assert_allclose(y, found[0], atol=1e-9)
    y = found[0]
    args = (a, _t(3), jnp.asarray(tau), supply, DEMAND, jnp.asarray(0.3), None, None, False, "numeraire_sector", "iceberg", None)
    for k in range(2):  # a crossing of market k's step function in its own wage
        lo, hi = y.copy(), y.copy()
        lo[k] -= 1e-9
        hi[k] += 1e-9
        assert float(_excess_vector(jnp.asarray(lo), args)[k]) > 0 >= float(_excess_vector(jnp.asarray(hi), args)[k])
    smooth = solve_wages(a, _t(3), tau, supply, demand=DEMAND, f_s=0.3, temperature=0.003)
    np.testing.assert_allclose(np.log(np.asarray(smooth.wages[1:])), y, atol=2e-3)


# Four firm types (N = 5, M = 2), σ = 8, τ = 9.389: found by a random search over small discrete
# distributions (docs/equilibrium.md) as a counter-example to uniqueness under the old full-employment
# closure (w_1 = 1 fixed, only L_2^D/L_1^D = L_2/L_1 imposed), which violated the price index. Under the
# consistent closure (all M wages unknown) a scan of market 1 along market 2's clearing curve
# (ln w_1 ∈ [−6, 6]) shows one sign change.
FOUR_TYPES = [[[6.242, 15.229], [15.726, 1.71], [15.088, 17.28], [10.128, 7.249], [3.917, 0.674]],
              [[16.974, 2.928], [0.723, 37.173], [31.762, 7.643], [11.622, 3.124], [37.349, 5.729]],
              [[28.736, 24.096], [0.065, 0.219], [10.441, 0.162], [33.36, 36.394], [17.604, 5.882]],
              [[3.325, 1.641], [15.57, 2.065], [3.491, 22.689], [30.578, 18.545], [35.555, 27.747]]]


def test_full_employment_closure_on_the_four_type_economy():
    """Without the homogeneous sector (footnote 31) every labour market clears in all M wages. On the
    four-type economy the exact solver (homotopy + Gauss-Seidel polish) ends at the same relative wage
    ``w_2/w_1`` from three distant starts, and at each end each market's exact excess demand changes sign in
    its own wage. With four firm types the exact (step-function) demands can leave the wage level
    undetermined within a jump (the ends differ by 0.3% in both ``ln w``). Under the numeraire-sector closure the same economy has one equilibrium too
    (from either bracket, the same w_2)."""
    from jaxtrade.models.wages import _excess_vector

    a = jnp.asarray(FOUR_TYPES)
    demand = QuasiLinearCES(8.0, 0.1)
    supply = jnp.asarray([1.0, 9.261])
    tau = 9.389
    found = []
    for start in ([1.0, 1.0], [0.2, 0.3], [5.0, 3.0]):
        eq = solve_wages(a, _t(2), tau, supply, demand=demand, f_s=1.0, closure="full_employment", initial_wages=jnp.asarray(start))
        assert eq.result == optx.RESULTS.successful
        found.append(np.log(np.asarray(eq.wages)))
    for y in found[1:]:  # the same relative wage (the level can differ along a firm's switching line: see the docstring)
        np.testing.assert_allclose(y[1] - y[0], found[0][1] - found[0][0], atol=1e-9)
    args = (a, _t(2), jnp.asarray(tau), supply, demand, jnp.asarray(1.0), None, None, False, "full_employment", "iceberg", None)
    for y in found:
        for k in range(2):
            lo, hi = y.copy(), y.copy()
            lo[k] -= 1e-9
            hi[k] += 1e-9
            assert float(_excess_vector(jnp.asarray(lo), args)[k]) > 0 >= float(_excess_vector(jnp.asarray(hi), args)[k])
    one = [float(solve_wages(a, _t(2), tau, supply, demand=demand, f_s=1.0, bracket=b).wages[1]) for b in ((1e-3, 1.0), (1.0, 1e3))]
    np.testing.assert_allclose(one[0], one[1], rtol=1e-10)


@pytest.mark.parametrize("reading", ["iceberg", "ad_valorem"])
def test_value_dependent_costs_under_both_readings_of_footnotes_18_19(reading):
    """Iceberg: the quantity lost in transit is produced, so the wage bill is the whole variable cost,
    Σ_k w_k L_k^D = (σ−1) f_s S (MC is homogeneous of degree one in w). Ad valorem: a tariff, no extra
    labour; the wage bill plus the tariff revenue is the variable cost, and labour demand is the raw labour
    of each firm's path, S·E[q(MC) Σ_i 1(c_i = k) a_ik], recomputed here from brute-force paths."""
    from jaxtrade import brute_force_chain

    a = _draws(12, 300, 4, 2)
    T, tau, supply = _t(2), 0.25, jnp.asarray([50.0, 0.8])
    eq = solve_wages(a, T, tau, supply, demand=DEMAND, f_s=0.5, value_dependent=True, reading=reading)
    assert eq.result == optx.RESULTS.successful
    w = np.asarray(eq.wages)
    s, ld = float(eq.mass_of_firms), np.asarray(eq.labour_demand)
    variable_cost = (DEMAND.sigma - 1.0) * 0.5 * s
    np.testing.assert_allclose(w @ ld + float(eq.tariff_revenue), variable_cost, rtol=1e-10)
    # No destinations: every tariff is levied on an intermediate part, collected by its importer.
    np.testing.assert_allclose(float(jnp.sum(eq.tariff_revenue_by_importer)), float(eq.tariff_revenue), rtol=1e-10, atol=0)
    assert eq.tariff_revenue_by_destination.shape == () and float(eq.tariff_revenue_by_destination) == 0.0
    sol = brute_force_chain(a, T, tau, wages=jnp.asarray(w), value_dependent=True)
    mc, path, aa = np.asarray(sol.cost), np.asarray(sol.path), np.asarray(a)
    q = mc ** -DEMAND.sigma / np.mean(mc ** (1 - DEMAND.sigma))
    if reading == "ad_valorem":
        raw = np.stack([np.where(path == k, aa[..., k], 0.0).sum(axis=1) for k in range(2)], axis=1)
        np.testing.assert_allclose(ld, variable_cost * np.mean(q[:, None] * raw, axis=0), rtol=1e-10)
        assert float(eq.tariff_revenue) > 0
        np.testing.assert_allclose(float(eq.tariff_revenue), variable_cost * np.mean(q * np.asarray(sol.trade_cost)), rtol=1e-10)
    else:
        np.testing.assert_allclose(ld, variable_cost * np.mean(q[:, None] * np.asarray(sol.labour), axis=0), rtol=1e-10)
        assert float(eq.tariff_revenue) == 0.0
    np.testing.assert_allclose(ld[1], 0.8, rtol=1e-6)
    with pytest.raises(JaxtradeInputError, match="value_dependent"):
        solve_wages(a, T, tau, supply, demand=DEMAND, f_s=0.5, reading="ad_valorem")
    with pytest.raises(JaxtradeInputError, match="temperature"):
        solve_wages(a, T, tau, supply, demand=DEMAND, f_s=0.5, value_dependent=True, reading="ad_valorem", temperature=0.01)


def test_exact_wages_with_destination_markets_clear_labour_by_brute_force():
    """Destinations (§3.3, §4.5): a firm enters once and serves every destination market from its best path
    including the final shipment; labour demand is S·Σ_d E[q_d(MC_d) ℓ_kd]. Checked at the solved wage by
    brute-force enumeration per destination, a finite difference in w_2 and the market sales
    R_d = P_d^(−ζ/(1−ζ)) of the free-entry equilibrium."""
    from jaxtrade import brute_force_chain

    a = _draws(13, 300, 4, 2)
    T, tau, supply = _t(2), 0.3, jnp.asarray([80.0, 1.5])
    dest = jnp.asarray([[0.0, 0.6], [0.4, 0.0]])
    eq = solve_wages(a, T, tau, supply, demand=DEMAND, f_s=1.0, destination_costs=dest)
    assert eq.result == optx.RESULTS.successful and eq.aggregate_cost.shape == (2,)
    w2 = float(eq.wages[1])

    def log_mc_tilde(w):
        mc = np.asarray(brute_force_chain(a, T, tau, wages=jnp.asarray([1.0, w]), destination_costs=dest).cost)  # (F, D)
        return np.log(np.mean(mc ** (1 - DEMAND.sigma), axis=0)) / (1 - DEMAND.sigma)

    h = 1e-6 * w2
    dlog = (log_mc_tilde(w2 + h) - log_mc_tilde(w2 - h)) / (2 * h)
    ge = free_entry_closed_form(DEMAND, np.exp(log_mc_tilde(w2)), 1.0)
    zeta = DEMAND.zeta
    sales = np.asarray(ge.price_index) ** (-zeta / (1 - zeta))
    np.testing.assert_allclose(sales.sum(), DEMAND.sigma * 1.0 * float(ge.mass_of_firms), rtol=1e-10)  # free entry
    np.testing.assert_allclose((DEMAND.sigma - 1.0) / DEMAND.sigma * np.sum(sales * dlog), 1.5, rtol=1e-5)
    with pytest.raises(JaxtradeInputError, match="destination_costs"):
        solve_wages(a, T, tau, supply, demand=DEMAND, f_s=1.0, destination_costs=jnp.ones((3, 2)))


def _leg_tariffs(a, path, parent, w, T, tau, dest):
    """NumPy, independent of the library: per firm and destination, the ad-valorem tariffs of every leg.

    ``V_l = w a_l + Σ_children (1 + τ_c T) V_c`` (the value crossing the border, upstream tariffs included);
    leg c → parent pays ``τ_c T(c_c, c_parent) V_c`` to the parent's country; the final shipment pays
    ``τ^F T^F(c_root, d) V_root`` to destination d. Nodes are numbered children before parents."""
    f, n, m = a.shape
    d = path.shape[-1]
    edges = [i for i, p in enumerate(parent) if p >= 0]
    tau = np.broadcast_to(np.asarray(tau, float), (len(edges),))
    value = np.zeros((f, n, d))
    to_importer = np.zeros((f, m, d))
    rows = np.arange(f)[:, None]
    for node in range(n):
        c = path[:, node, :]
        value[:, node, :] += w[c] * a[rows, node, c]
        if parent[node] >= 0:
            p = path[:, parent[node], :]
            tariff = tau[edges.index(node)] * T[c, p] * value[:, node, :]
            value[:, parent[node], :] += value[:, node, :] + tariff
            for k in range(m):
                to_importer[:, k, :] += np.where(p == k, tariff, 0.0)
    root = parent.index(-1)
    ship = dest[path[:, root, :], np.arange(d)[None, :]] * value[:, root, :]
    return value[:, root, :], to_importer, ship


@pytest.mark.parametrize("technology", ["chain", "tree"])
def test_ad_valorem_reading_with_destination_markets_by_brute_force(technology):
    """Ad-valorem reading (footnotes 18-19) with destinations (§3.3, §4.5): no extra labour, every leg's tariff
    (the final shipment included) to the importing country's consumers. At the solved wage, from brute-force
    paths (every firm's M^n assignments per destination) and NumPy: labour demand is S·Σ_d E[q_d(MC_d) ℓ_kd]
    with the raw labour ℓ of the path to d and q_d the §4 demand in market d, it clears country 2's market;
    the revenue is S·Σ_d E[q_d TTMC_d], split by importer (intermediate legs) and destination (final
    shipment); wage bill + revenue = the variable cost (σ−1) f_s S."""
    from jaxtrade import Tree, brute_force_tree

    if technology == "chain":
        tree, parent, tau = None, [1, 2, -1], jnp.asarray([0.25, 0.15])
    else:
        parent, tau = [2, 2, -1], jnp.asarray([0.3, 0.2])
        tree = Tree(parent)
    a = _draws(14, 300, 3, 2)
    T, supply, f_s = _t(2), jnp.asarray([80.0, 1.2]), 0.7
    dest = jnp.asarray([[0.0, 0.6], [0.4, 0.0]])
    eq = solve_wages(a, T, tau, supply, demand=DEMAND, f_s=f_s, tree=tree, value_dependent=True, reading="ad_valorem", destination_costs=dest)
    assert eq.result == optx.RESULTS.successful
    w = np.asarray(eq.wages)
    sol = brute_force_tree(a, Tree(parent), T, tau, wages=jnp.asarray(w), value_dependent=True, destination_costs=dest)
    mc, path, aa = np.asarray(sol.cost), np.asarray(sol.path), np.asarray(a)  # (F, D), (F, n, D)
    v_root, to_importer, ship = _leg_tariffs(aa, path, parent, w, np.asarray(T), np.asarray(tau), np.asarray(dest))
    np.testing.assert_allclose(v_root + ship, mc, rtol=1e-12)  # MC_d = (1 + τ^F T^F) V_root
    ge = free_entry_closed_form(DEMAND, np.mean(mc ** (1 - DEMAND.sigma), axis=0) ** (1 / (1 - DEMAND.sigma)), f_s)
    s = float(ge.mass_of_firms)
    q = np.asarray(DEMAND.quantity(jnp.asarray(mc), jnp.asarray(ge.price_index)[None, :]))  # (F, D): q_d(MC_fd)
    raw = np.stack([np.where(path == k, aa[..., k][..., None], 0.0).sum(axis=1) for k in range(2)], axis=1)  # (F, M, D)
    ld = s * np.einsum("fd,fkd->k", q, raw) / len(mc)
    np.testing.assert_allclose(np.asarray(eq.labour_demand), ld, rtol=1e-10)
    np.testing.assert_allclose(ld[1], 1.2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(eq.aggregate_cost), np.asarray(ge.aggregate_cost), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(eq.consumer_surplus), np.asarray(ge.consumer_surplus), rtol=1e-10)
    revenue = s * np.mean(q * (mc - np.einsum("fkd,k->fd", raw, w)), axis=0)  # per market: S E[q_d TTMC_d]
    np.testing.assert_allclose(float(eq.tariff_revenue), revenue.sum(), rtol=1e-10)
    by_importer = s * np.einsum("fd,fkd->k", q, to_importer) / len(mc)
    by_dest = s * np.mean(q * ship, axis=0)
    np.testing.assert_allclose(np.asarray(eq.tariff_revenue_by_importer), by_importer, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(eq.tariff_revenue_by_destination), by_dest, rtol=1e-10)
    assert np.all(by_dest > 0) and by_importer.sum() > 0
    np.testing.assert_allclose(by_importer.sum() + by_dest.sum(), float(eq.tariff_revenue), rtol=1e-10)
    np.testing.assert_allclose(w @ np.asarray(eq.labour_demand) + float(eq.tariff_revenue), (DEMAND.sigma - 1.0) * f_s * s, rtol=1e-10)
    # The iceberg reading of the same economy employs the lost quantity's labour: a different equilibrium, no revenue.
    ice = solve_wages(a, T, tau, supply, demand=DEMAND, f_s=f_s, tree=tree, value_dependent=True, destination_costs=dest)
    assert float(ice.tariff_revenue) == 0.0 and not np.allclose(np.asarray(ice.wages), w, rtol=1e-6)


# ----------------------------------------------------- every equilibrium condition, recomputed in numpy


def _brute_force_soft_min(a, T, tau, wages, t):
    """Every firm's soft-min cost and labour per unit, by enumerating all M^N paths of the chain (plain
    numpy): ``MC = −t ln Σ_paths exp(−cost/t)`` (the log-sum-exp semiring, so the recursion's soft-min is
    this exactly) and ``ℓ_k = Σ_paths π(path) Σ_i 1(c_i = k) a_ik`` with ``π`` the soft-argmin weights
    (``∂MC/∂w_k``)."""
    import itertools

    a, T, w = np.asarray(a), np.asarray(T), np.asarray(wages)
    f, n, m = a.shape
    costs, labour = [], []
    for path in itertools.product(range(m), repeat=n):
        c = np.array(path)
        lab = np.zeros((f, m))
        for i, k in enumerate(c):
            lab[:, k] += a[:, i, k]
        costs.append(lab @ w + tau * sum(T[c[i], c[i + 1]] for i in range(n - 1)))
        labour.append(lab)
    costs, labour = np.stack(costs), np.stack(labour)  # (paths, F), (paths, F, M)
    lo = costs.min(axis=0)
    e = np.exp(-(costs - lo) / t)
    mc = lo - t * np.log(e.sum(axis=0))
    pi = e / e.sum(axis=0)
    return mc, np.einsum("pf,pfm->fm", pi, labour)


@pytest.mark.parametrize(("closure", "m"), [("full_employment", 2), ("full_employment", 3),
                                             pytest.param("numeraire_sector", 2, marks=pytest.mark.slow),
                                             pytest.param("numeraire_sector", 3, marks=pytest.mark.slow)])
def test_every_equilibrium_condition_holds_at_the_returned_solution(closure, m):
    """Independent check of the returned wage equilibrium (004 §3.5 with §4.1-4.4): from the returned
    wages, mass of firms ``S`` and price index ``P`` alone, with plain numpy over every firm's M^N paths,

    - the price index is the CES aggregate, ``P^{1−σ} = S E[p^{1−σ}]``, ``p = σ/(σ−1) MC`` (§4.4);
    - free entry: expected profit ``E[r]/σ = E[P^{D/(1−ζ)} p^{1−σ}]/σ = f_s`` (corrected eq. 11);
    - labour markets: ``S E[q(MC) ℓ_k] = L_k`` in every country (full employment, footnote 31), or in
      countries 2..M with ``L_1 − L_1^D`` the homogeneous sector's labour (numeraire sector).

    The old full-employment closure (w_1 = 1 fixed, S rescaled to employ L_1 at an unchanged P) broke the
    price index by a factor ``L_1/L_1^D``: quasi-linear demand is not homogeneous of degree zero in the
    wages, so without the homogeneous sector the wage level is an unknown, not a normalisation."""
    sigma, zeta, f_s, t, tau = 4.0, 0.5, 0.3, 0.05, 0.3
    a = _draws(21 + m, 40, 3, m)
    supply = jnp.asarray([1.0, 2.0, 0.7][:m])
    eq = solve_wages(a, _t(m), tau, supply, demand=DEMAND, f_s=f_s, temperature=t, closure=closure)
    assert eq.result == optx.RESULTS.successful
    w, S, P = np.asarray(eq.wages), float(eq.mass_of_firms), float(eq.price_index)
    mc, ell = _brute_force_soft_min(a, _t(m), tau, w, t)
    p = sigma / (sigma - 1.0) * mc
    np.testing.assert_allclose(P ** (1 - sigma), S * np.mean(p ** (1 - sigma)), rtol=1e-10)  # price index
    d_exp = (sigma - 1 - zeta * sigma) / (1 - zeta)
    np.testing.assert_allclose(np.mean(P**d_exp * p ** (1 - sigma)) / sigma, f_s, rtol=1e-10)  # free entry
    ld = S * np.mean((P**d_exp * p ** (-sigma))[:, None] * ell, axis=0)  # S E[q(MC) ℓ_k]
    np.testing.assert_allclose(np.asarray(eq.labour_demand), ld, rtol=1e-9)
    cleared = slice(0, m) if closure == "full_employment" else slice(1, m)
    np.testing.assert_allclose(ld[cleared], np.asarray(supply)[cleared], rtol=1e-9)
    if closure == "numeraire_sector":
        assert w[0] == 1.0
        np.testing.assert_allclose(float(eq.numeraire_sector_labour), float(supply[0]) - ld[0], rtol=1e-12)
    else:
        np.testing.assert_allclose(float(eq.numeraire_sector_labour), 0.0, atol=1e-9)


def test_exact_solver_that_does_not_converge_raises_a_named_error():
    """A failed exact solve raises :class:`JaxtradeSolveError` (the selection engine's error for failed
    solves) stating the residual and the tolerance; ``throw=False`` returns the result code instead."""
    from jaxtrade.engine.selection import JaxtradeSolveError

    a = _draws(6, 200, 3, 2)
    kw = dict(demand=DEMAND, f_s=0.3, max_steps=4)
    with pytest.raises(JaxtradeSolveError, match=r"residual max\|ln L\^D - ln L\| = .*tolerance rtol = 1e-12, atol = 1e-12"):
        solve_wages(a, _t(2), 0.3, jnp.array([1e6, 1.0]), **kw)
    eq = solve_wages(a, _t(2), 0.3, jnp.array([1e6, 1.0]), throw=False, **kw)
    assert eq.result != optx.RESULTS.successful


def _exact_or_soft_labour_demand(log_w, lab, trans, sigma, zeta, f_s, t=None):
    """Plain-numpy ``L^D`` (004 §3.5 with §4.4 free entry) at a batch of log wages ``(G, 2)``, over every
    path of the chain: ``lab`` ``(paths, F, 2)`` labour per unit of each path, ``trans`` ``(paths,)`` its
    additive trade cost. Exact minimum (``t=None``) or the soft-min at temperature ``t``."""
    c = np.einsum("pfk,gk->gpf", lab, np.exp(log_w)) + trans[None, :, None]
    lo = c.min(axis=1)
    if t is None:
        mc, ell = lo, np.take_along_axis(lab[None], c.argmin(axis=1)[:, None, :, None], axis=1)[:, 0]
    else:
        e = np.exp(-(c - lo[:, None]) / t)
        mc, ell = lo - t * np.log(e.sum(axis=1)), np.einsum("gpf,pfk->gfk", e / e.sum(axis=1)[:, None], lab)
    d = sigma - 1 - zeta * sigma
    m1 = np.mean(mc ** (1 - sigma), axis=1)
    p_tilde = sigma / (sigma - 1) * m1 ** (1 / (1 - sigma))
    mass = (sigma * f_s) ** (-(1 - zeta) * (sigma - 1) / d) * p_tilde ** (-zeta * (sigma - 1) / d)  # free entry + price index
    return (sigma - 1) * f_s * mass[:, None] * np.einsum("gf,gfk->gk", mc ** (-sigma), ell) / mc.shape[1] / m1[:, None]


def _market_1_along_market_2_clearing(y1, lab, trans, par, supply, t=None):
    """For each ``ln w_1`` the ``ln w_2`` that clears market 2 (bisection: own-wage excess demand falls, the
    aggregate Lemma 2) and market 1's log excess demand there."""
    span = 40.0 if t is None else 4.0  # the soft-min cost turns negative far below the temperature's scale
    lo, hi = y1 - span, y1 + span
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = _exact_or_soft_labour_demand(np.stack([y1, mid], 1), lab, trans, *par, t=t)[:, 1] > supply[1]
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    y2 = 0.5 * (lo + hi)
    ld = _exact_or_soft_labour_demand(np.stack([y1, y2], 1), lab, trans, *par, t=t)
    if t is not None:  # the exact demand is a step function: market 2 then clears at a jump (its crossing)
        np.testing.assert_allclose(ld[:, 1], supply[1], rtol=1e-6)
    with np.errstate(divide="ignore"):  # the exact L_1^D is 0 at extreme wages: ln = −∞, a negative sign
        return y2, np.log(ld[:, 0] / supply[0])


def test_full_employment_equilibrium_is_unique_on_random_two_country_economies():
    """Proposition 8 under the full-employment closure (footnote 31, M = 2): on 10 random small chain economies
    (Pareto or lognormal costs with country and stage productivity gaps, additive τ from 0 to 10× the mean
    cost, σ, ζ, f_s, L_1, L_2 random) market 1's excess demand along market 2's clearing curve changes sign
    exactly once, from + (low wages) to −, over ln w_1 ∈ [−10, 10] with the exact minimum and over ±1.5 around the
    solution with the soft-min; the smooth solver (temperature 1% of a firm's cost at that level) from two starts, ``level·(0.3, 3)``
    and ``level·(3, 0.3)``, ends at that one crossing. Plain
    numpy over all 2^N paths (independent of the solver). Evidence, not proof: see docs/equilibrium.md."""
    n_firms, n_stages = 40, 3
    paths = np.array(list(itertools.product([0, 1], repeat=n_stages)))

    @jax.jit  # one compilation for all economies (same shapes)
    def solve(a, tau, supply, sigma, zeta, f_s, t, start):
        eq = solve_wages(a, _t(2), tau, supply, demand=QuasiLinearCES(sigma, zeta), f_s=f_s, temperature=t,
                         closure="full_employment", initial_wages=start)
        return eq.wages, eq.result == optx.RESULTS.successful

    rng = np.random.default_rng(2026)
    for _ in range(10):
        if rng.random() < 0.5:
            a = (1 - rng.random((n_firms, n_stages, 2))) ** (-1 / rng.uniform(1.2, 4.0))
        else:
            a = np.exp(rng.normal(0.0, rng.uniform(0.2, 1.5), (n_firms, n_stages, 2)))
        a[:, :, 1] *= np.exp(rng.normal(0.0, 1.0))
        a[:, :, 0] *= np.exp(rng.normal(0.0, 0.5, (1, n_stages)))
        sigma = rng.uniform(2.0, 9.0)
        zeta = rng.uniform(0.0, 0.9) * (sigma - 1) / sigma  # D = σ − 1 − ζσ > 0
        f_s = np.exp(rng.normal(0.0, 0.7))
        tau = float(np.mean(a)) * rng.choice([0.0, rng.uniform(0.0, 0.5), rng.uniform(0.5, 10.0)])
        supply = np.array([1.0, np.exp(rng.normal(0.0, 1.0))]) * np.exp(rng.normal(0.0, 0.7))
        lab = np.zeros((len(paths), n_firms, 2))
        for p, c in enumerate(paths):
            for i, k in enumerate(c):
                lab[p, :, k] += a[:, i, k]
        trans = tau * np.abs(np.diff(paths, axis=1)).sum(axis=1)
        par = (sigma, zeta, f_s)
        y1 = np.linspace(-10.0, 10.0, 401)
        _, z1 = _market_1_along_market_2_clearing(y1, lab, trans, par, supply)
        s = np.sign(z1[z1 != 0])
        assert s[0] > 0 > s[-1] and np.sum(s[1:] != s[:-1]) == 1, (sigma, zeta, f_s, tau, supply)
        # soft-min temperature 1% of a firm's cost at the exact equilibrium's wage level
        level = float(np.exp(y1[np.argmax(z1 <= 0)]))
        t = 0.01 * float(np.mean(a)) * n_stages * level
        ends = []
        for start in ([0.3, 3.0], [3.0, 0.3]):  # relative to the exact equilibrium's wage level
            wages, ok = solve(*(jnp.asarray(x) for x in (a, tau, supply, sigma, zeta, f_s, t, level * np.asarray(start))))
            assert bool(ok)
            ends.append(np.log(np.asarray(wages)))
        np.testing.assert_allclose(ends[1], ends[0], atol=1e-8)
        y1 = ends[0][0] + np.linspace(-1.5, 1.5, 121)
        y2, z1 = _market_1_along_market_2_clearing(y1, lab, trans, par, supply, t=t)
        assert np.all(np.isfinite(z1))
        s = np.sign(z1[z1 != 0])
        cross = np.nonzero(s[1:] != s[:-1])[0]
        assert s[0] > 0 > s[-1] and len(cross) == 1, (sigma, zeta, f_s, tau, supply)
        i = cross[0]
        assert y1[i] <= ends[0][0] <= y1[i + 1]  # the solver's root is the one crossing
        np.testing.assert_allclose(ends[0][1], np.interp(ends[0][0], y1[i:i + 2], y2[i:i + 2]), atol=1e-3)
