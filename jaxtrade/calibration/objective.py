"""Densities of log sales on a grid, soft trimming and the calibration objectives (004 §5.2).

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

**Joint objective with offshoring status** (issue 16 item 3; docs/calibration.md, "Identification from
offshoring status"). When the data carry each firm's offshoring status ``o ∈ {0, 1}`` (1: at least one
stage outside the home country 0), the densities become the *joint* sub-densities ``f_o(y) = P(O = o) ·
f(y | o)`` on the grid, arrays ``(2, G)`` with ``f_0 + f_1`` the sales-only ``f``: the data's from the
hard status, the model's from the smooth status ``õ_j`` of each simulated firm
(:func:`jaxtrade.calibration.simulation._log_sales_and_offshoring`), both after the same soft trimming
of the whole sample. Every objective above is then applied to the pair: ``"kld"`` becomes the KLD of the
joint law of ``(log sales, o)``,

    Σ_o Σ_g g_o log(g_o / f_o) Δ = Σ_o p̂_o log(p̂_o / p_o) + Σ_o p̂_o KLD(ĝ(·|o) ‖ f(·|o)),

(the share term plus the within-group sales terms), ``"sml"`` the simulated log-likelihood
``−(1/n) Σ_i log f_{o_i}(y_i)`` of ``log P(o) + log f(y | o)``, ``"ks"``/``"cvm"`` the distances between
the two joint CDFs ``G_o(y) = P(Y ≤ y, O = o)`` taken over both groups.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..engine.validation import fail
from .parameters import CalibrationModel
from .simulation import OFFSHORE_TEMPERATURE, _log_sales, _log_sales_and_offshoring, _log_sales_jit, _offshores_hard_jit, common_uniforms, standard_log_draws
from .simulation import offshore_temperature as default_offshore_temperature

__all__ = [
    "OBJECTIVES",
    "DataSummary",
    "Problem",
    "soft_quantile",
    "silverman_bandwidth",
    "prepare_data",
    "make_problem",
    "objective",
    "exact_statistics",
    "moment_start",
]

OBJECTIVES = ("kld", "sml", "ks", "cvm")
_EPS = 1e-8

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
    sorted_log_sales: jax.Array  # (n,) sorted data log sales; the first n_kept are the hard-trimmed sample (exact statistics)
    n_kept: jax.Array  # () int: firms kept by hard trimming (an array, so ties in the data do not change the pytree's shapes)
    log_sales: jax.Array  # (n,) all data log sales (bootstrap)
    # Scalars as (weakly typed) array leaves, not static fields: two data sets with the same grid and kernel
    # sizes then share one compiled objective, gradient and Newton step (item 1 of issue 16: 100 runs, one compile).
    bandwidth: jax.Array
    step: jax.Array
    trim_width: jax.Array
    trim: float = eqx.field(static=True)
    n: int = eqx.field(static=True)
    # (n,) the data's offshoring status (0./1.) aligned with log_sales, or None (sales only). With it, density, raw
    # and cdf are (2, G): the joint sub-densities of (log sales, o = 0) and (log sales, o = 1).
    offshores: jax.Array | None = None

    @property
    def joint(self) -> bool:
        """Whether the data carry the offshoring status (joint objective)."""
        return self.offshores is not None

    @property
    def sorted_trimmed(self) -> np.ndarray:
        """The hard-trimmed sorted data log sales (the first ``n_kept`` of :attr:`sorted_log_sales`)."""
        return np.asarray(self.sorted_log_sales)[: int(self.n_kept)]


_BIN_CHUNK = 4096  # points per partial histogram in _bspline_bin


def _bspline_bin(x, weights, lo, step, n_grid):
    """Cubic B-spline assignment of weighted points to a grid (C² in each point).

    A point's four weights go to grid nodes ``i − 1 … i + 2``; nodes off the grid are dropped. The index
    is clipped before its conversion to an integer (a float32 ``(x − lo)/step`` beyond ``2^31`` has no
    int32 value) and a negative index is sent past the end, not wrapped: JAX's ``.at[]`` reads ``−1`` as
    the last node, which put the mass of simulated firms far below the grid at its top (issue 16).

    The points are binned in chunks of :data:`_BIN_CHUNK` (one partial histogram each, then summed): one
    float32 scatter-add over a million points adds each small weight to a running bin total of up to
    ~10^4 points, and the rounding lost was systematic (bins too light): at 1M simulated firms and Table 1's
    values it moved the KLD by −6.1e-6 against float64 binning (12% of its value at the truth, 240 times
    ``LOGLIK_TOL / n``) and made it jitter by 2.1e-7 along a line. In chunks the error is 3.5e-9 and the jitter
    6.3e-8 (docs/calibration.md, "Float32 binning"; ``test_binning_matches_float64``)."""
    n = x.shape[0]
    if n > _BIN_CHUNK:
        k = -(-n // _BIN_CHUNK)
        pad = k * _BIN_CHUNK - n
        xs = jnp.pad(x, (0, pad), constant_values=lo - 16 * step).reshape(k, _BIN_CHUNK)  # padding: weight 0, off the grid
        ws = jnp.pad(weights, (0, pad)).reshape(k, _BIN_CHUNK)
        return jnp.sum(jax.vmap(lambda a, b: _bspline_bin_one(a, b, lo, step, n_grid))(xs, ws), axis=0)
    return _bspline_bin_one(x, weights, lo, step, n_grid)


def _bspline_bin_one(x, weights, lo, step, n_grid):
    s = jnp.clip((x - lo) / step, -8.0, n_grid + 8.0)
    i = jnp.floor(s)
    t = s - i
    i = i.astype(jnp.int32)
    t2, t3 = t * t, t * t * t
    ws = ((1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6)
    out = jnp.zeros((n_grid,), x.dtype)
    for off, w in zip((-1, 0, 1, 2), ws):
        idx = i + off
        out = out.at[jnp.where((idx >= 0) & (idx < n_grid), idx, n_grid)].add(weights * w, mode="drop")
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


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def soft_quantile(x, level: float, width):
    """The smoothed ``level`` quantile of the sample ``x``: the root ``q`` of
    ``mean(sigmoid((q − x)/width)) = level``.

    With it the soft-trimmed weights of a sample sum to exactly ``level · n``. It is a smooth
    function of every point, with derivative (implicit function theorem)
    ``∂q/∂x_i = s'_i / Σ_j s'_j``, ``s'_i = σ'((q − x_i)/width)``: a kernel-weighted average over the
    points near the quantile (and ``∂q/∂width = Σ_i s'_i z_i / Σ_j s'_j``, ``z_i = (q − x_i)/width``). The sample quantile ``jnp.quantile`` is not a usable substitute
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
def _soft_quantile_jvp(level, primals, tangents):
    (x, width), (dx, dwidth) = primals, tangents
    q = soft_quantile(x, level, width)
    # The weights s'_i / Σ s'_j as a softmax of log s'_i = log σ(z) + log σ(−z): finite however far every point
    # lies from q (with a gap of > 88 widths around q every float32 s'_i underflowed to 0, and 0/0 was the NaN).
    z = (q - x) / width
    weights = jax.nn.softmax(jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z))
    return q, jnp.sum(weights * dx) + jnp.sum(weights * z) * dwidth


def _density(x, trim, width, grid, kernel, step, group=None):
    """Smoothed, soft-trimmed density of points ``x`` on the grid, and the raw binned weights.

    ``group`` (optional, (n,) in [0, 1]: each point's offshoring status, hard or smooth): the joint
    sub-densities ``(2, G)`` of ``(x, o = 0)`` and ``(x, o = 1)`` instead, each point's trimming weight split
    ``1 − group`` / ``group``; both rows share the normaliser, so together they integrate to 1."""
    w = _soft_trim_weights(x, trim, width)
    total = jnp.sum(w)
    if group is None:
        raw = _bspline_bin(x, w, grid[0], step, grid.shape[0]) / total
        return _smooth(raw, kernel) / step, raw
    raw1 = _bspline_bin(x, w * group, grid[0], step, grid.shape[0]) / total
    raw0 = _bspline_bin(x, w * (1 - group), grid[0], step, grid.shape[0]) / total
    raw = jnp.stack([raw0, raw1])
    f = jnp.stack([_smooth(raw0, kernel), _smooth(raw1, kernel)]) / step
    return f, raw


_density_jit = jax.jit(_density, static_argnums=(1,))  # one compiled re-binning per data size and trim


def silverman_bandwidth(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(ddof=1)
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25]))
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    return float(0.9 * spread * x.size ** (-0.2))


def prepare_data(sales, *, trim: float = 0.05, bandwidth: float | None = None, grid_size: int | None = None, trim_width: float | None = None,
                 offshores=None) -> DataSummary:
    """Log sales of the data, trimmed and smoothed on a grid (float32).

    ``trim``: share of the largest firms dropped (the paper: 0.05). ``bandwidth``: Gaussian kernel
    bandwidth in log sales (default Silverman on the trimmed data). The grid spans
    ``[min y − 6h, q_{1−trim} + 6h]`` with step ``Δ ≤ h/3``. ``grid_size`` (>= 32) fixes the number of
    grid points instead; the kernel then has the fixed length ``2⌈5(G − 1)/12⌉ + 3`` (at least ±5h for any
    data, since the grid spans at least 12h), so every data set of the same size, ``trim`` and
    ``grid_size`` has arrays of the same shapes and shares one compiled objective.
    ``offshores``: each firm's offshoring status (0/1, aligned with ``sales``) for the joint objective
    (module docstring); ``density``, ``raw`` and ``cdf`` are then ``(2, G)``.
    """
    a = np.asarray(sales, dtype=np.float64)
    if a.ndim != 1 or a.size < 10:
        fail("sales", a, "sales must be a one-dimensional array with at least 10 firms")
    if not np.all(np.isfinite(a) & (a > 0)):
        fail("sales", a, "every sales value must be finite and > 0 (use load_sales to locate bad rows)")
    if not (0.0 <= trim < 0.5):
        fail("trim", trim, "0 <= trim < 0.5")
    o = None
    if offshores is not None:
        o = np.asarray(offshores)
        if o.shape != a.shape:
            fail("offshores", o.shape, f"offshores must be one 0/1 status per firm: shape {a.shape}")
        if not np.all((o == 0) | (o == 1)):
            bad = np.flatnonzero(~((o == 0) | (o == 1)))
            fail("offshores", o[bad[:10]], f"every offshoring status must be 0 or 1; {bad.size} are not (first at indices {bad[:10].tolist()})")
        o = jnp.asarray(o, jnp.float32)
    y = np.log(a)
    q = np.quantile(y, 1.0 - trim) if trim > 0 else y.max()
    kept = np.sort(y[y <= q])
    h = silverman_bandwidth(kept) if bandwidth is None else float(bandwidth)
    if not (np.isfinite(h) and h > 0):
        fail("bandwidth", h, "bandwidth > 0 (the data have no spread?)")
    if grid_size is not None and not (isinstance(grid_size, (int, np.integer)) and grid_size >= 32):
        fail("grid_size", grid_size, "grid_size must be an integer >= 32")
    tw = h / 4 if trim_width is None else float(trim_width)
    lo, hi = kept[0] - 6 * h, q + 6 * h
    g = int(grid_size) if grid_size is not None else max(256, int(math.ceil((hi - lo) / (h / 3))) + 1)
    grid = np.linspace(lo, hi, g)
    step = float(grid[1] - grid[0])
    half = int(math.ceil(5 * h / step)) if grid_size is None else int(math.ceil(5 * (g - 1) / 12)) + 1
    kx = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (kx / h) ** 2)
    kernel /= kernel.sum()
    grid_j = jnp.asarray(grid, jnp.float32)
    yj = jnp.asarray(y, jnp.float32)
    h_j, step_j, tw_j = (jnp.asarray(float(v)) for v in (h, step, tw))  # weakly typed: float32 arrays stay float32
    dens, raw = _density_jit(yj, float(trim), tw_j, grid_j, jnp.asarray(kernel, jnp.float32), step_j, o)
    cdf = jnp.cumsum(dens, axis=-1) * step_j
    return DataSummary(
        grid=grid_j, density=dens, raw=raw, cdf=cdf, kernel=jnp.asarray(kernel, jnp.float32),
        sorted_log_sales=jnp.asarray(np.sort(y), jnp.float32), n_kept=jnp.asarray(kept.size, jnp.int32), log_sales=yj,
        bandwidth=h_j, step=step_j, trim=float(trim), trim_width=tw_j, n=int(a.size), offshores=o,
    )


# ----------------------------------------------------------------------------------------------
# The problem and its objectives
# ----------------------------------------------------------------------------------------------


class Problem(eqx.Module):
    """Everything the objective needs: the model, the data summary and the fixed uniforms.

    ``standard_draws`` is derived, never given: the uniforms' :func:`~jaxtrade.calibration.standard_log_draws`
    (the parameter-free part of every draw, computed here once, so that an objective evaluation only scales it;
    ``None`` for the truncated Pareto)."""

    model: CalibrationModel
    data: DataSummary
    uniforms: jax.Array  # (S, N, M) float32 common random numbers: jaxtrade.firm_uniforms(S, N, M, seed=seed)
    standard_draws: jax.Array | None
    kind: str = eqx.field(static=True)
    ks_temperature: float = eqx.field(static=True)
    seed: int = eqx.field(static=True)
    uniform_bits: int = eqx.field(static=True)
    #: κ of the smooth offshoring status (log-cost margin; used only when the data carry offshoring status).
    offshore_temperature: float = eqx.field(static=True)

    def __init__(self, model: CalibrationModel, data: DataSummary, uniforms, kind: str = "kld", ks_temperature: float = 1e-3, seed: int = 0,
                 uniform_bits: int = 16, offshore_temperature: float = OFFSHORE_TEMPERATURE):
        self.model, self.data, self.uniforms = model, data, uniforms
        self.standard_draws = standard_log_draws(uniforms, model)
        self.kind, self.ks_temperature, self.seed = kind, ks_temperature, seed
        self.uniform_bits, self.offshore_temperature = uniform_bits, offshore_temperature


def make_problem(sales, model: CalibrationModel, *, n_sim: int = 20_000, seed: int = 0, kind: str = "kld", trim: float = 0.05,
                 bandwidth=None, grid_size=None, ks_temperature: float = 1e-3, data: DataSummary | None = None,
                 uniform_bits: int = 16, offshores=None, offshore_temperature: float | None = None) -> Problem:
    """Builds a :class:`Problem` from sales (or a prepared :class:`DataSummary`).

    The ``n_sim`` simulated firms are firms ``0 … n_sim − 1`` of :func:`jaxtrade.simulate` at ``seed``
    (:func:`jaxtrade.firm_uniforms`, float32, ``uniform_bits`` per uniform). ``offshores`` (0/1 per firm,
    aligned with ``sales``) switches to the joint objective of (sales, offshoring status) (module docstring),
    with the model's status smoothed at ``offshore_temperature`` = κ (log cost; default
    :func:`~jaxtrade.calibration.offshore_temperature` of ``n_sim``: 0.01 up to 6,000 firms, 0.0036 at 1M)."""
    if offshore_temperature is None:
        offshore_temperature = default_offshore_temperature(n_sim)
    if kind not in OBJECTIVES:
        fail("kind", kind, f"kind must be one of {OBJECTIVES}")
    if not (ks_temperature > 0):
        fail("ks_temperature", ks_temperature, "ks_temperature > 0")
    if not (np.isfinite(offshore_temperature) and offshore_temperature > 0):
        fail("offshore_temperature", offshore_temperature, "the smoothing kappa of the offshoring status must be finite and > 0")
    if data is None:
        data = prepare_data(sales, trim=trim, bandwidth=bandwidth, grid_size=grid_size, offshores=offshores)
    elif offshores is not None:
        fail("offshores", "given", "give offshores to prepare_data when passing a prepared DataSummary")
    u = common_uniforms(seed, n_sim, model.n_stages, model.n_countries, uniform_bits=uniform_bits)
    return Problem(model=model, data=data, uniforms=u, kind=kind, ks_temperature=float(ks_temperature), seed=int(seed),
                   uniform_bits=int(uniform_bits), offshore_temperature=float(offshore_temperature))


def _sim_density(phi, problem: Problem, uniforms=None):
    """The simulated density on the grid: ``(G,)``, or the joint ``(2, G)`` when the data carry offshoring status."""
    d = problem.data
    u, z = (problem.uniforms, problem.standard_draws) if uniforms is None else (uniforms, None)
    if d.joint:
        x, o = _log_sales_and_offshoring(phi.astype(u.dtype), u, problem.model, problem.offshore_temperature, z)
        f, _ = _density(x, d.trim, d.trim_width, d.grid, d.kernel, d.step, o)
        return f
    x = _log_sales(phi.astype(u.dtype), u, problem.model, z)
    f, _ = _density(x, d.trim, d.trim_width, d.grid, d.kernel, d.step)
    return f


def _distance(f, g, graw, step, kind, temperature):
    """The objectives as functions of the simulated density ``f`` and data ``g`` (grid arrays)."""
    if kind == "kld":
        return jnp.sum(g * (jnp.log(g + _EPS) - jnp.log(f + _EPS))) * step
    if kind == "sml":
        return -jnp.sum(graw * jnp.log(f + _EPS))
    F = jnp.cumsum(f, axis=-1) * step
    G = jnp.cumsum(g, axis=-1) * step
    d = (G - F).reshape(-1)
    if kind == "ks":
        n = d.shape[0]
        both = jnp.concatenate([d, -d]) / temperature
        return temperature * (jax.scipy.special.logsumexp(both) - jnp.log(2.0 * n))
    if kind == "cvm":
        return jnp.sum(d * d * f.reshape(-1)) * step
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
    x = np.sort(np.asarray(_log_sales_jit(jnp.asarray(phi, jnp.float32), problem.uniforms, problem.model, problem.standard_draws), dtype=np.float64))
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
    if d.joint:  # hard shares, all firms (untrimmed)
        out["offshore_share_data"] = float(np.mean(np.asarray(d.offshores, np.float64)))
        out["offshore_share_model"] = float(np.mean(np.asarray(_offshores_hard_jit(jnp.asarray(phi, jnp.float32), problem.uniforms, problem.model))))
    return out


def moment_start(phi, problem: Problem):
    """Sets ``log f_s`` in ``φ`` so that trimmed mean simulated and data log sales agree."""
    phi = jnp.asarray(phi, jnp.float32)
    x = np.asarray(_log_sales_jit(phi.at[3].set(0.0), problem.uniforms, problem.model, problem.standard_draws), dtype=np.float64)
    t = problem.data.trim
    xk = x[x <= np.quantile(x, 1 - t)] if t > 0 else x
    shift = float(np.mean(np.asarray(problem.data.sorted_trimmed, np.float64)) - np.mean(xk))
    return phi.at[3].set(shift)
