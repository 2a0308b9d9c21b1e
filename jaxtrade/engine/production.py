"""The firm's sequential-production problem: chains and trees of stages over countries.

Tyazhelnikov (2016), *Production Clusters and Offshoring*, Sections 2-3. A firm makes the parts of a
good in a fixed technological order; part (node) ``i`` can be made in any of ``M`` countries at cost
``a_ik`` (times the wage ``w_k``, eq. 10); a part that moves from country ``j`` to ``k`` pays
``τ_i T(j, k)`` (additive unbundling costs, eq. 1) or is produced in ``1 + τ_i T(j, k)`` times the
quantity (value-dependent, iceberg / ad-valorem costs, eq. 7-8). The Bellman recursion (eq. 2, 6, 9)
solves the problem in ``O(n·M²)`` operations instead of enumerating ``M^n`` paths.

One engine serves chains and trees. Nodes are processed children-first; the value of a node in
country ``k`` is

    V_n(k) = w_k a_nk + Σ_{l child of n} min_j [ V_l(j) + τ_l T(j, k) ]           (additive, eq. 6)
    V_n(k) = w_k a_nk + Σ_{l child of n} min_j [ (1 + τ_l T(j, k)) V_l(j) ]       (value-dependent)

and the firm's marginal cost for destination ``d`` is ``MC_d = min_k [V_root(k) + τ^F T^F(k, d)]``
(§3.3; ``(1 + τ^F T^F(k, d)) V_root(k)`` when value-dependent). A chain is the tree in which stage
``i`` feeds stage ``i + 1``: the recursion is the forward Bellman equation (2), equivalently the
reversed induction (4) read from the other end. The value-dependent step carries the ``1 +`` that the
printed eq. (9) lacks (``docs/errata.md``).

Layout: the public API takes firms as leading axes, ``costs[..., node, country]``. Inside, each
country's value is a separate firms-long vector and the minimum over origins is a static loop of
elementwise ``jnp.minimum`` (a reduction over a tiny axis is ~40x slower on CPU); the whole
recursion fuses into one pass over the input under ``jit``.

Gradients follow the envelope theorem: the optimal path is locally constant, so the derivative of
the minimal cost is the derivative of the cost *of the optimal path* (Lemma 1: ``∂MC/∂τ = TQ``;
``∂MC/∂a_ik = w_k 1(c_i = k)``). A ``custom_jvp`` recovers the path only when a derivative is
asked for, so the forward ``cost`` pays nothing for it. With ``temperature`` the minimum is a
soft-min (``−t log Σ exp(−x/t)``), smooth in every input, differentiated by plain autodiff.
"""

from __future__ import annotations

import functools
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .validation import fail, is_concrete

__all__ = [
    "ChainSolution",
    "Tree",
    "solve_chain",
    "solve_tree",
    "evaluate_path",
    "evaluate_tree_path",
    "brute_force_chain",
    "brute_force_tree",
]

# Chains with at most this many (stage × origin × destination) operations are unrolled into one
# fused kernel; longer ones run as a `lax.scan` over stages. Measured (2-core CPU, N = 10, 262k
# firms, costs given): unrolled, M = 10 runs 13x faster than the scan (31 vs 2.4 M firms/s), which
# materialises its carry every stage; but at M = 20 (4,200 operations) the unrolled kernel with
# in-kernel draws took minutes to compile, so the limit stays below that. Re-measured 2026-12-03 with the
# blocked scan (262k firms, costs given): M = 5 70.8 vs 15.7, M = 10 24.1 vs 6.2 M firms/s, unrolled ahead.
_UNROLL_LIMIT = 2500
_UNROLL_LIMIT_WITH_PATH = 2500


# ----------------------------------------------------------------------------------------------
# Technology: the static description of a tree
# ----------------------------------------------------------------------------------------------


class Tree(eqx.Module):
    """A tree technology (004 §2.2): which node each node feeds.

    ``parent[n]`` is the node that node ``n``'s output is assembled into, or ``-1`` for the single
    root (the final good). Node numbering is free; costs are indexed by the same numbers. A chain
    of ``N`` stages is ``Tree.chain(N)`` (stage ``i`` feeds ``i + 1``); a spider (``n_parts``
    one-stage branches assembled at one node) is ``Tree.spider(n_parts)``.

    A ``Tree`` has no array leaves: it is static under ``jit``.
    """

    parent: tuple[int, ...] = eqx.field(static=True)
    order: tuple[int, ...] = eqx.field(static=True)  # children before parents; root last
    children: tuple[tuple[int, ...], ...] = eqx.field(static=True)

    def __init__(self, parent):
        parent = tuple(int(p) for p in parent)
        n = len(parent)
        if n == 0:
            fail("parent", parent, "a tree needs at least one node")
        roots = [i for i, p in enumerate(parent) if p == -1]
        if len(roots) != 1:
            fail("parent", parent, f"exactly one root (parent == -1) is required, found {len(roots)}")
        for i, p in enumerate(parent):
            if p != -1 and not 0 <= p < n:
                fail("parent", parent, f"parent[{i}] = {p} must be -1 or a node index in [0, {n})")
            if p == i:
                fail("parent", parent, f"node {i} cannot feed itself (a cycle)")
        children = [[] for _ in range(n)]
        for i, p in enumerate(parent):
            if p >= 0:
                children[p].append(i)
        # Post-order from the root; a node not reached from the root lies on a cycle.
        order, stack = [], [(roots[0], False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children[node]))
        if len(order) != n:
            cyc = sorted(set(range(n)) - set(order))
            fail("parent", parent, f"nodes {cyc} do not lead to the root: the graph has a cycle")
        self.parent = parent
        self.order = tuple(order)
        self.children = tuple(tuple(c) for c in children)

    @classmethod
    def chain(cls, n_stages: int) -> "Tree":
        """The snake: stage ``i`` feeds stage ``i + 1``; the last stage is the final good."""
        if int(n_stages) < 1:
            fail("n_stages", n_stages, "n_stages >= 1")
        n = int(n_stages)
        return cls(tuple(range(1, n)) + (-1,))

    @classmethod
    def spider(cls, n_parts: int) -> "Tree":
        """The spider: ``n_parts`` one-stage parts assembled at node ``n_parts`` (the root)."""
        if int(n_parts) < 1:
            fail("n_parts", n_parts, "n_parts >= 1")
        n = int(n_parts)
        return cls((n,) * n + (-1,))

    @classmethod
    def from_stage_branch(cls, nodes) -> tuple["Tree", tuple[tuple[int, int], ...]]:
        """A tree from the paper's enumeration (004 §2.2.3, Figure 4).

        ``nodes``: one ``(i, b, v)`` or ``(i, b, Ω, v)`` per production node ``ib``: its stage ``i``
        (``i = 1`` is the last stage, the final good), its branch ``b``, the branch ``v_ib`` of the node
        at stage ``i − 1`` it is assembled into (``None`` for the final good) and, optionally, its
        assembly set ``Ω_ib`` (the branches of the stage-``i + 1`` parts assembled into it), which is
        then checked against the ``v`` of those parts.

        Returns ``(tree, labels)``: node ``k`` of ``tree`` is ``labels[k] = (i, b)``, in the order
        given, so a firm's costs ``a_ibj`` go in row ``k`` of the cost matrix.
        """
        rows = [tuple(nd) for nd in nodes]
        if not rows:
            fail("nodes", nodes, "at least one (i, b, v) node")
        parsed = []
        for nd in rows:
            if len(nd) == 3:
                i, b, v = nd
                omega = None
            elif len(nd) == 4:
                i, b, omega, v = nd
            else:
                fail("nodes", nd, "each node is (i, b, v) or (i, b, Ω, v)")
            if int(i) < 1:
                fail("nodes", nd, "stage i >= 1 (i = 1 is the final good)")
            parsed.append((int(i), int(b), None if omega is None else frozenset(int(x) for x in omega), None if v is None else int(v)))
        labels = tuple((i, b) for i, b, _, _ in parsed)
        if len(set(labels)) != len(labels):
            fail("nodes", nodes, "each (stage i, branch b) names one node")
        index = {lab: k for k, lab in enumerate(labels)}
        parent = []
        for i, b, _, v in parsed:
            if i == 1:
                if v is not None:
                    fail("nodes", (i, b, v), "the final good (i = 1) is assembled into nothing: v = None")
                parent.append(-1)
                continue
            if v is None or (i - 1, v) not in index:
                fail("nodes", (i, b, v), f"v_ib names the branch of a node at stage {i - 1}; no node ({i - 1}, {v})")
            parent.append(index[(i - 1, v)])
        for i, b, omega, _ in parsed:
            if omega is not None:
                fed = frozenset(bb for (ii, bb, _, vv) in parsed if ii == i + 1 and vv == b)
                if omega != fed:
                    fail("nodes", (i, b, sorted(omega)), f"Ω_ib must list the branches of the stage-{i + 1} parts with v = {b}: {sorted(fed)}")
        return cls(parent), labels

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    @property
    def root(self) -> int:
        return self.order[-1]

    @property
    def edges(self) -> tuple[int, ...]:
        """Non-root nodes in index order: ``tau[e]`` prices the edge out of node ``edges[e]``."""
        return tuple(i for i, p in enumerate(self.parent) if p >= 0)


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


class ChainSolution(eqx.Module):
    """The firm's optimal production plan (004 §2-3).

    Shapes are for a batch ``...`` of firms; with ``destination_costs`` every field gains a
    trailing destination axis ``D`` (``path``: ``(..., n, D)``; ``labour``: ``(..., M, D)``).

    - ``cost``: the minimal marginal cost MC.
    - ``path``: the country of each stage (node), int32.
    - ``production_cost``: NTMC, the production costs of the path, ``Σ_i w_{c_i} a_{i c_i}``.
    - ``trade_cost``: TTMC ``= cost − production_cost`` (offshoring and final-shipment costs).
    - ``crossings``: the number of border crossings of intermediate parts.
    - ``transport_quantity``: TQ ``= Σ_i T(c_i, c_{i+1})`` (Lemma 1; ``= ∂MC/∂τ`` for additive
      costs and a scalar ``τ``).
    - ``labour``: labour per unit of the final good in each country, ``L_Dk = Σ_i 1(c_i = k) a_ik``
      (times the quantity ``χ_i`` of eq. 8 when value-dependent) ``= ∂MC/∂w_k`` (§3.5).
    """

    cost: Float[Array, "..."]
    path: Int[Array, "... nodes"]
    production_cost: Float[Array, "..."]
    trade_cost: Float[Array, "..."]
    crossings: Int[Array, "..."]
    transport_quantity: Float[Array, "..."]
    labour: Float[Array, "... countries"]


# ----------------------------------------------------------------------------------------------
# Validation and normalisation of inputs
# ----------------------------------------------------------------------------------------------


def _as_float(x):
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _check_values(name, x, *, positive=False):
    if x is None or not is_concrete(x):
        return
    a = np.asarray(x)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))
        fail(name, x, f"all entries must be finite (first non-finite entry at index {tuple(bad[0])})")
    if positive and not np.all(a > 0):
        bad = np.argwhere(~(a > 0))
        fail(name, x, f"all entries must be > 0 (first violation at index {tuple(bad[0])}: {a[tuple(bad[0])]})")
    if not positive and not np.all(a >= 0):
        bad = np.argwhere(~(a >= 0))
        fail(name, x, f"all entries must be >= 0 (first violation at index {tuple(bad[0])}: {a[tuple(bad[0])]})")


def _prepare(costs, trade_costs, tau, wages, destination_costs, n_nodes_expected, n_edges, what):
    """Validates the arguments and returns float arrays: costs, T, tau (n_edges,), wages (M,), dest (M, D)."""
    costs = _as_float(costs)
    if costs.ndim < 2:
        fail("costs", costs, f"costs must have shape (..., {what}, countries); got {costs.ndim} dimension(s)")
    n, m = costs.shape[-2], costs.shape[-1]
    if n_nodes_expected is not None and n != n_nodes_expected:
        fail("costs", costs, f"costs.shape[-2] = {n} must equal the number of tree nodes {n_nodes_expected}")
    if n < 1 or m < 1:
        fail("costs", costs, f"at least one {what[:-1]} and one country are required (shape {costs.shape})")
    trade_costs = _as_float(trade_costs)
    if trade_costs.shape != (m, m):
        fail("trade_costs", trade_costs, f"trade_costs must have shape (M, M) = ({m}, {m}) to match costs; got {trade_costs.shape}")
    tau = _as_float(tau)
    if tau.ndim != 0 and tau.shape != (n_edges,):
        fail("tau", tau, f"tau must be a scalar or have shape ({n_edges},) (one per link between stages); got {tau.shape}")
    if wages is None:
        wages = jnp.ones((m,), costs.dtype)
    else:
        wages = _as_float(wages)
        if wages.shape != (m,):
            fail("wages", wages, f"wages must have shape (M,) = ({m},); got {wages.shape}")
    has_dest = destination_costs is not None
    if has_dest:
        destination_costs = _as_float(destination_costs)
        if destination_costs.ndim != 2 or destination_costs.shape[0] != m or destination_costs.shape[1] < 1:
            fail("destination_costs", destination_costs, f"destination_costs must have shape (M, D) = ({m}, D >= 1); got {destination_costs.shape}")
    else:
        destination_costs = jnp.zeros((m, 1), costs.dtype)
    _check_values("costs", costs)
    _check_values("trade_costs", trade_costs)
    if is_concrete(trade_costs) and np.any(np.diag(np.asarray(trade_costs)) != 0):
        fail("trade_costs", trade_costs, "the diagonal must be zero (no cost of staying in a country): T(k, k) = 0")
    _check_values("tau", tau)
    _check_values("wages", wages, positive=True)
    _check_values("destination_costs", destination_costs)
    dtype = jnp.result_type(costs, trade_costs, tau, wages, destination_costs)
    cast = lambda x: x.astype(dtype)  # noqa: E731
    return cast(costs), cast(trade_costs), cast(tau), cast(wages), cast(destination_costs), has_dest


def _check_temperature(temperature):
    if temperature is not None and is_concrete(temperature):
        t = np.asarray(temperature)
        if t.shape != () or not np.isfinite(t) or not t > 0:
            fail("temperature", temperature, "temperature must be a finite scalar > 0 (or None for the exact minimum)")


# ----------------------------------------------------------------------------------------------
# The Bellman step shared by chains and trees
# ----------------------------------------------------------------------------------------------


def _combine(v, link, value_dependent):
    """Cost of arriving with value ``v`` over a link of price ``link`` (= τ T(j, k))."""
    return v * (1 + link) if value_dependent else v + link


def _min_over_origins(values, links, value_dependent, temperature, payload=None):
    """For each destination k: ``min_j combine(values[j], links[j, k])``.

    ``values``: list of M firms-shaped arrays; ``links``: (M, K) array (τ T or τ^F T^F).
    Static loops of elementwise minimums: no reduction over the tiny country axis.
    ``payload`` (hard minimum only): per origin j a tuple of packed-path words; the words of the
    minimising origin are carried along, so the optimal path is known at the end of one forward
    pass (no backpointers, no second pass).
    """
    m, k_out = links.shape
    best, chosen = [], []
    for k in range(k_out):
        cands = [_combine(values[j], links[j, k], value_dependent) for j in range(m)]
        if temperature is not None:
            best.append(-temperature * jax.nn.logsumexp(-jnp.stack(cands) / temperature, axis=0))
            continue
        b, p = cands[0], (payload[0] if payload is not None else None)
        for j in range(1, m):
            if payload is not None:
                better = cands[j] < b
                p = tuple(jnp.where(better, pj, p0) for pj, p0 in zip(payload[j], p))
            b = jnp.minimum(b, cands[j])
        best.append(b)
        chosen.append(p)
    return best, chosen


class _Packing:
    """Bit layout of a path: ``bits`` per node, ``per_word`` nodes in each uint32 word."""

    def __init__(self, n_nodes, m):
        self.bits = max(1, (m - 1).bit_length())
        self.per_word = 32 // self.bits
        self.words = -(-n_nodes // self.per_word)
        self.mask = (1 << self.bits) - 1

    def own(self, node, k):
        """Packed words of 'node sits in country k' (Python constants, broadcast lazily)."""
        w, s = divmod(node, self.per_word)
        return tuple(jnp.uint32(k << (s * self.bits)) if i == w else jnp.uint32(0) for i in range(self.words))

    def value_bits(self, n_nodes):
        """Bits of the whole path read as one integer ``Σ_w word_w 2^(32 w)``."""
        return 32 * (self.words - 1) + (n_nodes - (self.words - 1) * self.per_word) * self.bits

    def fits(self, n_nodes, dtype):
        """Whether the whole path is an integer that ``dtype`` holds exactly (24 bits in float32,
        53 in float64: chains of up to 24 stages over 2 countries, 12 over 3-4, 8 over 5-8)."""
        return self.value_bits(n_nodes) <= jnp.finfo(dtype).nmant + 1

    def to_float(self, words, dtype):
        """The path as one exact float integer (see :meth:`fits`)."""
        return sum(w.astype(dtype) * (2.0 ** (32 * i)) for i, w in enumerate(words))

    def from_float(self, q):
        """Inverse of :meth:`to_float`: exact splits of an integer-valued float."""
        words = []
        for _ in range(self.words - 1):
            hi = jnp.floor(q / 2.0**32)
            words.append((q - hi * 2.0**32).astype(jnp.uint32))
            q = hi
        return words + [q.astype(jnp.uint32)]

    def unpack(self, words, node):
        w, s = divmod(node, self.per_word)
        return ((words[w] >> jnp.uint32(s * self.bits)) & jnp.uint32(self.mask)).astype(jnp.int32)

    def unpack_all(self, words, n_nodes):
        """(F, n, D) int32 path from the packed words: one broadcast shift per word, no gathers."""
        shifts = jnp.arange(self.per_word, dtype=jnp.uint32) * jnp.uint32(self.bits)
        parts = [(w[:, None, :] >> shifts[None, :, None]) & jnp.uint32(self.mask) for w in words]
        return jnp.concatenate(parts, axis=1)[:, :n_nodes].astype(jnp.int32)


def _node_values(costs, n, wages):
    """Wage-weighted production costs of node ``n`` in each country: list of M (F,) arrays."""
    return [costs[:, n, k] * wages[k] for k in range(costs.shape[-1])]


def _tree_recursion(costs, tree, T, tau, wages, dest, value_dependent, temperature, with_path):
    """Children-first recursion over the nodes of ``tree`` (unrolled into one fused kernel).

    Returns the cost per destination (F, D) and, with ``with_path``, the optimal path packed in
    uint32 words (a list of (F, D) arrays; see :class:`_Packing`).
    """
    m = costs.shape[-1]
    pk = _Packing(tree.n_nodes, m)
    edge_index = {node: e for e, node in enumerate(tree.edges)}
    values, paths = {}, {}
    for n in tree.order:
        v = _node_values(costs, n, wages)
        pay = [pk.own(n, k) for k in range(m)] if with_path else None
        for child in tree.children[n]:
            incoming, chosen = _min_over_origins(values.pop(child), _tau_at(tau, edge_index[child]) * T, value_dependent, temperature, paths.pop(child) if with_path else None)
            v = [v[k] + incoming[k] for k in range(m)]
            if with_path:
                pay = [tuple(a | b for a, b in zip(pay[k], chosen[k])) for k in range(m)]
        values[n], paths[n] = v, pay
    final, chosen = _min_over_origins(values[tree.root], dest, value_dependent, temperature, paths[tree.root] if with_path else None)
    cost = jnp.stack(final, axis=-1)
    if not with_path:
        return cost, None
    shape = cost.shape
    return cost, [jnp.stack([jnp.broadcast_to(c[w], shape[:1]) for c in chosen], axis=-1) for w in range(pk.words)]


def _min_over_origins_rows(values, links, value_dependent, temperature):
    """:func:`_min_over_origins` on a block of firms held as rows: ``values`` (M, B) -> (K, B).

    Candidate ``j`` is ``combine(values[j], links[j, k])`` for all ``k`` at once, a (K, B)
    broadcast; the minimum over ``j`` is the same static chain of elementwise minimums, in the same
    order, so every firm's result is bitwise that of :func:`_min_over_origins`. One fusion per call
    (a list of K rows stacked was K fusions and a copy, and compiled 5x slower at M = 20).
    """
    m = links.shape[0]
    cands = [_combine(values[j][None, :], links[j][:, None], value_dependent) for j in range(m)]
    if temperature is not None:
        return -temperature * jax.nn.logsumexp(-jnp.stack(cands) / temperature, axis=0)
    b = cands[0]
    for j in range(1, m):
        b = jnp.minimum(b, cands[j])
    return b


def _chain_block(costs, T, tau, wages, dest, value_dependent, temperature):
    """The forward chain recursion (eq. 2) for one block of firms, cost only: a ``lax.scan`` over
    stages whose carry is the block's (M, B) values (costs transposed to (N, M, B)). Returns (B, D).
    """
    n = costs.shape[1]
    ct = jnp.transpose(costs, (1, 2, 0))  # (N, M, B)
    v0 = ct[0] * wages[:, None]

    def step(v, xs):
        a, t = xs
        return a * wages[:, None] + _min_over_origins_rows(v, t * T, value_dependent, temperature), None

    v, _ = jax.lax.scan(step, v0, (ct[1:], jnp.broadcast_to(tau, (n - 1,))))
    return _min_over_origins_rows(v, dest, value_dependent, temperature).T


# Firms per block of the long-chain scan: the carry of a block (M × B values, and paths) stays in
# the 2 MB L2 cache across stages. Measured (2-core CPU, N = 10, M = 20, 262k firms, cost only):
# B = 2048 ran 2.5x faster than one scan over all firms, whose (M, F) carry went through memory
# at every stage; 512, 1024, 4096 and 8192 were 5-15% slower than 2048.
_SCAN_BLOCK = 2048


def _chain_scan(costs, T, tau, wages, dest, value_dependent, temperature, with_path, block=None):
    """The forward chain recursion (eq. 2) for long chains: a ``lax.map`` over blocks of firms of a
    ``lax.scan`` over stages (:func:`_chain_block`), so that each block's carry stays in cache.

    The firms are padded with zero costs to a multiple of the block (the padded firms' results are
    dropped). Every firm sees the same operations in the same order as in an unblocked scan.

    Path recovery (``with_path``, used by every field and every derivative) stays one unblocked
    scan (:func:`_chain_scan_paths`): blocked, it ran 1.7x faster for all fields but 2.5x slower
    inside a value-and-gradient at M = 20, 262k firms (there JAX's partial evaluation hoists the
    links τ_i T out of the stage loop and XLA splits the step into several fusions).
    """
    f, n, m = costs.shape
    if with_path:
        return _chain_scan_paths(costs, T, tau, wages, dest, value_dependent, temperature, with_path)
    block = _SCAN_BLOCK if block is None else block
    run = functools.partial(_chain_block, T=T, tau=tau, wages=wages, dest=dest, value_dependent=value_dependent, temperature=temperature)
    if f <= block:
        return run(costs), None

    def blocked(costs):
        nb = -(-f // block)
        padded = jnp.pad(costs, ((0, nb * block - f), (0, 0), (0, 0))) if nb * block != f else costs
        cost = jax.lax.map(run, padded.reshape(nb, block, n, m))
        return cost.reshape((nb * block,) + cost.shape[2:])[:f]

    # Blocks are for a CPU's cache. On a GPU the sequential lax.map over 2048-firm blocks left the
    # chip idle (H200, N = 10, M = 20, 167k firms: 12 M firms/s blocked): there one scan over all
    # firms runs, with the same operations per firm.
    return jax.lax.platform_dependent(costs, cpu=blocked, default=run), None


def _chain_scan_paths(costs, T, tau, wages, dest, value_dependent, temperature, with_path):
    """The forward chain recursion (eq. 2) as one ``lax.scan`` over stages for all firms, for long
    chains with path recovery (see :func:`_chain_scan` for why path recovery is not blocked).

    The costs are transposed once to stages-leading, countries, firms-last so that each step reads
    contiguous rows.
    """
    m = costs.shape[-1]
    n = costs.shape[1]
    pk = _Packing(n, m)
    ct = jnp.transpose(costs, (1, 2, 0))  # (N, M, F)
    v0 = jnp.stack([ct[0, k] * wages[k] for k in range(m)])
    p0 = None
    if with_path:
        p0 = jnp.stack([jnp.stack([jnp.broadcast_to(x, v0.shape[1:]) for x in pk.own(0, k)]) for k in range(m)])  # (M, W, F)

    def step(carry, xs):
        v, p = carry
        a, t, i = xs
        payload = [tuple(p[j, w] for w in range(pk.words)) for j in range(m)] if with_path else None
        incoming, chosen = _min_over_origins(list(v), t * T, value_dependent, temperature, payload)
        v_new = jnp.stack([a[k] * wages[k] + incoming[k] for k in range(m)])
        if not with_path:
            return (v_new, p), None
        word, shift = i // pk.per_word, ((i % pk.per_word) * pk.bits).astype(jnp.uint32)
        p_new = jnp.stack([
            jnp.stack([jnp.where(word == w, chosen[k][w] | (jnp.uint32(k) << shift), chosen[k][w]) for w in range(pk.words)])
            for k in range(m)
        ])
        return (v_new, p_new), None

    (v, p), _ = jax.lax.scan(step, (v0, p0), (ct[1:], jnp.broadcast_to(tau, (n - 1,)), jnp.arange(1, n)))
    final, chosen = _min_over_origins(list(v), dest, value_dependent, temperature, [tuple(p[j]) for j in range(m)] if with_path else None)
    cost = jnp.stack(final, axis=-1)
    if not with_path:
        return cost, None
    return cost, [jnp.stack([c[w] for c in chosen], axis=-1) for w in range(pk.words)]


def _use_scan(tree, m, d, with_path):
    n = tree.n_nodes
    is_chain = tree.parent == tuple(range(1, n)) + (-1,)
    return is_chain and n * m * (m + d) > (_UNROLL_LIMIT_WITH_PATH if with_path else _UNROLL_LIMIT)


def _recursion(costs, tree, T, tau, wages, dest, value_dependent, temperature, with_path):
    if _use_scan(tree, costs.shape[-1], dest.shape[1], with_path):
        return _chain_scan(costs, T, tau, wages, dest, value_dependent, temperature, with_path)
    return _tree_recursion(costs, tree, T, tau, wages, dest, value_dependent, temperature, with_path)


def _optimal_cost(costs, tree, T, tau, wages, dest, value_dependent, temperature):
    """Minimal cost per destination, (F, D). No path recovery."""
    return _recursion(costs, tree, T, tau, wages, dest, value_dependent, temperature, False)[0]


def _optimal_path(costs, tree, T, tau, wages, dest, value_dependent):
    """The optimal path (hard minimum), packed: a list of uint32 (F, D) words (:class:`_Packing`).

    The same recursion as :func:`_optimal_cost_and_path` (shared with a gradient: one pass), its
    words stored again as uint32: the field computations each read them (measured: reading the
    complex array in each of them made all fields 12% slower)."""
    return [_materialise(w, costs) for w in _optimal_cost_and_path(costs, tree, T, tau, wages, dest, value_dependent)[1]]


def _optimal_cost_and_path(costs, tree, T, tau, wages, dest, value_dependent):
    """Minimal cost (F, D) and packed optimal path from ONE pass of the recursion, stored once.

    Stored, because XLA would otherwise fuse (duplicate) the whole recursion into every consumer
    (:func:`_materialise`). Stored as ONE array, because XLA:CPU does not merge sibling fusions into
    a multi-output kernel: a cost array and a words array were two fusions, each running the whole
    recursion over the costs (measured: 2 × 3.5 ms of a 1M-firm value-and-gradient). When the path,
    read as one integer, fits the mantissa of the cost's dtype (:meth:`_Packing.fits`), cost and path
    leave the recursion as the real and imaginary parts of one complex array (one element per firm:
    one kernel, one pass over the costs); otherwise they are stored separately.
    """
    cost, words = _recursion(costs, tree, T, tau, wages, dest, value_dependent, None, True)
    pk = _Packing(tree.n_nodes, costs.shape[-1])
    if pk.fits(tree.n_nodes, cost.dtype):
        both = _materialise(jax.lax.complex(cost, pk.to_float(words, cost.dtype)), costs)
        return jnp.real(both), pk.from_float(jnp.imag(both))
    return _materialise(cost, costs), [_materialise(w, costs) for w in words]


def _materialise(x, costs):
    """``x`` unchanged (and so its derivative), but computed once and stored: XLA would otherwise
    fuse (duplicate) its whole producer — the Bellman recursion — into every consumer (measured:
    25 passes over the costs in one value-and-gradient), or let a reduction swallow dozens of
    per-node intermediates. An optimisation barrier is dropped by XLA:CPU before fusion; an integer
    division by a runtime 1 is an "expensive" op that no fusion duplicates or absorbs."""
    one = jnp.isfinite(costs[:1, 0, 0])[0]
    if jnp.issubdtype(x.dtype, jnp.integer):
        return x // (one.astype(x.dtype) | jnp.asarray(1, x.dtype))
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        return _materialise_complex(x, one)
    return _materialise_float(x, one)


@jax.custom_jvp
def _materialise_float(x, one):
    bits = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}[x.dtype.itemsize]
    b = jax.lax.bitcast_convert_type(x, bits)
    return jax.lax.bitcast_convert_type(b // (one.astype(bits) | jnp.asarray(1, bits)), x.dtype)


@_materialise_float.defjvp
def _materialise_float_jvp(primals, tangents):
    x, one = primals
    return _materialise_float(x, one), tangents[0]


@jax.custom_jvp
def _materialise_complex(z, one):
    """``z / (1 + 0i)``, a complex division (expensive: not duplicated). Exact for finite ``z``
    (checked bitwise on random float32/float64); an infinite real part (a firm whose every path
    has infinite cost, which validated inputs exclude) makes the imaginary part NaN."""
    real = z.real.dtype
    return z / jax.lax.complex(one.astype(real), jnp.zeros((), real))


@_materialise_complex.defjvp
def _materialise_complex_jvp(primals, tangents):
    z, one = primals
    return _materialise_complex(z, one), tangents[0]


_SELECT_LIMIT = 8  # up to this many countries, T(c, c') is picked by elementwise selects (no gathers)


def _path_fields(costs, words, tree, T, tau, wages, dest, value_dependent):
    """All solution fields for given paths, eq. (1)/(5) and (7)-(8) evaluated directly.

    ``costs`` (F, n, M); ``words`` the packed paths (list of uint32 (F, D), :class:`_Packing`).
    Returns a dict of (F, D) arrays and ``labour`` (F, M, D).

    Written node by node on firms-long vectors, like the recursion itself: every field is a sum
    of elementwise terms with a firms-long result, so XLA fuses each into one pass over the input.
    (Intermediate ``(F, n)`` arrays and reductions over the short node axis were 5-40x slower
    on CPU.)
    """
    per_dest = [_path_fields_one(costs, [w[:, d] for w in words], tree, T, tau, wages, dest[:, d], value_dependent) for d in range(dest.shape[1])]
    return {key: jnp.stack([f[key] for f in per_dest], axis=-1) for key in per_dest[0]}


def _pick(loc, options):
    """``options[loc]`` elementwise for a firms-long ``loc``; ``options`` a list of M arrays or scalars."""
    out = jnp.broadcast_to(options[0], loc.shape)
    for k in range(1, len(options)):
        out = jnp.where(loc == k, options[k], out)
    return out


def _link(T, loc_from, loc_to):
    """``T[loc_from, loc_to]`` elementwise (selects for few countries, a gather otherwise)."""
    m = T.shape[0]
    if m <= _SELECT_LIMIT:
        return _pick(loc_from, [_pick(loc_to, [T[j, k] for k in range(m)]) for j in range(m)])
    return T[loc_from, loc_to]


def _tau_at(tau, e):
    """τ of link ``e``: a scalar τ prices every link (kept scalar so its gradient is one reduction)."""
    return tau if tau.ndim == 0 else tau[e]


def _chi(tree, priced, ship):
    """Quantities of eq. (8): ``χ_root = 1 + τ^F T^F``; ``χ_child = χ_parent (1 + τ_child T(c_child, c_parent))``."""
    chi = {tree.root: 1 + ship}
    for node in reversed(tree.order):
        for c in tree.children[node]:
            chi[c] = chi[node] * (1 + priced[c])
    return chi


def _path_fields_one(costs, words, tree, T, tau, wages, dest, value_dependent):
    n, m = costs.shape[1], costs.shape[2]
    pk = _Packing(n, m)
    loc = [pk.unpack(words, i) for i in range(n)]  # c_i, firms-long
    a = [_pick(loc[i], [costs[:, i, k] for k in range(m)]) for i in range(n)]  # a_{i, c_i}
    w = [_pick(loc[i], [wages[k] for k in range(m)]) for i in range(n)]
    link = {c: _link(T, loc[c], loc[tree.parent[c]]) for c in tree.edges}  # T(c_e, c_parent)
    ship = _pick(loc[tree.root], [dest[k] for k in range(m)])  # τ^F T^F(c_root, d)
    production = sum(w[i] * a[i] for i in range(n))
    zero = jnp.zeros_like(production)
    if value_dependent:
        chi = _chi(tree, {c: _tau_at(tau, e) * link[c] for e, c in enumerate(tree.edges)}, ship)
        used = [a[i] * chi[i] for i in range(n)]
        cost = sum(w[i] * used[i] for i in range(n))
    else:
        used = a
        if tau.ndim == 0:  # one reduction for ∂/∂τ (= TQ, Lemma 1) instead of one per link
            trade = tau * sum(link.values(), zero)
        else:
            trade = sum((tau[e] * link[c] for e, c in enumerate(tree.edges)), zero)
        cost = production + trade + ship
    return dict(
        cost=cost,
        production_cost=production,
        trade_cost=cost - production,
        crossings=sum(((loc[c] != loc[tree.parent[c]]).astype(jnp.int32) for c in tree.edges), jnp.zeros(production.shape, jnp.int32)),
        transport_quantity=sum(link.values(), zero),
        labour=jnp.stack([sum((jnp.where(loc[i] == k, used[i], 0) for i in range(n)), zero) for k in range(m)], axis=1),
    )


def _cost_weights(costs, words, tree, T, tau, wages, dest, value_dependent):
    """``∂MC_d/∂a_ik = w_k χ_i 1(c_i = k)`` as an (F, n, M) array per destination (envelope theorem).

    Built by broadcasting the packed path against (node, country) indices: one fused pass that
    writes the gradient in the costs' own layout. Measured (2-core CPU, 1M firms, N = 10, M = 2,
    float32): this pass costs what writing any constant into a new (F, n, M) array costs; other
    layouts (an (F, n·M) array with per-column shift vectors; arithmetic on the bits instead of
    compare-and-select; firms-long columns stacked) were 10-70% slower. That write is dominated
    by the kernel, not by XLA: glibc serves the 80 MB output from a fresh ``mmap``, so each call
    takes ~19,500 page faults (each zeroing 4 kB): ~18 ms of a 25 ms value-and-gradient whose
    forward pass takes 3.7 ms. Below glibc's 32 MB threshold (262k firms) the buffer is reused,
    nothing faults, and value-and-gradient costs 2.3-2.5 forward passes (``benchmarks/chain.py``).
    """
    f, n, m = costs.shape
    pk = _Packing(n, m)
    word_of, slot = np.divmod(np.arange(n), pk.per_word)
    shift = jnp.asarray((slot * pk.bits).astype(np.uint32))[None, :, None]
    out = []
    for d in range(dest.shape[1]):
        word = sum(jnp.where(jnp.asarray(word_of == w)[None, :, None], words[w][:, d, None, None], jnp.uint32(0)) for w in range(pk.words))
        onehot = ((word >> shift) & jnp.uint32(pk.mask)) == jnp.arange(m, dtype=jnp.uint32)[None, None, :]  # (F, n, M)
        weight = wages[None, None, :]
        if value_dependent:
            one = [w_[:, d] for w_ in words]
            locs = [pk.unpack(one, i) for i in range(n)]
            priced = {c: _tau_at(tau, e) * _link(T, locs[c], locs[tree.parent[c]]) for e, c in enumerate(tree.edges)}
            chi = _chi(tree, priced, _pick(locs[tree.root], [dest[k, d] for k in range(m)]))
            weight = weight * jnp.stack([chi[i] for i in range(n)], axis=1)[:, :, None]
        out.append(jnp.where(onehot, weight, jnp.zeros((), costs.dtype)))
    return out


def _pack(path, m):
    """Packs an integer path (F, n, D) into uint32 words (list of (F, D))."""
    n = path.shape[1]
    pk = _Packing(n, m)
    words = []
    for w in range(pk.words):
        nodes = np.arange(w * pk.per_word, min(n, (w + 1) * pk.per_word))
        shifts = ((nodes - w * pk.per_word) * pk.bits).astype(np.uint32)
        words.append((path[:, nodes, :].astype(jnp.uint32) << shifts[None, :, None]).sum(axis=1, dtype=jnp.uint32))
    return words


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 6))
def _envelope_cost(costs, tree, T, tau, wages, dest, value_dependent):
    return _optimal_cost(costs, tree, T, tau, wages, dest, value_dependent, None)


def _envelope_cost_jvp(tree, value_dependent, primals, tangents):
    """Envelope theorem: d MC = d [cost of the optimal path], the path held fixed.

    The path is recovered (packed, one fused pass) only here, when a derivative is asked for.
    The tangent is written as a sum of (firm-wise partial derivative) × (input tangent), with the
    partial derivatives built directly from the packed path, so that the transpose — reverse
    mode — is one elementwise pass for the costs and one reduction per small input:

    - costs: ``∂MC/∂a_ik = w_k χ_i 1(c_i = k)`` (``χ_i = 1`` for additive costs);
    - additive costs: ``∂MC/∂τ = TQ`` (Lemma 1; per link ``T(c_e, c_e+1)`` for a stage-dependent τ),
      ``∂MC/∂T_jk = Σ_e τ_e 1(c_e = j, c_e+1 = k)``, ``∂MC/∂w_k = L_Dk`` (§3.5),
      ``∂MC_d/∂(τ^F T^F)_kd = 1(c_N = k)``;
    - value-dependent costs: the derivative of eq. (7)-(8) along the path, by autodiff.

    The partial derivatives are themselves differentiable (in everything but the path), so
    second derivatives (Hessians of calibration objectives) are those of the cost along the path.
    """
    costs, T, tau, wages, dest = primals
    d_costs, d_T, d_tau, d_wages, d_dest = tangents
    cost, words = _optimal_cost_and_path(costs, tree, T, tau, wages, dest, value_dependent)
    words = jax.lax.stop_gradient(words)  # the path is locally constant; `cost` stays differentiable for higher orders
    zero = jax.custom_derivatives.SymbolicZero
    small, d_small = (T, tau, wages, dest), (d_T, d_tau, d_wages, d_dest)
    m = costs.shape[-1]
    if value_dependent or m > _SELECT_LIMIT:

        def along_path(T, tau, wages, dest):
            return _path_fields(costs, words, tree, T, tau, wages, dest, value_dependent)["cost"]

        d_small = tuple(jnp.zeros_like(x) if isinstance(t, zero) else t for x, t in zip(small, d_small))
        primal_out, tangent = jax.jvp(along_path, small, d_small)
    else:
        _, partials = _additive_partials(costs, words, tree, T, tau, wages, dest)
        primal_out = cost  # the recursion's own minimum: no second pass along the path
        tangent = jnp.zeros_like(primal_out)
        for name, d_x in zip(("T", "tau", "wages", "dest"), d_small):
            if not isinstance(d_x, zero):
                tangent = tangent + partials[name](d_x)
    if not isinstance(d_costs, zero):
        weights = _cost_weights(costs, words, tree, T, tau, wages, dest, value_dependent)
        tangent = tangent + jnp.stack([(g * d_costs).sum(axis=(1, 2)) for g in weights], axis=-1)
    return primal_out, tangent


def _additive_partials(costs, words, tree, T, tau, wages, dest):
    """Cost along the path and its firm-wise partial derivatives in (T, τ, w, τ^F T^F), additive case.

    Returns ``cost`` (F, D) and, per input, a function mapping that input's tangent to the (F, D)
    tangent of the cost (a sum of firm-long partials times tangent entries).
    """
    n, m = costs.shape[1], costs.shape[2]
    pk = _Packing(n, m)
    per_d = []
    for d in range(dest.shape[1]):
        loc = [pk.unpack([w[:, d] for w in words], i) for i in range(n)]
        a = [_pick(loc[i], [costs[:, i, k] for k in range(m)]) for i in range(n)]
        labour = [sum((jnp.where(loc[i] == k, a[i], 0) for i in range(n)), jnp.zeros_like(a[0])) for k in range(m)]
        link = {c: _link(T, loc[c], loc[tree.parent[c]]) for c in tree.edges}
        pair = {c: [[(loc[c] == j) & (loc[tree.parent[c]] == k) for k in range(m)] for j in range(m)] for c in tree.edges}
        root = [(loc[tree.root] == k) for k in range(m)]
        zero = jnp.zeros_like(a[0])
        trade = sum((_tau_at(tau, e) * link[c] for e, c in enumerate(tree.edges)), zero)
        cost = sum((wages[k] * labour[k] for k in range(m)), zero) + trade + _pick(loc[tree.root], [dest[k, d] for k in range(m)])
        labour = [_materialise(x, costs) for x in labour]
        per_d.append(dict(cost=cost, labour=labour, link=link, tq=_materialise(sum(link.values(), zero), costs), pair=pair, root=root, zero=zero))

    def stack(fn):
        return jnp.stack([fn(p, d) for d, p in enumerate(per_d)], axis=-1)

    def d_tau(t):
        if t.ndim == 0:
            return stack(lambda p, d: (p["tq"][:, None] @ t.reshape(1, 1))[:, 0])  # a dot: its transpose is a matvec, not a YNN reduce
        return stack(lambda p, d: sum((t[e] * p["link"][c] for e, c in enumerate(tree.edges)), p["zero"]))

    def d_T(t):
        return stack(lambda p, d: sum((jnp.where(p["pair"][c][j][k], _tau_at(tau, e) * t[j, k], 0) for e, c in enumerate(tree.edges) for j in range(m) for k in range(m) if j != k), p["zero"]))

    partials = dict(
        tau=d_tau,
        T=d_T,
        wages=lambda t: stack(lambda p, d: sum((t[k] * p["labour"][k] for k in range(m)), p["zero"])),
        dest=lambda t: stack(lambda p, d: sum((jnp.where(p["root"][k], t[k, d], 0) for k in range(m)), p["zero"])),
    )
    return stack(lambda p, d: p["cost"]), partials


_envelope_cost.defjvp(_envelope_cost_jvp, symbolic_zeros=True)


def _flatten(costs):
    batch = costs.shape[:-2]
    return costs.reshape((math.prod(batch),) + costs.shape[-2:]), batch


def _finish(fields, path, batch, has_dest):
    """Restores the batch shape; drops the destination axis when there are no destinations."""
    out = {}
    for key, val in dict(fields, path=path).items():
        if key == "labour":
            val = val if has_dest else val[..., 0]  # (F, M, D) -> (F, M)
        elif key == "path":
            val = val if has_dest else val[..., 0]
        else:
            val = val if has_dest else val[:, 0]
        out[key] = val.reshape(batch + val.shape[1:])
    return ChainSolution(**out)


def _solve(costs, tree, trade_costs, tau, wages, value_dependent, destination_costs, temperature, what):
    _check_temperature(temperature)
    costs, T, tau, wages, dest, has_dest = _prepare(costs, trade_costs, tau, wages, destination_costs, tree.n_nodes, tree.n_nodes - 1, what)
    flat, batch = _flatten(costs)
    vd = bool(value_dependent)
    words = _optimal_path(jax.lax.stop_gradient(flat), tree, *(jax.lax.stop_gradient(x) for x in (T, tau, wages, dest)), vd)
    path = _Packing(tree.n_nodes, flat.shape[-1]).unpack_all(words, tree.n_nodes)
    fields = _path_fields(flat, words, tree, T, tau, wages, dest, vd)
    if temperature is None:
        fields["cost"] = _envelope_cost(flat, tree, T, tau, wages, dest, vd)
    else:
        fields["cost"] = _optimal_cost(flat, tree, T, tau, wages, dest, vd, jnp.asarray(temperature, flat.dtype))
    fields["trade_cost"] = fields["cost"] - fields["production_cost"]
    return _finish(fields, path, batch, has_dest)


def solve_chain(
    costs: Float[Array, "... stages countries"],
    trade_costs: Float[Array, "countries countries"],
    tau,
    *,
    wages=None,
    value_dependent: bool = False,
    destination_costs=None,
    temperature=None,
) -> ChainSolution:
    """Solves the firm's sequential-production (snake) problem for a batch of firms.

    Tyazhelnikov (004) eq. (1)-(2): ``MC = min_{c} Σ_i w_{c_i} a_{i c_i} + τ_i T(c_i, c_{i+1})``
    (+ ``τ^F T^F(c_N, d)`` for destination ``d``, §3.3), by the forward Bellman recursion in
    ``O(N·M²)`` per firm. With ``value_dependent=True`` the costs are ad valorem / iceberg
    (eq. 7-8): a part crossing from ``j`` to ``k`` must be produced in ``1 + τ_i T(j, k)`` times the
    quantity.

    Args:
        costs: ``a``, shape ``(..., N, M)``: firms (any batch shape), stages in production order,
            countries. Finite and ``>= 0``.
        trade_costs: ``T``, ``(M, M)``, ``T[j, k]`` the cost of moving a part from ``j`` to ``k``;
            zero diagonal, non-negative, may be asymmetric.
        tau: ``τ``, a scalar or ``(N-1,)`` (``tau[i]`` prices the link from stage ``i`` to ``i+1``).
        wages: ``(M,)``, multiplies the production costs of each country (eq. 10).
        value_dependent: iceberg / ad-valorem trade costs (eq. 7-9, with the ``1 +`` of eq. 8).
        destination_costs: ``τ^F T^F``, ``(M, D)``: final-shipment cost from the last stage's
            country to destination ``d``; the firm solves one problem per destination and every
            field gains a trailing destination axis.
        temperature: soft-min relaxation; ``cost`` becomes ``−t log Σ_paths exp(−cost/t)``-like
            (exact as ``t → 0``) and smooth; the other fields describe the exact optimal path.

    Returns:
        :class:`ChainSolution`. Under ``jax.jit`` only what is used is computed: taking ``.cost``
        alone runs the fused minimum recursion without path recovery.
    """
    n = jnp.shape(costs)[-2] if jnp.ndim(costs) >= 2 else None
    if n is None:
        fail("costs", costs, "costs must have shape (..., stages, countries)")
    return _solve(costs, Tree.chain(n), trade_costs, tau, wages, value_dependent, destination_costs, temperature, "stages")


def solve_tree(
    costs: Float[Array, "... nodes countries"],
    tree: Tree,
    trade_costs: Float[Array, "countries countries"],
    tau,
    *,
    wages=None,
    value_dependent: bool = False,
    destination_costs=None,
    temperature=None,
) -> ChainSolution:
    """Solves the firm's tree-technology problem (004 §2.2-2.3, eq. 5-9) for a batch of firms.

    ``costs[..., n, k]`` is the cost of node ``n`` (a part, or an assembly node's own assembly
    cost) in country ``k``; ``tau`` is a scalar or ``(n_nodes - 1,)`` with ``tau[e]`` pricing the
    link out of node ``tree.edges[e]``. The reversed induction (eq. 6) minimises each child's
    location given its parent's and adds the children's values at assembly nodes. Other
    arguments and the result as in :func:`solve_chain` (``path`` gives each node's country).
    """
    if not isinstance(tree, Tree):
        fail("tree", tree, "must be a jaxtrade.Tree (e.g. Tree.chain(N), Tree.spider(n), Tree(parent))")
    return _solve(costs, tree, trade_costs, tau, wages, value_dependent, destination_costs, temperature, "nodes")


def evaluate_tree_path(costs, path, tree, trade_costs, tau, *, wages=None, value_dependent=False, destination_costs=None) -> ChainSolution:
    """All fields of :class:`ChainSolution` for a GIVEN path (not the optimum).

    ``path``: ``(..., n)`` int, or ``(..., n, D)`` with destinations. This is eq. (5) / (7)-(8)
    evaluated directly: the brute-force reference, and the "paths fixed" cost of the
    decomposition (004 §5.3 step 7). Differentiable in the array arguments.
    """
    if not isinstance(tree, Tree):
        fail("tree", tree, "must be a jaxtrade.Tree")
    costs, T, tau, wages, dest, has_dest = _prepare(costs, trade_costs, tau, wages, destination_costs, tree.n_nodes, tree.n_nodes - 1, "nodes")
    path = jnp.asarray(path)
    if not jnp.issubdtype(path.dtype, jnp.integer):
        fail("path", path, "path must be an integer array of country indices")
    want = costs.shape[:-1] + ((dest.shape[1],) if has_dest else ())
    if path.shape != want:
        fail("path", path, f"path must have shape {want} (costs' batch, nodes{', destinations' if has_dest else ''}); got {path.shape}")
    if is_concrete(path):
        p = np.asarray(path)
        if p.size and (p.min() < 0 or p.max() >= costs.shape[-1]):
            fail("path", path, f"country indices must lie in [0, {costs.shape[-1]})")
    flat, batch = _flatten(costs)
    p = path.reshape((flat.shape[0],) + path.shape[len(batch):]).astype(jnp.int32)
    if not has_dest:
        p = p[..., None]
    fields = _path_fields(flat, _pack(p, flat.shape[-1]), tree, T, tau, wages, dest, bool(value_dependent))
    return _finish(fields, p, batch, has_dest)


def evaluate_path(costs, path, trade_costs, tau, *, wages=None, value_dependent=False, destination_costs=None) -> ChainSolution:
    """:func:`evaluate_tree_path` for a chain: the cost and fields of a given path, eq. (1) / (7)-(8)."""
    if jnp.ndim(costs) < 2:
        fail("costs", costs, "costs must have shape (..., stages, countries)")
    return evaluate_tree_path(costs, path, Tree.chain(jnp.shape(costs)[-2]), trade_costs, tau, wages=wages, value_dependent=value_dependent, destination_costs=destination_costs)


# ----------------------------------------------------------------------------------------------
# Brute force: enumerate all M^n paths (the reference for tests on small problems)
# ----------------------------------------------------------------------------------------------

_BRUTE_FORCE_LIMIT = 2_000_000


def brute_force_tree(costs, tree, trade_costs, tau, *, wages=None, value_dependent=False, destination_costs=None) -> ChainSolution:
    """The optimum by enumerating all ``M^n`` location assignments (small problems only).

    Evaluates every path with the direct cost formula (eq. 5 / 7-8, the code behind
    :func:`evaluate_tree_path`) and keeps the cheapest (the first in lexicographic order among
    ties). Independent of the Bellman recursion.
    """
    if not isinstance(tree, Tree):
        fail("tree", tree, "must be a jaxtrade.Tree")
    costs, T, tau, wages, dest, has_dest = _prepare(costs, trade_costs, tau, wages, destination_costs, tree.n_nodes, tree.n_nodes - 1, "nodes")
    n, m = costs.shape[-2], costs.shape[-1]
    if m**n > _BRUTE_FORCE_LIMIT:
        fail("costs", costs, f"brute force enumerates M^n = {m}^{n} paths; at most {_BRUTE_FORCE_LIMIT} allowed")
    flat, batch = _flatten(costs)
    f, d = flat.shape[0], dest.shape[1]
    all_paths = jnp.asarray(np.array(list(itertools.product(range(m), repeat=n)), dtype=np.int32))  # (P, n)

    def one_path(p):
        return _path_fields(flat, _pack(jnp.broadcast_to(p[None, :, None], (f, n, d)), m), tree, T, tau, wages, dest, bool(value_dependent))

    sols = jax.lax.map(one_path, all_paths, batch_size=min(len(all_paths), 4096))  # leading path axis P
    best = jnp.argmin(sols["cost"], axis=0)  # (F, D)
    fields = {k: jnp.take_along_axis(v, best[None] if v.ndim == 3 else best[None, :, None, :], axis=0)[0] for k, v in sols.items()}
    path = jnp.transpose(all_paths[best], (0, 2, 1))  # (F, D, n) -> (F, n, D)
    return _finish(fields, path, batch, has_dest)


def brute_force_chain(costs, trade_costs, tau, *, wages=None, value_dependent=False, destination_costs=None) -> ChainSolution:
    """The chain optimum by enumerating all ``M^N`` paths; same arguments and fields as :func:`solve_chain`."""
    return brute_force_tree(costs, Tree.chain(jnp.shape(costs)[-2]), trade_costs, tau, wages=wages, value_dependent=value_dependent, destination_costs=destination_costs)
