"""Calibration by simulated maximum likelihood (Tyazhelnikov 004, Section 5).

The paper (§5.2-5.4) chooses the parameters of the cost distribution (``shape``, ``scale``), the
unbundling cost ``τ`` and the relative wage ``w`` so that the distribution of firms' simulated
domestic sales matches the data, by the Kullback-Leibler divergence (KLD, main specification) or
the Kolmogorov-Smirnov (KS) and Cramér-von Mises (CM) distances (robustness), after trimming the
largest 5% of firms in both samples. This module makes that calibration *differentiable*:

**Simulation with common random numbers.** Firm ``j`` draws uniforms ``u_j`` of shape
``(N, M)`` once (fixed seed). Draws are reparameterised, ``a = icdf(u; θ)`` (costs) or
``a = 1 / icdf(u; θ)`` (productivities), each firm's marginal cost ``MC_j`` solves the chain
problem (eq. 1-2, :func:`jaxtrade.solve_chain`, whose gradient follows the envelope theorem),
and the objective is a pure function of an unconstrained parameter vector and the fixed
uniforms, so ``jax.grad`` drives the optimiser.

**Sales and what they identify.** With CES demand and mark-up pricing (eq. 11-12, §4.4),
``r(MC) = P^{(ζ-σ)/(1-ζ)} (σ/(σ-1))^{1-σ} MC^{1-σ}``. The level involves the price index ``P``,
which free entry pins down: ``E[π] = E[r]/σ = f_s``, so

    r(MC) = σ f_s · (MC / M̃C)^{1-σ},   M̃C = (E[MC^{1-σ}])^{1/(1-σ)}            (S1)

(the power mean of NOTES §4.4). Hence (i) the *level* of log sales identifies ``σ f_s`` (the
sunk entry cost, given σ) and nothing else; (ii) the sales distribution is invariant to the cost
scale ``s``: with additive trade costs ``MC(s·a, τ) = s·MC(a, τ/s)`` so only ``τ/s`` is
identified (with value-dependent, ad-valorem costs ``MC(s·a, τ) = s·MC(a, τ)`` and ``τ`` itself
is identified); (iii) with two countries and i.i.d. draws, relabelling the countries shows that
``(w, τ/s)`` and ``(1/w, τ/(s·w))`` give the same sales distribution, so ``w`` is identified up
to this reflection and is reported in the canonical branch ``w ≥ 1``. The calibration therefore
estimates the *identified* vector

    φ = (log shape, log ρ, log w, log f_s),   ρ = τ / cost_scale   (additive; ρ = τ if value-dependent)

and holds ``scale`` at a stated normalisation (reported as not identified; ``τ = ρ · cost_scale``
is then reported *conditional on it*). ``cost_scale`` is ``scale`` when draws are costs and
``1/scale`` when draws are productivities. The rank of the Hessian in the full coordinates
``(log shape, log scale, log τ, log w, log f_s)`` at the truth is 4, with null vector along
``(0, 1, 1, 0, 0)`` (:func:`identification_report`; tested).

**Densities on a grid.** Data and simulated log sales are binned on a common grid with cubic
B-spline weights (twice continuously differentiable in each point, so Hessians by autodiff are
right) and smoothed by a Gaussian kernel of bandwidth ``h`` (default: Silverman's rule on the
trimmed data, ``h = 0.9 min(sd, IQR/1.34) n^{-1/5}``). The effective kernel is the Gaussian
convolved with the B-spline (variance ``h² + Δ²/3``, ``Δ`` the grid step, ``Δ ≤ h/3``).
Trimming of the top ``trim`` share is soft in both samples: weight
``sigmoid((q - x)/h_trim)`` with ``q`` the sample's own soft ``1 - trim`` quantile
(:func:`soft_quantile`: the weights sum to ``(1 - trim) n``, and ``q`` is smooth in every point) and
``h_trim = h/4`` (so the objective is smooth in the parameters); the exact statistics use hard
trimming.

**Objectives** (all minimised; ``f``, ``g`` the smoothed simulated and data densities on the
grid, ``F``, ``G`` their CDFs):

- ``"kld"``: ``Σ g log((g + ε)/(f + ε)) Δ`` — the KLD of §5.2.1 with densities (NOTES: the
  printed "cdf's" are densities), both samples smoothed by the same kernel so the population
  minimiser is the truth; ``ε = 1e-8`` guards ``log 0``.
- ``"sml"``: ``−(1/n) Σ_i log(f(y_i) + ε)``, the simulated log-likelihood of the (unsmoothed)
  data points under the kernel density of simulated log sales (Eguchi-Copas: minimising KLD is
  ML); it carries an ``O(h²)`` smoothing bias that ``"kld"`` avoids.
- ``"ks"``: smoothed ``sup |G − F|`` as ``T log Σ_g (e^{d_g/T} + e^{-d_g/T}) − T log(2 n_grid)``
  with temperature ``T = ks_temperature`` (default 1e-3; within ``T log(2 n_grid)`` of the max).
- ``"cvm"``: ``Σ_g (G − F)² f Δ`` (``∫ (F_n − F)² dF``).

Exact (unsmoothed, hard-trimmed) KS, CvM and the binned KLD are always reported
(:func:`exact_statistics`).

**Inference.** At the optimum: the Hessian ``H`` of the objective in ``φ`` (autodiff), its
eigenvalues, rank and condition number; standard errors from the sandwich
``V = H⁻¹ (Σ_data + Σ_sim) H⁻¹`` where ``Σ_data`` is the covariance of the objective's gradient
over bootstrap resamples of the data (simulation fixed) and ``Σ_sim`` its covariance over
independent re-simulations (data fixed); with ``sim_replications=0``, ``Σ_sim = (n/S) Σ_data``,
the asymptotic value when the model is correct. Standard errors of the natural parameters follow
by the delta method.

**Optimisation** (:func:`minimise`): trust-region Newton (default; finite-difference Hessians of
the autodiff gradient), optax Adam and L-BFGS, optimistix BFGS, and the optimistix
Nelder-Mead derivative-free baseline on the same objective; every step is recorded (objective,
gradient norm, evaluations); checkpoints (parameters, optimiser state, step, random state) are
written atomically every ``checkpoint_every`` steps and on Ctrl-C, and a resumed run retraces the
uninterrupted one exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import distributions as _distributions
from ._data import load_sales as load_sales
from ._data import save_sales as save_sales
from ._data import synthetic_metadata as synthetic_metadata
from ._data import synthetic_sales as synthetic_sales
from ._validation import fail

__all__ = [
    "CalibrationModel",
    "Parameters",
    "DataSummary",
    "Problem",
    "OptimisationResult",
    "Inference",
    "CalibrationResult",
    "TABLE1",
    "fd_hessian",
    "soft_quantile",
    "load_sales",
    "save_sales",
    "synthetic_sales",
    "synthetic_metadata",
    "common_uniforms",
    "simulate_marginal_costs",
    "simulate_sales",
    "prepare_data",
    "make_problem",
    "objective",
    "exact_statistics",
    "to_unconstrained",
    "from_unconstrained",
    "full_coordinates",
    "identified_from_full",
    "canonicalise",
    "moment_start",
    "minimise",
    "inference",
    "identification_report",
    "calibrate",
    "fitted_and_data_log_sales",
    "to_sequential_model",
    "counterfactual_tau",
    "OBJECTIVES",
    "OPTIMIZERS",
]

OBJECTIVES = ("kld", "sml", "ks", "cvm")
OPTIMIZERS = ("newton", "bfgs", "lbfgs", "adam", "nelder_mead")
IDENTIFIED = ("log_shape", "log_rho", "log_wage", "log_sunk_cost")
FULL = ("log_shape", "log_scale", "log_tau", "log_wage", "log_sunk_cost")
_EPS = 1e-8

#: Tyazhelnikov (004) Table 1 (σ = 4, ζ = 0.5, N = 10).
TABLE1 = {
    2000: dict(shape=0.42, scale=0.13, tau=0.49, wage=1.18),
    2007: dict(shape=0.43, scale=0.18, tau=0.45, wage=1.16),
}


# ----------------------------------------------------------------------------------------------
# The model and its parameters
# ----------------------------------------------------------------------------------------------


def _family(name):
    """Distribution class for ``draws``; it must take ``(shape, scale)`` with ``scale`` a pure scale."""
    table = {"pareto": "Pareto", "frechet": "Frechet", "lognormal": "LogNormal", "truncated_pareto": "TruncatedPareto"}
    cls = getattr(_distributions, table.get(name, ""), None)
    if cls is None:
        available = [k for k, v in table.items() if hasattr(_distributions, v)]
        fail("draws", name, f"draws must name a (shape, scale) distribution available in jaxtrade.distributions: {available}")
    return cls


class CalibrationModel(eqx.Module):
    """The simplified two-country model of Tyazhelnikov (004) §5.3 and its reading of Table 1.

    Attributes:
        n_stages: ``N``, stages in the chain (the paper: 10).
        sigma: ``σ`` elasticity of substitution (the paper: 4). ``ζ`` does not enter the sales
            distribution once free entry fixes the level (eq. S1); it enters only welfare.
        draws: family of the per-stage draws (``"pareto"``; others as ``jaxtrade.distributions``
            provides them with a ``(shape, scale)`` signature).
        draws_as: ``"productivities"`` (default: ``a = 1/φ`` with ``φ ~ F(shape, scale)``) or
            ``"costs"`` (``a ~ F(shape, scale)``). Table 1 does not say; the text's remark that a
            higher shape lowers and a higher scale raises expected productivity fits the
            productivity reading of a Pareto draw (docs/calibration.md).
        wage_reading: ``"multiplies"`` (default: country 0's production costs are ``w a``, the
            literal ``F_C = w F_W`` of §5.3) or ``"divides"`` (``a / w``). Which country carries
            the wage is immaterial (relabelling symmetry).
        value_dependent: ad-valorem (iceberg) unbundling costs (eq. 7-9) instead of additive.
        trade_costs: ``T`` (2, 2), zero diagonal (default: 1 off the diagonal).
    """

    n_stages: int = eqx.field(static=True)
    sigma: float = eqx.field(static=True)
    draws: str = eqx.field(static=True, default="pareto")
    draws_as: str = eqx.field(static=True, default="productivities")
    wage_reading: str = eqx.field(static=True, default="multiplies")
    value_dependent: bool = eqx.field(static=True, default=False)
    trade_costs: tuple | None = eqx.field(static=True, default=None, converter=lambda x: None if x is None else tuple(tuple(float(v) for v in row) for row in np.asarray(x)))

    def __check_init__(self):
        if not (isinstance(self.n_stages, int) and self.n_stages >= 2):
            fail("n_stages", self.n_stages, "n_stages must be an integer >= 2")
        if not (np.isfinite(self.sigma) and self.sigma > 1):
            fail("sigma", self.sigma, "sigma > 1 (CES demand, eq. 11)")
        _family(self.draws)
        if self.draws_as not in ("costs", "productivities"):
            fail("draws_as", self.draws_as, "draws_as must be 'costs' or 'productivities'")
        if self.wage_reading not in ("multiplies", "divides"):
            fail("wage_reading", self.wage_reading, "wage_reading must be 'multiplies' or 'divides'")

    @property
    def T(self):
        if self.trade_costs is None:
            return np.array([[0.0, 1.0], [1.0, 0.0]])
        return np.asarray(self.trade_costs, dtype=np.float64)

    def cost_scale(self, scale):
        """The factor that multiplies all costs: ``scale`` (costs) or ``1/scale`` (productivities)."""
        return scale if self.draws_as == "costs" else 1.0 / scale

    def wage_multiplier(self, wage):
        """The factor on country 0's production costs."""
        return wage if self.wage_reading == "multiplies" else 1.0 / wage


class Parameters(eqx.Module):
    """Natural parameters: Table 1's ``shape``, ``scale``, ``tau``, ``wage`` and the sunk cost ``f_s``."""

    shape: float
    scale: float
    tau: float
    wage: float
    sunk_cost: float = 1.0

    def as_dict(self):
        return {k: float(getattr(self, k)) for k in ("shape", "scale", "tau", "wage", "sunk_cost")}


def to_unconstrained(params: Parameters, model: CalibrationModel):
    """Natural parameters -> identified unconstrained ``φ = (log shape, log ρ, log w, log f_s)``."""
    rho = params.tau if model.value_dependent else params.tau / model.cost_scale(params.scale)
    return jnp.log(jnp.asarray([params.shape, rho, params.wage, params.sunk_cost], dtype=jnp.float32))


def from_unconstrained(phi, model: CalibrationModel, scale) -> Parameters:
    """``φ`` and the scale normalisation -> natural parameters (``τ = ρ · cost_scale``)."""
    p = np.exp(np.asarray(phi, dtype=np.float64))
    tau = p[1] if model.value_dependent else p[1] * model.cost_scale(scale)
    return Parameters(shape=float(p[0]), scale=float(scale), tau=float(tau), wage=float(p[2]), sunk_cost=float(p[3]))


def full_coordinates(params: Parameters):
    """``(log shape, log scale, log τ, log w, log f_s)`` (unidentified coordinates, for the rank check)."""
    return jnp.log(jnp.asarray([params.shape, params.scale, params.tau, params.wage, params.sunk_cost], jnp.float32))


def identified_from_full(psi, model: CalibrationModel):
    """Maps full log coordinates to the identified ``φ`` (differentiable)."""
    log_cost_scale = psi[1] if model.draws_as == "costs" else -psi[1]
    log_rho = psi[2] if model.value_dependent else psi[2] - log_cost_scale
    return jnp.stack([psi[0], log_rho, psi[3], psi[4]])


def canonicalise(phi, model: CalibrationModel):
    """Maps ``φ`` to the observationally equivalent point with ``w ≥ 1``.

    With two countries and i.i.d. draws, effective wage multiplier ``m`` on country 0 and
    ``ρ`` give the same sales distribution as ``(1/m, ρ/m)`` (``ρ`` unchanged when trade costs
    are value-dependent): relabel the countries and factor ``m`` out of all costs.
    """
    phi = np.asarray(phi, dtype=np.float64).copy()
    if phi[2] >= 0:
        return phi
    log_m = phi[2] if model.wage_reading == "multiplies" else -phi[2]
    if not model.value_dependent:
        phi[1] = phi[1] - log_m
    phi[2] = -phi[2]
    return phi


# ----------------------------------------------------------------------------------------------
# Simulation (common random numbers)
# ----------------------------------------------------------------------------------------------


def common_uniforms(seed: int, n_firms: int, n_stages: int, n_countries: int = 2, dtype=jnp.float32):
    """Fixed uniforms ``u`` of shape ``(n_firms, n_stages, n_countries)`` in ``(0, 1)`` from ``seed``."""
    if not (isinstance(n_firms, int) and n_firms >= 2):
        fail("n_firms", n_firms, "n_firms must be an integer >= 2")
    key = jax.random.PRNGKey(seed)
    tiny = jnp.finfo(dtype).tiny
    return jax.random.uniform(key, (n_firms, n_stages, n_countries), dtype=dtype, minval=tiny, maxval=1.0)


def _unit_costs(log_shape, uniforms, model: CalibrationModel):
    """Draws at unit cost scale: ``icdf(u; shape, 1)`` (costs) or its reciprocal (productivities)."""
    dtype = uniforms.dtype
    dist = _family(model.draws)(jnp.exp(log_shape).astype(dtype), jnp.asarray(1.0, dtype))
    z = dist.icdf(uniforms).astype(dtype)
    return z if model.draws_as == "costs" else 1.0 / z


def _marginal_costs(phi, uniforms, model: CalibrationModel):
    """``MC_j`` at unit cost scale for identified ``φ`` (eq. 1-2 via solve_chain)."""
    from ._production import solve_chain

    dtype = uniforms.dtype
    a = _unit_costs(phi[0], uniforms, model)
    m = jnp.exp(phi[2]).astype(dtype)
    m = m if model.wage_reading == "multiplies" else 1.0 / m
    wages = jnp.stack([m, jnp.ones((), dtype)])
    if uniforms.shape[-1] != 2:
        fail("uniforms", uniforms, "the calibration model has two countries: uniforms.shape[-1] == 2")
    T = jnp.asarray(model.T, dtype)
    rho = jnp.exp(phi[1]).astype(dtype)
    return solve_chain(a, T, rho, wages=wages, value_dependent=model.value_dependent).cost


_marginal_costs_jit = eqx.filter_jit(_marginal_costs)


def simulate_marginal_costs(params: Parameters, model: CalibrationModel, uniforms):
    """Firms' marginal costs ``MC(A, τ)`` at the natural parameters (with the cost scale)."""
    phi = to_unconstrained(params, model)
    scale = model.cost_scale(params.scale)
    return scale * _marginal_costs_jit(phi.astype(uniforms.dtype), uniforms, model)


def _log_sales(phi, uniforms, model: CalibrationModel):
    """Log sales (S1): ``log(σ f_s) + (1 − σ)(log MC − log M̃C)``; the cost scale cancels."""
    log_mc = jnp.log(_marginal_costs(phi, uniforms, model))
    s1 = 1.0 - model.sigma
    z = s1 * log_mc
    log_power_mean = jax.scipy.special.logsumexp(z) - jnp.log(jnp.asarray(z.shape[0], z.dtype))
    return jnp.log(model.sigma) + phi[3] + z - log_power_mean


_log_sales_jit = eqx.filter_jit(_log_sales)


def simulate_sales(params: Parameters, model: CalibrationModel, n_firms: int, seed: int, *, power_mean_firms=None, power_mean_seed=None):
    """Simulated domestic sales of ``n_firms`` firms (eq. S1), float64 NumPy.

    ``M̃C`` (the population power mean that free entry puts in the level of sales) is computed on
    a separate simulation of ``power_mean_firms`` firms (default: the same firms).
    """
    phi = to_unconstrained(params, model)
    u = common_uniforms(seed, n_firms, model.n_stages)
    log_mc = np.log(np.asarray(_marginal_costs_jit(phi, u, model), dtype=np.float64))
    if power_mean_firms is None:
        pm_log_mc = log_mc
    else:
        pm_seed = seed + 1 if power_mean_seed is None else power_mean_seed
        pm_log_mc = np.log(np.asarray(_marginal_costs_jit(phi, common_uniforms(pm_seed, power_mean_firms, model.n_stages), model), dtype=np.float64))
    s1 = 1.0 - model.sigma
    zp = s1 * pm_log_mc
    log_pm = np.logaddexp.reduce(zp) - np.log(zp.size)
    return np.exp(np.log(model.sigma * params.sunk_cost) + s1 * log_mc - log_pm)


# ----------------------------------------------------------------------------------------------
# Data summaries and densities on a grid
# ----------------------------------------------------------------------------------------------


class DataSummary(eqx.Module):
    """Log sales of the data on the calibration grid (built once; pure arrays)."""

    grid: jax.Array  # (G,)
    density: jax.Array  # (G,) smoothed, soft-trimmed data density g
    raw: jax.Array  # (G,) B-spline-binned soft-trimmed data weights (sum 1), for "sml"
    cdf: jax.Array  # (G,) G
    kernel: jax.Array  # (K,) Gaussian kernel on the grid, sums to 1
    sorted_trimmed: jax.Array  # (n_kept,) hard-trimmed sorted data log sales (exact statistics)
    log_sales: jax.Array  # (n,) all data log sales (bootstrap)
    bandwidth: float = eqx.field(static=True)
    step: float = eqx.field(static=True)
    trim: float = eqx.field(static=True)
    trim_width: float = eqx.field(static=True)
    n: int = eqx.field(static=True)


def _bspline_bin(x, weights, lo, step, n_grid):
    """Cubic B-spline assignment of weighted points to a grid (C² in each point)."""
    s = (x - lo) / step
    i = jnp.floor(s)
    t = s - i
    i = i.astype(jnp.int32)
    t2, t3 = t * t, t * t * t
    ws = ((1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6)
    out = jnp.zeros((n_grid,), x.dtype)
    for off, w in zip((-1, 0, 1, 2), ws):
        out = out.at[i + off].add(weights * w, mode="drop")
    return out


def _smooth(hist, kernel):
    return jnp.convolve(hist, kernel, mode="same")


def _soft_trim_weights(x, trim, width):
    """Soft trimming weights ``sigmoid((q − x)/width)`` with ``q`` the soft ``1 − trim`` quantile."""
    if trim <= 0:
        return jnp.ones_like(x)
    q = soft_quantile(x, 1.0 - trim, width)
    return jax.nn.sigmoid((q - x) / width)


_QUANTILE_ITERATIONS = 40


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def soft_quantile(x, level: float, width: float):
    """The smoothed ``level`` quantile of the sample ``x``: the root ``q`` of
    ``mean(sigmoid((q − x)/width)) = level``.

    With it the soft-trimmed weights of a sample sum to exactly ``level · n``. It is a smooth
    function of every point, with derivative (implicit function theorem)
    ``∂q/∂x_i = s'_i / Σ_j s'_j``, ``s'_i = σ'((q − x_i)/width)``: a kernel-weighted average over the
    points near the quantile. The sample quantile ``jnp.quantile`` is not a usable substitute
    inside a gradient: it is piecewise linear with a kink each time two firms swap ranks, and its
    derivative is the slope of the one firm at that rank. With heterogeneous slopes (firms that
    switch production paths) that single slope, multiplied by all the weight near the trimming
    point, gave the calibration objective a gradient 4x off the finite-difference slope in
    ``log w`` (docs/calibration.md; ``test_gradient_matches_finite_differences_across_rank_swaps``).

    Solved by safeguarded Newton (bisection when Newton leaves the bracket
    ``[min x, max x]``), ``_QUANTILE_ITERATIONS`` fixed steps; no sort.
    """
    xs = jax.lax.stop_gradient(x)
    lo, hi = jnp.min(xs) - 20 * width, jnp.max(xs) + 20 * width

    def body(_, carry):
        q, lo, hi = carry
        s = jax.nn.sigmoid((q - xs) / width)
        r = jnp.mean(s) - level
        d = jnp.mean(s * (1 - s)) / width
        lo = jnp.where(r < 0, q, lo)
        hi = jnp.where(r < 0, hi, q)
        newton = q - r / jnp.maximum(d, jnp.finfo(xs.dtype).tiny)
        q = jnp.where((newton > lo) & (newton < hi), newton, 0.5 * (lo + hi))
        return q, lo, hi

    q, _, _ = jax.lax.fori_loop(0, _QUANTILE_ITERATIONS, body, (0.5 * (lo + hi), lo, hi))
    return q


@soft_quantile.defjvp
def _soft_quantile_jvp(level, width, primals, tangents):
    (x,), (dx,) = primals, tangents
    q = soft_quantile(x, level, width)
    s = jax.nn.sigmoid((q - x) / width)
    ds = s * (1 - s)
    return q, jnp.sum(ds * dx) / jnp.sum(ds)


def _density(x, trim, width, grid, kernel, step):
    """Smoothed, soft-trimmed density of points ``x`` on the grid, and the raw binned weights."""
    w = _soft_trim_weights(x, trim, width)
    raw = _bspline_bin(x, w, grid[0], step, grid.shape[0]) / jnp.sum(w)
    f = _smooth(raw, kernel) / step
    return f, raw


def silverman_bandwidth(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(ddof=1)
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25]))
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    return float(0.9 * spread * x.size ** (-0.2))


def prepare_data(sales, *, trim: float = 0.05, bandwidth: float | None = None, grid_size: int | None = None, trim_width: float | None = None) -> DataSummary:
    """Log sales of the data, trimmed and smoothed on a grid (float32).

    ``trim``: share of the largest firms dropped (the paper: 0.05). ``bandwidth``: Gaussian kernel
    bandwidth in log sales (default Silverman on the trimmed data). The grid spans
    ``[min y − 6h, q_{1−trim} + 6h]`` with step ``Δ ≤ h/3`` (``grid_size`` overrides).
    """
    a = np.asarray(sales, dtype=np.float64)
    if a.ndim != 1 or a.size < 10:
        fail("sales", a, "sales must be a one-dimensional array with at least 10 firms")
    if not np.all(np.isfinite(a) & (a > 0)):
        fail("sales", a, "every sales value must be finite and > 0 (use load_sales to locate bad rows)")
    if not (0.0 <= trim < 0.5):
        fail("trim", trim, "0 <= trim < 0.5")
    y = np.log(a)
    q = np.quantile(y, 1.0 - trim) if trim > 0 else y.max()
    kept = np.sort(y[y <= q])
    h = silverman_bandwidth(kept) if bandwidth is None else float(bandwidth)
    if not (np.isfinite(h) and h > 0):
        fail("bandwidth", h, "bandwidth > 0 (the data have no spread?)")
    tw = h / 4 if trim_width is None else float(trim_width)
    lo, hi = kept[0] - 6 * h, q + 6 * h
    g = int(grid_size) if grid_size is not None else max(256, int(math.ceil((hi - lo) / (h / 3))) + 1)
    grid = np.linspace(lo, hi, g)
    step = float(grid[1] - grid[0])
    half = int(math.ceil(5 * h / step))
    kx = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (kx / h) ** 2)
    kernel /= kernel.sum()
    grid_j = jnp.asarray(grid, jnp.float32)
    yj = jnp.asarray(y, jnp.float32)
    dens, raw = _density(yj, trim, tw, grid_j, jnp.asarray(kernel, jnp.float32), step)
    cdf = jnp.cumsum(dens) * step
    return DataSummary(
        grid=grid_j, density=dens, raw=raw, cdf=cdf, kernel=jnp.asarray(kernel, jnp.float32),
        sorted_trimmed=jnp.asarray(kept, jnp.float32), log_sales=yj,
        bandwidth=h, step=step, trim=float(trim), trim_width=tw, n=int(a.size),
    )


# ----------------------------------------------------------------------------------------------
# The problem and its objectives
# ----------------------------------------------------------------------------------------------


class Problem(eqx.Module):
    """Everything the objective needs: the model, the data summary and the fixed uniforms."""

    model: CalibrationModel
    data: DataSummary
    uniforms: jax.Array  # (S, N, 2) float32 common random numbers
    kind: str = eqx.field(static=True, default="kld")
    ks_temperature: float = eqx.field(static=True, default=1e-3)
    seed: int = eqx.field(static=True, default=0)


def make_problem(sales, model: CalibrationModel, *, n_sim: int = 20_000, seed: int = 0, kind: str = "kld", trim: float = 0.05,
                 bandwidth=None, grid_size=None, ks_temperature: float = 1e-3, data: DataSummary | None = None) -> Problem:
    """Builds a :class:`Problem` from sales (or a prepared :class:`DataSummary`)."""
    if kind not in OBJECTIVES:
        fail("kind", kind, f"kind must be one of {OBJECTIVES}")
    if not (ks_temperature > 0):
        fail("ks_temperature", ks_temperature, "ks_temperature > 0")
    if data is None:
        data = prepare_data(sales, trim=trim, bandwidth=bandwidth, grid_size=grid_size)
    u = common_uniforms(seed, n_sim, model.n_stages)
    return Problem(model=model, data=data, uniforms=u, kind=kind, ks_temperature=float(ks_temperature), seed=int(seed))


def _sim_density(phi, problem: Problem, uniforms=None):
    d = problem.data
    u = problem.uniforms if uniforms is None else uniforms
    x = _log_sales(phi.astype(u.dtype), u, problem.model)
    f, _ = _density(x, d.trim, d.trim_width, d.grid, d.kernel, d.step)
    return f


def _distance(f, g, graw, step, kind, temperature):
    """The objectives as functions of the simulated density ``f`` and data ``g`` (grid arrays)."""
    if kind == "kld":
        return jnp.sum(g * (jnp.log(g + _EPS) - jnp.log(f + _EPS))) * step
    if kind == "sml":
        return -jnp.sum(graw * jnp.log(f + _EPS))
    F = jnp.cumsum(f) * step
    G = jnp.cumsum(g) * step
    d = G - F
    if kind == "ks":
        n = d.shape[0]
        both = jnp.concatenate([d, -d]) / temperature
        return temperature * (jax.scipy.special.logsumexp(both) - jnp.log(2.0 * n))
    if kind == "cvm":
        return jnp.sum(d * d * f) * step
    raise ValueError(kind)


def objective(phi, problem: Problem):
    """The calibration objective at identified ``φ`` (a pure, differentiable function)."""
    f = _sim_density(phi, problem)
    d = problem.data
    return _distance(f, d.density, d.raw, d.step, problem.kind, problem.ks_temperature)


_grad_objective = eqx.filter_jit(jax.grad(objective))  # one compiled gradient per problem shape


def exact_statistics(phi, problem: Problem) -> dict:
    """All four distances at ``φ``: binned KLD/SML and exact (unsmoothed, hard-trimmed) KS and CvM."""
    d = problem.data
    f = eqx.filter_jit(_sim_density)(jnp.asarray(phi, jnp.float32), problem)
    out = {k: float(_distance(f, d.density, d.raw, d.step, k, problem.ks_temperature)) for k in OBJECTIVES}
    x = np.sort(np.asarray(_log_sales_jit(jnp.asarray(phi, jnp.float32), problem.uniforms, problem.model), dtype=np.float64))
    if d.trim > 0:
        x = x[x <= np.quantile(x, 1.0 - d.trim)]
    y = np.asarray(d.sorted_trimmed, dtype=np.float64)
    pts = np.concatenate([x, y])
    Fx = np.searchsorted(x, pts, side="right") / x.size
    Fy = np.searchsorted(y, pts, side="right") / y.size
    out["ks_exact"] = float(np.max(np.abs(Fx - Fy)))
    Fy_at_x = np.searchsorted(y, x, side="right") / y.size
    Fx_at_x = np.searchsorted(x, x, side="right") / x.size
    out["cvm_exact"] = float(np.mean((Fy_at_x - Fx_at_x) ** 2))
    return out


def moment_start(phi, problem: Problem):
    """Sets ``log f_s`` in ``φ`` so that trimmed mean simulated and data log sales agree."""
    phi = jnp.asarray(phi, jnp.float32)
    x = np.asarray(_log_sales_jit(phi.at[3].set(0.0), problem.uniforms, problem.model), dtype=np.float64)
    t = problem.data.trim
    xk = x[x <= np.quantile(x, 1 - t)] if t > 0 else x
    shift = float(np.mean(np.asarray(problem.data.sorted_trimmed, np.float64)) - np.mean(xk))
    return phi.at[3].set(shift)


# ----------------------------------------------------------------------------------------------
# Optimisation with a record and checkpoints
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class OptimisationResult:
    """Outcome of :func:`minimise`.

    ``result``: ``"converged"``, ``"stalled"`` (the objective stopped moving while
    ``max |∇| ≥ gtol``), ``"max_steps"``, ``"nonfinite"`` (objective or gradient not
    finite: the last finite point is returned) or ``"interrupted"`` (Ctrl-C; a checkpoint holds
    the state). ``history``: one dict per step (``step``, ``objective``, ``grad_norm``,
    ``evaluations``, ``seconds``, ``phi``).
    """

    phi: np.ndarray
    value: float
    result: str
    steps: int
    evaluations: int
    seconds: float
    optimizer: str
    history: list


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, *_):
        self.n += 1


def _make_solver(optimizer, learning_rate, rtol, atol):
    import optax
    import optimistix as optx

    if optimizer == "adam":
        return "optax", optax.adam(learning_rate)
    if optimizer == "lbfgs":
        return "optax", optax.lbfgs(memory_size=10)
    if optimizer == "bfgs":
        return "optx", optx.BFGS(rtol=rtol, atol=atol)
    if optimizer == "nelder_mead":
        return "optx", optx.NelderMead(rtol=rtol, atol=atol, rdelta=0.1, adelta=0.05)
    if optimizer == "newton":
        return "newton", None
    fail("optimizer", optimizer, f"optimizer must be one of {OPTIMIZERS}")


def _config_hash(problem: Problem, optimizer, extra) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(problem.data.log_sales).tobytes())
    h.update(repr((problem.model.n_stages, problem.model.sigma, problem.model.draws, problem.model.draws_as, problem.model.wage_reading,
                   problem.model.value_dependent, problem.model.T.tolist(), problem.kind, problem.ks_temperature, problem.seed,
                   problem.uniforms.shape, problem.data.trim, problem.data.bandwidth, optimizer, extra)).encode())
    return h.hexdigest()[:16]


def _save_checkpoint(path, carry, meta, history):
    """Atomic checkpoint: arrays of the optimiser carry + JSON metadata, written then renamed."""
    path = Path(path)
    leaves = [np.asarray(x) for x in jax.tree.leaves(carry)]
    tmp = path.with_name(path.name + ".tmp")
    payload = {f"leaf_{i}": a for i, a in enumerate(leaves)}
    payload["meta"] = np.asarray(json.dumps(dict(meta, history=history, n_leaves=len(leaves))))
    with open(tmp, "wb") as fh:
        np.savez(fh, **payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_checkpoint(path, template):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        leaves_t, treedef = jax.tree.flatten(template)
        if meta["n_leaves"] != len(leaves_t):
            fail("checkpoint", str(path), "the checkpoint does not match this optimiser's state (different optimiser or problem)")
        leaves = []
        for i, t in enumerate(leaves_t):
            a = z[f"leaf_{i}"]
            if a.shape != np.shape(t):
                fail("checkpoint", str(path), f"leaf {i} has shape {a.shape}, expected {np.shape(t)}")
            leaves.append(jnp.asarray(a, dtype=jnp.asarray(t).dtype))
    return jax.tree.unflatten(treedef, leaves), meta


def _free_coordinates(fixed, p):
    """Indices of ``φ`` left free by ``fixed`` (validated: known indices, finite values, one left free)."""
    fixed = fixed or {}
    for k, v in fixed.items():
        if not (isinstance(k, int) and 0 <= k < p):
            fail("fixed", fixed, f"keys must be coordinate indices 0..{p - 1} of phi = {IDENTIFIED}")
        if not np.isfinite(v):
            fail("fixed", fixed, "fixed values must be finite (log parameters)")
    free = [i for i in range(p) if i not in fixed]
    if not free:
        fail("fixed", fixed, "at least one coordinate must be left free")
    return free


def _trust_region_step(g, H, radius):
    """Solves ``min_p g·p + ½ p'Hp`` s.t. ``‖p‖ ≤ radius`` (Moré-Sorensen by eigendecomposition).

    ``H`` may be indefinite. Returns the step and the predicted decrease ``−(g·p + ½ p'Hp) ≥ 0``.
    """
    g, H = np.asarray(g, np.float64), np.asarray(H, np.float64)
    lam, Q = np.linalg.eigh(0.5 * (H + H.T))
    gq = Q.T @ g

    def step(mu):
        return -Q @ (gq / (lam + mu))

    floor = max(0.0, -lam[0])
    if lam[0] > 0 and np.linalg.norm(step(0.0)) <= radius:
        p = step(0.0)
    else:
        tiny = 1e-12 * max(1.0, np.abs(lam).max())
        lo, hi = floor + tiny, floor + np.linalg.norm(g) / radius + tiny
        if np.linalg.norm(step(lo)) <= radius:  # the "hard case": g has (almost) no weight on the lowest eigenvector
            p = step(lo)
            p = p + Q[:, 0] * math.sqrt(max(radius**2 - p @ p, 0.0))
        else:
            for _ in range(200):
                mid = math.sqrt(lo * hi) if lo > 0 else 0.5 * (lo + hi)
                lo, hi = (mid, hi) if np.linalg.norm(step(mid)) > radius else (lo, mid)
            p = step(hi)
    return p, float(-(g @ p + 0.5 * p @ H @ p))


def minimise(problem: Problem, phi0, *, optimizer: str = "lbfgs", max_steps: int = 200, gtol: float = 1e-5, ftol: float = 1e-7,
             learning_rate: float = 0.02, rtol: float = 1e-6, atol: float = 1e-7, checkpoint=None, checkpoint_every: int = 10,
             resume: bool = False, callback: Callable | None = None, record_every: int = 1, patience: int = 20,
             hessian_step: float = 1e-2, fixed: dict | None = None) -> OptimisationResult:
    """Minimises :func:`objective` over ``φ`` from ``phi0``.

    Optimisers: ``"newton"`` (trust-region Newton: the Hessian by central differences of the
    autodiff gradient with step ``hessian_step``, so it includes the curvature of firms switching
    paths; the trust-region subproblem solved exactly, indefinite Hessians allowed; 2p + 1 gradient
    evaluations per accepted step; the most reliable on the weakly identified ridge),
    ``"lbfgs"`` (optax, zoom line search), ``"adam"`` (optax), ``"bfgs"`` and
    ``"nelder_mead"`` (optimistix; Nelder-Mead is the derivative-free baseline). Newton converges
    on a gradient below ``gtol`` or an interior step predicted to gain less than 1e-6 of the
    objective, and stalls when its radius falls below 1e-6. Stopping rule for
    the optax methods: ``max |∇| < gtol`` or a relative objective change below ``ftol`` on three
    consecutive steps; optimistix methods use their own ``rtol``/``atol`` termination, and BFGS
    stops as ``"stalled"`` when the objective has not improved by a relative ``ftol`` in
    ``patience`` steps (in float32 its line search can otherwise reject steps forever).

    ``fixed``: ``{coordinate index: value}`` of ``φ`` held fixed (e.g. ``{2: log w}`` when the
    relative wage is known from wage data); the optimiser moves the other coordinates only, and
    ``phi`` in the result and the history is the whole vector.

    ``checkpoint``: a file path; the state (parameters, optimiser state, step, evaluation count,
    seed, history) is written atomically every ``checkpoint_every`` steps, at the end, and when
    the run is interrupted (Ctrl-C). ``resume=True`` continues from it (the run then follows the
    same iterates as an uninterrupted run). ``callback(record)`` is called after every step; it
    may raise ``KeyboardInterrupt`` (tests use it to force an interruption).
    """
    import optax
    import optimistix as optx

    if not (isinstance(max_steps, int) and max_steps >= 1):
        fail("max_steps", max_steps, "max_steps must be an integer >= 1")
    lib, solver = _make_solver(optimizer, learning_rate, rtol, atol)
    counter = _Counter()

    base = jnp.asarray(phi0, jnp.float32)
    free = _free_coordinates(fixed, base.shape[0])
    if fixed:
        base = base.at[jnp.asarray(list(fixed))].set(jnp.asarray(list(fixed.values()), jnp.float32))
    free_idx = jnp.asarray(free)

    def embed(psi):
        """The whole ``φ`` from the free coordinates."""
        return base.at[free_idx].set(psi)

    def whole(psi):
        return np.asarray(embed(jnp.asarray(psi, jnp.float32)), dtype=np.float64)

    def fn(psi):
        jax.debug.callback(counter)
        return objective(embed(psi), problem)

    phi0 = base[free_idx]
    if lib == "optax":
        vg = optax.value_and_grad_from_state(fn) if optimizer == "lbfgs" else jax.value_and_grad(fn)

        @eqx.filter_jit
        def step_fn(carry):
            phi, state = carry
            value, grad = vg(phi, state=state) if optimizer == "lbfgs" else vg(phi)
            if optimizer == "lbfgs":
                updates, state = solver.update(grad, state, phi, value=value, grad=grad, value_fn=fn)
            else:
                updates, state = solver.update(grad, state, phi)
            return (optax.apply_updates(phi, updates), state), value, grad

        carry = (phi0, solver.init(phi0))
    elif lib == "newton":
        vg_newton = eqx.filter_jit(jax.value_and_grad(fn))

        def newton_hessian(phi):
            return jnp.asarray(fd_hessian(lambda p: vg_newton(p)[1], phi, hessian_step), jnp.float32)

        def step_fn(carry):
            # one trust-region Newton step; the carry is float32 arrays, so a resumed run retraces this one bit for bit
            phi, radius, value, grad, H = carry
            p, predicted = _trust_region_step(grad, H, float(radius))
            new_phi = jnp.asarray(np.asarray(phi, np.float64) + p, jnp.float32)
            new_value, new_grad = vg_newton(new_phi)
            actual = float(value) - float(new_value)
            ratio = actual / predicted if predicted > 0 else -1.0
            r = float(radius)
            if ratio < 0.25 or not math.isfinite(float(new_value)):
                r = r / 4
            elif ratio > 0.75 and np.linalg.norm(p) > 0.99 * r:
                r = min(2 * r, 2.0)
            if ratio > 0.1 and math.isfinite(float(new_value)):
                phi, value, grad, H = new_phi, new_value, new_grad, newton_hessian(new_phi)
            # converged: a tiny gradient, or an interior (full) Newton step predicted to gain less than 1e-6 of the
            # objective (below float32 resolution: such steps are accepted or rejected by rounding noise)
            done = float(jnp.max(jnp.abs(grad))) < gtol or (predicted < 1e-6 * abs(float(value)) and np.linalg.norm(p) < 0.99 * float(radius))
            stalled = r < 1e-6
            return (phi, jnp.asarray(r, jnp.float32), value, grad, H), done, stalled

        v0, g0 = vg_newton(phi0)
        carry = (phi0, jnp.asarray(0.2, jnp.float32), v0, g0, newton_hessian(phi0))  # initial radius 0.2 in log parameters
    else:
        fdt = jnp.result_type(float)  # optimistix builds its scalars in the default float dtype

        def fn_optx(y, args):
            return fn(y).astype(fdt), None

        f_struct = jax.ShapeDtypeStruct((), fdt)
        options, tags = {}, frozenset()

        @eqx.filter_jit
        def init_fn(y):
            return solver.init(fn_optx, y, None, options, f_struct, None, tags)

        @eqx.filter_jit
        def step_fn(carry):
            y, state = carry
            y, state, _ = solver.step(fn_optx, y, None, options, state, tags)
            done, res = solver.terminate(fn_optx, y, None, options, state, tags)
            return (y, state), done, res

        carry = (phi0, init_fn(phi0))

    config = _config_hash(problem, optimizer, (learning_rate, rtol, atol, gtol, ftol, patience, hessian_step, sorted((fixed or {}).items())))
    meta = {"config": config, "step": 0, "evaluations": 0, "seed": problem.seed, "key": [0, problem.seed], "optimizer": optimizer}
    history: list = []
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            fail("checkpoint", checkpoint, "resume=True needs an existing checkpoint file")
        carry, loaded = _load_checkpoint(checkpoint, carry)
        if loaded["config"] != config:
            fail("checkpoint", str(checkpoint), "the checkpoint was written for a different problem or optimiser settings (config hash mismatch)")
        history = loaded.pop("history")
        loaded.pop("n_leaves", None)
        meta.update(loaded)
        counter.n = meta["evaluations"]

    def save():
        if checkpoint is not None:
            meta["evaluations"] = counter.n
            _save_checkpoint(checkpoint, carry, meta, history)

    t0 = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    result = "max_steps"
    small = 0
    prev = history[-1]["objective"] if history else None
    last_good = (np.asarray(carry[0]), prev if prev is not None else float("nan"))
    try:
        while meta["step"] < max_steps:
            if lib == "optax":
                new_carry, value, grad = step_fn(carry)
                value = float(value)
                gnorm = float(jnp.max(jnp.abs(grad)))
                phi_at = np.asarray(carry[0])  # value and gradient are at the pre-step point
            elif lib == "newton":
                new_carry, done, stalled = step_fn(carry)
                value = float(new_carry[2])
                gnorm = float(jnp.max(jnp.abs(new_carry[3])))
                phi_at = np.asarray(new_carry[0])
            else:
                new_carry, done, res = step_fn(carry)
                st = new_carry[1]
                value = float(st.best[0]) if hasattr(st, "best") else float(st.f_info.f)
                gnorm = float(jnp.max(jnp.abs(st.f_info.grad))) if hasattr(st, "f_info") and hasattr(st.f_info, "grad") else float("nan")
                phi_at = np.asarray(st.best[1]) if hasattr(st, "best") else np.asarray(new_carry[0])
            carry = new_carry
            meta["step"] += 1
            meta["evaluations"] = counter.n
            if not math.isfinite(value) or not np.all(np.isfinite(np.asarray(carry[0]))):
                result = "nonfinite"
                carry = (jnp.asarray(last_good[0]), carry[1])
                break
            last_good = (phi_at, value)
            rec = {"step": meta["step"], "objective": value, "grad_norm": gnorm, "evaluations": counter.n,
                   "seconds": time.perf_counter() - t0, "phi": [float(v) for v in whole(phi_at)]}
            if meta["step"] % record_every == 0 or meta["step"] == max_steps:
                history.append(rec)
            if checkpoint is not None and meta["step"] % checkpoint_every == 0:
                save()
            if callback is not None:
                callback(rec)
            if lib == "newton":
                if done:
                    result = "converged"
                    break
                if stalled:
                    result = "stalled"
                    break
            elif lib == "optax":
                if gnorm < gtol:
                    result = "converged"
                    break
                if prev is not None and abs(prev - value) <= ftol * max(abs(value), 1e-12):
                    small += 1
                    if small >= 3:
                        result = "stalled"  # no progress for 3 steps while the gradient is not small
                        break
                else:
                    small = 0
                prev = value
            else:
                if optimizer == "bfgs":
                    # optimistix BFGS keeps proposing rejected steps when float32 noise hides descent:
                    # stop once the objective has not improved (relatively, by ftol) for `patience` steps
                    if value < meta.get("best", math.inf) - ftol * max(abs(value), 1e-12):
                        meta["best"], meta["since_best"] = value, 0
                    else:
                        meta["since_best"] = meta.get("since_best", 0) + 1
                    if meta["since_best"] >= patience:
                        result = "stalled"
                        break
                if bool(done):
                    result = "converged" if res == optx.RESULTS.successful else f"failed: {optx.RESULTS[res]}" if hasattr(optx.RESULTS, "__getitem__") else "failed"
                    break
    except KeyboardInterrupt:
        save()
        result = "interrupted"
    else:
        save()
    if lib in ("optax", "newton") or not hasattr(carry[1], "best"):
        phi_hat = np.asarray(carry[0], dtype=np.float64)
    else:
        phi_hat = np.asarray(carry[1].best[1], dtype=np.float64)
    phi_hat = whole(phi_hat)
    if result != "interrupted":
        value = float(objective(jnp.asarray(phi_hat, jnp.float32), problem))
    else:
        value = last_good[1]
    return OptimisationResult(phi=phi_hat, value=value, result=result, steps=meta["step"], evaluations=counter.n,
                              seconds=time.perf_counter() - t0, optimizer=optimizer, history=history)


# ----------------------------------------------------------------------------------------------
# Identification and inference
# ----------------------------------------------------------------------------------------------


def _rank(eigs, rtol):
    eigs = np.abs(np.asarray(eigs))
    return int(np.sum(eigs > rtol * eigs.max())) if eigs.max() > 0 else 0


def identification_report(params: Parameters, problem: Problem, *, rtol: float = 1e-4) -> dict:
    """The Hessian of the objective in the full coordinates ``(log shape, log scale, log τ, log w, log f_s)``.

    Returns its eigenvalues, numerical rank (eigenvalues above ``rtol`` × the largest), and the
    eigenvector of the smallest eigenvalue (the unidentified direction; ``(0, 1, 1, 0, 0)/√2``
    for additive trade costs and cost draws).
    """
    model = problem.model
    psi = full_coordinates(params)
    H = np.asarray(jax.jit(jax.hessian(lambda p: objective(identified_from_full(p, model), problem)))(psi), dtype=np.float64)
    H = 0.5 * (H + H.T)
    eigs, vecs = np.linalg.eigh(H)
    null = vecs[:, np.argmin(np.abs(eigs))]
    null = null * np.sign(null[np.argmax(np.abs(null))])
    return {"coordinates": list(FULL), "hessian": H.tolist(), "eigenvalues": eigs.tolist(), "rank": _rank(eigs, rtol),
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


def _grad_given_f(problem: Problem):
    """``∂Q/∂f`` as a function of (f, data grid arrays): lets a data bootstrap reuse one simulation."""
    d = problem.data

    def q(f, g, graw):
        return _distance(f, g, graw, d.step, problem.kind, problem.ks_temperature)

    return jax.jit(jax.grad(q))


def _hessian(problem, phi, step, free=None):
    """Hessian of the objective: central differences of the autodiff gradient with step ``step``.

    ``step=None`` gives the pure autodiff Hessian. It misses the curvature that comes from firms
    switching paths (``MC`` is piecewise linear in the parameters between switches, so its second
    derivative is zero almost everywhere). Differences of the gradient over a step across which
    many firms switch capture it. The default step is 1e-2 in log parameters. ``free``: the
    coordinates to differentiate in (the others held at ``phi``; default all).
    """
    free = list(range(phi.shape[0])) if free is None else list(free)
    if step is None:
        H = np.asarray(jax.hessian(lambda p: objective(p, problem))(phi), dtype=np.float64)[np.ix_(free, free)]
        return 0.5 * (H + H.T)
    idx = jnp.asarray(free)
    return fd_hessian(lambda q: _grad_objective(phi.at[idx].set(q), problem)[idx], phi[idx], step)


def fd_hessian(grad, x, step: float) -> np.ndarray:
    """Symmetrised central differences of a gradient: ``H[:, i] = (∇f(x + h e_i) − ∇f(x − h e_i)) / 2h``.

    The error is ``O(h²)`` (``h²/6`` times the third derivative of the gradient); exact for a
    quadratic ``f``. Used by :func:`inference` with the autodiff gradient of the objective.
    """
    x = jnp.asarray(x)
    cols = []
    for i in range(x.shape[0]):
        e = jnp.zeros_like(x).at[i].set(step)
        cols.append((np.asarray(grad(x + e), np.float64) - np.asarray(grad(x - e), np.float64)) / (2 * step))
    H = np.stack(cols, axis=1)
    return 0.5 * (H + H.T)


def inference(problem: Problem, phi_hat, *, bootstrap: int = 100, sim_replications: int = 8, seed: int = 12345, rank_rtol: float = 1e-4,
              hessian_step: float | None = 1e-2, truncate: bool = False, fixed: dict | None = None) -> Inference:
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
    standard errors of the fixed ones are NaN (conditional on their values).
    """
    phi = jnp.asarray(phi_hat, jnp.float32)
    d = problem.data
    free = _free_coordinates(fixed, phi.shape[0])
    H = _hessian(problem, phi, hessian_step, free)
    eigs = np.linalg.eigvalsh(H)
    rank = _rank(eigs, rank_rtol)
    cond = float(np.max(np.abs(eigs)) / np.min(np.abs(eigs))) if np.min(np.abs(eigs)) > 0 else float("inf")
    # Data part: Jacobian of the simulated density, then bootstrap the data side.
    f = _sim_density(phi, problem)
    J = np.asarray(jax.jacfwd(lambda p: _sim_density(p, problem))(phi), dtype=np.float64)[:, free]  # (G, p_free)
    dq = _grad_given_f(problem)
    rng = np.random.default_rng(seed)
    y = np.asarray(d.log_sales)
    grads = []
    for _ in range(int(bootstrap)):
        yb = jnp.asarray(rng.choice(y, size=y.size, replace=True), jnp.float32)
        gb, rawb = _density(yb, d.trim, d.trim_width, d.grid, d.kernel, d.step)
        grads.append(np.asarray(dq(f, gb, rawb), dtype=np.float64) @ J)
    cov_data = np.cov(np.asarray(grads).T) if bootstrap >= 2 else np.zeros_like(H)
    S = problem.uniforms.shape[0]
    if sim_replications >= 2:
        grad_fn = eqx.filter_jit(jax.grad(lambda p, u: _distance(_sim_density(p, problem, u), d.density, d.raw, d.step, problem.kind, problem.ks_temperature)))
        sims = []
        for r in range(int(sim_replications)):
            u = common_uniforms(seed + 1 + r, S, problem.model.n_stages)
            sims.append(np.asarray(grad_fn(phi, u), dtype=np.float64)[free])
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
    p = phi.shape[0]

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


# ----------------------------------------------------------------------------------------------
# The whole calibration
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CalibrationResult:
    """Estimates, diagnostics and the optimisation record; ``to_json()`` gives the CLI's JSON."""

    model: CalibrationModel
    params: Parameters
    phi: np.ndarray
    optimisation: OptimisationResult
    inference: Inference | None
    statistics: dict
    scale_normalisation: float
    starts: list
    fixed_wage: bool = False

    def estimates(self) -> dict:
        p = self.params
        se = self.inference.std_errors_phi if self.inference is not None else np.full(4, np.nan)
        vd = self.model.value_dependent

        def entry(value, s, identified=True, note=None):
            out = {"value": float(value), "std_error": (None if s is None or not np.isfinite(s) else float(s)), "identified": identified}
            if identified and s is not None and np.isinf(s):
                out["weakly_identified"] = True  # zero or negative curvature of the objective along a direction this parameter loads on
            if note:
                out["note"] = note
            return out

        return {
            "shape": entry(p.shape, p.shape * se[0]),
            "scale": entry(p.scale, None, False, "not identified: sales are invariant to the cost scale (eq. S1); held at the stated normalisation"),
            "tau": entry(p.tau, p.tau * se[1], True,
                         "identified directly (value-dependent trade costs)" if vd else
                         f"identified as tau/cost_scale = {p.tau / self.model.cost_scale(p.scale):.6g}; value and std_error conditional on scale = {p.scale:g}"),
            "wage": (dict(entry(p.wage, None, True, "held fixed at the known relative wage (fixed_wage)"), fixed=True) if self.fixed_wage else
                     entry(p.wage, p.wage * se[2], True, "canonical branch w >= 1 ((w, rho) and (1/w, rho/w) are observationally equivalent)")),
            "sunk_cost": entry(p.sunk_cost, p.sunk_cost * se[3], True, "f_s, from the level of sales under free entry (given sigma)"),
        }

    def to_json(self) -> dict:
        inf = self.inference
        opt = self.optimisation
        return {
            "estimates": self.estimates(),
            "normalisation": {"scale": self.scale_normalisation},
            "identified": {
                "estimated": ["shape", "tau/cost_scale" if not self.model.value_dependent else "tau", "wage", "sunk_cost"],
                "not_identified": ["scale"],
                "statement": ("The sales distribution (eq. S1) is invariant to the common cost scale; with additive trade costs only "
                              "tau/cost_scale is identified. shape, tau/cost_scale, w (branch w >= 1) and sigma*f_s are identified."),
            },
            "model": {"n_stages": self.model.n_stages, "sigma": self.model.sigma, "draws": self.model.draws, "draws_as": self.model.draws_as,
                      "wage_reading": self.model.wage_reading, "value_dependent": self.model.value_dependent},
            "objective": {"value": opt.value, **self.statistics},
            "optimisation": {"optimizer": opt.optimizer, "result": opt.result, "steps": opt.steps, "evaluations": opt.evaluations,
                             "seconds": opt.seconds, "starts": self.starts,
                             "history": [{k: v for k, v in h.items() if k != "phi"} for h in opt.history]},
            "diagnostics": None if inf is None else {
                "coordinates": [IDENTIFIED[i] for i in inf.free], "phi": self.phi.tolist(), "hessian": inf.hessian.tolist(),
                "eigenvalues": inf.eigenvalues.tolist(), "rank": inf.rank, "condition_number": inf.condition_number,
                "std_errors_phi": [float(x) if np.isfinite(x) else None for x in inf.std_errors_phi], "covariance_phi": inf.covariance.tolist(),
                "std_errors_phi_data_only": np.sqrt(np.maximum(np.diag(inf.covariance_data), 0)).tolist(),
                "std_errors_phi_simulation_only": np.sqrt(np.maximum(np.diag(inf.covariance_sim), 0)).tolist(),
                "method": inf.method,
            },
        }


def calibrate(sales, model: CalibrationModel, *, start: Parameters | list | None = None, scale: float = 1.0, kind: str = "kld",
              n_sim: int = 20_000, seed: int = 0, trim: float = 0.05, bandwidth=None, optimizer: str = "newton", max_steps: int = 200,
              bootstrap: int = 100, sim_replications: int = 8, with_inference: bool = True, checkpoint=None, checkpoint_every: int = 10,
              resume: bool = False, callback=None, problem: Problem | None = None, fixed_wage: float | None = None,
              **minimise_kwargs) -> CalibrationResult:
    """Calibrates ``(shape, τ/scale, w, f_s)`` to firms' sales (Tyazhelnikov 004 §5.3 steps 1-4).

    ``start``: one or several :class:`Parameters` (multi-start: the best objective wins; each
    start's ``f_s`` is reset by :func:`moment_start`). Default start: Table 1 (2000).
    ``scale``: the normalisation at which the unidentified ``scale`` is held.
    ``fixed_wage``: the relative wage ``w`` when it is known from wage data. It is then held fixed
    (no reflection to ``w ≥ 1``), which removes the weakest direction of the sales data
    (docs/calibration.md: the information bound on ``ρ`` falls from 8.5% to 6.8% at n = 200,000).
    """
    if not (np.isfinite(scale) and scale > 0):
        fail("scale", scale, "the scale normalisation must be finite and > 0")
    fixed = None
    if fixed_wage is not None:
        if not (np.isfinite(fixed_wage) and fixed_wage > 0):
            fail("fixed_wage", fixed_wage, "a known relative wage must be finite and > 0")
        fixed = {2: float(np.log(fixed_wage))}
    if problem is None:
        problem = make_problem(sales, model, n_sim=n_sim, seed=seed, kind=kind, trim=trim, bandwidth=bandwidth)
    starts = start if isinstance(start, (list, tuple)) else [start if start is not None else Parameters(**TABLE1[2000], sunk_cost=1.0)]
    best, records = None, []
    for i, s in enumerate(starts):
        phi0 = moment_start(to_unconstrained(s, model), problem)
        ck = None if checkpoint is None else (checkpoint if len(starts) == 1 else f"{checkpoint}.start{i}")
        res = minimise(problem, phi0, optimizer=optimizer, max_steps=max_steps, checkpoint=ck, checkpoint_every=checkpoint_every,
                       resume=resume and ck is not None and Path(ck).is_file(), callback=callback, fixed=fixed, **minimise_kwargs)
        records.append({"start": s.as_dict(), "objective": res.value, "result": res.result, "steps": res.steps})
        if res.result == "interrupted":
            best = res
            break
        if best is None or (math.isfinite(res.value) and res.value < best.value):
            best = res
    phi = canonicalise(best.phi, model) if fixed is None else np.asarray(best.phi, np.float64)
    params = from_unconstrained(phi, model, scale)
    inf = None
    if with_inference and best.result != "interrupted":
        inf = inference(problem, phi, bootstrap=bootstrap, sim_replications=sim_replications, seed=seed + 1000, fixed=fixed)
    stats = exact_statistics(phi, problem)
    stats["kind"] = problem.kind
    stats["bandwidth"] = problem.data.bandwidth
    stats["trim"] = problem.data.trim
    stats["n_data"] = problem.data.n
    stats["n_sim"] = int(problem.uniforms.shape[0])
    return CalibrationResult(model=model, params=params, phi=phi, optimisation=best, inference=inf, statistics=stats,
                             scale_normalisation=float(scale), starts=records, fixed_wage=fixed is not None)


def fitted_and_data_log_sales(result: CalibrationResult, problem: Problem):
    """Grid, data density and fitted simulated density (for plots)."""
    f = _sim_density(jnp.asarray(result.phi, jnp.float32), problem)
    return np.asarray(problem.data.grid), np.asarray(problem.data.density), np.asarray(f)



def to_sequential_model(params: Parameters, model: CalibrationModel):
    """The :class:`jaxtrade.SequentialModel` of these parameters (for :func:`jaxtrade.decompose`)."""
    from ._simulate import SequentialModel

    dist = _family(model.draws)(params.shape, params.scale)
    m = model.wage_multiplier(params.wage)
    return SequentialModel(model.n_stages, jnp.asarray(model.T, jnp.float32), params.tau, dist,
                           draws_are="cost" if model.draws_as == "costs" else "productivity",
                           wages=jnp.asarray([m, 1.0], jnp.float32), value_dependent=model.value_dependent)


def counterfactual_tau(result_0: CalibrationResult, result_1: CalibrationResult, phi_1=None) -> float:
    """``τ_1`` in period-0 cost units (004 §5.3 step 6): ``ρ_1 · cost_scale(scale_1)``.

    Only ``ρ_t = τ_t / cost_scale_t`` is identified per period, so the counterfactual
    ``(θ_0, τ_1, w_0)`` rests on the stated scale normalisations of both periods.
    """
    model = result_1.model
    phi = result_1.phi if phi_1 is None else phi_1
    rho = math.exp(float(phi[1]))
    return rho if model.value_dependent else rho * model.cost_scale(result_1.scale_normalisation)
