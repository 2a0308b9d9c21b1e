"""Minimising the calibration objective: optimistix solvers, one loop, checkpoints (004 §5.3 step 3).

Every method is an ``optimistix.AbstractMinimiser`` driven by one loop (:func:`minimise`) that records
each step, writes checkpoints and stops on the solver's own ``terminate``:

- ``"newton"``: :class:`TrustRegionNewton`, the
  exact trust-region subproblem by eigendecomposition (:class:`EigenTrustRegionDescent`, an
  ``optx.AbstractDescent``: indefinite Hessians and the hard case handled) under
  ``optx.ClassicalTrustRegion`` (:class:`CappedTrustRegion`: the same ratio test, the radius capped),
  with the Hessian by central differences of the autodiff gradient (its ``2p`` gradients one compiled
  ``lax.map``), so it includes the curvature of firms switching paths. A step whose objective or gradient is
  not finite is rejected and the radius shrinks (never an exception).
- ``"quasi_newton"`` (default of :func:`jaxtrade.calibration.calibrate` and the CLI): the same trust region
  with SR1 updates of the Hessian between finite-difference ones (one gradient per step instead of ``2p + 1``).
- ``"adam"``, ``"lbfgs"``: optax through ``optx.OptaxMinimiser``.
- ``"bfgs"``, ``"nelder_mead"``: ``optx.BFGS`` and ``optx.NelderMead`` (the derivative-free baseline).

Checkpoints (``eqx.tree_serialise_leaves`` of the iterate and the solver state, after a JSON header with
the configuration hash, the step, the evaluation count and the history) are written to a temporary file
and renamed into place; a resumed run retraces the uninterrupted one bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..engine.validation import fail
from .objective import Problem, objective
from .parameters import coordinates

__all__ = [
    "OPTIMIZERS",
    "RESULTS",
    "OptimisationResult",
    "EigenTrustRegionDescent",
    "CappedTrustRegion",
    "TrustRegionNewton",
    "trust_region_step",
    "free_coordinates",
    "minimise",
]

OPTIMIZERS = ("newton", "quasi_newton", "bfgs", "lbfgs", "adam", "nelder_mead")


class RESULTS(optx.RESULTS):  # pyright: ignore
    """``optx.RESULTS`` and the two outcomes of a calibration run that are not solver failures."""

    stalled = "The objective stopped improving (trust region below its floor, or no relative gain of ftol in `patience` steps) while the gradient was not below gtol."
    interrupted = "Interrupted (Ctrl-C or a callback); the state is saved in the checkpoint: resume=True continues."


_STATUS = {"successful": "converged", "nonlinear_max_steps_reached": "max_steps", "stalled": "stalled", "nonfinite": "nonfinite",
           "interrupted": "interrupted"}


def _status(result) -> str:
    for name, status in _STATUS.items():
        if result == getattr(RESULTS, name):
            return status
    return "failed"


# ----------------------------------------------------------------------------------------------
# The trust-region Newton method as optimistix parts
# ----------------------------------------------------------------------------------------------


def trust_region_step(g, H, radius, iterations: int = 100):
    """Solves ``min_p g·p + ½ p'Hp`` s.t. ``‖p‖ ≤ radius`` exactly (Moré-Sorensen by eigendecomposition).

    ``H`` may be indefinite (and the gradient may have no weight on its lowest eigenvector: the "hard
    case"). ``p = −Q (Λ + μ)⁻¹ Qᵀ g`` with ``μ = 0`` when the Newton step is interior, else ``μ`` by
    ``iterations`` geometric bisections on ``‖p(μ)‖ = radius``. A non-finite ``H`` is replaced by 0 (the
    steepest-descent step to the boundary). Pure JAX, any float dtype; returns ``p``.
    """
    dtype = g.dtype
    H = jnp.where(jnp.all(jnp.isfinite(H)), 0.5 * (H + H.T), jnp.zeros_like(H))
    lam, Q = jnp.linalg.eigh(H)
    gq = Q.T @ g

    def step(mu):
        return -Q @ (gq / (lam + mu))

    def norm(v):
        return jnp.sqrt(jnp.sum(v * v))

    scale = jnp.maximum(1.0, jnp.max(jnp.abs(lam)))
    tiny = jnp.asarray(1e-6, dtype) * scale
    floor = jnp.maximum(0.0, -lam[0])
    lo0 = floor + tiny
    hi0 = floor + norm(g) / radius + tiny
    interior_ok = (lam[0] > tiny) & (norm(step(jnp.zeros((), dtype))) <= radius)

    def bisect(_, lohi):
        lo, hi = lohi
        mid = jnp.sqrt(lo * hi)
        outside = norm(step(mid)) > radius
        return jnp.where(outside, mid, lo), jnp.where(outside, hi, mid)

    _, hi = jax.lax.fori_loop(0, iterations, bisect, (lo0, hi0))
    p_boundary = step(hi)
    p_lo = step(lo0)
    hard = norm(p_lo) <= radius  # the hard case: g has (almost) no weight on the lowest eigenvector
    p_hard = p_lo + Q[:, 0] * jnp.sqrt(jnp.maximum(radius**2 - p_lo @ p_lo, 0.0))
    p = jnp.where(interior_ok, step(jnp.zeros((), dtype)), jnp.where(hard, p_hard, p_boundary))
    return jnp.where(jnp.isfinite(p), p, 0.0)


def newton_decrement(g, H):
    """``½ gᵀH⁻¹g``, the gain the quadratic model predicts for the full Newton step (Boyd & Vandenberghe 2004,
    §9.5.1); ``+∞`` unless ``H`` is positive definite (then no full Newton step minimises the model)."""
    H = jnp.where(jnp.all(jnp.isfinite(H)), 0.5 * (H + H.T), jnp.zeros_like(H))
    lam, Q = jnp.linalg.eigh(H)
    gq = Q.T @ g
    pd = lam[0] > jnp.asarray(1e-6, g.dtype) * jnp.maximum(1.0, jnp.max(jnp.abs(lam)))
    return jnp.where(pd, 0.5 * jnp.sum(gq * gq / jnp.where(pd, lam, 1.0)), jnp.inf)


class _EigenState(eqx.Module):
    grad: jax.Array
    hessian: jax.Array


class EigenTrustRegionDescent(optx.AbstractDescent):
    """The exact trust-region step (:func:`trust_region_step`) as an ``optx.AbstractDescent``.

    The search's ``step_size`` ``s`` is read as the radius ``radius · s`` in ``φ`` (log parameters): the
    search starts at ``s = 1``."""

    radius: float = 0.2

    def init(self, y, f_info_struct):
        p = y.shape[0]
        return _EigenState(grad=jnp.zeros_like(y), hessian=jnp.zeros((p, p), y.dtype))

    def query(self, y, f_info, state):
        return _EigenState(grad=f_info.grad, hessian=f_info.hessian.as_matrix())

    def step(self, step_size, state):
        radius = jnp.asarray(self.radius, state.grad.dtype) * step_size.astype(state.grad.dtype)
        return trust_region_step(state.grad, state.hessian, radius), optx.RESULTS.successful


class CappedTrustRegion(optx.ClassicalTrustRegion):
    """``optx.ClassicalTrustRegion`` (accept when the actual decrease is at least ``low_cutoff`` of the
    predicted one, shrink by ``low_constant`` on rejection, grow by ``high_constant`` above
    ``high_cutoff``) with the step size capped at ``max_step_size``."""

    high_cutoff: float = 0.75
    low_cutoff: float = 0.1
    high_constant: float = 2.0
    low_constant: float = 0.25
    max_step_size: float = 10.0

    def step(self, first_step, y, y_eval, f_info, f_eval_info, state):
        step_size, accept, result, state = super().step(first_step, y, y_eval, f_info, f_eval_info, state)
        step_size = jnp.minimum(step_size, self.max_step_size)
        return step_size, accept, result, eqx.tree_at(lambda s: s.step_size, state, step_size)


class _NewtonState(eqx.Module):
    first_step: jax.Array
    y_eval: jax.Array
    f_info: optx.FunctionInfo.EvalGradHessian
    aux: object
    search_state: object
    descent_state: object
    step_size: jax.Array
    terminate: jax.Array
    result: optx.RESULTS
    exact: jax.Array  # whether f_info's Hessian is the finite-difference one (not an SR1 update)
    since_exact: jax.Array  # accepted steps since the last finite-difference Hessian
    rejections: jax.Array  # trial points rejected in a row at the current iterate
    fresh: jax.Array  # whether a finite-difference Hessian was computed at the current iterate


def sr1_update(B, s, y, skip: float = 1e-8):
    """The symmetric rank-one update ``B + r rᵀ/(rᵀs)``, ``r = y − B s`` (Nocedal & Wright 2006, eq. 6.24).

    Skipped (``B`` returned) when ``|rᵀs| < skip ‖s‖ ‖r‖`` (their eq. 6.26) or when ``s``, ``y`` or the
    result is not finite. The update may make ``B`` indefinite, which the exact trust-region step
    (:func:`trust_region_step`) handles; that is why SR1, not BFGS, suits a trust region (N&W §6.2)."""
    r = y - B @ s
    denom = r @ s
    ok = jnp.abs(denom) >= skip * jnp.sqrt(s @ s) * jnp.sqrt(r @ r)
    ok = ok & (jnp.abs(denom) > 0) & jnp.all(jnp.isfinite(s)) & jnp.all(jnp.isfinite(y))
    B_new = B + jnp.outer(r, r) / jnp.where(ok, denom, 1.0)
    return jnp.where(ok & jnp.all(jnp.isfinite(B_new)), B_new, B)


class TrustRegionNewton(optx.AbstractMinimiser):
    """Trust-region Newton with finite-difference Hessians of the autodiff gradient (an optimistix minimiser).

    Each step evaluates ``f`` and ``∇f`` at the trial point (one ``value_and_grad``); a non-finite value
    or gradient counts as ``f = +∞`` (the step is rejected and the radius shrinks). On acceptance the
    Hessian is ``(∇f(y + h e_i) − ∇f(y − h e_i))/2h`` (``2p`` gradients in one ``lax.map``), symmetrised.
    Terminates ``successful`` when ``max |∇f| < gtol`` or the full Newton step is predicted to gain less than
    ``ftol_predicted · |f| + ftol_absolute`` (:func:`newton_decrement`, positive definite Hessian; :func:`minimise`
    sets ``ftol_absolute`` to :data:`LOGLIK_TOL` ``/ n``, a gain worth 0.005 in log-likelihood); a
    non-finite objective at the start is ``optx.RESULTS.nonfinite``. Result codes are ``optx.RESULTS``, so
    it works with ``optx.minimise`` too (where a collapsed radius runs on to ``max_steps``, as optimistix's
    own trust-region solvers do); :func:`minimise` stops as ``stalled`` once :meth:`radius` falls below
    ``min_radius``.

    ``hessian_every`` (quasi-Newton trust region when not 1): with ``k > 1`` the finite-difference Hessian
    is computed at the start and at every ``k``-th accepted iterate, with ``0`` at the start only; in
    between the Hessian follows SR1 updates (:func:`sr1_update`) from every trial point, accepted or not
    (Nocedal & Wright 2006, Algorithm 6.2), one gradient per step instead of ``2p + 1``. The "predicted
    gain below ``ftol_predicted``" test is only trusted on a finite-difference Hessian: when it passes on
    an updated one, the Hessian is recomputed at the iterate and the test repeated."""

    rtol: float = 0.0
    atol: float = 0.0
    norm: Callable = optx.max_norm
    gtol: float = 1e-5
    hessian_step: float = 1e-2
    ftol_predicted: float = 1e-6
    ftol_absolute: float = 0.0
    min_radius: float = 1e-6
    hessian_every: int = 1
    refresh_after_rejections: int = 2
    descent: EigenTrustRegionDescent = EigenTrustRegionDescent()
    search: CappedTrustRegion = CappedTrustRegion()

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        p = y.shape[0]
        f_info = optx.FunctionInfo.EvalGradHessian(jnp.zeros(f_struct.shape, f_struct.dtype), jnp.zeros_like(y),
                                                   _matrix_operator(jnp.zeros((p, p), y.dtype)))
        f_info_struct = eqx.filter_eval_shape(lambda: f_info)
        return _NewtonState(first_step=jnp.array(True), y_eval=y, f_info=f_info,
                            aux=jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), aux_struct),
                            search_state=self.search.init(y, f_info_struct), descent_state=self.descent.init(y, f_info_struct),
                            step_size=jnp.array(1.0), terminate=jnp.array(False), result=optx.RESULTS.successful,
                            exact=jnp.array(False), since_exact=jnp.array(0, jnp.int32), rejections=jnp.array(0, jnp.int32),
                            fresh=jnp.array(False))

    def step(self, fn, y, args, options, state, tags):
        def value(z):
            return fn(z, args)

        def fd_hessian(z):
            p = y.shape[0]
            E = jnp.eye(p, dtype=y.dtype) * jnp.asarray(self.hessian_step, y.dtype)
            # One gradient after another (lax.map), not one vmapped batch: at 1M firms the batch of 2p = 8 gradients
            # took 4.97 s and the loop 2.10 s (the batch's (8, F, N, M) intermediates do not stay in cache).
            G = jax.lax.map(lambda q: jax.grad(lambda q_: value(q_)[0])(q), jnp.concatenate([z[None] + E, z[None] - E]))
            H = (G[:p] - G[p:]).T / (2 * self.hessian_step)
            return (0.5 * (H + H.T)).astype(y.dtype)

        (f_eval, aux_eval), grad = jax.value_and_grad(value, has_aux=True)(state.y_eval)
        finite = jnp.isfinite(f_eval) & jnp.all(jnp.isfinite(grad))
        f_safe = jnp.where(finite, f_eval, jnp.inf).astype(f_eval.dtype)
        step_size, accept, search_result, search_state = self.search.step(state.first_step, y, state.y_eval, state.f_info,
                                                                          optx.FunctionInfo.Eval(f_safe), state.search_state)
        accept = accept & (finite | ~state.first_step)
        start_bad = state.first_step & ~finite
        quasi = self.hessian_every != 1
        H_old = state.f_info.hessian.as_matrix()
        if quasi:  # the trial point's gradient updates the model Hessian whether or not the step is taken
            H_upd = jnp.where(finite & ~state.first_step, sr1_update(H_old, state.y_eval - y, grad - state.f_info.grad), H_old)
            want_exact = state.first_step | ((self.hessian_every > 1) & (state.since_exact + 1 >= self.hessian_every))
        else:
            H_upd, want_exact = H_old, jnp.array(True)

        def accepted(descent_state):
            if quasi:
                H, exact = _filter_cond(want_exact, lambda: (fd_hessian(state.y_eval), jnp.array(True)), lambda: (H_upd, jnp.array(False)))
            else:
                H, exact = fd_hessian(state.y_eval), jnp.array(True)
            f_info = optx.FunctionInfo.EvalGradHessian(f_eval, grad, _matrix_operator(H))
            since = jnp.where(exact, 0, state.since_exact + 1).astype(jnp.int32)
            return (state.y_eval, f_info, aux_eval, self.descent.query(state.y_eval, f_info, descent_state), exact, since,
                    jnp.array(0, jnp.int32), exact)

        def rejected(descent_state):
            f_info = optx.FunctionInfo.EvalGradHessian(state.f_info.f, state.f_info.grad, _matrix_operator(H_upd))
            exact = state.exact & (not quasi)
            return (y, f_info, state.aux, self.descent.query(y, f_info, descent_state), exact, state.since_exact,
                    (state.rejections + 1).astype(jnp.int32), state.fresh)

        y_new, f_info, aux, descent_state, exact, since, rejections, fresh = _filter_cond(accept, accepted, rejected, state.descent_state)
        radius = self.descent.radius * step_size

        def proposal(f_info, descent_state):
            diff, descent_result = self.descent.step(step_size, descent_state)
            tol = self.ftol_predicted * jnp.abs(f_info.f) + self.ftol_absolute
            return diff, newton_decrement(f_info.grad, f_info.hessian.as_matrix()) < tol

        diff, small = proposal(f_info, descent_state)
        if quasi:
            # A small predicted gain on an updated Hessian: confirm it on the finite-difference one at the iterate.
            # Trial points rejected in a row on an updated Hessian (its model overpromises): replace it by the
            # finite-difference one, once per iterate, before the radius collapses on a wrong model.
            distrust = (rejections >= self.refresh_after_rejections) & ~fresh

            def refresh(args_):
                f_info, descent_state, _, _, _ = args_
                fi = optx.FunctionInfo.EvalGradHessian(f_info.f, f_info.grad, _matrix_operator(fd_hessian(y_new)))
                ds = self.descent.query(y_new, fi, descent_state)
                return (fi, ds, jnp.array(True), jnp.array(0, jnp.int32), jnp.array(True))

            f_info, descent_state, exact, since, fresh = _filter_cond((small | distrust) & ~exact & ~start_bad, refresh, lambda a: a,
                                                                      (f_info, descent_state, exact, since, fresh))
            diff, small = proposal(f_info, descent_state)
        gmax = jnp.max(jnp.abs(f_info.grad))
        converged = ~start_bad & ((gmax < self.gtol) | (small & exact))
        terminate = converged | start_bad
        result = optx.RESULTS.where(start_bad, optx.RESULTS.nonfinite, optx.RESULTS.successful)
        result = optx.RESULTS.where(search_result == optx.RESULTS.successful, result, search_result)
        new_state = _NewtonState(first_step=jnp.array(False), y_eval=y_new + diff, f_info=f_info, aux=aux, search_state=search_state,
                                 descent_state=descent_state, step_size=step_size, terminate=terminate, result=result, exact=exact,
                                 since_exact=since, rejections=rejections, fresh=fresh)
        return y_new, new_state, aux

    def terminate(self, fn, y, args, options, state, tags):
        return state.terminate, state.result

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        return y, aux, {}

    @staticmethod
    def gradient_norm(state) -> jax.Array:
        """``max |∇f|`` at the current (last accepted) iterate."""
        return jnp.max(jnp.abs(state.f_info.grad))

    @staticmethod
    def predicted_gain(state) -> jax.Array:
        """:func:`newton_decrement` at the current iterate, on the solver's Hessian (finite-difference or updated)."""
        return newton_decrement(state.f_info.grad, state.f_info.hessian.as_matrix())

    def radius(self, state) -> jax.Array:
        """The trust-region radius of the next step (in ``φ``)."""
        return self.descent.radius * state.step_size


def _matrix_operator(H):
    import lineax as lx

    return lx.MatrixLinearOperator(H, lx.symmetric_tag)


def _filter_cond(pred, true_fun, false_fun, *operands):
    dynamic, static = eqx.partition(operands, eqx.is_array)

    def wrap(f):
        def g(d):
            out = f(*eqx.combine(d, static))
            dyn, st = eqx.partition(out, eqx.is_array)
            return dyn, eqxi.Static(st)

        return g

    dyn, st = jax.lax.cond(pred, wrap(true_fun), wrap(false_fun), dynamic)
    return eqx.combine(dyn, st.value)


# ----------------------------------------------------------------------------------------------
# One loop: records, stopping, checkpoints
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class OptimisationResult:
    """Outcome of :func:`minimise`.

    ``result``: an ``optx.RESULTS`` (:data:`RESULTS`: ``successful``, ``nonlinear_max_steps_reached``,
    ``nonfinite`` (the objective was not finite at the start or at an iterate: the last finite point is
    returned), ``stalled``, ``interrupted``, or a solver's own failure); ``status`` is its short name
    (``"converged"``, ``"max_steps"``, ``"nonfinite"``, ``"stalled"``, ``"interrupted"``, ``"failed"``).
    ``grad_norm``: ``max |∇|`` over the free coordinates at ``phi`` (NaN when interrupted).
    ``history``: one dict per recorded step (``step``, ``objective``, ``grad_norm``, ``evaluations``,
    ``seconds``, ``phi``); ``objective`` is the value the solver's step evaluated (Newton: at the accepted
    iterate; optax: at the point before the update; Nelder-Mead: at the trial vertex), ``grad_norm`` the
    Newton solver's gradient at its iterate (``None`` for the others).
    """

    phi: np.ndarray
    value: float
    result: object
    num_steps: int
    evaluations: int
    grad_norm: float
    seconds: float
    optimizer: str
    history: list

    @property
    def status(self) -> str:
        return _status(self.result)

    @property
    def steps(self) -> int:
        """Alias of :attr:`num_steps` (the spelling of earlier releases)."""
        return self.num_steps

    @property
    def message(self) -> str:
        return RESULTS[self.result]


def free_coordinates(fixed, p):
    """Indices of ``φ`` left free by ``fixed`` (validated: known indices, finite values, one left free)."""
    fixed = fixed or {}
    for k, v in fixed.items():
        if not (isinstance(k, int) and 0 <= k < p):
            fail("fixed", fixed, f"keys must be coordinate indices 0..{p - 1} of phi = {coordinates(p - 2)}")
        if not np.isfinite(v):
            fail("fixed", fixed, "fixed values must be finite (log parameters)")
    free = [i for i in range(p) if i not in fixed]
    if not free:
        fail("fixed", fixed, "at least one coordinate must be left free")
    return free


#: Trust-region convergence: the full Newton step's predicted gain (on a finite-difference Hessian) worth less than this
#: in log-likelihood units, ``n · gain`` (``n`` data firms; KLD and SML are ``−log L / n`` up to a constant): the
#: quadratic model's minimiser is then within ``sqrt(2 · 0.005) = 0.1`` standard errors of the iterate.
LOGLIK_TOL = 0.005

#: ``hessian_every`` of ``"quasi_newton"``: the finite-difference Hessian at the start, every this many accepted steps
#: and to confirm convergence; SR1 updates in between.
QUASI_NEWTON_HESSIAN_EVERY = 10


def _make_solver(optimizer, *, learning_rate, rtol, atol, gtol, hessian_step, hessian_every=QUASI_NEWTON_HESSIAN_EVERY, ftol_absolute=0.0):
    import optax

    if optimizer == "newton":
        return TrustRegionNewton(gtol=gtol, hessian_step=hessian_step, ftol_absolute=ftol_absolute)
    if optimizer == "quasi_newton":
        return TrustRegionNewton(gtol=gtol, hessian_step=hessian_step, hessian_every=hessian_every, ftol_absolute=ftol_absolute)
    if optimizer == "adam":
        return optx.OptaxMinimiser(optax.adam(learning_rate), rtol=rtol, atol=atol)
    if optimizer == "lbfgs":
        return optx.OptaxMinimiser(optax.lbfgs(memory_size=10), rtol=rtol, atol=atol)
    if optimizer == "bfgs":
        return optx.BFGS(rtol=rtol, atol=atol)
    if optimizer == "nelder_mead":
        return optx.NelderMead(rtol=rtol, atol=atol, rdelta=0.1, adelta=0.05)
    fail("optimizer", optimizer, f"optimizer must be one of {OPTIMIZERS}")


def _config_hash(problem: Problem, optimizer, extra) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(problem.data.log_sales).tobytes())
    m = problem.model
    h.update(repr((m.n_stages, m.sigma, m.draws, m.truncation_ratio, m.gamma_index, m.draws_are, m.wage_reading, m.value_dependent, m.T.tolist(), problem.kind,
                   problem.ks_temperature, problem.seed, problem.uniform_bits, problem.uniforms.shape, problem.data.trim,
                   float(problem.data.bandwidth), optimizer, extra)).encode())
    if problem.data.offshores is not None:  # the joint objective (sales-only hashes are unchanged)
        h.update(np.asarray(problem.data.offshores).tobytes())
        h.update(repr(("offshores", problem.offshore_temperature)).encode())
    return h.hexdigest()[:16]


def _save_checkpoint(path, carry, meta):
    """Atomic checkpoint: one JSON header line, then ``eqx.tree_serialise_leaves`` of the carry; written, synced, renamed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(json.dumps(meta).encode() + b"\n")
        eqx.tree_serialise_leaves(fh, carry)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_checkpoint(path, template):
    with open(path, "rb") as fh:
        try:
            meta = json.loads(fh.readline())
            carry = eqx.tree_deserialise_leaves(fh, template)
        except Exception as e:  # a truncated or foreign file
            fail("checkpoint", str(path), f"not a checkpoint of this optimiser and problem ({type(e).__name__}: {e})")
    return carry, meta


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, marker):
        self.n += int(np.size(marker))  # one marker per evaluation; a vmapped batch of them arrives as one array


def _fn(y, args):
    """The objective of the free coordinates ``y`` (optimistix signature ``fn(y, args) -> (f, aux)``)."""
    problem, base, free_idx, fdt = args
    jax.debug.callback(_COUNTER, jnp.zeros((), y.dtype) * y[0])  # data-dependent, so that vmap passes one marker per evaluation
    f = objective(base.at[free_idx].set(y), problem).astype(fdt.dtype)
    return f, f


_COUNTER = _Counter()
_OPTIONS: dict = {}
_TAGS: frozenset = frozenset()


@eqx.filter_jit
def _init(solver, y, args):
    f_struct = jax.ShapeDtypeStruct((), args[3].dtype)
    return solver.init(_fn, y, args, _OPTIONS, f_struct, f_struct, _TAGS)


@eqx.filter_jit
def _step(solver, y, state, args):
    y, state, aux = solver.step(_fn, y, args, _OPTIONS, state, _TAGS)
    done, result = solver.terminate(_fn, y, args, _OPTIONS, state, _TAGS)
    result = RESULTS.promote(result)
    newton = isinstance(solver, TrustRegionNewton)
    info = (TrustRegionNewton.gradient_norm(state), solver.radius(state), TrustRegionNewton.predicted_gain(state)) if newton else None
    return y, state, aux, done, result, info


@eqx.filter_jit
def _value_and_grad_norm(y, args):
    problem, base, free_idx, _ = args
    v, g = jax.value_and_grad(lambda z: objective(base.at[free_idx].set(z), problem))(y)
    return v, jnp.max(jnp.abs(g))


def minimise(problem: Problem, phi0, *, optimizer: str = "lbfgs", max_steps: int = 200, gtol: float = 1e-5, ftol: float = 1e-7,
             learning_rate: float = 0.02, rtol: float = 1e-6, atol: float = 1e-7, checkpoint=None, checkpoint_every: int = 10,
             resume: bool = False, callback: Callable | None = None, record_every: int = 1, patience: int = 20,
             hessian_step: float = 1e-2, fixed: dict | None = None, hessian_every: int = QUASI_NEWTON_HESSIAN_EVERY,
             loglik_tol: float = LOGLIK_TOL) -> OptimisationResult:
    """Minimises :func:`~jaxtrade.calibration.objective` over ``φ`` from ``phi0``.

    Optimisers (:data:`OPTIMIZERS`): ``"newton"`` (:class:`TrustRegionNewton`: trust-region Newton, the
    Hessian by central differences of the autodiff gradient with step ``hessian_step``, so it includes the
    curvature of firms switching paths; exact subproblem, indefinite Hessians allowed; 2p + 1 gradient
    evaluations per accepted step; the most reliable on the weakly identified ridge; converges on
    ``max |∇| < gtol`` or a full Newton step predicted to gain less than ``loglik_tol / n`` (``n`` data firms:
    worth ``loglik_tol`` in log-likelihood) or 1e-6 of the objective, stalls when
    its radius falls below 1e-6), ``"lbfgs"`` and ``"adam"`` (optax via ``optx.OptaxMinimiser``),
    ``"bfgs"`` and ``"nelder_mead"`` (optimistix; Nelder-Mead is the derivative-free baseline). The
    optimistix methods stop on their own ``rtol``/``atol`` criteria; every method except Newton also stops
    as ``stalled`` when the objective has not improved by a relative ``ftol`` in ``patience`` steps (in
    float32 a line search can otherwise reject steps forever).

    ``"quasi_newton"``: the same trust region with SR1 Hessian updates between finite-difference Hessians
    (every ``hessian_every`` accepted steps, at the start and to confirm convergence; one gradient per step).

    ``fixed``: ``{coordinate index: value}`` of ``φ`` held fixed (e.g. ``{2: log w}`` when the
    relative wage is known from wage data); the optimiser moves the other coordinates only, and
    ``phi`` in the result and the history is the whole vector.

    ``checkpoint``: a file path; the state (iterate, solver state, step, evaluation count, history,
    configuration hash) is written atomically every ``checkpoint_every`` steps, at the end, and when the
    run is interrupted (Ctrl-C). ``resume=True`` continues from it (the run then follows the same iterates
    as an uninterrupted run, bit for bit). ``callback(record)`` is called after every step; it may raise
    ``KeyboardInterrupt`` (tests use it to force an interruption). Never raises on a non-finite objective:
    the result code says what happened.
    """
    if not (isinstance(max_steps, int) and max_steps >= 1):
        fail("max_steps", max_steps, "max_steps must be an integer >= 1")
    if not (isinstance(hessian_every, int) and hessian_every >= 0):
        fail("hessian_every", hessian_every, "hessian_every must be an integer >= 0 (1: a finite-difference Hessian at every step, 0: at the start only)")
    if not (np.isfinite(loglik_tol) and loglik_tol >= 0):
        fail("loglik_tol", loglik_tol, "loglik_tol must be finite and >= 0")
    solver = _make_solver(optimizer, learning_rate=learning_rate, rtol=rtol, atol=atol, gtol=gtol, hessian_step=hessian_step,
                          hessian_every=hessian_every, ftol_absolute=float(loglik_tol) / problem.data.n)
    trust_region = isinstance(solver, TrustRegionNewton)
    base = jnp.asarray(phi0, jnp.float32)
    free = free_coordinates(fixed, base.shape[0])
    if fixed:
        base = base.at[jnp.asarray(list(fixed))].set(jnp.asarray(list(fixed.values()), jnp.float32))
    free_idx = jnp.asarray(free)
    args = (problem, base, free_idx, jnp.zeros((), jnp.result_type(float)))  # optimistix builds its scalars in the default float dtype

    def whole(y):
        return np.asarray(base.at[free_idx].set(jnp.asarray(y, jnp.float32)), dtype=np.float64)

    y = base[free_idx]
    _COUNTER.n = 0
    state = _init(solver, y, args)
    extra = (learning_rate, rtol, atol, gtol, ftol, patience, hessian_step, sorted((fixed or {}).items()), loglik_tol)
    if optimizer == "quasi_newton":
        extra = extra + (hessian_every,)
    config = _config_hash(problem, optimizer, extra)
    meta = {"config": config, "step": 0, "evaluations": 0, "optimizer": optimizer, "best": None, "since_best": 0, "seconds": 0.0,
            "history": []}
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            fail("checkpoint", checkpoint, "resume=True needs an existing checkpoint file")
        (y, state), loaded = _load_checkpoint(checkpoint, (y, state))
        if loaded.get("config") != config:
            fail("checkpoint", str(checkpoint), "the checkpoint was written for a different problem or optimiser settings (config hash mismatch)")
        meta.update(loaded)
    history = meta["history"]
    evaluations0 = meta["evaluations"]
    t0 = time.perf_counter() - meta["seconds"]

    def save():
        if checkpoint is not None:
            meta["evaluations"] = evaluations0 + _COUNTER.n
            meta["seconds"] = time.perf_counter() - t0
            _save_checkpoint(checkpoint, (y, state), meta)

    result = RESULTS.nonlinear_max_steps_reached
    if optimizer == "nelder_mead" and meta.get("start") is None:
        meta["start"] = float(_value_and_grad_norm(y, args)[0])  # its first record (not counted in evaluations)
    last_good = (np.asarray(y), history[-1]["objective"] if history else math.nan)
    try:
        while meta["step"] < max_steps:
            y_new, state_new, aux, done, res, info = _step(solver, y, state, args)
            gnorm = None if info is None else info[0]
            value = float(aux)
            if optimizer == "nelder_mead":
                # Nelder-Mead returns its best vertex; the aux is the value at its trial vertex (a dummy on the
                # first step, which only builds the simplex): the best vertex's value is the running minimum.
                prev = meta["start"] if meta["step"] == 0 else meta["nm_best"]
                value = prev if meta["step"] == 0 or not math.isfinite(value) else min(prev, value)
                meta["nm_best"] = value
            meta["step"] += 1
            if not (math.isfinite(value) or trust_region) or not np.all(np.isfinite(np.asarray(y_new))):
                result = RESULTS.nonfinite  # y and state stay at the last finite point
                break
            y, state = y_new, state_new
            if math.isfinite(value):
                last_good = (np.asarray(y), value)
            rec = {"step": meta["step"], "objective": value, "grad_norm": None if gnorm is None else float(gnorm),
                   "evaluations": evaluations0 + _COUNTER.n, "seconds": time.perf_counter() - t0, "phi": [float(v) for v in whole(y)]}
            if trust_region:
                gain = float(info[2])  # +inf when the Hessian is not positive definite: recorded as null (JSON)
                rec["predicted_gain"], rec["radius"] = (gain if math.isfinite(gain) else None), float(info[1])
            if meta["step"] % record_every == 0 or meta["step"] == max_steps:
                history.append(rec)
            if checkpoint is not None and meta["step"] % checkpoint_every == 0:
                save()
            if callback is not None:
                callback(rec)
            if bool(done):
                result = res
                break
            if trust_region:
                if float(info[1]) < solver.min_radius:
                    result = RESULTS.stalled
                    break
            else:
                best = meta["best"]
                if best is None or value < best - ftol * max(abs(value), 1e-12):
                    meta["best"], meta["since_best"] = value, 0
                else:
                    meta["since_best"] += 1
                if meta["since_best"] >= patience:
                    result = RESULTS.stalled
                    break
    except KeyboardInterrupt:
        save()
        phi_hat = whole(y)
        return OptimisationResult(phi=phi_hat, value=last_good[1], result=RESULTS.interrupted, num_steps=meta["step"],
                                  evaluations=evaluations0 + _COUNTER.n, grad_norm=math.nan, seconds=time.perf_counter() - t0,
                                  optimizer=optimizer, history=history)
    save()
    phi_hat = whole(y)
    v, g = _value_and_grad_norm(jnp.asarray(y, jnp.float32), args)
    return OptimisationResult(phi=phi_hat, value=float(v), result=result, num_steps=meta["step"], evaluations=evaluations0 + _COUNTER.n,
                              grad_norm=float(g), seconds=time.perf_counter() - t0, optimizer=optimizer, history=history)
