"""The decomposition of the gains from trade (Tyazhelnikov 004, Section 5.3, steps 6-8).

A fall in the offshoring cost ``τ → τ'`` lowers every firm's marginal cost through two channels:

- **direct** (cheaper inputs): the firm keeps the path that was optimal under ``τ`` and pays the
  lower trade costs on it (step 7: ``M̃C(θ, τ, w) | τ'``);
- **fragmentation** (a more efficient production structure): the firm re-optimises its path under
  ``τ'`` (Proposition 3: a changed path has lower production costs).

With ``M̃C = (E[MC^{1−σ}])^{1/(1−σ)}`` (§4.4, :func:`jaxtrade.aggregate_cost`)::

    total_log_change  = ln M̃C(τ') − ln M̃C(τ)                     (step 6)
    direct_log_change = ln M̃C(τ, paths fixed)|τ' − ln M̃C(τ)       (step 7)
    fragmentation_share = 1 − direct/total,  direct_share = direct/total   (step 8)

Per firm ``MC(τ') ≤ MC(path_τ, τ') ≤ MC(τ)`` (optimality and Proposition 1), so with ``τ' < τ``
``total ≤ direct ≤ 0`` and the share lies in ``[0, 1]``. By eq. (13) the consumer-surplus term of
welfare changes by ``−ζ(σ−1)/(σ−1−ζσ)`` times these log changes, so the shares of the welfare gain
are the same numbers.

**Monte Carlo.** All three aggregates are computed from the *same* firms (common random numbers:
one cost matrix per firm, solved at ``τ`` and ``τ'`` and re-evaluated on the fixed path), which is
what makes the small difference ``total − direct`` precise. Standard errors come from batch means:
the firms are split into ``n_batches`` interleaved batches, the batch means of ``MC^{1−σ}`` under the
three scenarios give a covariance matrix, and the delta method carries it to every reported
statistic (:class:`Decomposition` ``*_se`` fields).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..engine.production import Tree, evaluate_path, evaluate_tree_path, solve_chain, solve_tree
from ..engine.rng import FIRM_BLOCK, firm_uniforms
from ..engine.simulate import ChunkReducer, SequentialModel, run_chunks
from ..engine.validation import check_positive_scalar, fail
from .sequential_ge import QuasiLinearCES, free_entry_closed_form, welfare_elasticity

__all__ = ["Decomposition", "decompose", "decompose_costs"]


class Decomposition(eqx.Module):
    """Result of :func:`decompose` (004 §5.3 steps 6-8). Scalars, or ``(D,)`` per destination.

    - ``aggregate_cost``, ``aggregate_cost_new``, ``aggregate_cost_direct``: ``M̃C`` under ``τ``,
      under ``τ'`` (paths re-optimised) and under ``τ'`` with the paths fixed at their ``τ`` optimum.
    - ``total_log_change``, ``direct_log_change``, ``fragmentation_share`` (``1 − direct/total``),
      ``direct_share``; each with a Monte Carlo standard error ``*_se`` (batch means + delta method).
    - ``consumer_surplus_log_change`` (and ``_direct``): ``d ln (W − E)`` by eq. (13), exact under
      the closed forms (NaN without ``zeta``); with several destination markets, which share one
      free-entry condition (§4.5), the exact change of each market's ``CS_d`` from the closed forms
      (eq. 13 per market would treat them as separate); ``welfare_log_change`` (and ``_direct``): ``d ln W``
      from the free-entry equilibrium levels (needs ``zeta``, ``f_s`` and ``income``; NaN otherwise).
    - ``share_switching``: fraction of firms whose optimal path changes; ``mean_crossings``,
      ``mean_crossings_new``: average border crossings under ``τ`` and ``τ'``.
    - ``n_firms``, ``n_batches``.
    """

    tau: jax.Array
    tau_new: jax.Array
    sigma: float
    aggregate_cost: jax.Array
    aggregate_cost_new: jax.Array
    aggregate_cost_direct: jax.Array
    total_log_change: jax.Array
    direct_log_change: jax.Array
    fragmentation_share: jax.Array
    direct_share: jax.Array
    total_log_change_se: jax.Array
    direct_log_change_se: jax.Array
    fragmentation_share_se: jax.Array
    consumer_surplus_log_change: jax.Array
    consumer_surplus_log_change_direct: jax.Array
    consumer_surplus_log_change_se: jax.Array
    welfare_log_change: jax.Array
    welfare_log_change_direct: jax.Array
    share_switching: jax.Array
    mean_crossings: jax.Array
    mean_crossings_new: jax.Array
    n_firms: int = eqx.field(static=True)
    n_batches: int = eqx.field(static=True)

    def summary(self) -> dict:
        """Plain-Python dictionary of every field (for JSON; NaN, e.g. an undefined share, → None)."""

        def clean(x):
            if isinstance(x, list):
                return [clean(y) for y in x]
            return None if isinstance(x, float) and x != x else x

        out = {}
        for k in self.__dataclass_fields__:
            a = np.asarray(getattr(self, k))
            out[k] = clean(a.item() if a.ndim == 0 else a.tolist())
        return out


# ----------------------------------------------------------------------------------------------
# Per-chunk kernel: three scenarios from one cost matrix (common random numbers)
# ----------------------------------------------------------------------------------------------


def _stats(costs, firm_index, valid, trade_costs, tau, tau_new, wages, destination_costs, sigma, n_batches, value_dependent, tree=None):
    """Per-batch log-sum-exp of ``(1−σ) ln MC`` in the three scenarios, and path statistics.

    ``firm_index`` assigns firm ``f`` to batch ``f mod n_batches`` (interleaved batches); firms with
    ``valid = False`` (padding) go to a discarded extra segment. Returns
    ``(bmax, bsum, counts, switch, cross0, cross1)`` with ``bmax, bsum`` of shape ``(B, 3, D)``:
    per batch, ``max`` and ``Σ exp(x − max)`` of ``x = (1−σ) ln MC``.
    """
    kw = dict(wages=wages, value_dependent=value_dependent, destination_costs=destination_costs)
    if tree is None:
        solve = lambda t: solve_chain(costs, trade_costs, t, **kw)  # noqa: E731
        evaluate = lambda path, t: evaluate_path(costs, path, trade_costs, t, **kw)  # noqa: E731
    else:
        solve = lambda t: solve_tree(costs, tree, trade_costs, t, **kw)  # noqa: E731
        evaluate = lambda path, t: evaluate_tree_path(costs, path, tree, trade_costs, t, **kw)  # noqa: E731
    old = solve(tau)
    new = solve(tau_new)
    # MC(path_τ, τ') = MC(τ) + [cost of path_τ at τ' − at τ]: the difference of two evaluations of
    # the same path cancels the production costs exactly, so a firm that does not offshore keeps
    # exactly its MC (no float32 noise from a different summation order than the Bellman recursion).
    direct = old.cost + (evaluate(old.path, tau_new).cost - evaluate(old.path, tau).cost)
    mc = jnp.stack([old.cost, new.cost, direct], axis=1)  # (F, 3) or (F, 3, D)
    if mc.ndim == 2:
        mc = mc[..., None]
    x = (1.0 - sigma) * jnp.log(mc)
    batch = jnp.where(valid, (firm_index % n_batches).astype(jnp.int32), n_batches)
    segs = n_batches + 1
    bmax = jax.ops.segment_max(x, batch, num_segments=segs)
    bmax = jnp.where(jnp.isfinite(bmax), bmax, 0.0)
    bsum = jax.ops.segment_sum(jnp.exp(x - bmax[batch]), batch, num_segments=segs)
    counts = jax.ops.segment_sum(valid.astype(jnp.int32), batch, num_segments=segs)
    changed = jnp.any(old.path != new.path, axis=1)  # (F,) or (F, D)
    if changed.ndim == 1:
        changed = changed[:, None]
    cross0 = old.crossings if old.crossings.ndim == 2 else old.crossings[:, None]
    cross1 = new.crossings if new.crossings.ndim == 2 else new.crossings[:, None]
    v = valid[:, None]
    return (
        bmax[:n_batches],
        bsum[:n_batches],
        counts[:n_batches],
        jnp.sum(jnp.where(v, changed, 0), axis=0),
        jnp.sum(jnp.where(v, cross0, 0), axis=0),
        jnp.sum(jnp.where(v, cross1, 0), axis=0),
    )


@dataclasses.dataclass(frozen=True)
class _Scenarios(ChunkReducer):
    """The decomposition as a :class:`jaxtrade.engine.simulate.ChunkReducer`: each chunk's firms
    solved at ``τ`` and ``τ'`` and re-evaluated at ``τ'`` on their ``τ`` paths (:func:`_stats`);
    per-batch log-sum-exps accumulated on the host in float64.

    Operands: ``(trade_costs, tau, tau_new, wages, destination_costs, sigma)``."""

    n_batches: int
    value_dependent: bool
    tree: Tree | None = None  # static: a Tree has no array leaves

    def reduce(self, model, costs, valid, firm_index, operands):
        return _stats(costs, firm_index, valid, *operands, self.n_batches, self.value_dependent, self.tree)

    def combine(self, acc, part):
        acc = _Accumulator() if acc is None else acc
        acc.add(part)
        return acc


class _Accumulator:
    """Host-side float64 accumulation of per-batch log-sum-exps across chunks."""

    def __init__(self):
        self.log_sum = None  # (B, 3, D) float64
        self.counts = None
        self.switch = self.cross0 = self.cross1 = 0.0

    def add(self, out):
        bmax, bsum, counts, switch, c0, c1 = (np.asarray(o, dtype=np.float64) for o in out)
        with np.errstate(divide="ignore"):
            ls = bmax + np.log(bsum)
        if self.log_sum is None:
            self.log_sum, self.counts = ls, counts
        else:
            self.log_sum = np.logaddexp(self.log_sum, ls)
            self.counts = self.counts + counts
        self.switch = self.switch + switch
        self.cross0 = self.cross0 + c0
        self.cross1 = self.cross1 + c1


def _statistics(acc, n_firms, sigma):
    """Point estimates and batch-means delta-method standard errors (float64 NumPy)."""
    counts = acc.counts[:, None, None]
    log_mean_b = acc.log_sum - np.log(counts)  # (B, 3, D): ln of batch means of MC^{1−σ}
    log_mean = np.logaddexp.reduce(acc.log_sum, axis=0) - np.log(n_firms)  # (3, D)
    k = 1.0 / (1.0 - sigma)
    g_total = np.array([-k, k, 0.0])
    g_direct = np.array([-k, 0.0, k])
    total = k * (log_mean[1] - log_mean[0])
    direct = k * (log_mean[2] - log_mean[0])
    with np.errstate(divide="ignore", invalid="ignore"):  # τ' = τ: the share is undefined (NaN)
        share = 1.0 - direct / total
        g_share = -(g_direct[None] * total[:, None] - direct[:, None] * g_total[None]) / total[:, None] ** 2
    # Relative batch means r_b = mean_b / mean (≈ 1): d ln mean ≈ d r. Weighted by batch size.
    r = np.exp(log_mean_b - log_mean[None])  # (B, 3, D)
    wts = acc.counts / acc.counts.sum()
    b = r.shape[0]
    rc = r - np.einsum("b,bkd->kd", wts, r)[None]
    # Covariance of the overall mean: Σ_b w_b² (r_b − r̄)(r_b − r̄)ᵀ · B/(B−1)
    cov = np.einsum("b,bkd,bld->dkl", wts**2, rc, rc) * b / (b - 1)  # (D, 3, 3)
    # Across destinations too (the consumer-surplus change of one market depends on every market's M̃C).
    cov_full = np.einsum("b,bkd,ble->kdle", wts**2, rc, rc) * b / (b - 1)  # (3, D, 3, D)

    def se(g):  # g: (3,) or (D, 3)
        g = np.broadcast_to(g, (cov.shape[0], 3))
        return np.sqrt(np.maximum(np.einsum("dk,dkl,dl->d", g, cov, g), 0.0))

    return dict(
        mc=np.exp(k * log_mean),  # (3, D)
        total=total,
        direct=direct,
        share=share,
        total_se=se(g_total),
        direct_se=se(g_direct),
        share_se=se(g_share),
        log_mean=log_mean,
        cov_full=cov_full,
    )


def _consumer_surplus_changes(demand, stats, sigma):
    """``d ln CS_d`` (total and direct, and the SE of the total) when D markets share one free-entry condition.

    With ``x_d = ln p̃_d`` the closed forms of §4.4-4.5 give ``ln CS_d = c − a x_d + (ζ/D) LSE_e(−a x_e)``
    (``a = ζ/(1−ζ)``, ``D = σ−1−ζσ``, ``c`` independent of τ, so ``f_s`` cancels from every change); one
    market gives eq. (13). The SE is the delta method on the covariance of the batch means of every
    (scenario, market) pair."""
    zeta, slack = float(demand.zeta), float(demand.slack)
    a = zeta / (1.0 - zeta)
    k = 1.0 / (1.0 - sigma)
    x = k * stats["log_mean"]  # (3, D): ln M̃C per scenario and market (the constant ln σ/(σ−1) cancels)
    y = -a * x
    lse = np.logaddexp.reduce(y, axis=1, keepdims=True)
    ln_cs = y + zeta / slack * lse
    pi = np.exp(y - lse)  # (3, D)
    n_dest = x.shape[1]
    eye = np.eye(n_dest)
    # ∂ ln CS_d(s)/∂ ln mean_{s,e} = −a k (δ_de + (ζ/D) π_{s,e})
    jac = lambda s_: -a * k * (eye + zeta / slack * pi[s_][None, :])  # noqa: E731  (d, e)
    g = np.zeros((n_dest, 3, n_dest))
    g[:, 1, :], g[:, 0, :] = jac(1), -jac(0)
    var = np.einsum("dke,keml,dml->d", g, stats["cov_full"], g)
    return ln_cs[1] - ln_cs[0], ln_cs[2] - ln_cs[0], np.sqrt(np.maximum(var, 0.0))


def _check_tau(name, tau, like=None):
    a = np.asarray(tau, dtype=float)
    if not np.all(np.isfinite(a)) or not np.all(a >= 0):
        fail(name, tau, f"{name} must be finite and >= 0")
    if like is not None and a.ndim != 0 and a.shape != np.shape(like):
        fail(name, tau, f"{name} must be a scalar or have the shape of the model's tau {np.shape(like)}")


def _check_demand_args(sigma, zeta):
    check_positive_scalar("sigma", sigma)
    if not float(sigma) > 1:
        fail("sigma", sigma, "sigma > 1 (CES elasticity of substitution)")
    if zeta is not None:
        QuasiLinearCES(float(sigma), float(zeta))  # validates 0 < ζ < (σ−1)/σ


def _finish(stats, acc, *, tau, tau_new, sigma, zeta, f_s, income, n_firms, n_batches, has_dest):
    squeeze = (lambda a: np.asarray(a)[..., 0]) if not has_dest else np.asarray
    nan = np.full_like(stats["total"], np.nan)
    if zeta is not None:
        demand = QuasiLinearCES(float(sigma), float(zeta))
        el = float(welfare_elasticity(demand))
        if stats["total"].shape[0] == 1:  # one market: eq. (13), exact
            cs, cs_direct, cs_se = el * stats["total"], el * stats["direct"], abs(el) * stats["total_se"]
        else:  # several markets share one free-entry condition (004 §4.5): eq. (13) per market is not exact
            cs, cs_direct, cs_se = _consumer_surplus_changes(demand, stats, float(sigma))
        if f_s is not None and income is not None:
            # One free-entry condition for the firms serving every destination market (004 §4.5).
            eq = [free_entry_closed_form(demand, stats["mc"][s], f_s, income=income) for s in range(3)]
            w = [np.asarray(e.welfare) for e in eq]
            welf, welf_direct = np.log(w[1] / w[0]), np.log(w[2] / w[0])
        else:
            welf, welf_direct = nan, nan
    else:
        cs, cs_direct, cs_se, welf, welf_direct = nan, nan, nan, nan, nan
    return Decomposition(
        tau=jnp.asarray(tau),
        tau_new=jnp.asarray(tau_new),
        sigma=float(sigma),
        aggregate_cost=squeeze(stats["mc"][0]),
        aggregate_cost_new=squeeze(stats["mc"][1]),
        aggregate_cost_direct=squeeze(stats["mc"][2]),
        total_log_change=squeeze(stats["total"]),
        direct_log_change=squeeze(stats["direct"]),
        fragmentation_share=squeeze(stats["share"]),
        direct_share=squeeze(1.0 - stats["share"]),
        total_log_change_se=squeeze(stats["total_se"]),
        direct_log_change_se=squeeze(stats["direct_se"]),
        fragmentation_share_se=squeeze(stats["share_se"]),
        consumer_surplus_log_change=squeeze(cs),
        consumer_surplus_log_change_direct=squeeze(cs_direct),
        consumer_surplus_log_change_se=squeeze(cs_se),
        welfare_log_change=squeeze(welf),
        welfare_log_change_direct=squeeze(welf_direct),
        share_switching=squeeze(acc.switch / n_firms),
        mean_crossings=squeeze(acc.cross0 / n_firms),
        mean_crossings_new=squeeze(acc.cross1 / n_firms),
        n_firms=int(n_firms),
        n_batches=int(n_batches),
    )


def decompose_costs(
    costs,
    trade_costs,
    tau,
    tau_new,
    *,
    sigma,
    wages=None,
    value_dependent: bool = False,
    destination_costs=None,
    zeta=None,
    f_s=None,
    income=None,
    n_batches: int = 32,
    chunk_size: int | None = None,
    tree: Tree | None = None,
) -> Decomposition:
    """Steps 6-8 of 004 §5.3 for an explicit sample of cost matrices ``costs`` ``(F, N, M)``.

    The engine behind :func:`decompose`; see the module docstring. ``wages``, ``value_dependent``
    and ``destination_costs`` are passed to :func:`jaxtrade.solve_chain` (or, with a ``tree``, to
    :func:`jaxtrade.solve_tree`, ``N`` then being the tree's nodes) unchanged in every scenario
    (θ and wages fixed, only τ moves). The direct effect re-evaluates each firm's τ-optimal path
    (chain or tree) at τ' (:func:`jaxtrade.evaluate_path` / :func:`jaxtrade.evaluate_tree_path`).
    """
    if tree is not None and not isinstance(tree, Tree):
        fail("tree", tree, "must be a jaxtrade.Tree or None")
    _check_demand_args(sigma, zeta)
    _check_tau("tau", tau)
    _check_tau("tau_new", tau_new, like=tau)
    costs = jnp.asarray(costs)
    if costs.ndim != 3:
        fail("costs", costs, "costs must have shape (firms, stages, countries)")
    n_firms = costs.shape[0]
    n_batches = int(n_batches)
    if not 2 <= n_batches <= n_firms:
        fail("n_batches", n_batches, f"2 <= n_batches <= n_firms = {n_firms}")
    chunk = n_firms if chunk_size is None else int(chunk_size)
    dtype = costs.dtype
    cast = lambda x: None if x is None else jnp.asarray(x, dtype)  # noqa: E731
    # Arrays, not Python floats: the kernel is compiled once per shape, not once per τ value.
    operands = tuple(cast(x) for x in (trade_costs, tau, tau_new, wages, destination_costs, sigma))
    acc, _ = run_chunks(None, n_firms, _Scenarios(n_batches, bool(value_dependent), tree), operands=operands, chunk_size=chunk, costs=costs)
    stats = _statistics(acc, n_firms, float(sigma))
    return _finish(stats, acc, tau=tau, tau_new=tau_new, sigma=sigma, zeta=zeta, f_s=f_s, income=income, n_firms=n_firms, n_batches=n_batches, has_dest=destination_costs is not None)


# ----------------------------------------------------------------------------------------------
# From a model: draws streamed chunk by chunk from (seed, firm index)
# ----------------------------------------------------------------------------------------------


def _model_chunk_costs(model, seed, start, stop, dtype, uniform_bits=16):
    """Cost matrices ``(stop − start, N, M)`` of firms ``start..stop−1`` of ``model`` under ``seed``.

    Exactly the draws of :func:`jaxtrade.simulate` with the same seed (``firm_uniforms`` +
    ``SequentialModel.costs_from_uniforms``): firm ``f``'s costs depend only on ``(seed, f)``, so
    the three scenarios of the decomposition share them (common random numbers). Wages are not in
    the costs: they enter the firm's problem (eq. 10).
    """
    u = firm_uniforms(stop - start, model.stages, model.countries, seed=seed, dtype=dtype, uniform_bits=uniform_bits, first_firm=start)
    return model.costs_from_uniforms(u)


def decompose(
    model,
    tau_new,
    *,
    n_firms: int,
    seed: int = 0,
    sigma,
    zeta=None,
    f_s=None,
    income=None,
    n_batches: int = 32,
    chunk_size: int | None = None,
    dtype=jnp.float32,
    uniform_bits: int = 16,
) -> Decomposition:
    """Decomposes the fall in ``M̃C`` from ``model.tau`` to ``tau_new`` (004 §5.3 steps 6-8).

    ``model``: a :class:`jaxtrade.SequentialModel` (draws θ, trade costs T, τ, wages — all held
    fixed except τ). ``n_firms`` firms are drawn from ``seed`` (firm ``f``'s costs depend only on
    ``(seed, f)``; the draws of :func:`jaxtrade.simulate` with the same ``seed``, ``dtype`` and
    ``uniform_bits``), generated and reduced inside one compiled kernel per chunk of ``chunk_size``
    firms (rounded up to whole blocks of 65,536; default at most 262,144), and each is solved under ``τ`` and
    ``τ'`` and re-evaluated at ``τ'`` on its ``τ``-optimal path. ``sigma`` (σ) is needed for
    ``M̃C``; ``zeta`` (ζ) adds the consumer-surplus changes of eq. (13); ``f_s`` and ``income`` add
    the level of welfare ``W = E + CS`` in the free-entry equilibrium and ``d ln W``. Monte Carlo in
    ``dtype`` (float32 by default; ``uniform_bits`` as in :func:`jaxtrade.simulate`); accumulation
    across chunks in float64.
    """
    _check_demand_args(sigma, zeta)
    _check_tau("tau_new", tau_new, like=model.tau)
    n_firms = int(n_firms)
    if n_firms < 2:
        fail("n_firms", n_firms, "n_firms >= 2")
    n_batches = int(n_batches)
    if not 2 <= n_batches <= n_firms:
        fail("n_batches", n_batches, f"2 <= n_batches <= n_firms = {n_firms}")

    if not isinstance(model, SequentialModel):
        fail("model", type(model).__name__, "must be a jaxtrade.SequentialModel")
    n_blocks = -(-n_firms // FIRM_BLOCK)
    if chunk_size is None:
        per_chunk = min(n_blocks, 4)  # 262,144 firms per kernel call at most by default
    else:
        if int(chunk_size) < 1:
            fail("chunk_size", chunk_size, "chunk_size >= 1")
        per_chunk = min(n_blocks, -(-int(chunk_size) // FIRM_BLOCK))  # rounded up to whole blocks
    if n_firms >= 2**32:
        fail("n_firms", n_firms, "n_firms < 2**32")
    n_dev = len(jax.devices())
    per_chunk = -(-per_chunk // n_dev) * n_dev  # whole blocks on every device
    m = model.astype(dtype)
    operands = (m.trade_costs, m.tau, jnp.asarray(tau_new, dtype), m.wages, m.destination_costs, jnp.asarray(sigma, dtype))
    acc, _ = run_chunks(m, n_firms, _Scenarios(n_batches, bool(model.value_dependent), model.tree), operands=operands, seed=seed,
                        chunk_size=per_chunk * FIRM_BLOCK, dtype=dtype, uniform_bits=int(uniform_bits))
    stats = _statistics(acc, n_firms, float(sigma))
    return _finish(
        stats,
        acc,
        tau=model.tau,
        tau_new=tau_new,
        sigma=sigma,
        zeta=zeta,
        f_s=f_s,
        income=income,
        n_firms=n_firms,
        n_batches=n_batches,
        has_dest=model.destination_costs is not None,
    )

