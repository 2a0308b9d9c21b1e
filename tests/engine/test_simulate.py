"""Tests of ``jaxtrade.simulate``: random numbers, determinism (chunks, devices), agreement with the
solver, summaries, gradients against finite differences (float64), Propositions 5 and 9 of 004."""

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import jaxtrade
from jaxtrade import JaxtradeInputError
from jaxtrade.engine import simulate as _simulate_module
from jaxtrade import distributions as jd
from jaxtrade.engine.simulate import (
    FIRM_BLOCK,
    SequentialModel,
    _Summaries,
    _kernel,
    firm_uniforms,
    simulate,
)
from jaxtrade.engine import rng as _rng
from jaxtrade.engine.rng import philox4x32

T2 = np.array([[0.0, 1.0], [1.0, 0.0]])
T3 = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [0.5, 1.0, 0.0]])


def small_model(**kw):
    args = dict(stages=4, trade_costs=T2, tau=0.3, draws=jd.Pareto(2.0, 0.5), wages=[1.0, 1.2])
    args.update(kw)
    return SequentialModel(args.pop("stages"), args.pop("trade_costs"), args.pop("tau"), args.pop("draws"), **args)


# ----------------------------------------------------------------------------------------------
# Random numbers


def test_philox_known_answers():
    """Random123 known-answer vectors of Philox-4x32-10."""
    u = lambda *v: [jnp.asarray(np.uint32(x)) for x in v]  # noqa: E731
    cases = [
        ((0, 0, 0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 6, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ]
    for inp, out in cases:
        assert tuple(int(x) for x in philox4x32(*u(*inp))) == out


def test_range_uniforms_are_the_engine_stream(monkeypatch):
    """Chunks of any length and offset read exactly firm_uniforms' bits (a firm index above 2^32:
    carry into the high counter word), and the broadcast Philox path equals the unrolled one."""
    f64 = jnp.float64
    key = jnp.asarray(_rng.seed_key(7))
    gen = jax.jit(_rng.range_uniforms, static_argnums=(2, 3, 4, 5))
    u = np.asarray(_rng.firm_uniforms(66_000, 1, 7, seed=7, dtype=f64)[:, 0])
    for first in (0, 65_530, 123):
        assert np.array_equal(np.asarray(gen(key, jnp.asarray(_rng.u64_words(first)), 100, 7, f64, 23)), u[first : first + 100])
    f = 2**32 - 3
    ref = np.asarray(_rng.firm_uniforms(100, 1, 7, seed=7, dtype=f64, first_firm=f)[:, 0])
    assert np.array_equal(np.asarray(gen(key, jnp.asarray(_rng.u64_words(f)), 100, 7, f64, 23)), ref)
    c0 = jnp.arange(300, dtype=jnp.uint32)
    c1 = jnp.full_like(c0, 5)
    for dtype, bits, n in ((f64, 23, 201), (jnp.float32, 16, 270), (jnp.float32, 23, 135)):
        broadcast = np.asarray(_rng.counter_uniforms(key, c0, c1, n, dtype, bits))
        monkeypatch.setattr(_rng, "_UNROLL_CALLS", 10_000)
        unrolled = np.asarray(_rng.counter_uniforms(key, c0, c1, n, dtype, bits))
        monkeypatch.setattr(_rng, "_UNROLL_CALLS", 32)
        assert broadcast.shape == (300, n) and np.array_equal(broadcast, unrolled)


@pytest.mark.parametrize("bits", [16, 23])
def test_firm_uniforms_grid_range_and_uniformity(bits):
    u = np.asarray(firm_uniforms(40_000, 3, 2, seed=7, uniform_bits=bits))
    assert u.dtype == np.float32 and u.shape == (40_000, 3, 2)
    assert u.min() > 0 and u.max() < 1
    k = u.astype(np.float64) * 2.0**bits - 0.5  # on the grid (k + 1/2)/2^bits
    np.testing.assert_array_equal(k, np.round(k))
    flat = u.reshape(-1, 6)
    for j in range(6):
        assert st.kstest(flat[:, j], "uniform").pvalue > 1e-3
    corr = np.corrcoef(flat.T.astype(np.float64))
    assert np.max(np.abs(corr - np.eye(6))) < 5 / np.sqrt(40_000)


def test_firm_uniforms_depend_only_on_seed_and_firm():
    a = np.asarray(firm_uniforms(FIRM_BLOCK + 20, 2, 3, seed=11))
    b = np.asarray(firm_uniforms(30, 2, 3, seed=11, first_firm=FIRM_BLOCK - 10))
    np.testing.assert_array_equal(a[FIRM_BLOCK - 10 :], b)
    c = np.asarray(firm_uniforms(30, 2, 3, seed=12, first_firm=FIRM_BLOCK - 10))
    assert not np.any(b == c)  # another seed: another stream (a coincidence has probability ~1e-3)


def test_float64_uniforms_have_53_bits():
    u = np.asarray(firm_uniforms(1000, 2, 2, seed=3, dtype=jnp.float64))
    assert u.dtype == np.float64 and u.min() > 0 and u.max() < 1
    k = u * 2.0**53 - 0.5
    np.testing.assert_array_equal(k, np.round(k))
    assert np.mean(k % 2**30 != 0) > 0.99  # low bits are used


@pytest.mark.parametrize("bits", [16, 23])
def test_pareto_draws_ks(bits):
    """The simulated costs follow the Pareto cdf (KS at a fixed seed), resolution included."""
    model = small_model(draws=jd.Pareto(0.42, 0.13))
    u = firm_uniforms(50_000, 4, 2, seed=1, uniform_bits=bits)
    a = np.asarray(model.costs_from_uniforms(u), dtype=np.float64).reshape(-1)
    assert st.kstest(a, st.pareto(b=0.42, scale=0.13).cdf).pvalue > 1e-3


# ----------------------------------------------------------------------------------------------
# Agreement with the solver, summaries


def test_kept_costs_and_summary_match_direct_solve():
    model = small_model()
    n = 70_000  # two blocks, the second partial
    res = simulate(model, n, seed=5, keep=True, sigma=4.0)
    u = firm_uniforms(n, 4, 2, seed=5)
    m32 = model.astype(jnp.float32)
    sol = jaxtrade.solve_chain(m32.costs_from_uniforms(u), m32.trade_costs, m32.tau, wages=m32.wages)
    np.testing.assert_allclose(res.cost, sol.cost, rtol=2e-6)
    c = np.asarray(sol.cost, np.float64)
    s = res.summary
    assert s.n_firms == n and res.cost.shape == (n,)
    np.testing.assert_allclose(s.mean_cost, c.mean(), rtol=1e-5)
    np.testing.assert_allclose(s.std_cost, c.std(ddof=1), rtol=1e-4)
    np.testing.assert_allclose(s.power_mean, np.mean(c**-3.0) ** (-1 / 3.0), rtol=1e-5)
    assert s.min_cost == c.min() and s.max_cost == c.max()
    np.testing.assert_allclose(s.quantiles, np.quantile(c, s.quantile_levels), rtol=1e-6)
    path = np.asarray(sol.path)
    np.testing.assert_allclose(s.offshoring_share, np.mean(np.any(path != path[:, :1], axis=1)), rtol=1e-6)
    np.testing.assert_allclose(s.mean_crossings, np.mean(sol.crossings), rtol=1e-6)
    np.testing.assert_allclose(s.mean_cluster_size, np.mean(4 / (np.asarray(sol.crossings) + 1.0)), rtol=1e-6)
    np.testing.assert_allclose(s.mean_labour, np.asarray(sol.labour, np.float64).mean(axis=0), rtol=1e-5)
    assert s.log_cost_counts.sum() == n


def test_streamed_quantiles_within_a_histogram_bin_of_exact():
    model = small_model(draws=jd.LogNormal(0.0, 0.7))
    exact = simulate(model, 100_000, seed=2, keep=True).summary
    streamed = simulate(model, 100_000, seed=2, bins=512).summary
    assert exact.quantiles_exact and not streamed.quantiles_exact
    width = streamed.log_cost_edges[1] - streamed.log_cost_edges[0]
    assert np.all(np.abs(np.log(streamed.quantiles / exact.quantiles)) < width)
    np.testing.assert_allclose(streamed.mean_cost, exact.mean_cost, rtol=1e-6)
    np.testing.assert_array_equal(streamed.log_cost_counts.sum(), 100_000)


def test_chunk_size_invariance_bitwise_and_no_retrace(monkeypatch):
    model = small_model()
    n = 3 * FIRM_BLOCK + 123
    base = simulate(model, n, seed=9, keep=True, chunk_size=FIRM_BLOCK, sigma=3.0)
    for chunk in (2 * FIRM_BLOCK, 4 * FIRM_BLOCK):
        other = simulate(model, n, seed=9, keep=True, chunk_size=chunk, sigma=3.0)
        np.testing.assert_array_equal(other.cost, base.cost)
        np.testing.assert_allclose(other.summary.power_mean, base.summary.power_mean, rtol=1e-6)
        np.testing.assert_array_equal(other.summary.log_cost_counts, base.summary.log_cost_counts)
    # Any positive chunk size: rounded up to whole blocks (stated in the result), same firms bit for bit.
    for chunk, used in ((1, FIRM_BLOCK), (12_345, FIRM_BLOCK), (2 * FIRM_BLOCK + 1, 3 * FIRM_BLOCK)):
        odd = simulate(model, n, seed=9, keep=True, chunk_size=chunk, sigma=3.0)
        assert odd.chunk_size == used and odd.requested_chunk_size == chunk
        assert odd.n_chunks == -(-n // used)
        np.testing.assert_array_equal(odd.cost, base.cost)
        np.testing.assert_array_equal(odd.summary.log_cost_counts, base.summary.log_cost_counts)
        assert odd.summary.min_cost == base.summary.min_cost and odd.summary.max_cost == base.summary.max_cost
        np.testing.assert_allclose(odd.summary.power_mean, base.summary.power_mean, rtol=1e-6)
        np.testing.assert_allclose(odd.summary.offshoring_share, base.summary.offshoring_share, rtol=1e-12)
    assert base.requested_chunk_size == FIRM_BLOCK and simulate(model, 10, seed=9).requested_chunk_size is None
    # New parameter values, seeds and firm counts reuse the compiled kernel: its body is traced once.
    # (Counted by tracing, not by the jitted function's cache size, which read 0 in one full-suite run
    # although every call had gone through the kernel.)
    _kernel.cache_clear()
    traces = []
    body = _simulate_module._chunk_body
    monkeypatch.setattr(_simulate_module, "_chunk_body", lambda *a: (traces.append(a[-1]), body(*a))[1])
    for i, tau in enumerate([0.1, 0.2, 0.7]):
        simulate(eqx.tree_at(lambda m: m.tau, model, jnp.asarray(tau)), 2 * FIRM_BLOCK - i, seed=i,
                 chunk_size=2 * FIRM_BLOCK)
        simulate(small_model(draws=jd.Pareto(1.0 + i, 0.3)), 2 * FIRM_BLOCK, seed=i, chunk_size=2 * FIRM_BLOCK)
    _kernel.cache_clear()  # drop the kernel traced through the counting wrapper
    assert len(traces) == 1 and traces[0] == _Summaries(bins=2048, paths=True, keep=False, has_sigma=False)


def test_default_chunk_grows_with_accelerator_memory():
    """CPUs keep 2^23 draws a chunk; an accelerator gets 1/256 of its memory in draws, a power of two
    down, within [2^23, 2^28] (docs/simulation.md, "On a GPU"), and the chunk stays whole blocks."""

    class Device:
        def __init__(self, platform, stats):
            self.platform, self._stats = platform, stats

        def memory_stats(self):
            if isinstance(self._stats, Exception):
                raise self._stats
            return self._stats

    target = _simulate_module.target_chunk_elements
    assert target(jax.devices("cpu")[0]) == 1 << 23
    assert target(Device("cpu", {"bytes_limit": 1 << 40})) == 1 << 23
    assert target(Device("gpu", {"bytes_limit": 16 << 30})) == (16 << 30) // 256
    assert target(Device("gpu", {"bytes_limit": 12_000_000_000})) == 1 << 25  # 4.7e7 draws, a power of two down
    assert target(Device("gpu", {"bytes_limit": (16 << 30) - 4096})) == 1 << 25
    assert target(Device("gpu", {"bytes_limit": 141 << 30})) == 1 << 28
    assert target(Device("gpu", {"bytes_limit": 1 << 30})) == 1 << 23
    assert target(Device("gpu", None)) == 1 << 23
    assert target(Device("tpu", NotImplementedError())) == 1 << 23
    # N = 10, M = 2, 2^28 firms: 683 chunks at the CPU's target, 21 at 2^28 draws.
    n, k = 1 << 28, 20
    small, big = (_simulate_module.default_chunk_size(n, k, 1, t) for t in (1 << 23, 1 << 28))
    assert (-(-n // small), -(-n // big)) == (683, 21)
    assert small % FIRM_BLOCK == 0 and big % FIRM_BLOCK == 0 and big * k <= (1 << 28)
    assert _simulate_module.default_chunk_size(n, k, 1) == small


def test_nonfinite_firms_are_counted_reported_and_raised_on_request():
    # LogNormal(0, 70) overflows float32 in its upper tail: some firms' MC is +inf. They used to fall
    # silently into the top histogram bin and into the sums; now they are counted, left out, reported.
    model = small_model(draws=jd.LogNormal(0.0, 70.0))
    with pytest.warns(RuntimeWarning, match="non-finite marginal cost"):
        res = simulate(model, FIRM_BLOCK + 11, seed=1, keep=True, chunk_size=FIRM_BLOCK)
    bad = ~np.isfinite(res.cost)
    assert bad.sum() > 0 and int(res.summary.n_nonfinite) == int(bad.sum())
    assert int(res.summary.log_cost_counts.sum()) == res.cost.size - int(bad.sum())
    np.testing.assert_allclose(res.summary.min_cost, res.cost[~bad].min())
    np.testing.assert_allclose(res.summary.quantiles[4], np.quantile(res.cost[~bad].astype(np.float64), 0.5))
    with pytest.raises(JaxtradeInputError, match="non-finite"):
        simulate(model, FIRM_BLOCK, seed=1, throw=True)
    u = firm_uniforms(5000, 4, 2, seed=1)
    with pytest.warns(RuntimeWarning, match="non-finite marginal cost"):
        mem = simulate(model, 5000, common_uniforms=u)
    assert int(mem.summary.n_nonfinite) == int(np.sum(~np.isfinite(np.asarray(mem.cost))))
    assert int(simulate(small_model(), 5000, seed=1).summary.n_nonfinite) == 0


def test_seed_determinism():
    model = small_model()
    a = simulate(model, 1000, seed=3, keep=True).cost
    b = simulate(model, 1000, seed=3, keep=True).cost
    c = simulate(model, 1000, seed=4, keep=True).cost
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_callback_counts_firms():
    seen = []
    simulate(small_model(), 2 * FIRM_BLOCK + 5, chunk_size=FIRM_BLOCK, progress=seen.append)
    assert seen == [FIRM_BLOCK, FIRM_BLOCK, 5]


def test_in_memory_path_matches_streamed():
    model = small_model(draws=jd.GeneralizedGamma(1.0, 2.0, 1.5))
    n = 20_000
    streamed = simulate(model, n, seed=4, sigma=4.0, keep=True)
    mem = simulate(model, n, seed=4, sigma=4.0, common_uniforms=firm_uniforms(n, 4, 2, seed=4))
    np.testing.assert_allclose(mem.cost, streamed.cost, rtol=2e-6)
    for f in ("mean_cost", "power_mean", "offshoring_share", "mean_crossings", "mean_cluster_size", "mean_labour"):
        np.testing.assert_allclose(getattr(mem.summary, f), getattr(streamed.summary, f), rtol=2e-5, err_msg=f)


def test_destinations_tree_and_productivity_draws():
    dest = np.array([[0.0, 0.8], [0.8, 0.0]])
    model = small_model(destination_costs=dest)
    res = simulate(model, 5000, seed=1, keep=True, sigma=4.0)
    assert res.cost.shape == (5000, 2) and res.summary.mean_cost.shape == (2,)
    assert res.summary.mean_labour.shape == (2, 2) and res.summary.quantiles.shape == (9, 2)
    u = firm_uniforms(5000, 4, 2, seed=1)
    m32 = model.astype(jnp.float32)
    sol = jaxtrade.solve_chain(m32.costs_from_uniforms(u), m32.trade_costs, m32.tau, wages=m32.wages, destination_costs=m32.destination_costs)
    np.testing.assert_allclose(res.cost, sol.cost, rtol=2e-6)

    tree = jaxtrade.Tree.spider(3)
    tmodel = small_model(stages=tree.n_nodes, tree=tree, tau=0.2)
    res = simulate(tmodel, 3000, seed=2, keep=True)
    u = firm_uniforms(3000, tree.n_nodes, 2, seed=2)
    t32 = tmodel.astype(jnp.float32)
    sol = jaxtrade.solve_tree(t32.costs_from_uniforms(u), tree, t32.trade_costs, t32.tau, wages=t32.wages)
    np.testing.assert_allclose(res.cost, sol.cost, rtol=2e-6)

    pmodel = small_model(draws=jd.Frechet(4.0, 1.0), draws_are="productivity")
    a = pmodel.costs_from_uniforms(jnp.asarray([[[0.2, 0.7]]]))
    np.testing.assert_allclose(a[0, 0], 1.0 / jd.Frechet(4.0, 1.0).icdf(jnp.asarray([0.2, 0.7])), rtol=1e-12)


def test_float64_simulation():
    res = simulate(small_model(), 3000, seed=1, keep=True, dtype=jnp.float64)
    assert res.cost.dtype == np.float64
    u = firm_uniforms(3000, 4, 2, seed=1, dtype=jnp.float64)
    m = small_model()
    np.testing.assert_allclose(res.cost, jaxtrade.solve_chain(m.costs_from_uniforms(u), T2, 0.3, wages=m.wages).cost, rtol=1e-13)


# ----------------------------------------------------------------------------------------------
# Multi-device determinism (a subprocess with 4 host devices)

_SUBPROCESS = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from jaxtrade import distributions as jd
    from jaxtrade.engine.simulate import SequentialModel, simulate, FIRM_BLOCK
    assert jax.device_count() == 4, jax.devices()
    model = SequentialModel(4, [[0.0, 1.0], [1.0, 0.0]], 0.3, jd.Pareto(2.0, 0.5), wages=[1.0, 1.2])
    res = simulate(model, 5 * FIRM_BLOCK + 7, seed=21, keep=True, chunk_size=4 * FIRM_BLOCK, sigma=4.0)
    np.save(sys.argv[1], res.cost)
    odd = simulate(model, 5 * FIRM_BLOCK + 7, seed=21, keep=True, chunk_size=FIRM_BLOCK + 3, sigma=4.0)  # 4 devices: 4 blocks
    assert odd.chunk_size == 4 * FIRM_BLOCK and odd.requested_chunk_size == FIRM_BLOCK + 3, odd.chunk_size
    assert np.array_equal(odd.cost, res.cost)
    print(json.dumps({"n_devices": res.n_devices, "power_mean": float(res.summary.power_mean),
                      "offshoring": float(res.summary.offshoring_share)}))
    """
)


def test_four_devices_bitwise_identical_to_one(tmp_path):
    script = tmp_path / "multi.py"
    script.write_text(_SUBPROCESS)
    out = tmp_path / "cost.npy"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(jaxtrade.__file__)), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["n_devices"] == 4
    model = small_model()
    one = simulate(model, 5 * FIRM_BLOCK + 7, seed=21, keep=True, chunk_size=FIRM_BLOCK, sigma=4.0)
    assert one.n_devices == 1
    np.testing.assert_array_equal(np.load(out), one.cost)
    np.testing.assert_allclose(info["power_mean"], one.summary.power_mean, rtol=1e-6)
    np.testing.assert_allclose(info["offshoring"], one.summary.offshoring_share, rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Differentiability (common random numbers, float64, finite differences)


@pytest.mark.parametrize(
    "make_dist, theta0",
    [(jd.Pareto, [3.0, 0.5]), (lambda s, d, p: jd.GeneralizedGamma(s, d, p), [1.0, 2.0, 1.5])],
    ids=["pareto", "gengamma"],
)
def test_summary_gradients_match_finite_differences(make_dist, theta0):
    """Reparameterised draws + envelope theorem: d(power mean, mean MC)/d(θ, τ, wages) vs central
    differences, float64, common random numbers."""
    n = 2000
    u = firm_uniforms(n, 4, 2, seed=8, dtype=jnp.float64)
    k = len(theta0)

    def stats(x):
        model = SequentialModel(4, T2, x[k], make_dist(*x[:k]), wages=x[k + 1 : k + 3])
        s = simulate(model, n, sigma=4.0, common_uniforms=u, dtype=jnp.float64).summary
        return jnp.stack([s.power_mean, s.mean_cost])

    x0 = np.array(theta0 + [0.4, 1.0, 1.2])
    jac = np.asarray(jax.jacrev(stats)(jnp.asarray(x0)))
    for i in range(x0.size):
        h = 1e-6 * max(1.0, abs(x0[i]))
        e = np.zeros_like(x0)
        e[i] = h
        fd = (np.asarray(stats(jnp.asarray(x0 + e))) - np.asarray(stats(jnp.asarray(x0 - e)))) / (2 * h)
        np.testing.assert_allclose(jac[:, i], fd, rtol=1e-5, atol=1e-10, err_msg=f"parameter {i}")
    assert np.all(jac[:, k] > 0)  # Lemma 1: MC rises with τ


# ----------------------------------------------------------------------------------------------
# Paper checks: Proposition 9 (FOSD in τ with common random numbers), Proposition 5 bounds


@settings(max_examples=10, deadline=None)
@given(
    tau0=hs.floats(0.01, 3.0),
    frac=hs.floats(0.0, 0.99),
    shape=hs.floats(0.3, 4.0),
    seed=hs.integers(0, 2**32 - 1),
)
def test_proposition_9_every_firm_gains_from_lower_tau(tau0, frac, shape, seed):
    """004 Prop. 9: with common draws MC(A, τ1) <= MC(A, τ0) for τ1 < τ0, firm by firm; so the
    simulated distributions are ordered by first-order stochastic dominance."""
    n = 2048
    u = firm_uniforms(n, 5, 3, seed=seed)
    tau1 = tau0 * frac
    costs = {}
    for tau in (tau0, tau1):
        model = SequentialModel(5, T3, tau, jd.Pareto(shape, 0.2), wages=[1.0, 1.1, 0.9])
        costs[tau] = np.asarray(simulate(model, n, common_uniforms=u).cost)
    assert np.all(costs[tau1] <= costs[tau0] * (1 + 1e-6))
    grid = np.quantile(costs[tau0], np.linspace(0.01, 0.99, 25))
    assert np.all((costs[tau1][:, None] <= grid).mean(0) >= (costs[tau0][:, None] <= grid).mean(0))


def test_proposition_5_bounds_as_distributions():
    """004 Prop. 5 and the corollary to Prop. 9: Σ_i min_j a_ij <= MC(a, τ) <= min_j Σ_i a_ij firm by
    firm, with the lower bound attained at τ = 0 and the upper bound for τ large enough."""
    n = 4096
    u = firm_uniforms(n, 6, 2, seed=13)
    base = SequentialModel(6, T2, 0.5, jd.LogNormal(0.0, 0.8))
    a = np.asarray(base.costs_from_uniforms(u.astype(jnp.float32)), np.float64)
    lower = a.min(axis=2).sum(axis=1)
    upper = a.sum(axis=1).min(axis=1)
    for tau, expect in [(0.0, lower), (0.5, None), (1e6, upper)]:
        mc = np.asarray(simulate(eqx.tree_at(lambda m: m.tau, base, jnp.asarray(tau)), n, common_uniforms=u).cost, np.float64)
        assert np.all(mc >= lower * (1 - 1e-6)) and np.all(mc <= upper * (1 + 1e-6))
        if expect is not None:
            np.testing.assert_allclose(mc, expect, rtol=1e-6)
    assert np.mean(upper > lower * (1 + 1e-3)) > 0.9  # the bounds are not trivially equal


# ----------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "build, arg",
    [
        (lambda: SequentialModel(0, T2, 0.3, jd.Pareto(2.0, 1.0)), "stages"),
        (lambda: SequentialModel(3, np.ones((2, 3)), 0.3, jd.Pareto(2.0, 1.0)), "trade_costs"),
        (lambda: SequentialModel(3, np.ones((2, 2)), 0.3, jd.Pareto(2.0, 1.0)), "trade_costs"),
        (lambda: SequentialModel(3, T2, [0.1, 0.2, 0.3], jd.Pareto(2.0, 1.0)), "tau"),
        (lambda: SequentialModel(3, T2, -0.1, jd.Pareto(2.0, 1.0)), "tau"),
        (lambda: SequentialModel(3, T2, 0.3, [jd.Pareto(2.0, 1.0)] * 3), "draws"),
        (lambda: SequentialModel(3, T2, 0.3, "pareto"), "draws"),
        (lambda: SequentialModel(3, T2, 0.3, jd.Pareto(2.0, 1.0), draws_are="price"), "draws_are"),
        (lambda: SequentialModel(3, T2, 0.3, jd.Pareto(2.0, 1.0), wages=[1.0, 0.0]), "wages"),
        (lambda: SequentialModel(3, T2, 0.3, jd.Pareto(2.0, 1.0), tree=jaxtrade.Tree.spider(3)), "tree"),
        (lambda: SequentialModel(3, T2, 0.3, jd.Pareto(2.0, 1.0), destination_costs=np.ones((3, 2))), "destination_costs"),
        (lambda: simulate(small_model(), 0), "n_firms"),
        (lambda: simulate(small_model(), 10, chunk_size=0), "chunk_size"),
        (lambda: simulate(small_model(), 10, chunk_size=1000.0), "chunk_size"),
        (lambda: simulate(small_model(), 10, chunk_size=True), "chunk_size"),
        (lambda: simulate(small_model(), 10, seed=-1), "seed"),
        (lambda: simulate(small_model(), 10, sigma=1.0), "sigma"),
        (lambda: simulate(small_model(), 10, uniform_bits=8), "uniform_bits"),
        (lambda: simulate(small_model(), 10, common_uniforms=np.full((10, 4, 3), 0.5)), "common_uniforms"),
        (lambda: simulate(small_model(), 2, common_uniforms=np.array([[[0.5, 1.0]] * 4] * 2)), "common_uniforms"),
    ],
)
def test_bad_arguments_raise_named_error(build, arg):
    with pytest.raises(JaxtradeInputError, match=f"`{arg}`"):
        build()


# ----------------------------------------------------------------------------------------------
# Command line


def test_cli_simulate_writes_json_and_png(tmp_path, capsys):
    from jaxtrade import cli
    from jaxtrade.cli import simulate as _cli_simulate

    out, png = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["simulate", "--firms", "3_000", "--stages", "4", "--countries", "2", "--draws",
            "pareto:shape=2,scale=0.5", "--tau", "0.3", "--wages", "1,1.2", "--sigma", "4", "--seed", "5",
            "--out", str(out), "--plot", str(png), "--no-progress"]
    assert cli.main(argv) == 0
    data = json.loads(out.read_text())
    expect = simulate(small_model(), 3000, seed=5, sigma=4.0).summary
    np.testing.assert_allclose(data["summary"]["power_mean"], expect.power_mean, rtol=1e-12)
    assert data["summary"]["n_firms"] == 3000 and png.stat().st_size > 0
    assert cli.main(argv[:8] + ["lognormal:mu=0"] + argv[9:]) == 2
    assert "sigma" in capsys.readouterr().err
    d = _cli_simulate.parse_distribution("gengamma:scale=1,d=2,p=1.5")
    assert isinstance(d, jd.GeneralizedGamma) and float(d.p) == 1.5
