"""The decomposition of the gains from trade (004 §5.3 steps 6-8).

Checks: a hand-computed one-firm example (Proposition 4's numbers); agreement with a direct NumPy
computation from the firm solver; the ordering total ≤ direct ≤ 0 (Propositions 1 and 3) as a
property test; limits (no offshoring at τ; τ' = τ); seeded invariance to the chunk size; and the
Monte Carlo standard errors against the spread of independent replications.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxtrade.models.decomposition import decompose, decompose_costs
from jaxtrade.models.sequential_ge import QuasiLinearCES, free_entry_closed_form, welfare_elasticity
from jaxtrade.engine.production import evaluate_path, solve_chain
from jaxtrade.engine.validation import JaxtradeInputError
from jaxtrade.distributions import Pareto

T2 = jnp.array([[0.0, 1.0], [1.0, 0.0]])


def _costs(n, n_stages=6, seed=0, shape=1.5, scale=0.5, wage=1.0, dtype=jnp.float64):
    u = jax.random.uniform(jax.random.key(seed), (n, n_stages, 2), dtype=dtype, minval=1e-12, maxval=1.0)
    a = Pareto(shape, scale).icdf(u)
    return a * jnp.array([1.0, wage], dtype)[None, None, :]


def test_proposition_4_firm_by_hand():
    """a_1 = (4,4,4,4,4), a_2 = (10,2,5,2,10): path 12221 at τ = 1 (MC 19), 12121 at τ = 0.3 (MC 17.2);
    the τ = 1 path re-evaluated at 0.3 costs 17.6. With one firm type M̃C = MC."""
    a = jnp.array([[4.0, 10.0], [4.0, 2.0], [4.0, 5.0], [4.0, 2.0], [4.0, 10.0]])
    costs = jnp.stack([a, a])  # two identical firms (two batches)
    d = decompose_costs(costs, T2, 1.0, 0.3, sigma=4.0, n_batches=2)
    np.testing.assert_allclose(float(d.aggregate_cost), 19.0, rtol=1e-12)
    np.testing.assert_allclose(float(d.aggregate_cost_new), 17.2, rtol=1e-12)
    np.testing.assert_allclose(float(d.aggregate_cost_direct), 17.6, rtol=1e-12)
    np.testing.assert_allclose(float(d.total_log_change), np.log(17.2 / 19.0), rtol=1e-12)
    np.testing.assert_allclose(float(d.direct_log_change), np.log(17.6 / 19.0), rtol=1e-12)
    np.testing.assert_allclose(float(d.fragmentation_share), 1 - np.log(17.6 / 19) / np.log(17.2 / 19), rtol=1e-12)
    assert float(d.share_switching) == 1.0
    assert float(d.mean_crossings) == 2.0 and float(d.mean_crossings_new) == 4.0


def test_matches_direct_computation_from_the_firm_solver():
    sigma = 3.0
    a = _costs(3000, seed=1, wage=1.2)
    d = decompose_costs(a, T2, 0.6, 0.4, sigma=sigma, zeta=0.4, chunk_size=700)
    s0 = solve_chain(a, T2, 0.6)
    mc0 = np.asarray(s0.cost)
    mc1 = np.asarray(solve_chain(a, T2, 0.4).cost)
    mcd = np.asarray(evaluate_path(a, s0.path, T2, 0.4).cost)
    pm = lambda x: np.mean(x ** (1 - sigma)) ** (1 / (1 - sigma))  # noqa: E731
    total = np.log(pm(mc1) / pm(mc0))
    direct = np.log(pm(mcd) / pm(mc0))
    np.testing.assert_allclose(float(d.total_log_change), total, rtol=1e-10)
    np.testing.assert_allclose(float(d.direct_log_change), direct, rtol=1e-10)
    np.testing.assert_allclose(float(d.fragmentation_share), 1 - direct / total, rtol=1e-9)
    np.testing.assert_allclose(float(d.direct_share), direct / total, rtol=1e-9)
    el = float(welfare_elasticity(QuasiLinearCES(sigma, 0.4)))
    np.testing.assert_allclose(float(d.consumer_surplus_log_change), el * total, rtol=1e-10)
    np.testing.assert_allclose(float(d.consumer_surplus_log_change_direct), el * direct, rtol=1e-10)
    assert np.isnan(float(d.welfare_log_change))  # needs f_s and income


def test_welfare_levels_from_the_free_entry_equilibrium():
    sigma, zeta, f_s, income = 4.0, 0.5, 0.2, 3.0
    a = _costs(2000, seed=2)
    d = decompose_costs(a, T2, 0.8, 0.5, sigma=sigma, zeta=zeta, f_s=f_s, income=income)
    dem = QuasiLinearCES(sigma, zeta)
    w0 = free_entry_closed_form(dem, d.aggregate_cost, f_s, income=income)
    w1 = free_entry_closed_form(dem, d.aggregate_cost_new, f_s, income=income)
    np.testing.assert_allclose(float(d.welfare_log_change), np.log(float(w1.welfare) / float(w0.welfare)), rtol=1e-10)
    np.testing.assert_allclose(float(d.consumer_surplus_log_change), np.log(float(w1.consumer_surplus) / float(w0.consumer_surplus)), rtol=1e-9)
    assert 0 < float(d.welfare_log_change) < float(d.consumer_surplus_log_change)


@given(seed=st.integers(0, 2**31 - 1), tau=st.floats(0.05, 3.0), cut=st.floats(0.05, 0.95), wage=st.floats(0.5, 2.0))
def test_total_gain_exceeds_direct_gain(seed, tau, cut, wage):
    """Per firm MC(τ') ≤ MC(path_τ, τ') ≤ MC(τ) ⇒ total ≤ direct ≤ 0 and 0 ≤ share ≤ 1."""
    a = _costs(64, seed=seed, wage=wage)
    d = decompose_costs(a, T2, tau, tau * cut, sigma=4.0, n_batches=4)
    tot, dire = float(d.total_log_change), float(d.direct_log_change)
    assert tot <= dire + 1e-12
    assert dire <= 1e-12
    if tot < -1e-9:
        assert -1e-9 <= float(d.fragmentation_share) <= 1 + 1e-9


def test_no_offshoring_at_the_start_means_all_gains_are_fragmentation():
    """τ so high that no firm offshores: paths have TQ = 0, the direct effect is zero, the share is 1."""
    a = _costs(2000, seed=3)
    d = decompose_costs(a, T2, 1e6, 0.3, sigma=4.0)
    assert float(d.mean_crossings) == 0.0
    assert float(d.direct_log_change) == 0.0
    assert float(d.total_log_change) < -0.01
    assert float(d.fragmentation_share) == 1.0


def test_unchanged_tau_gives_zero_changes():
    a = _costs(500, seed=4)
    d = decompose_costs(a, T2, 0.5, 0.5, sigma=4.0)
    assert float(d.total_log_change) == 0.0 and float(d.direct_log_change) == 0.0
    assert float(d.share_switching) == 0.0


def test_results_do_not_depend_on_the_chunk_size():
    a = _costs(1000, seed=5)
    d1 = decompose_costs(a, T2, 0.7, 0.5, sigma=4.0, n_batches=10)
    d2 = decompose_costs(a, T2, 0.7, 0.5, sigma=4.0, n_batches=10, chunk_size=137)
    for f in ("total_log_change", "direct_log_change", "fragmentation_share", "fragmentation_share_se", "total_log_change_se"):
        np.testing.assert_allclose(float(getattr(d1, f)), float(getattr(d2, f)), rtol=1e-10, err_msg=f)


def test_standard_errors_match_the_spread_of_replications():
    """Batch-means SEs vs the standard deviation of 24 independent replications (same design)."""
    reps = [decompose_costs(_costs(3000, seed=100 + r, shape=3.0), T2, 0.9, 0.6, sigma=4.0, n_batches=25) for r in range(24)]
    for est, se in [("total_log_change", "total_log_change_se"), ("fragmentation_share", "fragmentation_share_se")]:
        values = np.array([float(getattr(d, est)) for d in reps])
        ses = np.array([float(getattr(d, se)) for d in reps])
        ratio = values.std(ddof=1) / ses.mean()
        # sd of 24 draws is within ±35% of its truth with high probability (chi² with 23 df: 0.6-1.4 at ~99%).
        assert 0.6 < ratio < 1.5, (est, ratio)


def test_destinations_give_one_decomposition_per_market():
    a = _costs(800, seed=6)
    dest = jnp.array([[0.0, 0.4], [0.4, 0.0]])
    d = decompose_costs(a, T2, 0.7, 0.4, sigma=4.0, destination_costs=dest)
    assert d.total_log_change.shape == (2,)
    for k in range(2):
        dk = decompose_costs(a, T2, 0.7, 0.4, sigma=4.0, destination_costs=dest[:, k : k + 1])
        np.testing.assert_allclose(float(d.total_log_change[k]), float(dk.total_log_change[0]), rtol=1e-12)
        np.testing.assert_allclose(float(d.fragmentation_share[k]), float(dk.fragmentation_share[0]), rtol=1e-12)


def test_consumer_surplus_of_destination_markets_that_share_one_free_entry_condition():
    """With destinations a firm enters once for every market (004 §4.5), so market d's CS_d depends on every
    market's M̃C: d ln CS_d is the change of the shared-entry closed forms (jaxtrade.free_entry_closed_form on
    the (D,) M̃C), not eq. (13) market by market; it agrees with welfare_log_change. Its delta-method SE
    (covariance across markets) matches the spread of 24 independent replications."""
    demand = QuasiLinearCES(4.0, 0.5)
    dest = jnp.array([[0.0, 2.0], [0.1, 0.0]])  # market 1 is served mostly from country 1: different M̃C changes
    a = _costs(4000, n_stages=4, seed=9)
    d = decompose_costs(a, T2, 0.7, 0.3, sigma=4.0, zeta=0.5, f_s=1.3, income=10.0, destination_costs=dest)
    eq = [free_entry_closed_form(demand, m, 1.3, income=10.0) for m in (d.aggregate_cost, d.aggregate_cost_new, d.aggregate_cost_direct)]
    cs = [np.asarray(e.consumer_surplus) for e in eq]
    np.testing.assert_allclose(np.asarray(d.consumer_surplus_log_change), np.log(cs[1] / cs[0]), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d.consumer_surplus_log_change_direct), np.log(cs[2] / cs[0]), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d.welfare_log_change), np.log((10.0 + cs[1]) / (10.0 + cs[0])), rtol=1e-10)
    el = float(welfare_elasticity(demand))
    assert np.max(np.abs(np.asarray(d.consumer_surplus_log_change) / (el * np.asarray(d.total_log_change)) - 1)) > 0.02  # not eq. (13)
    reps = [decompose_costs(_costs(3000, n_stages=4, seed=200 + r, shape=3.0), T2, 0.9, 0.6, sigma=4.0, zeta=0.5, n_batches=25,
                            destination_costs=dest) for r in range(24)]  # fmt: skip
    values = np.array([np.asarray(r.consumer_surplus_log_change) for r in reps])
    ses = np.array([np.asarray(r.consumer_surplus_log_change_se) for r in reps])
    ratio = values.std(axis=0, ddof=1) / ses.mean(axis=0)
    assert np.all((0.6 < ratio) & (ratio < 1.5)), ratio


def test_input_validation():
    a = _costs(10)
    with pytest.raises(JaxtradeInputError, match="sigma"):
        decompose_costs(a, T2, 0.5, 0.4, sigma=1.0)
    with pytest.raises(JaxtradeInputError, match="n_batches"):
        decompose_costs(a, T2, 0.5, 0.4, sigma=4.0, n_batches=11)
    with pytest.raises(JaxtradeInputError, match="zeta"):
        decompose_costs(a, T2, 0.5, 0.4, sigma=4.0, zeta=0.9)
    with pytest.raises(JaxtradeInputError, match="tau_new"):
        decompose_costs(a, T2, 0.5, -0.4, sigma=4.0, n_batches=2)
    with pytest.raises(JaxtradeInputError, match="tau_new"):
        decompose_costs(a, T2, 0.5, float("nan"), sigma=4.0, n_batches=2)


def test_decompose_from_a_model_uses_common_random_numbers():
    """``decompose(model, ...)`` equals ``decompose_costs`` on the model's own draws."""
    from jaxtrade.engine.simulate import SequentialModel, simulate

    model = SequentialModel(6, T2, 0.7, Pareto(1.5, 0.5), wages=jnp.array([1.0, 1.2]))
    d = decompose(model, 0.5, n_firms=2000, seed=3, sigma=4.0, dtype=jnp.float64, chunk_size=600)
    from jaxtrade.models.decomposition import _model_chunk_costs

    a = _model_chunk_costs(model, 3, 0, 2000, jnp.float64)
    d2 = decompose_costs(a, T2, 0.7, 0.5, sigma=4.0, wages=jnp.array([1.0, 1.2]))
    np.testing.assert_allclose(float(d.total_log_change), float(d2.total_log_change), rtol=1e-10)
    np.testing.assert_allclose(float(d.fragmentation_share), float(d2.fragmentation_share), rtol=1e-10)
    assert float(d.total_log_change) < 0
    # ... and the same firms as jaxtrade.simulate: M̃C under τ from simulate's kept costs.
    sim = simulate(model, 2000, seed=3, keep=True, sigma=4.0, dtype=jnp.float64, paths=False)
    mc = np.asarray(sim.cost)
    np.testing.assert_allclose(float(d.aggregate_cost), np.mean(mc**-3.0) ** (-1 / 3.0), rtol=1e-10)


@given(seed=st.integers(0, 2**31 - 1), tau=st.floats(0.05, 3.0), cut=st.floats(0.05, 0.95))
def test_fragmentation_gain_per_firm_is_second_order(seed, tau, cut):
    """Per firm: direct gain = TQ_τ Δτ and fragmentation gain ≤ (TQ_τ' − TQ_τ) Δτ (optimality at τ).

    Why small cuts in τ give small fragmentation shares (the envelope theorem, Lemma 1)."""
    a = _costs(64, seed=seed, wage=1.3)
    tau_new = tau * cut
    s0 = solve_chain(a, T2, tau)
    s1 = solve_chain(a, T2, tau_new)
    fixed = evaluate_path(a, s0.path, T2, tau_new)
    dtau = tau - tau_new
    np.testing.assert_allclose(np.asarray(s0.cost - fixed.cost), np.asarray(s0.transport_quantity) * dtau, rtol=1e-10, atol=1e-12)
    frag = np.asarray(fixed.cost - s1.cost)
    assert np.all(frag >= -1e-12)
    assert np.all(frag <= np.asarray(s1.transport_quantity - s0.transport_quantity) * dtau + 1e-10)


def test_cli_decompose_writes_table_json_and_png(tmp_path, capsys):
    import argparse
    import json

    from jaxtrade.cli import decompose as _cli_decompose

    parser = argparse.ArgumentParser(prog="jaxtrade")
    _cli_decompose.register(parser.add_subparsers())
    args = parser.parse_args(["decompose", "--firms", "20000", "--batches", "8", "--draws-are", "productivity", "--wage-reading", "china-inverse", "--out-dir", str(tmp_path)])
    assert (args.tau0, args.tau1, args.sigma, args.zeta, args.stages, args.shape, args.scale, args.wage) == (0.49, 0.45, 4.0, 0.5, 10, 0.42, 0.13, 1.18)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "fragmentation" in out and "24.6%" in out
    data = json.loads((tmp_path / "decompose.json").read_text())
    (row,) = data["results"]
    assert row["draws_are"] == "productivity" and row["wage_reading"] == "china-inverse"
    assert row["total_log_change"] <= row["direct_log_change"] < 0
    assert 0 <= row["fragmentation_share"] <= 1
    assert (tmp_path / "decompose.png").stat().st_size > 1000
    from jaxtrade.cli import main

    assert main(["decompose", "--firms", "100", "--zeta", "0.9", "--out-dir", str(tmp_path)]) == 2  # named error, exit 2


def test_multiplying_the_other_countrys_costs_is_a_relabelling():
    """Wages (w, 1) vs (1, w) with i.i.d. identical draws and symmetric T: the same MC distribution.
    With the draws' columns swapped as well the two decompositions coincide firm by firm."""
    a = _costs(2000, seed=8)
    d1 = decompose_costs(a, T2, 0.49, 0.45, sigma=4.0, wages=jnp.array([1.0, 1.18]))
    d2 = decompose_costs(a[..., ::-1], T2, 0.49, 0.45, sigma=4.0, wages=jnp.array([1.18, 1.0]))
    np.testing.assert_allclose(float(d1.fragmentation_share), float(d2.fragmentation_share), rtol=1e-10)
    np.testing.assert_allclose(float(d1.total_log_change), float(d2.total_log_change), rtol=1e-10)


def test_decompose_from_a_model_does_not_depend_on_the_chunking():
    """Two blocks of 65,536 firms in one kernel call or in two (the second padded and masked)."""
    from jaxtrade.engine.simulate import SequentialModel

    model = SequentialModel(4, T2, 0.6, Pareto(1.5, 0.5))
    d1 = decompose(model, 0.4, n_firms=70_000, sigma=4.0, dtype=jnp.float64, n_batches=10)
    d2 = decompose(model, 0.4, n_firms=70_000, sigma=4.0, dtype=jnp.float64, n_batches=10, chunk_size=1)
    for f in ("total_log_change", "direct_log_change", "fragmentation_share", "fragmentation_share_se", "share_switching", "mean_crossings"):
        np.testing.assert_allclose(float(getattr(d1, f)), float(getattr(d2, f)), rtol=1e-10, err_msg=f)
    assert d1.n_firms == 70_000


def _power_mean(mc, sigma):
    return np.mean(np.asarray(mc, np.float64) ** (1.0 - sigma), axis=0) ** (1.0 / (1.0 - sigma))


@pytest.mark.parametrize("value_dependent", [False, True])
@pytest.mark.parametrize("destinations", [False, True])
def test_tree_decomposition_matches_brute_force_firm_by_firm(value_dependent, destinations):
    """Trees (004 §2.2) through the decomposition: every firm's optimal cost at τ and τ' by enumerating
    all M^n assignments, and the direct effect as the cost of its τ-optimal assignment at τ'; additive and
    value-dependent costs, asymmetric T, stage-dependent τ, wages, destinations with final shipping."""
    from jaxtrade import Tree, brute_force_tree, evaluate_tree_path

    tree = Tree([3, 3, 4, 4, -1])  # parts 0 and 1 assembled at 3; 3 and 2 assembled at the root 4
    rng = np.random.default_rng(5)
    n, m = 48, 3
    costs = jnp.asarray(rng.pareto(2.0, size=(n, 5, m)) + 0.5)
    T = jnp.asarray([[0.0, 1.0, 2.0], [0.7, 0.0, 1.5], [0.5, 1.2, 0.0]])
    tau, tau_new = jnp.asarray([0.9, 0.8, 1.0, 0.7]), jnp.asarray([0.3, 0.5, 0.2, 0.4])  # one τ per edge
    kw = dict(wages=jnp.asarray([1.0, 1.3, 0.8]), value_dependent=value_dependent)
    if destinations:
        kw["destination_costs"] = jnp.asarray([[0.0, 0.4], [0.3, 0.0], [0.6, 0.2]])
    d = decompose_costs(costs, T, tau, tau_new, sigma=4.0, n_batches=4, tree=tree, chunk_size=20, **kw)
    old = brute_force_tree(costs, tree, T, tau, **kw)
    new = brute_force_tree(costs, tree, T, tau_new, **kw)
    direct = evaluate_tree_path(costs, old.path, tree, T, tau_new, **kw).cost
    m0, m1, m2 = (_power_mean(x, 4.0) for x in (old.cost, new.cost, direct))
    np.testing.assert_allclose(d.aggregate_cost, m0, rtol=1e-11)
    np.testing.assert_allclose(d.aggregate_cost_new, m1, rtol=1e-11)
    np.testing.assert_allclose(d.aggregate_cost_direct, m2, rtol=1e-11)
    np.testing.assert_allclose(d.fragmentation_share, 1.0 - np.log(m2 / m0) / np.log(m1 / m0), rtol=1e-9)
    changed = np.any(np.asarray(old.path) != np.asarray(new.path), axis=1)
    np.testing.assert_allclose(d.share_switching, changed.mean(axis=0))
    assert np.all(np.asarray(d.total_log_change) <= np.asarray(d.direct_log_change) + 1e-12)


def test_decompose_a_tree_model_uses_the_same_firms_as_simulate():
    from jaxtrade import SequentialModel, Tree, firm_uniforms, simulate

    tree = Tree.spider(3)
    model = SequentialModel(4, T2, 0.6, Pareto(1.5, 0.5), tree=tree, wages=jnp.array([1.0, 1.2]), value_dependent=True)
    d = decompose(model, 0.3, n_firms=3000, seed=2, sigma=4.0, dtype=jnp.float64)
    a = model.astype(jnp.float64).costs_from_uniforms(firm_uniforms(3000, 4, 2, seed=2, dtype=jnp.float64))
    d2 = decompose_costs(a, T2, 0.6, 0.3, sigma=4.0, wages=jnp.array([1.0, 1.2]), value_dependent=True, tree=tree)
    np.testing.assert_allclose(float(d.fragmentation_share), float(d2.fragmentation_share), rtol=1e-10)
    sim = simulate(model, 3000, seed=2, keep=True, sigma=4.0, dtype=jnp.float64, paths=False)
    np.testing.assert_allclose(float(d.aggregate_cost), _power_mean(sim.cost, 4.0), rtol=1e-10)
    assert 0.0 <= float(d.fragmentation_share) <= 1.0
