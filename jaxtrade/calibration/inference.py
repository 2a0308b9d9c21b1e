"""Identification and inference at the optimum (004 §5; docs/calibration.md, "Identification").

At the optimum: the Hessian ``H`` of the objective in ``φ`` (central differences of the autodiff
gradient, so the curvature of firms switching paths counts), its eigenvalues, rank and condition
number; standard errors from the sandwich ``V = H⁻¹ (Σ_data + Σ_sim) H⁻¹`` where ``Σ_data`` is the
covariance of the objective's gradient over bootstrap resamples of the data (simulation fixed) and
``Σ_sim`` its covariance over independent re-simulations (data fixed); with ``sim_replications=0``,
``Σ_sim = (n/S) Σ_data``, the asymptotic value when the model is correct. Standard errors of the
natural parameters follow by the delta method.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .objective import Problem, _density_jit, _distance, _sim_density, objective
from .optimise import free_coordinates as _free_coordinates
from .parameters import Parameters, coordinates, full_coordinates, identified_from_full
from .simulation import common_uniforms

__all__ = ["Inference", "fd_hessian", "hessian", "identification_report", "inference"]


def _rank(eigs, rtol):
    eigs = np.abs(np.asarray(eigs))
    return int(np.sum(eigs > rtol * eigs.max())) if eigs.max() > 0 else 0


def identification_report(params: Parameters, problem: Problem, *, rtol: float = 1e-4) -> dict:
    """The Hessian of the objective in the full coordinates ``(log shape, log scale, log τ, log w, log f_s[, log w_2, …])``.

    Returns its eigenvalues, numerical rank (eigenvalues above ``rtol`` × the largest), and the
    eigenvector of the smallest eigenvalue (the unidentified direction; ``(0, 1, 1, 0, 0)/√2``
    for additive trade costs and cost draws).
    """
    model = problem.model
    psi = full_coordinates(params)
    H = np.asarray(jax.jit(jax.hessian(lambda p: objective(identified_from_full(p, model), problem)))(psi), dtype=np.float64)
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)):  # never hand numpy's eigh a NaN (LinAlgError, issue 16)
        return {"coordinates": list(coordinates(model.n_countries, full=True)), "hessian": H.tolist(), "eigenvalues": None, "rank": 0, "null_direction": None,
                "note": "the Hessian is not finite at these parameters"}
    eigs, vecs = np.linalg.eigh(H)
    null = vecs[:, np.argmin(np.abs(eigs))]
    null = null * np.sign(null[np.argmax(np.abs(null))])
    return {"coordinates": list(coordinates(model.n_countries, full=True)), "hessian": H.tolist(), "eigenvalues": eigs.tolist(), "rank": _rank(eigs, rtol),
            "null_direction": null.tolist()}


@dataclasses.dataclass
class Inference:
    """Curvature and standard errors at the optimum (identified coordinates ``φ``)."""

    hessian: np.ndarray
    eigenvalues: np.ndarray
    rank: int
    condition_number: float
    covariance: np.ndarray  # of φ
    covariance_data: np.ndarray
    covariance_sim: np.ndarray
    std_errors_phi: np.ndarray  # NaN for coordinates held fixed
    method: str
    free: tuple = (0, 1, 2, 3)  # the coordinates the Hessian and eigenvalues refer to


@eqx.filter_jit
def _grad_given_f(f, g, graw, problem: Problem):
    """``∂Q/∂f`` at (f, data grid arrays): lets a data bootstrap reuse one simulation. Module-level and
    filter-jitted, like the two below, so problems of the same shapes share one compilation."""
    return jax.grad(lambda ff: _distance(ff, g, graw, problem.data.step, problem.kind, problem.ks_temperature))(f)


@eqx.filter_jit
def _density_jacobian(phi, problem: Problem):
    """``∂f/∂φ`` (G, p) of the simulated density on the grid."""
    return jax.jacfwd(lambda p: _sim_density(p, problem))(phi)


@eqx.filter_jit
def _grad_with_uniforms(phi, problem: Problem, uniforms):
    """``∇Q`` at ``φ`` with the simulation redrawn (``uniforms``), the data fixed."""
    d = problem.data
    return jax.grad(lambda p: _distance(_sim_density(p, problem, uniforms), d.density, d.raw, d.step, problem.kind, problem.ks_temperature))(phi)


def fd_columns(grad, x, step):
    """The ``2p`` gradients ``∇f(x ± h e_i)`` as one vmapped call: rows ``x + h e_1 … x + h e_p``, then ``x − h e_i``."""
    x = jnp.asarray(x)
    p = x.shape[0]
    E = jnp.eye(p, dtype=x.dtype) * jnp.asarray(step, x.dtype)
    return jax.vmap(grad)(jnp.concatenate([x[None, :] + E, x[None, :] - E]))


def fd_hessian(grad, x, step: float) -> np.ndarray:
    """Symmetrised central differences of a gradient: ``H[:, i] = (∇f(x + h e_i) − ∇f(x − h e_i)) / 2h``.

    The ``2p`` gradient evaluations run as one vmapped call (:func:`fd_columns`), the differences in
    float64. The error is ``O(h²)`` (``h²/6`` times the third derivative of the gradient); exact for
    a quadratic ``f``. Used by :func:`inference` with the autodiff gradient of the objective.
    """
    x = jnp.asarray(x)
    p = x.shape[0]
    G = np.asarray(fd_columns(grad, x, step), dtype=np.float64)
    H = (G[:p] - G[p:]).T / (2 * step)
    return 0.5 * (H + H.T)


@eqx.filter_jit
def _objective_fd_columns(phi, problem, free: tuple, step):
    idx = jnp.asarray(free)

    def grad(q):
        return jax.grad(objective)(phi.at[idx].set(q), problem)[idx]

    return fd_columns(grad, phi[idx], step)


def hessian(problem: Problem, phi, step: float | None = 1e-2, free=None) -> np.ndarray:
    """Hessian of the objective at ``phi``: central differences of the autodiff gradient with step ``step``.

    ``step=None`` gives the pure autodiff Hessian. It misses the curvature that comes from firms
    switching paths (``MC`` is piecewise linear in the parameters between switches, so its second
    derivative is zero almost everywhere). Differences of the gradient over a step across which
    many firms switch capture it. The default step is 1e-2 in log parameters; the ``2p`` gradients
    are one compiled, vmapped call. ``free``: the coordinates to differentiate in (the others held
    at ``phi``; default all). Returns a symmetric float64 NumPy array.
    """
    phi = jnp.asarray(phi)
    free = tuple(range(phi.shape[0])) if free is None else tuple(int(i) for i in free)
    if step is None:
        H = np.asarray(jax.hessian(lambda p: objective(p, problem))(phi), dtype=np.float64)[np.ix_(free, free)]
        return 0.5 * (H + H.T)
    p = len(free)
    G = np.asarray(_objective_fd_columns(phi, problem, free, jnp.asarray(step, phi.dtype)), dtype=np.float64)
    H = (G[:p] - G[p:]).T / (2 * step)
    return 0.5 * (H + H.T)


def inference(problem: Problem, phi_hat, *, bootstrap: int = 100, sim_replications: int = 8, seed: int = 12345, rank_rtol: float = 1e-4,
              hessian_step: float | None = 1e-2, truncate: bool = False, fixed: dict | None = None, hessian_matrix=None) -> Inference:
    """Hessian, rank, condition number and sandwich standard errors at ``phi_hat``.

    ``Σ_data``: covariance of ``∇Q`` over ``bootstrap`` resamples of the data (re-trimmed,
    re-binned; the simulation held fixed, so each replicate costs one grid-size product with the
    Jacobian ``∂f/∂φ``). ``Σ_sim``: covariance of ``∇Q`` over ``sim_replications`` independent
    sets of uniforms (data fixed); with ``sim_replications=0`` it is ``(n/S) Σ_data``.
    ``V = H⁻¹ (Σ_data + Σ_sim) H⁻¹`` on the directions of positive curvature, however weak; a
    parameter loading on a direction of zero or negative curvature gets an infinite standard error.
    ``rank`` counts eigenvalues above ``rank_rtol`` times the largest. ``truncate=True`` instead
    inverts only eigenvalues above ``rank_rtol`` times the largest (a pseudo-inverse): standard
    errors of the projection on the well-curved subspace, which understate the uncertainty along
    the dropped directions. ``fixed``: coordinates held fixed in the estimation (as in
    :func:`minimise`); the curvature and covariances are those of the free coordinates, and the
    standard errors of the fixed ones are NaN (conditional on their values). ``hessian_matrix``: a
    precomputed Hessian of the free coordinates to use instead of :func:`hessian` at ``phi_hat``.
    """
    phi = jnp.asarray(phi_hat, jnp.float32)
    d = problem.data
    free = _free_coordinates(fixed, phi.shape[0])
    H = hessian(problem, phi, hessian_step, free) if hessian_matrix is None else np.asarray(hessian_matrix, np.float64)
    p = phi.shape[0]
    if not np.all(np.isfinite(H)):
        # Never hand numpy's eigh a NaN (its LinAlgError was the crash of issue 16): no curvature, no standard errors.
        nan = np.full((p, p), np.nan)
        return Inference(hessian=H, eigenvalues=np.full(len(free), np.nan), rank=0, condition_number=float("inf"), covariance=nan,
                         covariance_data=nan, covariance_sim=nan, std_errors_phi=np.full(p, np.nan),
                         method="none: the Hessian is not finite at the estimate (no standard errors)", free=tuple(free))
    eigs = np.linalg.eigvalsh(H)
    rank = _rank(eigs, rank_rtol)
    cond = float(np.max(np.abs(eigs)) / np.min(np.abs(eigs))) if np.min(np.abs(eigs)) > 0 else float("inf")
    # Data part: Jacobian of the simulated density, then bootstrap the data side.
    f = eqx.filter_jit(_sim_density)(phi, problem)
    J = np.asarray(_density_jacobian(phi, problem), dtype=np.float64).reshape(-1, p)[:, free]  # (G or 2G, p_free)
    rng = np.random.default_rng(seed)
    y = np.asarray(d.log_sales)
    o = None if d.offshores is None else np.asarray(d.offshores)
    grads = []
    density = _density_jit
    for _ in range(int(bootstrap)):
        idx = rng.integers(0, y.size, size=y.size)  # firms resampled with their offshoring status
        ob = None if o is None else jnp.asarray(o[idx], jnp.float32)
        gb, rawb = density(jnp.asarray(y[idx], jnp.float32), d.trim, d.trim_width, d.grid, d.kernel, d.step, ob)
        grads.append(np.asarray(_grad_given_f(f, gb, rawb, problem), dtype=np.float64).reshape(-1) @ J)
    cov_data = np.cov(np.asarray(grads).T) if bootstrap >= 2 else np.zeros_like(H)
    S = problem.uniforms.shape[0]
    if sim_replications >= 2:
        sims = []
        for r in range(int(sim_replications)):
            u = common_uniforms(seed + 1 + r, S, problem.model.n_stages, problem.model.n_countries, uniform_bits=problem.uniform_bits)
            sims.append(np.asarray(_grad_with_uniforms(phi, problem, u), dtype=np.float64)[free])
        cov_sim = np.cov(np.asarray(sims).T)
        method = f"sandwich: data bootstrap ({bootstrap}) + {sim_replications} re-simulations"
    else:
        cov_sim = cov_data * (d.n / S)
        method = f"sandwich: data bootstrap ({bootstrap}) × (1 + n/S)"
    if truncate:
        method += f"; pseudo-inverse (eigenvalues > {rank_rtol:g} × max)"
    # Invert every positive curvature, however weak (a weakly identified direction gets the large standard
    # error it deserves; truncating it, as a pseudo-inverse does, would report false precision). Along a
    # direction of zero or negative curvature the quadratic approximation says nothing: every parameter that
    # loads on it (|loading| >= 0.05) gets an infinite standard error (JSON: null, "weakly_identified").
    lam, Q = np.linalg.eigh(H)
    pos = lam > (rank_rtol if truncate else 1e-12) * max(np.abs(lam).max(), 1e-300)
    Hinv = (Q[:, pos] / lam[pos]) @ Q[:, pos].T
    V = Hinv @ (cov_data + cov_sim) @ Hinv
    unbounded = np.any(np.abs(Q[:, ~pos]) >= 0.05, axis=1) if np.any(~pos) and not truncate else np.zeros(H.shape[0], bool)
    se_free = np.where(unbounded, np.inf, np.sqrt(np.maximum(np.diag(V), 0.0)))

    def full(c):  # covariances of the whole φ: zero rows and columns for fixed coordinates
        out = np.zeros((p, p))
        out[np.ix_(free, free)] = c
        return out

    se = np.full(p, np.nan)
    se[free] = se_free
    if fixed:
        method += f"; coordinates {sorted(fixed)} held fixed"
    return Inference(hessian=H, eigenvalues=eigs, rank=rank, condition_number=cond, covariance=full(V), covariance_data=full(Hinv @ cov_data @ Hinv),
                     covariance_sim=full(Hinv @ cov_sim @ Hinv), std_errors_phi=se, method=method, free=tuple(free))
