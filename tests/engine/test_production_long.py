"""Long chains (issue #17 item 2): the blocked scan for the cost alone against the unrolled kernel.

Tyazhelnikov (004) eq. (1)-(2): the forward Bellman recursion. The unrolled kernel and the blocked
scan take the same operations in the same order per firm, so their costs must agree bitwise (additive costs; within 2 ulp for iceberg costs, where XLA
may contract ``(1 + τT) v`` into an FMA in one kernel and not the other); both
are checked against the enumeration of all M^N paths (eq. 1, summed in another order: tight
tolerance, float64).
"""

import jax
import numpy as np
import pytest

import jaxtrade as jt
from jaxtrade.engine import production as _production


def _problem(seed, f, n, m, dest=None):
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0, 1, size=(f, n, m))
    T = rng.uniform(0, 1, size=(m, m))
    np.fill_diagonal(T, 0)
    tau = rng.uniform(0, 1, size=n - 1)
    kw = dict(wages=rng.uniform(0.5, 2, m))
    if dest:
        kw["destination_costs"] = rng.uniform(0, 1, (m, dest))
    return costs, T, tau, kw


@pytest.mark.parametrize("m", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("vd", [False, True])
def test_blocked_scan_bitwise_equals_unrolled_and_matches_brute_force(monkeypatch, m, vd):
    n, f = 5, 37  # 37 firms: blocks of 16, the last one padded
    costs, T, tau, kw = _problem(m, f, n, m, dest=2)
    kw["value_dependent"] = vd
    fn = jax.jit(lambda c: jt.solve_chain(c, T, tau, **kw).cost)
    monkeypatch.setattr(_production, "_UNROLL_LIMIT", 10**9)
    unrolled = np.asarray(fn.lower(costs).compile()(costs))
    monkeypatch.setattr(_production, "_UNROLL_LIMIT", 0)
    monkeypatch.setattr(_production, "_SCAN_BLOCK", 16)
    scanned = np.asarray(jax.jit(lambda c: jt.solve_chain(c, T, tau, **kw).cost)(costs))
    if vd:  # (1 + τT) v: XLA contracts the multiply-add into an FMA in one kernel and not the other
        np.testing.assert_array_max_ulp(scanned, unrolled, maxulp=2)
    else:
        np.testing.assert_array_equal(scanned, unrolled)
    brute = jt.brute_force_chain(costs, T, tau, **kw)
    np.testing.assert_allclose(scanned, brute.cost, rtol=1e-13, atol=0)
    # The layout an accelerator gets (jax.lax.platform_dependent's default branch): one scan over
    # all firms, no blocks; run here on the CPU, the same operations per firm as the blocks.
    monkeypatch.setattr(jax.lax, "platform_dependent", lambda *args, cpu, default: default(*args))
    unblocked = np.asarray(jax.jit(lambda c: jt.solve_chain(c, T, tau, **kw).cost)(costs))
    np.testing.assert_array_equal(unblocked, scanned)
