"""The sequential-production engine (Tyazhelnikov 004 §2-3): brute force, propositions, gradients, errors."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxtrade as jt

TWO = np.array([[0.0, 1.0], [1.0, 0.0]])
taus = st.floats(0.0, 5.0, allow_nan=False)


@st.composite
def problems(draw, max_nodes=7, max_countries=4, firms=3):
    m = draw(st.integers(1, max_countries))
    n = draw(st.integers(1, max_nodes))
    while m**n > 4096:
        n -= 1
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0, 10, size=(firms, n, m))
    T = rng.uniform(0, 3, size=(m, m))  # asymmetric
    np.fill_diagonal(T, 0.0)
    stage_tau = draw(st.booleans())
    tau = rng.uniform(0, 2, size=(n - 1,)) if stage_tau and n > 1 else float(rng.uniform(0, 2))
    wages = rng.uniform(0.5, 2.0, size=m) if draw(st.booleans()) else None
    dest = rng.uniform(0, 5, size=(m, draw(st.integers(1, 3)))) if draw(st.booleans()) else None
    vd = draw(st.booleans())
    return dict(costs=costs, trade_costs=T, tau=tau, wages=wages, destination_costs=dest, value_dependent=vd)


def _fields(sol):
    return {k: np.asarray(getattr(sol, k)) for k in ("cost", "production_cost", "trade_cost", "transport_quantity", "labour", "crossings")}


@given(problems())
def test_chain_matches_brute_force(p):
    costs = p.pop("costs")
    dp = jt.solve_chain(costs, p["trade_costs"], p["tau"], **{k: v for k, v in p.items() if k not in ("trade_costs", "tau")})
    bf = jt.brute_force_chain(costs, p["trade_costs"], p["tau"], **{k: v for k, v in p.items() if k not in ("trade_costs", "tau")})
    np.testing.assert_allclose(dp.cost, bf.cost, rtol=1e-9, atol=0)
    # The DP path is optimal: its own cost (evaluated directly) equals the brute-force minimum.
    ev = jt.evaluate_path(costs, dp.path, p["trade_costs"], p["tau"], **{k: v for k, v in p.items() if k not in ("trade_costs", "tau")})
    np.testing.assert_allclose(ev.cost, bf.cost, rtol=1e-9)
    for k, v in _fields(ev).items():
        np.testing.assert_allclose(getattr(dp, k), v, rtol=1e-9, atol=1e-12, err_msg=k)


def _random_tree(rng, n):
    parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]  # node 0 is the root
    perm = rng.permutation(n)  # arbitrary numbering
    inv = np.argsort(perm)
    return jt.Tree([-1 if parent[inv[i]] == -1 else int(perm[parent[inv[i]]]) for i in range(n)])


@given(problems(max_nodes=7, max_countries=3))
def test_tree_matches_brute_force(p):
    costs = p["costs"]
    n = costs.shape[1]
    tree = _random_tree(np.random.default_rng(n * 7919 + costs.shape[2]), n)
    kw = dict(wages=p["wages"], value_dependent=p["value_dependent"], destination_costs=p["destination_costs"])
    dp = jt.solve_tree(costs, tree, p["trade_costs"], p["tau"], **kw)
    bf = jt.brute_force_tree(costs, tree, p["trade_costs"], p["tau"], **kw)
    np.testing.assert_allclose(dp.cost, bf.cost, rtol=1e-9)
    ev = jt.evaluate_tree_path(costs, dp.path, tree, p["trade_costs"], p["tau"], **kw)
    np.testing.assert_allclose(ev.cost, bf.cost, rtol=1e-9)


def test_large_brute_force_case_n8_m4():
    rng = np.random.default_rng(3)
    costs = rng.uniform(0, 10, size=(4, 8, 4))
    T = rng.uniform(0, 3, size=(4, 4))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0, 1, size=7)
    for vd in (False, True):
        dp = jt.solve_chain(costs, T, tau, value_dependent=vd, wages=np.array([1.0, 0.8, 1.3, 1.1]))
        bf = jt.brute_force_chain(costs, T, tau, value_dependent=vd, wages=np.array([1.0, 0.8, 1.3, 1.1]))
        np.testing.assert_allclose(dp.cost, bf.cost, rtol=1e-12)
        np.testing.assert_array_equal(dp.path, bf.path)


def test_long_chain_scan_agrees_with_unrolled_tree_engine(monkeypatch):
    """Long chains run as a lax.scan; the unrolled engine (via a renumbered tree) must agree."""
    from jaxtrade.engine import production as _production

    monkeypatch.setattr(_production, "_UNROLL_LIMIT", 0)  # force the scan for this chain
    monkeypatch.setattr(_production, "_UNROLL_LIMIT_WITH_PATH", 0)
    rng = np.random.default_rng(0)
    n, m = 40, 5
    costs = rng.uniform(0, 1, size=(16, n, m))
    T = rng.uniform(0, 1, size=(m, m))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0, 1, size=n - 1)
    chain = jt.solve_chain(costs, T, tau)
    g_chain = jax.grad(lambda c: jt.solve_chain(c, T, tau).cost.sum())(costs)
    # The same chain numbered backwards is not recognised as a chain: the unrolled tree engine solves it.
    rev = jt.Tree([-1] + list(range(n - 1)))
    tree = jt.solve_tree(costs[:, ::-1], rev, T, tau[::-1])
    np.testing.assert_allclose(chain.cost, tree.cost, rtol=1e-12)
    np.testing.assert_array_equal(chain.path, tree.path[:, ::-1])
    np.testing.assert_array_equal(g_chain, jax.nn.one_hot(chain.path, m))


@pytest.mark.parametrize("vd", [False, True])
def test_blocked_chain_scan_matches_unrolled_engine(monkeypatch, vd):
    """The scan over blocks of firms (a firm count that is not a multiple of the block, with
    destinations, wages and a stage-dependent τ) gives the unrolled engine's costs; the soft-min
    through it has the gradient of finite differences (float64)."""
    from jaxtrade.engine import production as _production

    rng = np.random.default_rng(5)
    f, n, m = 21, 9, 4
    costs = rng.uniform(0, 1, size=(f, n, m))
    T = rng.uniform(0, 1, size=(m, m))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0, 1, size=n - 1)
    kw = dict(wages=rng.uniform(0.5, 2, m), destination_costs=rng.uniform(0, 1, (m, 2)), value_dependent=vd)
    ref = jt.solve_chain(costs, T, tau, **kw).cost
    soft = lambda c, t: jt.solve_chain(c, T, t, temperature=0.2, **kw).cost.sum()  # noqa: E731
    soft_ref = soft(costs, tau)
    monkeypatch.setattr(_production, "_UNROLL_LIMIT", 0)
    monkeypatch.setattr(_production, "_UNROLL_LIMIT_WITH_PATH", 0)
    monkeypatch.setattr(_production, "_SCAN_BLOCK", 8)  # 3 blocks, the last one padded
    got = jax.jit(lambda c: jt.solve_chain(c, T, tau, **kw).cost)(costs)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(soft(costs, tau), soft_ref, rtol=1e-12)
    g_c, g_t = jax.grad(soft, argnums=(0, 1))(costs, tau)
    eps = 1e-6
    for idx in [(0, 0, 0), (20, 8, 3), (13, 4, 1)]:
        e = np.zeros_like(costs)
        e[idx] = eps
        np.testing.assert_allclose(g_c[idx], (soft(costs + e, tau) - soft(costs - e, tau)) / (2 * eps), rtol=1e-5, atol=1e-8)
    e = np.zeros_like(tau)
    e[3] = eps
    np.testing.assert_allclose(g_t[3], (soft(costs, tau + e) - soft(costs, tau - e)) / (2 * eps), rtol=1e-5, atol=1e-8)


# --- Forward (eq. 2) and reversed (eq. 3-4) induction ------------------------------------------


@given(st.integers(0, 10**6), st.integers(2, 7), st.integers(2, 4))
def test_reversed_induction_with_asymmetric_costs_and_stage_taus(seed, n, m):
    """Eq. (3)-(4) for any T and stage-dependent τ (additive costs): the chain read backwards is the same
    problem with the moves reversed, T transposed and τ_i in reverse order; the optimal path is the
    reversed path."""
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0, 5, size=(n, m))
    T = rng.uniform(0, 2, size=(m, m))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0, 1.5, size=(n - 1,))
    fwd = jt.solve_chain(costs, T, tau)
    rev = jt.solve_chain(costs[::-1], T.T, tau[::-1])
    np.testing.assert_allclose(fwd.cost, rev.cost, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(fwd.path), np.asarray(rev.path)[::-1])


def test_forward_and_reversed_induction_agree():
    """Eq. (3): reversing the order of stages leaves the problem unchanged for symmetric T."""
    rng = np.random.default_rng(1)
    costs = rng.uniform(0, 5, size=(200, 6, 3))
    T = rng.uniform(0, 2, size=(3, 3))
    T = T + T.T
    np.fill_diagonal(T, 0)
    fwd = jt.solve_chain(costs, T, 0.7)
    rev = jt.solve_chain(costs[:, ::-1], T, 0.7)
    np.testing.assert_allclose(fwd.cost, rev.cost, rtol=1e-12)


# --- Propositions and Lemma 1 ---------------------------------------------------------------


@given(st.integers(0, 10**6), st.integers(2, 8), st.integers(2, 4), taus, taus)
def test_footnote_23_cluster_size_non_decreasing_in_tau(seed, n, m, t0, t1):
    """Footnote 23: with the same transport cost between all pairs (T = 1 off the diagonal), the number of
    border crossings m is non-increasing in τ (Lemma 1: TQ = m), so the mean cluster size N/(m+1) is
    non-decreasing in τ."""
    lo, hi = sorted((t0, t1))
    a = np.random.default_rng(seed).uniform(0, 10, size=(n, m))
    T = 1.0 - np.eye(m)
    s_lo, s_hi = jt.solve_chain(a, T, lo), jt.solve_chain(a, T, hi)
    assert int(s_lo.crossings) >= int(s_hi.crossings)
    np.testing.assert_allclose(float(s_lo.transport_quantity), int(s_lo.crossings))
    assert n / (int(s_lo.crossings) + 1) <= n / (int(s_hi.crossings) + 1)


@st.composite
def trees(draw, max_nodes=6):
    n = draw(st.integers(2, max_nodes))
    parent = [draw(st.integers(i + 1, n - 1)) for i in range(n - 1)] + [-1]  # node i feeds a later node
    return jt.Tree(parent)


@given(trees(), st.integers(0, 10**6), st.integers(2, 3), taus, taus)
@settings(max_examples=40, deadline=None)
def test_propositions_1_3_5_and_lemma_1_on_trees(tree, seed, m, t0, t1):
    """Prop. 1 (MC non-decreasing in τ), Lemma 1 (TQ non-increasing), Prop. 3 (a changed assignment when
    τ falls has lower production cost) and Prop. 5's bounds Σ_parts min_j a ≤ MC ≤ min_j Σ_parts a, with
    equality at τ = 0 and τ → ∞, for tree technologies (004 §2.2, eq. 5)."""
    lo, hi = sorted((t0, t1))
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 10, size=(tree.n_nodes, m))
    T = rng.uniform(0.1, 2, size=(m, m))
    np.fill_diagonal(T, 0)
    s_lo, s_hi = jt.solve_tree(a, tree, T, lo), jt.solve_tree(a, tree, T, hi)
    assert float(s_lo.cost) <= float(s_hi.cost) + 1e-12
    assert float(s_lo.transport_quantity) >= float(s_hi.transport_quantity) - 1e-12
    if not np.array_equal(s_lo.path, s_hi.path) and lo < hi:
        assert float(s_lo.production_cost) <= float(s_hi.production_cost) + 1e-12
    lower, upper = a.min(axis=1).sum(), a.sum(axis=0).min()
    assert lower - 1e-9 <= float(s_lo.cost) <= upper + 1e-9
    np.testing.assert_allclose(jt.solve_tree(a, tree, T, 0.0).cost, lower, rtol=1e-12)
    np.testing.assert_allclose(jt.solve_tree(a, tree, T, 1e9).cost, upper, rtol=1e-12)
    np.testing.assert_allclose(s_lo.cost, jt.brute_force_tree(a, tree, T, lo).cost, rtol=1e-12)


def _firm(seed, n, m):
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.1, 2, size=(m, m))
    np.fill_diagonal(T, 0)
    return rng.uniform(0, 10, size=(n, m)), T




@given(st.integers(0, 10**6), st.integers(2, 7), st.integers(2, 4), taus, taus)
def test_proposition1_lemma1_proposition3(seed, n, m, t0, t1):
    """Prop. 1: MC non-decreasing in τ; Lemma 1: TQ non-increasing; Prop. 3: a change of the
    optimal path when τ falls lowers NTMC."""
    lo, hi = sorted((t0, t1))
    a, T = _firm(seed, n, m)
    s_lo, s_hi = jt.solve_chain(a, T, lo), jt.solve_chain(a, T, hi)
    assert s_lo.cost <= s_hi.cost + 1e-12
    assert s_lo.transport_quantity >= s_hi.transport_quantity - 1e-12
    if not np.array_equal(s_lo.path, s_hi.path) and lo < hi:
        # (unique optima almost surely with continuous draws)
        assert s_lo.production_cost <= s_hi.production_cost + 1e-12


@given(st.integers(0, 10**6), st.integers(2, 7), st.integers(2, 4), taus)
def test_proposition2_strict_increase_with_offshoring(seed, n, m, t):
    a, T = _firm(seed, n, m)
    s = jt.solve_chain(a, T, t + 0.5)
    if s.transport_quantity > 0:
        assert jt.solve_chain(a, T, t).cost < s.cost


@given(st.integers(0, 10**6), st.integers(1, 7), st.integers(1, 4), st.floats(0.0, 50.0))
def test_proposition5_bounds_and_limits(seed, n, m, t):
    """Prop. 5 and §3.2: Σ_i min_j a_ij <= MC(τ) <= min_j Σ_i a_ij, with equality at τ = 0 and τ → ∞."""
    a, T = _firm(seed, n, m)
    lower, upper = a.min(axis=1).sum(), a.sum(axis=0).min()
    c = float(jt.solve_chain(a, T, t).cost)
    assert lower - 1e-9 <= c <= upper + 1e-9
    np.testing.assert_allclose(jt.solve_chain(a, T, 0.0).cost, lower, rtol=1e-12)
    np.testing.assert_allclose(jt.solve_chain(a, T, 1e9).cost, upper, rtol=1e-12)


def test_proposition4_reshoring_example():
    """Prop. 4: a1 = (4,4,4,4,4), a2 = (10,2,5,2,10): paths at τ = 2, 1, 0.25; switches at 1.5, 0.5."""
    a = np.array([[4, 10], [4, 2], [4, 5], [4, 2], [4, 10]], float)
    expected = {2.0: [1, 1, 1, 1, 1], 1.0: [1, 2, 2, 2, 1], 0.25: [1, 2, 1, 2, 1]}
    for tau, path in expected.items():
        np.testing.assert_array_equal(jt.solve_chain(a, TWO, tau).path + 1, path)
    ev = lambda p, t: float(jt.evaluate_path(a, np.array(p) - 1, TWO, t).cost)  # noqa: E731
    # At the switch points the two paths tie; just above, the higher-τ path is strictly better.
    assert ev([1, 1, 1, 1, 1], 1.5) == pytest.approx(ev([1, 2, 2, 2, 1], 1.5), abs=1e-12)
    assert ev([1, 2, 2, 2, 1], 0.5) == pytest.approx(ev([1, 2, 1, 2, 1], 0.5), abs=1e-12)
    np.testing.assert_array_equal(jt.solve_chain(a, TWO, 1.5 + 1e-9).path + 1, [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(jt.solve_chain(a, TWO, 1.5 - 1e-9).path + 1, [1, 2, 2, 2, 1])
    np.testing.assert_array_equal(jt.solve_chain(a, TWO, 0.5 - 1e-9).path + 1, [1, 2, 1, 2, 1])
    np.testing.assert_array_equal(jt.solve_chain(a, TWO, 0.5 + 1e-9).path + 1, [1, 2, 2, 2, 1])


def test_proposition7_third_country_example():
    """Prop. 7: a bilateral liberalisation between 1 and 2 moves production to country 3."""
    a = np.array([[2, 8, 8], [7, 5, 8], [2, 8, 2]], float)  # rows: parts, columns: countries
    T0 = np.array([[0, 2, 2], [2, 0, 0.5], [2, 0.5, 0]])
    T1 = T0.copy()
    T1[0, 1] = T1[1, 0] = 1.0
    np.testing.assert_array_equal(jt.solve_chain(a, T0, 1.0).path + 1, [1, 1, 1])
    np.testing.assert_array_equal(jt.solve_chain(a, T1, 1.0).path + 1, [1, 2, 3])


@given(st.integers(0, 10**6), st.integers(2, 6), st.integers(2, 3))
def test_proposition6_destinations(seed, n, m):
    """Prop. 6: for τ^F above the total of all production costs, the last stage sits in the destination."""
    a, T = _firm(seed, n, m)
    tauF = a.sum() + 1.0
    dest = tauF * (1.0 - np.eye(m))
    s = jt.solve_chain(a, T, 0.5, destination_costs=dest)
    np.testing.assert_array_equal(s.path[-1], np.arange(m))


# --- Gradients: envelope theorem, finite differences ----------------------------------------


def test_envelope_gradients():
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 5, size=(64, 6, 3))
    T = rng.uniform(0.1, 2, size=(3, 3))
    np.fill_diagonal(T, 0)
    w = np.array([1.0, 0.9, 1.2])
    sol = jt.solve_chain(a, T, 0.4, wages=w)
    g_tau = jax.vmap(jax.grad(lambda c, t: jt.solve_chain(c, T, t, wages=w).cost, argnums=1), in_axes=(0, None))(a, 0.4)
    np.testing.assert_allclose(g_tau, sol.transport_quantity, rtol=1e-12)  # Lemma 1: ∂MC/∂τ = TQ
    g_a = jax.grad(lambda c: jt.solve_chain(c, T, 0.4, wages=w).cost.sum())(a)
    np.testing.assert_allclose(g_a, jax.nn.one_hot(sol.path, 3) * w[None, None, :], rtol=1e-12)  # path indicator × wage
    g_w = jax.jacrev(lambda ww: jt.solve_chain(a, T, 0.4, wages=ww).cost)(w)
    np.testing.assert_allclose(g_w, sol.labour, rtol=1e-12)  # ∂MC/∂w_k = L_Dk


@pytest.mark.parametrize(
    "dtype, n, m",
    [
        (np.float32, 20, 2),  # the path (20 bits) fits a float32 mantissa: cost and path leave the recursion as one complex array
        (np.float32, 9, 3),  # 18 bits: fits
        (np.float32, 13, 4),  # 26 bits: stored separately
        (np.float32, 30, 2),  # 30 bits: stored separately
        (np.float64, 40, 2),  # two uint32 words, 40 bits: fits a float64 mantissa (split back exactly)
        (np.float64, 60, 2),  # 60 bits: stored separately
    ],
)
def test_value_and_gradient_for_every_path_layout(dtype, n, m):
    """value_and_grad returns the forward cost and the envelope gradients however the path is stored."""
    rng = np.random.default_rng(n * 10 + m)
    a = rng.uniform(0, 1, size=(64, n, m)).astype(dtype)
    T = (1.0 - np.eye(m)).astype(dtype)
    tau, w = dtype(0.2), rng.uniform(0.8, 1.2, size=m).astype(dtype)
    sol = jt.solve_chain(a, T, tau, wages=w)
    assert sol.cost.dtype == dtype
    assert len(np.unique(np.asarray(sol.path)[:, -1])) > 1  # the highest bits of the packed path vary across firms
    value, pullback = jax.vjp(lambda c, t: jt.solve_chain(c, T, t, wages=w).cost, a, tau)
    g_a, g_tau = pullback(jnp.ones_like(value))
    np.testing.assert_allclose(value, sol.cost, rtol=2 * np.finfo(dtype).eps, atol=0)  # the primal survives the packing
    np.testing.assert_array_equal(g_a, np.asarray(jax.nn.one_hot(sol.path, m, dtype=dtype)) * w[None, None, :])  # ∂MC/∂a_ik = w_k 1(c_i = k)
    np.testing.assert_allclose(g_tau, np.asarray(sol.transport_quantity).sum(dtype=np.float64), rtol=64 * np.finfo(dtype).eps)  # Lemma 1


@pytest.mark.parametrize("vd", [False, True])
@pytest.mark.parametrize("dest", [False, True])
def test_gradients_match_finite_differences(vd, dest):
    rng = np.random.default_rng(11)
    a = rng.uniform(0.5, 5, size=(8, 5, 3))
    T = rng.uniform(0.1, 2, size=(3, 3))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0.1, 0.8, size=4)
    w = rng.uniform(0.7, 1.3, size=3)
    D = rng.uniform(0.1, 1.0, size=(3, 2)) if dest else None

    def f(a, T, tau, w, D):
        return jt.solve_chain(a, T, tau, wages=w, value_dependent=vd, destination_costs=D).cost.sum()

    args = [a, T, tau, w] + ([D] if dest else [])
    fn = (lambda *x: f(*x)) if dest else (lambda a, T, tau, w: f(a, T, tau, w, None))
    grads = jax.grad(fn, argnums=tuple(range(len(args))))(*args)
    h = 1e-6
    for i, (x, g) in enumerate(zip(args, grads)):
        for idx in list(np.ndindex(x.shape))[:12]:
            if x is T and idx[0] == idx[1]:
                continue  # the diagonal of T must stay zero
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            fd = (fn(*[xp if j == i else y for j, y in enumerate(args)]) - fn(*[xm if j == i else y for j, y in enumerate(args)])) / (2 * h)
            np.testing.assert_allclose(g[idx], fd, rtol=1e-6, atol=1e-7, err_msg=f"arg {i} index {idx}")


def test_soft_min_converges_and_is_smooth():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 5, size=(32, 6, 2))
    exact = jt.solve_chain(a, TWO, 0.5).cost
    errs = [float(jnp.max(jnp.abs(jt.solve_chain(a, TWO, 0.5, temperature=t).cost - exact))) for t in (1.0, 0.1, 0.01, 0.001)]
    assert all(e1 > e2 for e1, e2 in zip(errs, errs[1:]))  # shrinks monotonically
    assert errs[-1] < 6 * 0.001 * np.log(2)  # bounded by t·log(#paths through each min), N·log M
    g = jax.grad(lambda t: jt.solve_chain(a, TWO, t, temperature=0.05).cost.sum())(0.5)
    assert np.isfinite(g)


def test_jit_cost_only_and_batch_shapes():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(2, 3, 4, 2))
    sol = jt.solve_chain(a, TWO, 0.3)
    assert sol.cost.shape == (2, 3) and sol.path.shape == (2, 3, 4) and sol.labour.shape == (2, 3, 2)
    f = jax.jit(lambda c: jt.solve_chain(c, TWO, 0.3).cost)
    np.testing.assert_allclose(f(a), sol.cost)


# --- Trees ---------------------------------------------------------------------------------


def test_snake_and_spider_special_cases():
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 5, size=(20, 5, 2))
    np.testing.assert_allclose(jt.solve_tree(a, jt.Tree.chain(5), TWO, 0.3).cost, jt.solve_chain(a, TWO, 0.3).cost, rtol=1e-12)
    # Spider: every part is shipped to the assembly node independently:
    # MC = min_k [ asm_k + Σ_parts min_j (a_pj + τ T(j, k)) ].
    spider = jt.Tree.spider(4)
    tau = 0.7
    ref = np.min(
        [a[:, 4, k] + sum(np.min([a[:, p, j] + tau * TWO[j, k] for j in range(2)], axis=0) for p in range(4)) for k in range(2)], axis=0
    )
    np.testing.assert_allclose(jt.solve_tree(a, spider, TWO, tau).cost, ref, rtol=1e-12)


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(costs=np.ones(3)), "costs"),
        (dict(costs=-np.ones((4, 2))), ">= 0"),
        (dict(costs=np.full((4, 2), np.nan)), "finite"),
        (dict(trade_costs=np.ones((2, 2))), "diagonal"),
        (dict(trade_costs=np.array([[0, -1.0], [1, 0]])), ">= 0"),
        (dict(trade_costs=np.zeros((3, 3))), "shape"),
        (dict(tau=-1.0), "tau"),
        (dict(tau=np.ones(5)), r"\(3,\)"),
        (dict(wages=np.array([1.0, 0.0])), "wages"),
        (dict(wages=np.ones(3)), "wages"),
        (dict(destination_costs=np.ones(2)), "destination_costs"),
        (dict(temperature=0.0), "temperature"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    args = dict(costs=np.ones((4, 2)), trade_costs=TWO, tau=0.5)
    args.update(kwargs)
    costs, T, tau = args.pop("costs"), args.pop("trade_costs"), args.pop("tau")
    with pytest.raises(jt.JaxtradeInputError, match=match):
        jt.solve_chain(costs, T, tau, **args)


@pytest.mark.parametrize("parent, match", [([1, 0, -1], "cycle"), ([-1, -1], "exactly one root"), ([1, 2, 5, -1], "node index"), ([], "at least one")])
def test_bad_trees(parent, match):
    with pytest.raises(jt.JaxtradeInputError, match=match):
        jt.Tree(parent)


def test_second_derivatives_along_the_path():
    """Hessians (calibration's standard errors) are those of the cost along the optimal path:
    ∂²MC/∂w_k∂a_ik = 1(c_i = k), ∂²MC/∂τ² = 0, ∂²MC/∂a² = 0 (piecewise linear)."""
    rng = np.random.default_rng(8)
    a = rng.uniform(0.5, 5, size=(7, 3))
    T = rng.uniform(0.1, 2, size=(3, 3))
    np.fill_diagonal(T, 0)
    w = np.array([1.0, 0.9, 1.1])
    path = np.asarray(jt.solve_chain(a, T, 0.4, wages=w).path)
    cross = jax.jacfwd(jax.grad(lambda a_, w_: jt.solve_chain(a_, T, 0.4, wages=w_).cost, argnums=1), argnums=0)(a, w)  # (M, N, M)
    expected = np.stack([np.asarray(jax.nn.one_hot(path, 3)) * (np.arange(3) == k)[None, :] for k in range(3)])
    np.testing.assert_allclose(cross, expected, atol=1e-12)
    h_tau = jax.hessian(lambda t: jt.solve_chain(a, T, t, wages=w).cost)(0.4)
    assert abs(float(h_tau)) < 1e-12


def test_tree_from_the_papers_stage_branch_notation():
    """004 §2.2.3 / Figure 4: nodes ib with stage i (1 = final good), branch b, assembly sets Ω_ib and the
    branch v_ib of the next node. Two sub-chains (branches 1 and 2) meet at stage 2 of branch 1; branch 3
    joins branch 2 at stage 3."""
    nodes = [
        (1, 1, {1, 2}, None),  # the final good, assembled from stage-2 parts of branches 1 and 2
        (2, 1, {1}, 1),
        (2, 2, {2, 3}, 1),
        (3, 1, set(), 1),
        (3, 2, set(), 2),
        (3, 3, set(), 2),
    ]
    tree, labels = jt.Tree.from_stage_branch(nodes)
    assert labels == ((1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3))
    assert tree.parent == (-1, 0, 0, 1, 2, 2)
    # The same tree without Ω, and its solution equal to the hand-built parent list's, by brute force.
    tree2, _ = jt.Tree.from_stage_branch([(i, b, v) for i, b, _, v in nodes])
    a = np.random.default_rng(3).uniform(0, 5, size=(6, 3))
    T = np.random.default_rng(4).uniform(0, 2, size=(3, 3))
    np.fill_diagonal(T, 0)
    np.testing.assert_allclose(jt.solve_tree(a, tree2, T, 0.6).cost, jt.brute_force_tree(a, jt.Tree([-1, 0, 0, 1, 2, 2]), T, 0.6).cost, rtol=1e-12)
    with pytest.raises(jt.JaxtradeInputError, match="Ω_ib"):
        jt.Tree.from_stage_branch([(1, 1, {2}, None), (2, 1, set(), 1)])
    with pytest.raises(jt.JaxtradeInputError, match="no node"):
        jt.Tree.from_stage_branch([(1, 1, None), (2, 1, 4)])
    with pytest.raises(jt.JaxtradeInputError, match="one node"):
        jt.Tree.from_stage_branch([(1, 1, None), (1, 1, None)])
    with pytest.raises(jt.JaxtradeInputError, match="exactly one root"):
        jt.Tree.from_stage_branch([(1, 1, None), (1, 2, None)])


@given(trees(), st.integers(0, 10**6), st.integers(2, 4), taus, st.booleans())
@settings(max_examples=30, deadline=None)
def test_proposition_5_equality_condition(tree, seed, m, tau, dominant):
    """§3.2: min_j Σ_parts a_j = Σ_parts min_j a_j exactly when one country k is cheapest for every part
    (a_ij ≥ a_ik for all i, j); then MC(a, τ) equals both bounds at every τ, on chains and trees alike.
    Without such a country the bounds differ strictly."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 10, size=(tree.n_nodes, m))
    k = int(rng.integers(m))
    if dominant:
        a[:, k] = a.min(axis=1) - rng.uniform(0.0, 0.4, size=tree.n_nodes)  # country k cheapest for every part
    T = rng.uniform(0.1, 2, size=(m, m))
    np.fill_diagonal(T, 0)
    lower, upper = a.min(axis=1).sum(), a.sum(axis=0).min()
    has_dominant = any(np.all(a[:, j][:, None] <= a + 1e-15) for j in range(m))
    if has_dominant:
        np.testing.assert_allclose(lower, upper, rtol=1e-12)
        np.testing.assert_allclose(jt.solve_tree(a, tree, T, tau).cost, lower, rtol=1e-12)
        chain = jt.solve_chain(a, T, tau).cost
        np.testing.assert_allclose(chain, lower, rtol=1e-12)
    else:
        assert lower < upper
