"""Monte Carlo of many firms: draws, the firm's problem, streamed summary statistics.

Tyazhelnikov (004) §4.2: every firm draws its N×M matrix of stage costs ``A`` i.i.d. from the
country distributions ``F_j(a; θ_j)``, solves its sequential-production problem (eq. 1-2, or a
tree, eq. 5-9) and ends with an optimal marginal cost ``MC(A, τ)``. The distribution of ``MC``
across firms, ``G_MC(θ, τ)``, is what the general equilibrium (§4.3-4.4) and the calibration (§5)
use; it is not available in closed form and is simulated here.

Design:

- **Counter-based draws.** Firm ``f``'s uniforms depend only on ``(seed, f)``: they are the output
  of the Philox-4x32-10 counter-based generator (Salmon et al. 2011, the generator of cuRAND and
  Random123) at key ``seed`` and counter ``(f mod 2^32, f div 2^32, j, 0)``. Firms are generated
  in blocks of ``FIRM_BLOCK = 65_536``; a chunk is a whole number of blocks (a requested chunk size
  is rounded up), so any chunk size and any number of devices gives bitwise-identical ``.cost``.
  Philox is written with 32-bit integer operations only (works without x64, identical on CPU and
  GPU) and is ~3x faster than JAX's threefry on this CPU.
- **Resolution.** In float32 each 32-bit word gives two 16-bit uniforms ``u = (k + ½)/2^16``
  (``uniform_bits=16``, the default: half the random bits per firm) or one 23-bit uniform
  ``u = (k + ½)/2^23`` (``uniform_bits=23``). Both are exactly representable, never 0 or 1, and
  symmetric (``1 − u`` is on the same grid). The distortion of any cdf is at most half a grid step
  in probability, ``2^-17 ≈ 7.6e-6`` for 16 bits, below the Monte Carlo error ``~1/√n`` for
  ``n < 10^10`` firms; the largest Pareto draw is capped at the ``1 − 2^-17`` quantile. float64
  draws use two words per uniform (53 bits). See ``docs/simulation.md``.
- **Reparameterised draws**: ``a = icdf(u; θ)`` so that with fixed uniforms (``common_uniforms``)
  every summary is a differentiable function of θ, τ and wages (the chain solver differentiates
  by the envelope theorem).
- **Streaming.** One ``jit``-compiled kernel maps (seed, chunk index) to per-chunk partial sums
  (count, Σ MC, Σ MC², Σ (MC/MC_ref)^{1−σ}, offshoring, crossings, cluster size, labour, min, max,
  histogram of log MC); the host adds them in float64. Memory is O(chunk).
- **Devices.** The blocks of a chunk are sharded over ``jax.devices()`` with ``jax.shard_map``;
  each device draws and solves its own firms and returns its partial sums (and kept costs), which
  the host combines in device order. Nothing else crosses devices.
- **Processes.** After ``jax.distributed.initialize()`` (one process per host or per GPU),
  ``jax.devices()`` is global: the mesh spans every process's devices, the partials are
  ``all_gather``-ed inside the kernel (a copy, no arithmetic) and every process combines all of
  them in the same order, so each gets the whole result (summary and ``.cost``), bitwise that of
  one process with the same blocks per device per chunk (tests/engine/test_distributed.py;
  docs/simulation.md, "Many processes / clusters"). One process gathers nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import warnings
from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from . import production as _production
from .production import Tree
from .rng import FIRM_BLOCK, block_uniforms, check_uniform_bits, firm_uniforms, seed_key
from .validation import fail, is_concrete
from .distributions import AbstractDistribution

__all__ = [
    "ChunkReducer",
    "run_chunks",
    "default_chunk_size",
    "round_chunk_size",
    "FIRM_BLOCK",
    "SequentialModel",
    "SimulationSummary",
    "SimulationResult",
    "simulate",
    "firm_uniforms",
    "DEFAULT_QUANTILES",
]

DEFAULT_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
_TARGET_CHUNK_ELEMENTS = 1 << 23  # draws (firms × stages × countries) per chunk by default (~400 MB peak RSS)
# On an accelerator, a chunk's fixed cost (launch, device-to-host copy of its partials, the host's
# float64 combine: ~1 ms) dwarfs its kernel at 2^23 draws (~0.1 ms on an H200), so the target grows
# with the device's memory: 1/256 of it in draws (~48 bytes of peak memory a draw: under 20% of
# it), between 2^23 and 2^28 draws.
_MAX_CHUNK_ELEMENTS = 1 << 28
_BYTES_PER_TARGET_DRAW = 256


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


def _float_array(x):
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


class SequentialModel(eqx.Module):
    """A population of firms solving the sequential-production problem (004 §2-4).

    Args:
        stages: ``N``, the number of stages (nodes of ``tree`` when a tree is given).
        trade_costs: ``T``, ``(M, M)``, zero diagonal, ``T[j, k]`` the cost of moving a part from
            country ``j`` to ``k``. ``M`` is the number of countries.
        tau: ``τ``, the scale of the offshoring costs: a scalar or ``(N − 1,)`` (one per link).
        draws: an :class:`~jaxtrade.distributions.AbstractDistribution` shared by every country,
            or a sequence of ``M`` of them (``F_j``, §4.2). Each firm draws ``N × M`` i.i.d. values.
        draws_are: ``"cost"`` (the draw is the unit cost ``a_ij``) or ``"productivity"`` (the draw
            is ``z_ij`` and the cost is ``1/z_ij``).
        wages: ``(M,)`` wages ``w_k`` multiplying country ``k``'s production costs (eq. 10);
            ``None`` for ones.
        tree: a :class:`~jaxtrade.Tree` with ``stages`` nodes (§2.2); ``None`` for the chain.
        value_dependent: iceberg / ad-valorem trade costs (eq. 7-8).
        destination_costs: ``τ^F T^F``, ``(M, D)``, final-shipment costs (§3.3): every firm then
            has one MC per destination and summaries gain a trailing destination axis.

    All array fields are pytree leaves (``jax.grad``/``eqx.filter_grad`` differentiate them);
    ``stages``, ``draws_are``, ``tree`` and ``value_dependent`` are static.
    """

    stages: int = eqx.field(static=True)
    trade_costs: jax.Array
    tau: jax.Array
    draws: AbstractDistribution | tuple
    draws_are: str = eqx.field(static=True)
    wages: jax.Array | None
    tree: Tree | None = eqx.field(static=True)
    value_dependent: bool = eqx.field(static=True)
    destination_costs: jax.Array | None

    def __init__(
        self,
        stages: int,
        trade_costs,
        tau,
        draws,
        *,
        draws_are: str = "cost",
        wages=None,
        tree: Tree | None = None,
        value_dependent: bool = False,
        destination_costs=None,
    ):
        if isinstance(stages, bool) or not isinstance(stages, (int, np.integer)) or stages < 1:
            fail("stages", stages, "stages must be a Python int >= 1")
        stages = int(stages)
        trade_costs = _float_array(trade_costs)
        if trade_costs.ndim != 2 or trade_costs.shape[0] != trade_costs.shape[1] or trade_costs.shape[0] < 1:
            fail("trade_costs", trade_costs, f"trade_costs must be a square (M, M) matrix; got shape {trade_costs.shape}")
        m = trade_costs.shape[0]
        if is_concrete(trade_costs):
            t = np.asarray(trade_costs)
            if not np.all(np.isfinite(t)) or not np.all(t >= 0):
                fail("trade_costs", trade_costs, "all entries must be finite and >= 0")
            if np.any(np.diag(t) != 0):
                fail("trade_costs", trade_costs, "the diagonal must be zero: T(k, k) = 0")
        tau = _float_array(tau)
        n_links = stages - 1
        if tau.ndim != 0 and tau.shape != (n_links,):
            fail("tau", tau, f"tau must be a scalar or have shape (stages - 1,) = ({n_links},); got {tau.shape}")
        if is_concrete(tau) and (not np.all(np.isfinite(np.asarray(tau))) or not np.all(np.asarray(tau) >= 0)):
            fail("tau", tau, "tau must be finite and >= 0")
        if isinstance(draws, AbstractDistribution):
            pass
        elif isinstance(draws, (list, tuple)) and all(isinstance(d, AbstractDistribution) for d in draws):
            if len(draws) != m:
                fail("draws", f"{len(draws)} distributions", f"one distribution per country: len(draws) must be M = {m}")
            draws = tuple(draws)
        else:
            fail("draws", type(draws).__name__, "an AbstractDistribution or a sequence of M of them (jaxtrade.distributions)")
        if draws_are not in ("cost", "productivity"):
            fail("draws_are", draws_are, 'draws_are must be "cost" or "productivity"')
        if wages is not None:
            wages = _float_array(wages)
            if wages.shape != (m,):
                fail("wages", wages, f"wages must have shape (M,) = ({m},); got {wages.shape}")
            if is_concrete(wages) and (not np.all(np.isfinite(np.asarray(wages))) or not np.all(np.asarray(wages) > 0)):
                fail("wages", wages, "wages must be finite and > 0")
        if tree is not None:
            if not isinstance(tree, Tree):
                fail("tree", type(tree).__name__, "must be a jaxtrade.Tree or None")
            if tree.n_nodes != stages:
                fail("tree", f"Tree with {tree.n_nodes} nodes", f"tree.n_nodes must equal stages = {stages}")
        if not isinstance(value_dependent, (bool, np.bool_)):
            fail("value_dependent", value_dependent, "must be a bool")
        if destination_costs is not None:
            destination_costs = _float_array(destination_costs)
            if destination_costs.ndim != 2 or destination_costs.shape[0] != m or destination_costs.shape[1] < 1:
                fail("destination_costs", destination_costs, f"must have shape (M, D) = ({m}, D >= 1); got {destination_costs.shape}")
            if is_concrete(destination_costs):
                dc = np.asarray(destination_costs)
                if not np.all(np.isfinite(dc)) or not np.all(dc >= 0):
                    fail("destination_costs", destination_costs, "all entries must be finite and >= 0")
        self.stages = stages
        self.trade_costs = trade_costs
        self.tau = tau
        self.draws = draws
        self.draws_are = draws_are
        self.wages = wages
        self.tree = tree
        self.value_dependent = bool(value_dependent)
        self.destination_costs = destination_costs

    @property
    def countries(self) -> int:
        """``M``, the number of countries."""
        return self.trade_costs.shape[0]

    @property
    def destinations(self) -> int | None:
        """``D``, the number of destinations, or ``None`` without destination costs."""
        return None if self.destination_costs is None else self.destination_costs.shape[1]

    def distribution(self, country: int) -> AbstractDistribution:
        return self.draws if isinstance(self.draws, AbstractDistribution) else self.draws[country]

    def costs_from_uniforms(self, u):
        """Unit costs ``a = F_j^{-1}(u)`` (or ``1/z`` for productivity draws) from uniforms.

        ``u``: ``(..., N, M)``; column ``j`` uses country ``j``'s distribution. Differentiable in
        the distribution parameters (reparameterisation).
        """
        cols = [self.distribution(k).icdf(u[..., k]) for k in range(self.countries)]
        x = jnp.stack(cols, axis=-1).astype(u.dtype)
        return 1.0 / x if self.draws_are == "productivity" else x

    def solve(self, costs):
        """The firms' problem for given costs ``(..., N, M)``: a :class:`~jaxtrade.ChainSolution`."""
        kw = dict(wages=self.wages, value_dependent=self.value_dependent, destination_costs=self.destination_costs)
        if self.tree is None:
            return _production.solve_chain(costs, self.trade_costs, self.tau, **kw)
        return _production.solve_tree(costs, self.tree, self.trade_costs, self.tau, **kw)

    def astype(self, dtype) -> "SequentialModel":
        """The model with every floating leaf cast to ``dtype`` (the kernel's working precision)."""
        return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, self)


def _use_table(model, dtype, uniform_bits) -> bool:
    """16-bit float32 uniforms take only 65,536 values: a distribution whose quantile function is
    expensive (the generalised gamma's Newton inversion) is tabulated once per chunk and looked up."""
    if uniform_bits != 16 or jnp.dtype(dtype) != jnp.float32:
        return False
    return any(getattr(model.distribution(k), "expensive_icdf", False) for k in range(model.countries))


def _costs_from_indices16(model, k):
    """``SequentialModel.costs_from_uniforms`` for 16-bit indices ``k`` (u = (k + ½)/2^16): each
    country's quantile function is evaluated on the 65,536-point grid and gathered."""
    grid = (jnp.arange(1 << 16, dtype=jnp.float32) + 0.5) * np.float32(2.0**-16)
    cols = []
    for j in range(model.countries):
        tab = model.distribution(j).icdf(grid).astype(jnp.float32)
        cols.append(tab.at[k[..., j]].get(mode="promise_in_bounds"))
    x = jnp.stack(cols, axis=-1)
    return 1.0 / x if model.draws_are == "productivity" else x


def _draw_costs(model, key, blocks, dtype, uniform_bits):
    """The unit costs ``(len(blocks)·FIRM_BLOCK, N, M)`` of the firms of ``blocks``, exactly as
    :func:`simulate` draws them (for other engines that must see the same firms bit for bit)."""
    n_uniforms = model.stages * model.countries
    table = _use_table(model, dtype, uniform_bits)
    u = jax.vmap(lambda b: block_uniforms(key, b, n_uniforms, dtype, uniform_bits, table))(blocks)
    u = u.reshape(-1, model.stages, model.countries)
    return _costs_from_indices16(model, u) if table else model.costs_from_uniforms(u)


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


class SimulationSummary(eqx.Module):
    """Summary statistics of the simulated firms' optimal marginal costs (004 §4.2-4.4).

    With destination costs every field has a trailing destination axis ``D``.

    - ``n_firms``; ``mean_cost``, ``std_cost``, ``min_cost``, ``max_cost`` of MC.
    - ``quantile_levels``, ``quantiles`` (``(Q,)``): exact when the costs are kept (``keep=True``
      or ``common_uniforms``), otherwise interpolated in a fine histogram of log MC
      (``quantiles_exact`` says which).
    - ``power_mean``: ``M̃C = (E[MC^{1−σ}])^{1/(1−σ)}``, the CES aggregate of §4.4 (NOTES: the
      printed weighted average is circular; this is the power mean entering the price index);
      ``None`` without ``sigma``.
    - ``offshoring_share``: share of firms whose path uses more than one country.
    - ``mean_crossings``: mean number of border crossings ``m``; ``mean_cluster_size``: mean of
      ``N/(m + 1)`` (footnote 23 / Lemma 1).
    - ``mean_labour``: ``(M,)`` mean over firms of labour per unit of output in each country
      ``L_Dk = Σ_i 1(c_i = k) a_ik`` (§3.5; ``= ∂MC/∂w_k``).
    - ``log_cost_edges`` ``(B + 1,)`` and ``log_cost_counts`` ``(B + 2,)``: histogram of log MC;
      ``counts[0]``/``counts[-1]`` count firms below/above the range.
    - ``n_nonfinite``: firms whose MC is NaN or ±inf (per destination). They are in no other field:
      every mean, quantile and count is over the ``n_firms − n_nonfinite`` firms with a finite MC.
    """

    n_firms: int = eqx.field(static=True)
    mean_cost: jax.Array
    std_cost: jax.Array
    min_cost: jax.Array
    max_cost: jax.Array
    quantile_levels: jax.Array
    quantiles: jax.Array
    quantiles_exact: bool = eqx.field(static=True)
    sigma: float | None = eqx.field(static=True)
    power_mean: jax.Array | None
    offshoring_share: jax.Array | None
    mean_crossings: jax.Array | None
    mean_cluster_size: jax.Array | None
    mean_labour: jax.Array | None
    log_cost_edges: jax.Array
    log_cost_counts: jax.Array
    n_nonfinite: jax.Array | int = 0

    def to_dict(self) -> dict:
        """JSON-ready dictionary (lists of floats)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None or isinstance(v, (bool, int, float)):
                out[f.name] = v
            else:
                out[f.name] = np.asarray(v).tolist()
        return out


class SimulationResult(eqx.Module):
    """Result of :func:`simulate`: ``cost`` (the firms' MC in firm order, ``(n_firms,)`` or
    ``(n_firms, D)``; ``None`` unless ``keep=True`` or ``common_uniforms``), ``summary``, and how
    it was computed (``seed``, ``chunk_size`` — the one used, a whole number of blocks per device —,
    ``n_chunks``, ``n_devices``, ``dtype``, ``uniform_bits``, and ``requested_chunk_size``, the
    ``chunk_size`` argument before rounding, ``None`` for the default)."""

    cost: jax.Array | np.ndarray | None
    summary: SimulationSummary
    seed: int = eqx.field(static=True)
    chunk_size: int = eqx.field(static=True)
    n_chunks: int = eqx.field(static=True)
    n_devices: int = eqx.field(static=True)
    dtype: str = eqx.field(static=True)
    uniform_bits: int = eqx.field(static=True)
    requested_chunk_size: int | None = eqx.field(static=True, default=None)


# ----------------------------------------------------------------------------------------------
# Per-firm statistics, shared by the streamed kernel and the in-memory (differentiable) path
# ----------------------------------------------------------------------------------------------


def _as_fd(x, has_dest):
    """(F,) -> (F, 1) without destinations; (F, D) unchanged. Labour (F, M) -> (F, M, 1)."""
    return x if has_dest else x[..., None]


def _firm_stats(model, sol, paths: bool):
    """Per-firm quantities (F, D) and labour (F, M, D) from a ChainSolution."""
    has_dest = model.destination_costs is not None
    cost = _as_fd(sol.cost, has_dest)
    out = {"cost": cost}
    if paths:
        path = sol.path if has_dest else sol.path[..., None]  # (F, N, D)
        crossings = _as_fd(sol.crossings, has_dest).astype(cost.dtype)
        out["offshore"] = jnp.any(path != path[:, :1, :], axis=1).astype(cost.dtype)
        out["crossings"] = crossings
        out["cluster"] = model.stages / (crossings + 1.0)
        out["labour"] = sol.labour if has_dest else sol.labour[..., None]
    return out


def _tree_sum(x, axis=0):
    """Sum over a multiple-of-65,536 firm axis in three 256-long stages (float32 rounding error
    ~3·256·eps instead of n·eps for a sequential loop)."""
    n = x.shape[axis]
    if n % FIRM_BLOCK == 0 and axis == 0:
        y = x.reshape((n // FIRM_BLOCK, 256, 256) + x.shape[1:])
        return y.sum(axis=2).sum(axis=1).sum(axis=0)
    return x.sum(axis=axis)


# ----------------------------------------------------------------------------------------------
# The chunk runner: one streamed loop for every engine that needs many firms
# ----------------------------------------------------------------------------------------------


class ChunkReducer:
    """What a streamed computation does with each chunk of firms, for :func:`run_chunks`.

    A reducer is a hashable, immutable value (a frozen dataclass of static settings): it is the
    compile-cache key, so two equal reducers share one compiled kernel. Subclasses define

    - ``reduce(model, costs, valid, firm_index, operands)``: traced, inside the compiled kernel, on
      one device's firms: ``costs`` ``(F, N, M)`` drawn exactly as :func:`simulate` draws them,
      ``valid`` ``(F,)`` False on the padding past ``n_firms``, ``firm_index`` ``(F,)`` uint32 (the
      low 32 bits of each firm's index), ``operands`` the pytree of arrays given to
      :func:`run_chunks` (changing their values does not recompile). Returns a pytree of partial
      results (sums over the firms, or per-firm arrays with the firm axis first).
    - ``combine(acc, part)``: on the host, NumPy: folds one device's ``part`` of one chunk into
      the accumulator ``acc`` (``None`` at the start) and returns it. Chunks arrive in order and,
      within a chunk, devices in order, so per-firm arrays concatenate in firm order.
    """

    def reduce(self, model, costs, valid, firm_index, operands):  # pragma: no cover - interface
        raise NotImplementedError

    def combine(self, acc, part):  # pragma: no cover - interface
        raise NotImplementedError


def _chunk_firms(blocks, n_firms):
    """``firm_index`` (low 32 bits) and ``valid`` of the firms of ``blocks``; ``n_firms`` is the pair
    ``(n // FIRM_BLOCK, n % FIRM_BLOCK)`` so that counts beyond 2^32 firms stay exact."""
    full_blocks, remainder = n_firms
    i = jnp.arange(FIRM_BLOCK, dtype=jnp.uint32)[None, :]
    valid = ((blocks[:, None] < full_blocks) | ((blocks[:, None] == full_blocks) & (i < remainder))).reshape(-1)
    firm_index = ((blocks[:, None] << np.uint32(16)) | i).reshape(-1)
    return firm_index, valid


@functools.lru_cache(maxsize=64)
def _kernel(reducer: ChunkReducer, blocks_per_chunk: int, dtype: str, uniform_bits: int, mesh: Mesh | None,
            gather: bool = False):
    """The jit-compiled chunk kernel of ``reducer`` (cached: one compile per static configuration).

    Every device draws and reduces its own blocks; the partial results come back stacked on a
    leading device axis and are combined on the host, so nothing but the result crosses devices.

    ``gather`` (the mesh spans devices of other processes, ``jax.distributed``): the stacked
    partials are ``all_gather``-ed over the mesh inside the kernel and returned replicated, so
    every process holds all of them (a copy, no arithmetic: the same bits as one process's stack)
    and combines them on its host in the same order. Without it (one process) nothing is gathered:
    the stack stays sharded over the local devices and is read from each."""

    def local(model, key, blocks, n_firms, operands):
        firm_index, valid = _chunk_firms(blocks, n_firms)
        costs = _draw_costs(model, key, blocks, jnp.dtype(dtype), uniform_bits)
        part = reducer.reduce(model, costs, valid, firm_index, operands)
        if gather:  # (n_dev, ...) in mesh order on every device
            return jax.tree_util.tree_map(lambda x: jax.lax.all_gather(x, "firms"), part)
        return jax.tree_util.tree_map(lambda x: x[None], part)

    def run(model, key, chunk_index, n_firms, operands):
        blocks = chunk_index.astype(jnp.uint32) * np.uint32(blocks_per_chunk) + jnp.arange(blocks_per_chunk, dtype=jnp.uint32)
        if mesh is None:
            return local(model, key, blocks, n_firms, operands)
        f = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P("firms"), P(), P()),
                          out_specs=P() if gather else P("firms"), check_vma=False)
        blocks = jax.lax.with_sharding_constraint(blocks, NamedSharding(mesh, P("firms")))
        return f(model, key, blocks, n_firms, operands)

    return jax.jit(run)


@functools.lru_cache(maxsize=64)
def _given_kernel(reducer: ChunkReducer):
    """The kernel of ``reducer`` over given cost matrices (one chunk, one device)."""

    def run(costs, start, n_firms, operands):
        firm_index = start + jnp.arange(costs.shape[0], dtype=jnp.uint32)
        part = reducer.reduce(None, costs, firm_index < n_firms, firm_index, operands)
        return jax.tree_util.tree_map(lambda x: x[None], part)

    return jax.jit(run)


def target_chunk_elements(device=None) -> int:
    """Draws per chunk by default: 2^23 on a CPU (~400 MB peak); on an accelerator
    1/256 of its memory in draws (``memory_stats()["bytes_limit"]``), rounded down to a power of
    two (so that processes with the same kind of device agree however their allocators round),
    from 2^23 to 2^28. Processes of one ``jax.distributed`` run must use the same chunk size: with
    devices of different memory, pass ``chunk_size``."""
    device = jax.devices()[0] if device is None else device
    if device.platform == "cpu":
        return _TARGET_CHUNK_ELEMENTS
    try:
        limit = int((device.memory_stats() or {}).get("bytes_limit", 0))
    except Exception:  # a backend without memory statistics
        limit = 0
    draws = limit // _BYTES_PER_TARGET_DRAW
    if draws < _TARGET_CHUNK_ELEMENTS:
        return _TARGET_CHUNK_ELEMENTS
    return int(min(1 << (draws.bit_length() - 1), _MAX_CHUNK_ELEMENTS))


def default_chunk_size(n_firms: int, n_uniforms: int, n_devices: int = 1, target: int | None = None) -> int:
    """About ``target`` draws per chunk (:func:`target_chunk_elements`: 2^23 on a CPU, ~400 MB
    peak), split evenly so that the last chunk is not mostly padding, in whole blocks of
    ``FIRM_BLOCK`` firms per device."""
    target = _TARGET_CHUNK_ELEMENTS if target is None else int(target)
    per = max(1, target // (n_uniforms * FIRM_BLOCK))
    need = -(-n_firms // FIRM_BLOCK)
    n_chunks = -(-need // per)
    blocks = -(-need // n_chunks)
    return (-(-blocks // n_devices) * n_devices) * FIRM_BLOCK


def round_chunk_size(chunk_size, n_devices: int = 1) -> int:
    """A requested ``chunk_size`` (any positive int) rounded up to whole blocks on every device:
    the smallest multiple of ``FIRM_BLOCK × n_devices`` that is ``>= chunk_size``. Draws are
    made per block of ``FIRM_BLOCK`` firms, so chunks are always whole blocks; the rounded value is
    what runs (``SimulationResult.chunk_size``, ``info["chunk_size"]`` of :func:`run_chunks`)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        fail("chunk_size", chunk_size, "chunk_size must be a positive int (rounded up to whole FIRM_BLOCK × n_devices)")
    unit = FIRM_BLOCK * int(n_devices)
    return -(-int(chunk_size) // unit) * unit


def check_firm_count(n_firms) -> int:
    if isinstance(n_firms, bool) or not isinstance(n_firms, (int, np.integer)) or n_firms < 1:
        fail("n_firms", n_firms, "n_firms must be a Python int >= 1")
    return int(n_firms)


def run_chunks(
    model: "SequentialModel | None",
    n_firms: int,
    reducer: ChunkReducer,
    *,
    operands=(),
    seed: int = 0,
    chunk_size: int | None = None,
    dtype=jnp.float32,
    uniform_bits: int = 16,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int], None] | None = None,
    costs=None,
):
    """Streams firms ``0 … n_firms − 1`` of ``model`` through ``reducer``, chunk by chunk.

    The one chunk loop of the package: :func:`simulate`, the decomposition of the gains from trade
    and any other engine that needs many firms call it with their own :class:`ChunkReducer`.
    Firm ``f``'s costs depend only on ``(seed, f)`` (:mod:`jaxtrade.engine.rng`), so every caller
    sees the same firms bit for bit, whatever the chunk size or the number of devices. One chunk
    is kept in flight while the host combines the previous one.

    Args:
        model: the :class:`SequentialModel` whose firms are drawn (cast to ``dtype``); ``None``
            with ``costs``.
        n_firms: number of firms (chunks are padded; ``valid`` masks the padding).
        reducer: a :class:`ChunkReducer`.
        operands: pytree of arrays passed to ``reducer.reduce`` (traced: new values, no recompile).
        seed: ``0 <= seed < 2^64``.
        chunk_size: firms per kernel call, any positive int. Drawn firms: rounded up to a
            multiple of ``FIRM_BLOCK × n_devices`` (:func:`round_chunk_size`; default
            :func:`default_chunk_size`); ``info["chunk_size"]`` is the rounded value and
            ``info["requested_chunk_size"]`` what was asked. Given ``costs``: used as is (default
            all of them).
        dtype, uniform_bits: precision of the draws (as in :func:`simulate`).
        devices: devices to shard the firms of each chunk over (default ``jax.devices()``). If
            they include other processes' devices (``jax.distributed``), every process must call
            with the same arguments; each then combines every device's partial results itself.
        progress: called with the number of real firms finished after each chunk.
        costs: instead of drawing, stream these cost matrices ``(n_firms, N, M)`` (one device;
            ``reduce`` then receives ``model=None``).

    Returns:
        ``(acc, info)``: the reducer's accumulator, and a dict with ``chunk_size`` (the one used),
        ``requested_chunk_size`` (``None`` for the default), ``n_chunks`` and ``n_devices``.
    """
    n_firms = check_firm_count(n_firms)
    requested = chunk_size
    if costs is not None:
        chunk_size = n_firms if chunk_size is None else int(chunk_size)
        if chunk_size < 1:
            fail("chunk_size", chunk_size, "chunk_size >= 1")
        n_dev = 1
        kern = _given_kernel(reducer)

        def launch(c):
            block = costs[c * chunk_size : (c + 1) * chunk_size]
            if block.shape[0] < chunk_size:  # pad the last chunk: one compiled shape
                block = jnp.concatenate([block, jnp.ones((chunk_size - block.shape[0],) + block.shape[1:], block.dtype)])
            return kern(block, jnp.uint32(c * chunk_size), jnp.uint32(n_firms), operands)
    else:
        dtype = jnp.dtype(dtype)
        check_uniform_bits(uniform_bits, dtype)
        devs = list(jax.devices() if devices is None else devices)
        n_dev = len(devs)
        if chunk_size is None:
            local = [d for d in devs if d.process_index == jax.process_index()] or devs  # memory_stats needs a local device
            chunk_size = default_chunk_size(n_firms, model.stages * model.countries, n_dev, target_chunk_elements(local[0]))
        else:
            chunk_size = round_chunk_size(chunk_size, n_dev)
        chunk_size = int(chunk_size)
        # Devices of other processes (jax.distributed): a global mesh whose partials are gathered
        # in the kernel so that every process combines all of them (see _kernel).
        gather = any(d.process_index != jax.process_index() for d in devs)
        mesh = Mesh(np.asarray(devs), ("firms",)) if n_dev > 1 or gather else None
        kern = _kernel(reducer, chunk_size // FIRM_BLOCK, dtype.name, int(uniform_bits), mesh, gather)
        m = model.astype(dtype)
        key = jnp.asarray(seed_key(seed))
        n_firms_arr = (jnp.asarray(n_firms // FIRM_BLOCK, jnp.uint32), jnp.asarray(n_firms % FIRM_BLOCK, jnp.uint32))

        def launch(c):
            return kern(m, key, jnp.asarray(c, jnp.uint32), n_firms_arr, operands)

    n_chunks = -(-n_firms // chunk_size)
    acc = None
    pending: collections.deque = collections.deque()

    def collect(item):
        nonlocal acc
        c, part = item
        part = jax.device_get(part)
        for d in range(n_dev):
            acc = reducer.combine(acc, jax.tree_util.tree_map(lambda x: np.asarray(x[d]), part))
        if progress is not None:
            progress(min(chunk_size, n_firms - c * chunk_size))

    for c in range(n_chunks):
        pending.append((c, launch(c)))
        if len(pending) > 1:  # keep one chunk in flight while the host combines the previous one
            collect(pending.popleft())
    while pending:
        collect(pending.popleft())
    return acc, dict(chunk_size=chunk_size, n_chunks=n_chunks, n_devices=n_dev,
                     requested_chunk_size=None if requested is None else int(requested))


# ----------------------------------------------------------------------------------------------
# The summaries of `simulate` as a reducer
# ----------------------------------------------------------------------------------------------


def _partials(model, st, valid, log_lo, inv_width, log_ref, one_minus_sigma, cfg: "_Summaries"):
    """Per-chunk partial sums of the streamed statistics (all reductions over the firm axis).

    Only firms with a finite MC enter the sums, counts and histogram; the others are counted in
    ``nonfinite`` (per destination) and reported by :func:`simulate`."""
    cost = st["cost"]
    dtype = cost.dtype
    finite = jnp.isfinite(cost)
    v = valid[:, None] & finite  # (F, D)
    zero = jnp.zeros((), dtype)
    big = jnp.asarray(jnp.finfo(dtype).max, dtype)
    out = {
        "count": jnp.sum(v.astype(jnp.int32), axis=0),
        "nonfinite": jnp.sum((valid[:, None] & ~finite).astype(jnp.int32), axis=0),
        "sum_cost": _tree_sum(jnp.where(v, cost, zero)),
        "min_cost": jnp.min(jnp.where(v, cost, big), axis=0),
        "max_cost": jnp.max(jnp.where(v, cost, -big), axis=0),
    }
    logc = jnp.log(jnp.where(v, cost, 1.0))
    # Σ (MC − MC_ref)² via log-scaled deviations would lose the mean; use Σ (MC/ref)² (scaled, no overflow).
    ref = jnp.exp(log_ref)
    out["sum_cost2"] = _tree_sum(jnp.where(v, (cost / ref) ** 2, zero))
    if cfg.has_sigma:
        out["sum_power"] = _tree_sum(jnp.where(v, jnp.exp(one_minus_sigma * (logc - log_ref)), zero))
    if cfg.paths:
        for name in ("offshore", "crossings", "cluster"):
            out["sum_" + name] = _tree_sum(jnp.where(v, st[name], zero))
        out["sum_labour"] = _tree_sum(jnp.where(v[:, None, :], st["labour"], zero))
    # Histogram of log MC: bin 0 below the range, bin B+1 above.
    pos = (logc - log_lo) * inv_width
    idx = jnp.where(pos < 0, 0, jnp.where(pos < cfg.bins, jnp.floor(pos).astype(jnp.int32) + 1, cfg.bins + 1))
    d = cost.shape[1]
    flat = (idx * d + jnp.arange(d, dtype=jnp.int32)[None, :]).reshape(-1)
    out["hist"] = jnp.zeros(((cfg.bins + 2) * d,), jnp.int32).at[flat].add(v.reshape(-1).astype(jnp.int32)).reshape(cfg.bins + 2, d)
    return out


def _chunk_body(model, costs, valid, operands, cfg: "_Summaries"):
    """Solves and reduces one device's firms of a chunk (the traced body of :class:`_Summaries`)."""
    sol = model.solve(costs)  # without cfg.paths only .cost is read: jit drops the path recovery
    st = _firm_stats(model, sol, cfg.paths)
    # Computed once and stored: the MC enters ~7 reductions (count, sums, min, max, histogram)
    # and XLA:CPU, which has no multi-output fusion, otherwise fused (recomputed) the whole
    # chain recursion into each of them (7 passes over the chunk's costs). Bitwise the same.
    st["cost"] = _production._materialise(st["cost"], costs)
    parts = _partials(model, st, valid, *operands, cfg)
    if cfg.keep:
        parts["cost"], parts["valid"] = st["cost"], valid
    return parts


@dataclasses.dataclass(frozen=True)
class _Summaries(ChunkReducer):
    """The reducer of :func:`simulate`: streamed sums, extrema and the histogram of log MC
    (float64 on the host), and with ``keep`` every firm's MC.

    Operands: ``(log_lo, inv_width, log_ref, one_minus_sigma)`` (histogram range, scale, 1 − σ)."""

    bins: int
    paths: bool
    keep: bool
    has_sigma: bool

    def reduce(self, model, costs, valid, firm_index, operands):
        return _chunk_body(model, costs, valid, operands, self)

    def combine(self, acc, part):
        acc = {"kept": []} if acc is None else acc
        for name, x in part.items():
            if name in ("cost", "valid"):
                continue
            x = np.asarray(x, dtype=np.int64 if name in ("count", "nonfinite", "hist") else np.float64)
            if name not in acc:
                acc[name] = x
            elif name == "min_cost":
                acc[name] = np.minimum(acc[name], x)
            elif name == "max_cost":
                acc[name] = np.maximum(acc[name], x)
            else:
                acc[name] = acc[name] + x
        if self.keep:
            acc["kept"].append(np.asarray(part["cost"])[np.asarray(part["valid"])])
        return acc


@functools.lru_cache(maxsize=16)
def _pilot_kernel(dtype, uniform_bits):
    def run(model, key):
        costs = _draw_costs(model, key, jnp.zeros((1,), jnp.uint32), jnp.dtype(dtype), uniform_bits)  # block 0
        sol = model.solve(costs)
        c = sol.cost if model.destination_costs is not None else sol.cost[:, None]
        # Stored once, so that min, max and the median's sort read it instead of each fusing in the
        # draws and the solve. Bitwise the same; the time gain was within noise (M = 10, 65,536 firms:
        # 68-103 ms with or without it, alternating runs; docs/simulation.md).
        c = _production._materialise(c, costs)
        logc = jnp.log(c)
        ok = jnp.isfinite(logc)
        lo = jnp.min(jnp.where(ok, logc, jnp.inf))
        hi = jnp.max(jnp.where(ok, logc, -jnp.inf))
        return lo, hi, jnp.median(logc)

    return jax.jit(run)


# ----------------------------------------------------------------------------------------------
# simulate
# ----------------------------------------------------------------------------------------------


def _check_sigma(sigma):
    if sigma is None:
        return
    if is_concrete(sigma):
        s = np.asarray(sigma)
        if s.shape != () or not np.isfinite(s) or s == 1:
            fail("sigma", sigma, "sigma must be a finite scalar != 1 (the CES elasticity, usually > 1)")


def _report_nonfinite(nonfinite, n_firms, throw):
    """Non-finite marginal costs are reported, never averaged silently (raised with ``throw``)."""
    bad = int(np.max(nonfinite))
    if bad == 0:
        return
    msg = (f"{bad} of {n_firms} simulated firms have a non-finite marginal cost (NaN or inf); they are left out of the "
           "summaries and counted in summary.n_nonfinite. Check the draws (distribution parameters, dtype) and the trade costs")
    if throw:
        fail("model", f"{bad} non-finite firms", "every simulated firm's marginal cost must be finite (throw=True)")
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def _quantiles_from_histogram(counts, edges, levels, vmin, vmax):
    """Quantiles (per destination) from histogram counts ``(B + 2, D)`` of log MC, interpolated
    linearly in log MC within a bin; the outer bins run to the exact min / max."""
    b = counts.shape[0] - 2
    lo_edges = np.concatenate([[np.log(vmin)], edges[:-1], [edges[-1]]])
    hi_edges = np.concatenate([[edges[0]], edges[1:], [np.log(vmax)]])
    n = counts.sum()
    cum = np.cumsum(counts)
    out = []
    for q in levels:
        target = q * n
        i = int(np.searchsorted(cum, target, side="left"))
        i = min(i, b + 1)
        before = cum[i - 1] if i > 0 else 0
        frac = 0.0 if counts[i] == 0 else (target - before) / counts[i]
        a, c = lo_edges[i], hi_edges[i]
        if not np.isfinite(a):
            a = c
        if not np.isfinite(c):
            c = a
        out.append(np.exp(a + frac * (c - a)))
    return np.asarray(out)


def simulate(
    model: SequentialModel,
    n_firms: int,
    *,
    seed: int = 0,
    chunk_size: int | None = None,
    keep: bool = False,
    sigma=None,
    common_uniforms=None,
    dtype=jnp.float32,
    uniform_bits: int = 16,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    bins: int = 2048,
    paths: bool = True,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int], None] | None = None,
    throw: bool = False,
) -> SimulationResult:
    """Simulates ``n_firms`` firms of ``model`` and summarises their optimal marginal costs.

    Firm ``f`` draws its ``N × M`` costs ``a_ij = F_j^{-1}(u_fij; θ_j)`` (004 §4.2) from uniforms
    that depend only on ``(seed, f)`` (Philox, see the module docstring), solves eq. (1)-(2)
    (or the tree / value-dependent / destination variants) and contributes to the summary.

    Args:
        model: a :class:`SequentialModel`.
        n_firms: number of firms (any positive int; chunks are padded and masked).
        seed: ``0 <= seed < 2^64``.
        chunk_size: firms per kernel call, any positive int, rounded up to a multiple of
            ``FIRM_BLOCK · n_devices`` (the value used is ``result.chunk_size``, the one asked
            ``result.requested_chunk_size``); default ≈ 2^23 draws per chunk, at most what
            ``n_firms`` needs. Memory is O(chunk). Results do not depend on it (bitwise ``.cost``).
        keep: also return every firm's MC (``.cost``, on the host; 4 bytes per firm in float32)
            and exact quantiles.
        sigma: CES elasticity σ; adds the power mean ``(E[MC^{1−σ}])^{1/(1−σ)}`` (§4.4).
        common_uniforms: ``(n_firms, N, M)`` uniforms in (0, 1) (e.g. :func:`firm_uniforms`):
            no streaming, every summary a JAX array differentiable in the model's parameters
            (distribution parameters, τ, wages) — use inside ``jax.grad``/``eqx.filter_grad``.
        dtype: float32 (default) or float64 (needs ``jax_enable_x64``).
        uniform_bits: 16 (default; two uniforms per 32-bit word) or 23 (float32 only).
        quantiles: levels of the reported quantiles.
        bins: number of histogram bins of log MC (the range is set from the first 65,536 firms,
            widened by half its width on each side, so it does not depend on the chunk size).
        paths: compute the path statistics (offshoring, crossings, cluster size, labour); with
            ``False`` the kernel only solves for MC (faster) and those fields are ``None``.
        devices: devices to shard the firms over (default ``jax.devices()``: after
            ``jax.distributed.initialize()`` those of every process, and every process must then
            call :func:`simulate` with the same arguments and receives the same full result).
        progress: called with the number of firms finished after each chunk (e.g. a tqdm bar's
            ``update``).
        throw: raise :class:`jaxtrade.JaxtradeInputError` if any firm's MC is not finite (NaN or
            ±inf, e.g. from a distribution whose draws overflow). Otherwise such firms are left out
            of every summary, counted in ``summary.n_nonfinite`` and reported by a warning; their MC
            is still in ``.cost`` with ``keep``.

    Returns:
        :class:`SimulationResult`.
    """
    if not isinstance(model, SequentialModel):
        fail("model", type(model).__name__, "must be a jaxtrade.SequentialModel")
    if isinstance(n_firms, bool) or not isinstance(n_firms, (int, np.integer)) or n_firms < 1:
        fail("n_firms", n_firms, "n_firms must be a Python int >= 1")
    n_firms = int(n_firms)
    _check_sigma(sigma)
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        fail("dtype", dtype, "float32 or float64")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        fail("dtype", dtype, "float64 needs jax.config.update('jax_enable_x64', True) (set it in your script)")
    check_uniform_bits(uniform_bits, dtype)
    levels = np.asarray(quantiles, dtype=np.float64)
    if levels.ndim != 1 or np.any(levels < 0) or np.any(levels > 1):
        fail("quantiles", quantiles, "a sequence of levels in [0, 1]")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        fail("bins", bins, "bins must be an int >= 1")
    if common_uniforms is not None:
        return _simulate_in_memory(model, n_firms, common_uniforms, sigma, dtype, levels, int(bins), paths, seed, uniform_bits, throw)

    m = model.astype(dtype)
    key = jnp.asarray(seed_key(seed))
    # Pilot on block 0 (independent of chunk size and devices): histogram range and scale.
    lo, hi, med = (float(x) for x in _pilot_kernel(dtype.name, uniform_bits)(m, key))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = -1.0, 1.0
    if not np.isfinite(med):
        med = 0.5 * (lo + hi)
    span = max(hi - lo, 1e-3 * max(1.0, abs(lo)))
    log_lo = lo - 0.5 * span
    width = 2.0 * span / bins
    edges = log_lo + width * np.arange(bins + 1)
    operands = (
        jnp.asarray(log_lo, dtype),
        jnp.asarray(1.0 / width, dtype),
        jnp.asarray(med, dtype),
        jnp.asarray(0.0 if sigma is None else 1.0 - float(sigma), dtype),
    )
    reducer = _Summaries(bins=int(bins), paths=bool(paths), keep=bool(keep), has_sigma=sigma is not None)
    acc, info = run_chunks(model, n_firms, reducer, operands=operands, seed=seed, chunk_size=chunk_size, dtype=dtype,
                           uniform_bits=uniform_bits, devices=devices, progress=progress)
    chunk_size, n_chunks, n_dev = info["chunk_size"], info["n_chunks"], info["n_devices"]
    _report_nonfinite(acc["nonfinite"], n_firms, throw)
    n = np.where(acc["count"] > 0, acc["count"], np.nan)  # a destination with no finite firm: NaN summaries (reported above)
    mean = acc["sum_cost"] / n
    ref = np.exp(med)
    with np.errstate(invalid="ignore", over="ignore"):  # overflowed float32 sums stay inf, never a silent number
        var = np.maximum(acc["sum_cost2"] / n * ref**2 - mean**2, 0.0) * n / np.maximum(n - 1, 1)
    cost = np.concatenate(acc["kept"], axis=0) if keep else None
    if keep:
        qs = np.stack([np.quantile(c[np.isfinite(c)], levels) if np.isfinite(c).any() else np.full(levels.shape, np.nan)
                       for c in cost.astype(np.float64).T], axis=-1)
        exact = True
    else:
        qs = np.stack(
            [_quantiles_from_histogram(acc["hist"][:, d], edges, levels, acc["min_cost"][d], acc["max_cost"][d]) for d in range(acc["hist"].shape[1])],
            axis=-1,
        )
        exact = False
    power = None
    if sigma is not None:
        power = ref * (acc["sum_power"] / n) ** (1.0 / (1.0 - float(sigma)))
    has_dest = model.destination_costs is not None
    squeeze = (lambda x: x) if has_dest else (lambda x: None if x is None else x[..., 0])
    summary = SimulationSummary(
        n_firms=n_firms,
        mean_cost=squeeze(mean),
        std_cost=squeeze(np.sqrt(var)),
        min_cost=squeeze(acc["min_cost"]),
        max_cost=squeeze(acc["max_cost"]),
        quantile_levels=levels,
        quantiles=squeeze(qs),
        quantiles_exact=exact,
        sigma=None if sigma is None else float(sigma),
        power_mean=squeeze(power),
        offshoring_share=squeeze(acc["sum_offshore"] / n) if paths else None,
        mean_crossings=squeeze(acc["sum_crossings"] / n) if paths else None,
        mean_cluster_size=squeeze(acc["sum_cluster"] / n) if paths else None,
        mean_labour=squeeze(acc["sum_labour"] / n) if paths else None,
        log_cost_edges=edges,
        log_cost_counts=squeeze(acc["hist"]),
        n_nonfinite=squeeze(acc["nonfinite"]),
    )
    if keep and not has_dest:
        cost = cost[:, 0]
    return SimulationResult(
        cost=cost,
        summary=summary,
        seed=int(seed),
        chunk_size=chunk_size,
        n_chunks=n_chunks,
        n_devices=n_dev,
        dtype=dtype.name,
        uniform_bits=uniform_bits,
        requested_chunk_size=info["requested_chunk_size"],
    )


@eqx.filter_jit
def _in_memory_stats(m, u, sigma, levels, bins, paths):
    """Summaries of the firms with uniforms ``u`` (one jit-compiled, differentiable function)."""
    dtype = u.dtype
    n_firms = u.shape[0]
    sol = m.solve(m.costs_from_uniforms(u))
    st = _firm_stats(m, sol, paths)
    cost = st["cost"]
    mean = jnp.mean(cost, axis=0)
    std = jnp.std(cost, axis=0, ddof=1) if n_firms > 1 else jnp.zeros_like(mean)
    logc = jnp.log(cost)
    power = None
    if sigma is not None:
        ref = jax.lax.stop_gradient(jnp.median(logc, axis=0))  # M̃C does not depend on ref: exact
        power = jnp.exp(ref) * jnp.mean(jnp.exp((1.0 - sigma) * (logc - ref[None, :])), axis=0) ** (1.0 / (1.0 - sigma))
    qs = jnp.quantile(cost, levels, axis=0)
    lc = jax.lax.stop_gradient(logc)
    lo, hi = jnp.min(lc), jnp.max(lc)
    span = jnp.maximum(hi - lo, 1e-3)
    edges = lo - 0.5 * span + 2.0 * span / bins * jnp.arange(bins + 1, dtype=dtype)
    zero = jnp.zeros((1,), jnp.int32)
    counts = jnp.stack(
        [jnp.concatenate([zero, jnp.histogram(lc[:, d], edges)[0].astype(jnp.int32), zero]) for d in range(lc.shape[1])],
        axis=-1,
    )
    out = dict(mean=mean, std=std, min=jnp.min(cost, axis=0), max=jnp.max(cost, axis=0), quantiles=qs, power=power,
               edges=edges, counts=counts, cost=cost, nonfinite=jnp.sum(~jnp.isfinite(cost), axis=0))
    for name in ("offshore", "crossings", "cluster", "labour"):
        out[name] = jnp.mean(st[name], axis=0) if paths else None
    return out


def _simulate_in_memory(model, n_firms, u, sigma, dtype, levels, bins, paths, seed, uniform_bits, throw):
    """All firms at once from given uniforms; every summary a (differentiable) JAX expression.

    Non-finite firms are counted and reported (or raised) when the count is concrete; under a
    transformation they stay in the summaries, which are then NaN, never a silent number."""
    u = jnp.asarray(u)
    shape = (n_firms, model.stages, model.countries)
    if u.shape != shape:
        fail("common_uniforms", u, f"shape must be (n_firms, stages, countries) = {shape}; got {u.shape}")
    if is_concrete(u) and not (np.all(np.asarray(u) > 0) and np.all(np.asarray(u) < 1)):
        fail("common_uniforms", u, "all entries must lie strictly inside (0, 1)")
    u = u.astype(dtype)
    s = None if sigma is None else jnp.asarray(sigma, dtype)
    st = _in_memory_stats(model.astype(dtype), u, s, jnp.asarray(levels, dtype), bins, bool(paths))
    if is_concrete(st["nonfinite"]):
        _report_nonfinite(np.asarray(st["nonfinite"]), n_firms, throw)
    has_dest = model.destination_costs is not None
    squeeze = (lambda x: x) if has_dest else (lambda x: None if x is None else x[..., 0])
    mean, std, mn, mx, qs, power, edges, counts, cost = (st[k] for k in ("mean", "std", "min", "max", "quantiles", "power", "edges", "counts", "cost"))
    summary = SimulationSummary(
        n_firms=n_firms,
        mean_cost=squeeze(mean),
        std_cost=squeeze(std),
        min_cost=squeeze(mn),
        max_cost=squeeze(mx),
        quantile_levels=jnp.asarray(levels),
        quantiles=squeeze(qs),
        quantiles_exact=True,
        sigma=None if sigma is None or not is_concrete(sigma) else float(sigma),
        power_mean=squeeze(power),
        offshoring_share=squeeze(st["offshore"]),
        mean_crossings=squeeze(st["crossings"]),
        mean_cluster_size=squeeze(st["cluster"]),
        mean_labour=squeeze(st["labour"]),
        log_cost_edges=edges,
        log_cost_counts=squeeze(counts),
        n_nonfinite=squeeze(st["nonfinite"]),
    )
    return SimulationResult(
        cost=squeeze(cost),
        summary=summary,
        seed=int(seed) if is_concrete(seed) else 0,
        chunk_size=n_firms,
        n_chunks=1,
        n_devices=1,
        dtype=dtype.name,
        uniform_bits=uniform_bits,
    )
