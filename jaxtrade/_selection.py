"""The heterogeneous-firm selection engine.

A *strategy* ``j`` (serve market ``n`` from origin ``i`` by exporting, by FDI, ...) earns

    π_j(φ) = c_j · φ^{σ−1} · B_{m(j)} − F_j                    (Melitz & Redding 001, §3.3 and eq. 6)

— a variable-profit multiplier ``c_j`` (e.g. ``(w_i τ_ni)^{1−σ}``) times ``φ^{σ−1}`` times the demand
index ``B_n`` of its market, minus a fixed cost ``F_j`` (e.g. ``w_i f_ni``). A firm adopts the
strategy when ``π_j(φ) ≥ 0``, i.e. above the cut-off

    φ*_j = (F_j / (c_j B_{m(j)}))^{1/(σ−1)}.                    (001 eq. 6)

Mutually exclusive options within one market (export *or* FDI, Helpman-Melitz-Yeaple) are a
*ladder* of increments: the upper envelope ``max(0, c_1 B z − F_1, c_2 B z − F_2, ...)`` of lines in
``z = φ^{σ−1}`` with rising slopes and fixed costs equals the sum of increments
``(c_m − c_{m−1}) B z − (F_m − F_{m−1})``, each again a strategy of the form above, provided the
increments' cut-offs rise (the sorting condition the model must check).

Free entry in origin ``i`` (001 eq. 7-8): with ``J_i`` the integral of eq. 5,

    Σ_{j ∈ i} weight_j · F_j · J_i(φ*_j) = f_{E,i},

one equation per origin for the demand indices ``B`` (as many markets as origins). The engine
solves it for ``log B`` with ``optimistix.root_find`` (Newton for one market, Newton with an Armijo
line search — :class:`DampedNewton` — for several; ``optx.Bisection`` for scalar problems given a
bracket), differentiates the solution with ``optx.ImplicitAdjoint``
(implicit function theorem), and returns the result code, the number of steps and the final
residual. Integrals over ``G`` come from :mod:`jaxtrade._quadrature`.

The engine knows nothing about countries, wages or welfare: models (``jaxtrade.melitz``) build
the strategies and read the solution. :func:`root_solve` is the same solve wrapper for models
with extra unknowns (wages from trade balance).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optimistix as optx

from . import _quadrature as quad

__all__ = [
    "Strategies",
    "SelectionProblem",
    "SelectionSolution",
    "RootSolution",
    "root_solve",
    "strategy_cutoffs",
    "strategy_integrals",
    "free_entry_residual",
    "solve_selection",
    "default_log_demand_guess",
]


class Strategies(eqx.Module):
    """Strategies ``j = 0..S−1`` of the firms of every origin.

    ``multiplier`` c_j > 0, ``fixed_cost`` F_j > 0, ``weight`` (how many identical copies, e.g.
    ``N−1`` symmetric export markets) are arrays of shape ``(S,)``; ``origin`` and ``market`` are
    static integer index arrays (Python tuples) of the same length.
    """

    multiplier: jax.Array
    fixed_cost: jax.Array
    weight: jax.Array
    origin: tuple = eqx.field(static=True)
    market: tuple = eqx.field(static=True)


class SelectionProblem(eqx.Module):
    """Everything free entry needs.

    ``dist``: one distribution for all origins (scalar parameters), one whose parameters have a
    leading axis of length ``n_origins``, or a tuple of ``n_origins`` distributions (any mix of
    families). ``entry_cost`` has shape ``(n_origins,)``; ``n_markets == n_origins``.
    """

    sigma: jax.Array
    dist: object
    strategies: Strategies
    entry_cost: jax.Array
    n_markets: int = eqx.field(static=True)
    rule: quad.TailRule = eqx.field(static=True, default=quad.DEFAULT_RULE)


class SelectionSolution(eqx.Module):
    """Solution of free entry: demand indices, cut-offs and integrals, with solver statistics.

    ``result`` is an ``optimistix.RESULTS`` code (``RESULTS.successful`` when converged; a
    non-finite residual is reported as ``RESULTS.nonfinite``), ``steps`` the number of Newton
    steps, ``residual`` the max-norm of the free-entry residual at the returned point.
    """

    log_demand: jax.Array  # (n_markets,)   log B_n
    cutoffs: jax.Array  # (S,)             φ*_j
    survival: jax.Array  # (S,)            1 − G(φ*_j)
    J: jax.Array  # (S,)                   J(φ*_j)
    result: optx.RESULTS
    steps: jax.Array
    residual: jax.Array

    @property
    def demand(self):
        return jnp.exp(self.log_demand)


class DampedNewton(optx.AbstractGaussNewton):
    """Newton's method with an Armijo backtracking line search on ``½‖r‖²``.

    For a square system the Gauss-Newton direction is the Newton direction; the line search
    makes it globally convergent on the free-entry systems, where plain Newton can overshoot
    (the log-residual is concave along common shifts of ``log B`` for thin-tailed ``G``).
    Used as a least-squares solver by ``optimistix.root_find``; terminates when both the step
    and the change in the residual are below ``atol + rtol·|·|``.
    """

    rtol: float
    atol: float
    norm: Callable
    descent: optx.NewtonDescent
    search: optx.BacktrackingArmijo
    verbose: Callable

    def __init__(self, rtol: float, atol: float):
        self.rtol = rtol
        self.atol = atol
        self.norm = optx.max_norm
        self.descent = optx.NewtonDescent()
        self.search = optx.BacktrackingArmijo(decrease_factor=0.5, slope=0.1)
        self.verbose = lambda **kw: None


class RootSolution(eqx.Module):
    value: object
    result: optx.RESULTS
    steps: jax.Array
    residual: jax.Array


def _per_strategy_dist(dist, origin: tuple, n_origins: int):
    """Distribution parameters gathered per strategy (leading axis S) for ``vmap``."""
    idx = np.asarray(origin, dtype=np.int32)

    def gather(p):
        if not eqx.is_array(p):
            return p
        if p.ndim == 0:
            return jnp.broadcast_to(p, idx.shape)
        if p.shape[0] != n_origins:
            raise ValueError(
                f"distribution parameter with leading axis {p.shape[0]} != number of origins {n_origins}"
            )
        return p[idx]

    return jtu.tree_map(gather, dist)


def strategy_cutoffs(log_demand, strategies: Strategies, sigma):
    """``φ*_j = (F_j/(c_j B_{m(j)}))^{1/(σ−1)}`` (001 eq. 6), computed in logs."""
    m = np.asarray(strategies.market, dtype=np.int32)
    s = sigma - 1.0
    log_cut = (jnp.log(strategies.fixed_cost) - jnp.log(strategies.multiplier) - log_demand[m]) / s
    return jnp.exp(log_cut)


def strategy_integrals(problem: SelectionProblem, cutoffs):
    """``(1 − G_{i(j)}(φ*_j), J_{i(j)}(φ*_j))`` for every strategy ``j``."""
    s = problem.sigma - 1.0
    origin = problem.strategies.origin
    n_orig = problem.entry_cost.shape[0]
    rule = problem.rule
    if isinstance(problem.dist, (tuple, list)):
        surv = jnp.zeros_like(cutoffs)
        jj = jnp.zeros_like(cutoffs)
        org = np.asarray(origin)
        for o, d in enumerate(problem.dist):
            sel = np.nonzero(org == o)[0]
            if sel.size == 0:
                continue
            sv, jv = quad.selection_integrals(d, cutoffs[sel], s, rule=rule)
            surv = surv.at[sel].set(sv)
            jj = jj.at[sel].set(jv)
        return surv, jj
    dist_s = _per_strategy_dist(problem.dist, origin, n_orig)
    dyn, static = eqx.partition(dist_s, eqx.is_array)

    def one(dyn_j, c):
        d = eqx.combine(dyn_j, static)
        return quad.selection_integrals(d, c, s, rule=rule)

    return jax.vmap(one)(dyn, cutoffs)


def expected_profit(problem: SelectionProblem, log_demand):
    """``Σ_{j∈i} weight_j F_j J(φ*_j)`` per origin: an entrant's expected profit (001 eq. 7-8)."""
    st = problem.strategies
    cut = strategy_cutoffs(log_demand, st, problem.sigma)
    surv, jj = strategy_integrals(problem, cut)
    per = st.weight * st.fixed_cost * jj
    n_orig = problem.entry_cost.shape[0]
    total = jnp.zeros((n_orig,), per.dtype).at[np.asarray(st.origin, dtype=np.int32)].add(per)
    return total, (cut, surv, jj)


def free_entry_residual(log_demand, problem: SelectionProblem):
    """``log(Σ_j weight_j F_j J(φ*_j)) − log f_E`` per origin (001 eq. 8, in logs)."""
    total, _ = expected_profit(problem, log_demand)
    return jnp.log(total) - jnp.log(problem.entry_cost)


def default_log_demand_guess(problem: SelectionProblem):
    """A starting point: in each market, the most favourable strategy's cut-off at the median
    productivity of its origin (for Pareto the solve then needs one or two Newton steps)."""
    st = problem.strategies
    s = problem.sigma - 1.0
    origin = st.origin
    n_orig = problem.entry_cost.shape[0]
    if isinstance(problem.dist, (tuple, list)):
        med = jnp.stack([jnp.asarray(problem.dist[o].icdf(0.5)) for o in origin])
    else:
        dist_s = _per_strategy_dist(problem.dist, origin, n_orig)
        dyn, static = eqx.partition(dist_s, eqx.is_array)
        med = jax.vmap(lambda d: eqx.combine(d, static).icdf(0.5))(dyn)
    # log B that puts strategy j's cut-off at the median; markets take the smallest.
    logb = jnp.log(st.fixed_cost) - jnp.log(st.multiplier) - s * jnp.log(med)
    m = np.asarray(st.market, dtype=np.int32)
    init = jnp.full((problem.n_markets,), jnp.inf, dtype=logb.dtype)
    return init.at[m].min(logb)


def _finish(sol, residual_fn, args, throw):
    """Solver statistics; a non-finite residual is a named failure, never a silent NaN."""
    res = residual_fn(sol.value, args)
    res_norm = jnp.max(jnp.abs(jnp.concatenate([jnp.ravel(r) for r in jtu.tree_leaves(res)])))
    finite = jnp.isfinite(res_norm) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(v)) for v in jtu.tree_leaves(sol.value)])
    )
    result = optx.RESULTS.where(
        sol.result == optx.RESULTS.successful,
        optx.RESULTS.where(finite, optx.RESULTS.successful, optx.RESULTS.nonfinite),
        sol.result,
    )
    if throw:
        res_norm = eqx.error_if(res_norm, ~finite, "selection solve: non-finite residual (NaN/inf)")
    return result, sol.stats["num_steps"], res_norm


def _tolerances(dtype):
    eps = float(jnp.finfo(dtype).eps)
    tol = 1e3 * eps  # 2.2e-13 in float64, 1.2e-4 in float32
    return tol, tol


def root_solve(
    fn: Callable,
    y0,
    args,
    *,
    solver=None,
    max_steps: int = 64,
    throw: bool = True,
    options=None,
) -> RootSolution:
    """``optimistix.root_find(fn, solver, y0, args)`` with ``ImplicitAdjoint`` and statistics.

    ``solver`` defaults to ``optx.Newton`` for one unknown and :class:`DampedNewton` (Newton with
    Armijo backtracking) for several, with tolerances ``1e3·eps`` of ``y0``'s dtype.
    ``throw=True`` raises on non-convergence (optimistix's error) or a non-finite residual.
    """
    leaves = jtu.tree_leaves(y0)
    dtype = jnp.result_type(*leaves)
    if solver is None:
        rtol, atol = _tolerances(dtype)
        if sum(int(np.prod(jnp.shape(x))) for x in leaves) == 1:
            solver = optx.Newton(rtol=rtol, atol=atol)
        else:
            solver = DampedNewton(rtol=rtol, atol=atol)
    sol = optx.root_find(
        fn,
        solver,
        y0,
        args,
        options=options,
        max_steps=max_steps,
        adjoint=optx.ImplicitAdjoint(),
        throw=throw,
    )
    result, steps, res = _finish(sol, fn, args, throw)
    return RootSolution(value=sol.value, result=result, steps=steps, residual=res)


@eqx.filter_jit
def solve_selection(
    problem: SelectionProblem,
    *,
    log_demand0=None,
    solver=None,
    max_steps: int = 64,
    throw: bool = True,
    options=None,
) -> SelectionSolution:
    """Solves free entry (001 eq. 8) for the demand indices ``log B``.

    The residual is written in logs, where it is close to linear (exactly linear under Pareto:
    ``J ∝ φ*^{−k} ∝ B^{k/(σ−1)}``); since each ``J`` falls in its cut-off and each cut-off falls in
    ``B``, expected profit rises in every ``B_n`` and Newton converges from the default start.
    Pass ``solver=optx.Bisection(...)`` with ``options=dict(lower=..., upper=...)`` for a
    bracketing solve of a one-market problem (then ``log_demand0`` is a scalar).
    Stopping rule (Newton): ``|Δ log B| < atol + rtol |log B|`` and ``|residual| < atol``.
    """
    if log_demand0 is None:
        log_demand0 = default_log_demand_guess(problem)
    log_demand0 = jnp.asarray(log_demand0)
    scalar = isinstance(solver, optx.Bisection)
    if scalar:
        fn = lambda y, p: free_entry_residual(jnp.reshape(y, (1,)), p)[0]  # noqa: E731
        y0 = jnp.reshape(log_demand0, ())
    else:
        fn = free_entry_residual
        y0 = log_demand0
    rs = root_solve(fn, y0, problem, solver=solver, max_steps=max_steps, throw=throw, options=options)
    logb = jnp.reshape(rs.value, (problem.n_markets,))
    _, (cut, surv, jj) = expected_profit(problem, logb)
    return SelectionSolution(
        log_demand=logb,
        cutoffs=cut,
        survival=surv,
        J=jj,
        result=rs.result,
        steps=rs.steps,
        residual=rs.residual,
    )
