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
residual. Integrals over ``G`` come from :mod:`jaxtrade.engine.quadrature`.

The engine knows nothing about countries, wages or welfare: models (``jaxtrade.models.melitz``) build
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

from . import quadrature as quad


# ------------------------------------------------------------------------------------------
# Conditions: regularity and feasibility checked inside the graph


class CONDITIONS(eqx.Enumeration):
    """Why a solve's numbers are not an equilibrium, as a named code that works under ``jit`` and
    ``vmap`` (``result.condition == CONDITIONS.tail_too_heavy``; ``CONDITIONS[item]`` is the message
    of a concrete item). A solve whose ``condition`` is not ``satisfied`` reports
    ``result = optx.RESULTS.nonlinear_divergence`` (no equilibrium to converge to) and, with
    ``throw=True``, raises :class:`JaxtradeSolveError` naming the condition and the batch index."""

    satisfied = ""
    sigma_not_above_one = "σ > 1 violated (CES demand must be elastic for monopolistic competition, 001 eq. 2)"
    tau_below_one = "τ ≥ 1 violated (iceberg trade costs)"
    tail_too_heavy = (
        "E[φ^(σ−1)] is infinite: the productivity distribution's tail index b ≤ σ − 1 (Pareto/Fréchet: "
        "shape k ≤ σ − 1; 001 §6.1, footnote 25), so average firm size is infinite and no equilibrium exists"
    )
    no_export_selection = (
        "τ^(σ−1) f_x > f violated: no selection into exporting (001 §5.5); every producer would export"
    )
    hmy_sorting = "f_i > τ^(σ−1) f_x > f violated (HMY sorting: only the most productive firms choose FDI)"
    quadrature_unresolved = (
        "the tail integrals are not resolved: the quadrature's error estimate exceeds its tolerance "
        "(a tail too heavy for the working precision)"
    )
    corner_no_entry = (
        "corner equilibrium: free entry cannot hold with a positive mass of entrants in some country "
        "(M_E ≤ 0: that country would specialise in the outside good)"
    )
    outside_good_not_produced = (
        "corner equilibrium: the differentiated sector needs more labour than the country has "
        "(the outside good would not be produced, 001 §5.1)"
    )
    negative_growth = "infeasible: the growth rate g < 0 (002 eq. 14/26; the economy cannot sustain innovation)"
    negative_labour = "infeasible: labour in some activity is negative (002: L_I < 0 or L_X < 0)"
    invalid_parameter = "a parameter is outside its domain (non-positive cost, share or endowment)"
    cutoff_outside_support = (
        "the closed form needs the cut-off inside the support (002 eq. 9: a_D < a_0 = 1, i.e. "
        "(β−1) F_I/F_D < 1 + Ω; 001 §6.1: φ* ≥ φ_min); use the engine's solve instead"
    )


class JaxtradeSolveError(RuntimeError):
    """Raised (from inside a compiled computation) by a solve with ``throw=True`` that has no
    equilibrium: the message names the condition and, under ``vmap``, the batch index."""


_MESSAGES = tuple(CONDITIONS._index_to_message)
_OPTX_MESSAGES = tuple(optx.RESULTS._index_to_message)


def tie(tree, throw: bool):
    """Makes every floating array of ``tree`` depend on ``tree.result`` (when ``throw``), so that the
    check :func:`report` placed in the result code runs whichever field the caller keeps (an unused
    host callback would be dropped from the graph). Adds an exact zero (``0.0 · code``)."""
    if not throw:
        return tree
    code = tree.result._value

    def add(x):
        if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.inexact):
            return x + jnp.asarray(code, x.dtype) * jnp.zeros((), x.dtype)
        return x

    return jtu.tree_map(add, tree)


def first_violation(*checks):
    """The first violated condition among ``(ok, CONDITIONS.item)`` pairs (``ok`` a boolean array,
    all of it must hold), or ``CONDITIONS.satisfied``. Works on tracers."""
    cond = CONDITIONS.satisfied
    for ok, item in reversed(checks):
        cond = CONDITIONS.where(jnp.all(jnp.asarray(ok)), cond, item)
    return cond


def _raise_host(result, condition):
    result = np.asarray(result)
    condition = np.asarray(condition)
    result, condition = np.broadcast_arrays(result, condition)
    bad = (result != 0) | (condition != 0)
    if np.any(bad):
        idx = np.argwhere(bad)
        first = tuple(int(i) for i in idx[0])
        c, r = int(condition[first]), int(result[first])
        msg = _MESSAGES[c] if c != 0 else _OPTX_MESSAGES[r]
        where = f" (batch index {first[0] if len(first) == 1 else first}; {len(idx)} of {bad.size} failed)" if first else ""
        raise JaxtradeSolveError(f"no equilibrium: {msg}{where}")
    return np.zeros(result.shape, np.int32)


def report(result, condition, throw: bool):
    """Folds ``condition`` into ``result`` and raises when ``throw``.

    Returns ``result`` (an ``optx.RESULTS``: ``nonlinear_divergence`` where ``condition`` is
    violated, the solver's own code otherwise). With ``throw=True`` a host callback raises
    :class:`JaxtradeSolveError` with the condition's (or the solver's) message and, under ``vmap``,
    the first failing batch index; the check is tied into the returned code so it cannot be
    dropped from the graph."""
    ok = condition == CONDITIONS.satisfied
    result = optx.RESULTS.where(ok, result, optx.RESULTS.nonlinear_divergence)
    if throw:
        r = jax.lax.stop_gradient(jnp.asarray(result._value, jnp.int32))
        c = jax.lax.stop_gradient(jnp.asarray(condition._value, jnp.int32))
        zero = jax.pure_callback(
            _raise_host, jax.ShapeDtypeStruct(r.shape, jnp.int32), r, c, vmap_method="expand_dims"
        )
        result = eqx.tree_at(lambda x: x._value, result, result._value + zero.astype(result._value.dtype))
    return result

__all__ = [
    "CONDITIONS",
    "JaxtradeSolveError",
    "first_violation",
    "report",
    "tie",
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
    "tail_indices",
    "regularity",
    "quadrature_error",
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
    non-finite residual is reported as ``RESULTS.nonfinite``; a violated regularity condition as
    ``RESULTS.nonlinear_divergence`` with ``condition`` naming it), ``num_steps`` the number of Newton
    steps (``steps``: the old name, a read-only alias), ``residual`` the max-norm of the free-entry
    residual at the returned point, ``quadrature_error`` the estimated relative error of the
    entrants' expected profit from the tail quadrature (max over origins; above ``sqrt(eps)`` the
    solve reports ``CONDITIONS.quadrature_unresolved``).
    """

    log_demand: jax.Array  # (n_markets,)   log B_n
    cutoffs: jax.Array  # (S,)             φ*_j
    survival: jax.Array  # (S,)            1 − G(φ*_j)
    J: jax.Array  # (S,)                   J(φ*_j)
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    condition: CONDITIONS = None  # CONDITIONS.satisfied, or the regularity condition that fails
    quadrature_error: jax.Array = None  # relative error estimate of the expected profit (max over origins)

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps

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
    """A root solve's value with ``result`` (``optx.RESULTS``), ``num_steps`` and ``residual``
    (max-norm); ``steps`` is the old name of ``num_steps`` (read-only alias)."""

    value: object
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps


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


def price_index_from_demand(sigma, spending, demand):
    """The CES price index from the demand index ``B`` (001 eq. 10): ``P^{1−σ} = (σ−1)^{σ−1}/σ^σ · X / B``,
    with ``X`` the market's spending; every model on this engine reads ``P`` from its solved ``B`` so."""
    s = sigma - 1.0
    log_p1s = s * jnp.log(s) - sigma * jnp.log(sigma) + jnp.log(spending) - jnp.log(demand)
    return jnp.exp(-log_p1s / s)


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


def _per_strategy_map(problem: SelectionProblem, fn):
    """``fn(dist_j)`` for the distribution of every strategy's origin, stacked (leading axis S)."""
    origin = problem.strategies.origin
    if isinstance(problem.dist, (tuple, list)):
        return jnp.stack([jnp.asarray(fn(problem.dist[o])) for o in origin])
    dist_s = _per_strategy_dist(problem.dist, origin, problem.entry_cost.shape[0])
    dyn, static = eqx.partition(dist_s, eqx.is_array)
    return jax.vmap(lambda d: fn(eqx.combine(d, static)))(dyn)


def tail_indices(problem: SelectionProblem):
    """The tail index ``b`` of every strategy's origin distribution (``E[φ^{σ−1}] < ∞`` iff
    ``b > σ − 1``), from ``AbstractDistribution.tail_index``."""
    return _per_strategy_map(problem, lambda d: d.tail_index())


def regularity(problem: SelectionProblem):
    """The engine's in-graph checks: σ > 1 and a finite ``E[φ^{σ−1}]`` for every origin."""
    s = problem.sigma - 1.0
    return first_violation(
        (problem.sigma > 1.0, CONDITIONS.sigma_not_above_one),
        (tail_indices(problem) > s, CONDITIONS.tail_too_heavy),
    )


def _integrals_with_error(problem: SelectionProblem, cutoffs):
    """``(survival, J, error of J)`` for every strategy, one pass of the quadrature."""
    s = problem.sigma - 1.0
    rule = problem.rule
    origin = problem.strategies.origin
    if isinstance(problem.dist, (tuple, list)):
        outs = [jnp.zeros_like(cutoffs) for _ in range(3)]
        org = np.asarray(origin)
        for o, d in enumerate(problem.dist):
            idx = np.nonzero(org == o)[0]
            if idx.size:
                vals = quad.selection_integrals_with_error(d, cutoffs[idx], s, rule=rule)
                outs = [a.at[idx].set(v) for a, v in zip(outs, vals)]
        return tuple(outs)
    dist_s = _per_strategy_dist(problem.dist, origin, problem.entry_cost.shape[0])
    dyn, static = eqx.partition(dist_s, eqx.is_array)
    return jax.vmap(lambda d, c: quad.selection_integrals_with_error(eqx.combine(d, static), c, s, rule=rule))(
        dyn, cutoffs
    )


def _relative_profit_error(problem: SelectionProblem, err):
    st = problem.strategies
    n_orig = problem.entry_cost.shape[0]
    o = np.asarray(st.origin, dtype=np.int32)
    per = jax.lax.stop_gradient(st.weight * st.fixed_cost) * err
    total = jnp.zeros((n_orig,), per.dtype).at[o].add(per)
    return jnp.max(total / jax.lax.stop_gradient(problem.entry_cost))


def quadrature_error(problem: SelectionProblem, cutoffs):
    """Relative error estimate of the origins' expected profit ``Σ_j weight_j F_j J(φ*_j)`` (max)."""
    _, _, err = _integrals_with_error(problem, jax.lax.stop_gradient(cutoffs))
    return _relative_profit_error(problem, err)


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
    return RootSolution(value=sol.value, result=result, num_steps=steps, residual=res)


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

    Checked inside the graph (so also under ``jit``/``vmap``): σ > 1, ``E[φ^{σ−1}] < ∞`` for every
    origin (:func:`regularity`) and the quadrature's error estimate; a violation is
    ``solution.condition`` with ``result = RESULTS.nonlinear_divergence``, and with ``throw=True``
    every failure (the solver's too) raises :class:`JaxtradeSolveError` with its reason and batch index.
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
    cond = regularity(problem)
    rs = root_solve(fn, y0, problem, solver=solver, max_steps=max_steps, throw=False, options=options)
    logb = jnp.reshape(rs.value, (problem.n_markets,))
    cut = strategy_cutoffs(logb, problem.strategies, problem.sigma)
    surv, jj, jerr = _integrals_with_error(problem, cut)
    qerr = _relative_profit_error(problem, jerr)
    tol = float(np.sqrt(np.finfo(np.dtype(qerr.dtype)).eps))
    cond = CONDITIONS.where(
        cond == CONDITIONS.satisfied,
        first_violation((qerr <= tol, CONDITIONS.quadrature_unresolved)),
        cond,
    )
    return tie(SelectionSolution(
        log_demand=logb,
        cutoffs=cut,
        survival=surv,
        J=jj,
        result=report(rs.result, cond, throw),
        num_steps=rs.num_steps,
        residual=rs.residual,
        condition=cond,
        quadrature_error=qerr,
    ), throw)
