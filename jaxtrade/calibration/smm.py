"""Simulated method of moments for the EKK (2011) model, driven by gradients (001 §6.4).

EKK estimate (θ̃, λ, σ_a, σ_h, ρ) by SMM with a derivative-free search. Here:

* **Fixed draws, reparameterised.** Simulated firm s keeps its uniforms (Philox, ``seed``); its shocks
  are ``log α = σ_a z_a``, ``log η = σ_h(ρ z_a + √(1−ρ²) z_w)`` and its cost rank is drawn where it can
  sell, ``u_s = b_s U_s`` with ``b_s = min(1, max_n ū_n η_ns^{θ̃})`` and importance weight ``b_s`` (EKK's
  device: every simulated firm is active). All of this is smooth in the parameters.
* **Smoothed entry.** Sales are continuous in the parameters (e* → 0 at the threshold, 001 §6.4), the
  entry indicators are not: in the simulation ``d_n = σ(ℓ_n/τ)/max_m σ(ℓ_m/τ)`` (ℓ = log x; the market
  with the loosest hurdle is entered with weight exactly 1), and τ is annealed (``temperatures``).
  Moments about the sales distribution use the same smoothed CDF kernel on data and simulation, so they
  carry no smoothing bias.
* **Moments** (markets in order of popularity, market 0 the most popular, e.g. home): the share of
  potential firms that sell anywhere; the shares selling to exactly the top-k markets (EKK's hierarchy
  strings), k = 1..M; E[K²] (K the number of markets entered); a smoothed CDF of sales relative to the
  market's mean at ``quantiles``; mean sales in market 0 of firms selling in n relative to all sellers in
  market 0 (n ≥ 1); sales-weighted over plain mean K among sellers in market 0. Added for θ̃ against λ
  (EKK 2011 §3-§5: home sales by the number of markets entered; the distribution of sales relative to
  the market's mean): the shares of potential firms entering exactly k markets and the mean home sales
  of home sellers entering exactly k markets (k = 1..M; ``1{K = k}`` by the Poisson-binomial recursion,
  :func:`_count_probs`, exact on 0/1 entry, smooth on the smoothed one); and E[φ_n^j] (j = 1, 2, 3),
  E[φ_0 φ_n] over all potential firms, φ = log(1 + r/``LOG_FLOOR``), r = sales over the market's mean
  of sellers (the lower tail, where λ acts, and the cross-market covariance through the common cost
  rank, where θ̃ acts). φ(0) = 0 and sales are continuous at the entry threshold (e* → 0), so the φ
  moments need no entry indicator: no smoothing and no smoothing bias (measured: unchanged from τ = 0.05
  to 0).
* **Weighting and errors.** Ω = Var(data moments) by the delta method over firms; W = diag(Ω)^{-1}
  (default) or Ω⁺ (``weight="efficient"``, :func:`weighting`: two-step, annealing under diag(Ω)^{-1},
  then the last temperature again under Ω⁺, because Ω⁺ amplifies the smoothing bias of the entry moments
  at τ > 0: Q(truth) under Ω⁺ is 12 309 at τ = 0.05, 297 at 0.005, 60 at τ = 0 with 50k × 4 data);
  standard errors from the sandwich
  ``(1 + n/S) (G'WG)^{-1} G'WΩWG (G'WG)^{-1}`` (simulation noise factor for S simulated firms,
  :func:`sandwich`); identification as the singular values and rank of W^{1/2} G
  (:func:`identification`), G by jitted forward mode (:func:`moment_jacobian`).
* **Minimiser:** optax L-BFGS (zoom line search; optimistix BFGS stalled at the start here) on
  unconstrained coordinates (θ̃ = 1 + e^{z}, λ, σ's = e^{z}, ρ = tanh z); one compiled step for every
  start and temperature (τ is an argument); annealing over ``temperatures``; multi-start (``start`` a
  list: the lowest objective wins).
* **jit and NaN.** ``jnp.max``'s derivative divides by the count of entries equal to the maximum; under
  ``jit`` XLA recomputed the operand in another fusion, no entry compared equal, and the Jacobian was
  0/0 = NaN (eager was fine). :func:`max_last` takes the derivative through the arg-max instead.
"""

from __future__ import annotations

import functools
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx
from jax.scipy.special import ndtri

from ..engine import rng
from ..engine.validation import fail
from ..models import market_penetration as mp

__all__ = ["Estimate", "estimate", "moments_from_sales", "simulated_moments", "moment_names", "objective_factory",
           "moment_jacobian", "identification", "weighting", "sandwich", "max_last", "sim_draws"]

QUANTILES = (0.03, 0.1, 0.3, 1.0, 3.0)
KERNEL = 0.15  # relative width of the smoothed CDF kernel


LOG_FLOOR = 0.001  # φ(r) = log(1 + r/LOG_FLOOR), r = sales / the market's mean of sellers


def moment_names(n_markets: int, quantiles=QUANTILES) -> list[str]:
    m = n_markets
    out = ["active"] + [f"string_top{k}" for k in range(1, m + 1)] + ["E[K^2]"]
    out += [f"F_{n}(q={q})" for n in range(m) for q in quantiles]
    out += [f"home_sales|sells_in_{n}" for n in range(1, m)] + ["K_weighted_by_home_sales"]
    out += [f"share_K={k}" for k in range(1, m + 1)] + [f"home_sales|K={k}" for k in range(1, m + 1)]
    out += [f"E[phi_{n}^{j}]" for j in (1, 2, 3) for n in range(m)] + [f"E[phi_0 phi_{n}]" for n in range(1, m)]
    return out


def _count_probs(d):
    """P(K = k), k = 0..M, for K = Σ_n d_n with independent d_n ∈ [0, 1] (the Poisson-binomial
    recursion): exactly the indicator 1{K = k} when the d_n are 0/1 (data, hard entry), smooth in
    the smoothed entry weights of the simulation."""
    m = d.shape[-1]
    P = jnp.concatenate([jnp.ones_like(d[..., :1]), jnp.zeros((*d.shape[:-1], m), d.dtype)], axis=-1)
    for n in range(m):
        dn = d[..., n : n + 1]
        P = P * (1 - dn) + jnp.concatenate([jnp.zeros_like(dn), P[..., :-1]], axis=-1) * dn
    return P


def _contributions(act, d, s, w, quantiles, share, n_draws=None):
    """Per-firm vectors whose weighted means determine the moments (d, s in popularity order).

    Sales are taken relative to the sample's own (weighted) mean of sellers in each market, so the
    moments are free of the markets' levels and of the noise in those levels. Besides the entry
    patterns and the within-market sales CDF: home sales by the number of markets entered (EKK
    2011 §3: what separates θ̃), and E[φ^j], E[φ_0 φ_n] of φ = log(1 + r/LOG_FLOOR) over all potential
    firms (the lower tail of relative sales, where λ acts; the cross-market moment through the firm's
    common cost rank). ``share`` (the markets' entry shares, popularity order) normalises the φ moments'
    mean of sellers in the simulation (exact there by construction of ū_n); ``None`` for data.
    ``n_draws``: the number of simulated firms when rows are segments of firms (default: rows)."""
    m = d.shape[-1]
    cols = [act[..., None]]
    for k in range(1, m + 1):
        cols.append((jnp.prod(d[..., :k], -1) * jnp.prod(1 - d[..., k:], -1))[..., None])
    kk = d.sum(-1)
    cols.append((kk * kk)[..., None])
    cols.append(d)
    mean_sales = (w[:, None] * s).sum(0) / (w[:, None] * d).sum(0)
    r = s / mean_sales[None, :]
    q = jnp.asarray(quantiles)
    cdf = jax.nn.sigmoid((q[None, None, :] - r[..., None]) / (KERNEL * q[None, None, :]))  # (..., M, Q)
    cols.append((d[..., None] * cdf).reshape(*d.shape[:-1], -1))
    h = d[..., :1] * r[..., :1]
    cols.append(h * d[..., 1:])
    cols.append(d[..., :1] * d[..., 1:])
    cols += [(h[..., 0] * kk)[..., None], (d[..., 0] * kk)[..., None], h]
    pk = _count_probs(d)[..., 1:]  # (..., M): P(K = k), k = 1..M
    cols += [pk, h * pk, d[..., :1] * pk]
    # φ(r) = log(1 + r/c) vanishes at r = 0 and sales are continuous at the entry threshold (e* → 0,
    # 001 §6.4), so these moments need no entry indicator: no smoothing, no smoothing bias. The mean
    # of sellers' sales uses the markets' entry shares (exact in the model by construction of ū_n).
    total = (w[:, None] * s).sum(0)
    sellers_mean = total / (w[:, None] * d).sum(0) if share is None else total / ((w.shape[0] if n_draws is None else n_draws) * share)
    ru = s / sellers_mean[None, :]
    phi = jnp.log1p(ru / LOG_FLOOR)
    cols += [phi, phi * phi, phi * phi * phi, phi[..., :1] * phi[..., 1:]]
    return jnp.concatenate(cols, axis=-1)


def _moments(F, m, nq):
    i = 0
    act = F[i : i + 1]; i += 1
    strings = F[i : i + m]; i += m
    k2 = F[i : i + 1]; i += 1
    dn = F[i : i + m]; i += m
    cdf = F[i : i + m * nq].reshape(m, nq) / dn[:, None]; i += m * nq
    hn = F[i : i + m - 1]; i += m - 1
    dd = F[i : i + m - 1]; i += m - 1
    hk, dk, h = F[i], F[i + 1], F[i + 2]; i += 3
    pk = F[i : i + m]; i += m
    hpk = F[i : i + m]; i += m
    dpk = F[i : i + m]; i += m
    phis = F[i : i + 4 * m - 1]; i += 4 * m - 1
    home_by_n = (hn / dd) / (h / dn[0])
    kw = (hk / h) / (dk / dn[0])
    home_by_k = (hpk / jnp.maximum(dpk, 1e-300)) / (h / dn[0])
    return jnp.concatenate([act, strings, k2, cdf.reshape(-1), home_by_n, kw[None], pk, home_by_k, phis])


def _order(mk: mp.Markets):
    return np.argsort(-np.asarray(mk.entry_share), kind="stable")


def _data_moments(w, s, quantiles):
    d = (s > 0).astype(s.dtype)
    f = _contributions(d.max(-1), d, s, w, quantiles, None)
    F = (w[:, None] * f).sum(0) / w.sum()
    return _moments(F, s.shape[1], len(quantiles))


def moments_from_sales(sales, markets: mp.Markets, quantiles=QUANTILES):
    """(moments, Ω) of a data matrix (firms × markets, 0 = no sale); Ω = Var(moments) from the
    influence functions ψ_i = n ∂m/∂w_i (firm weights w, m homogeneous of degree 0 in w)."""
    s = jnp.asarray(np.asarray(sales, dtype=float))[:, _order(markets)]
    return _data_moments_and_omega(s, tuple(float(q) for q in quantiles))


@functools.partial(jax.jit, static_argnums=1)
def _data_moments_and_omega(s, quantiles):
    w = jnp.ones(s.shape[0], s.dtype)
    g = lambda w: _data_moments(w, s, quantiles)
    m, vjp = jax.vjp(g, w)
    J = jax.vmap(vjp)(jnp.eye(m.shape[0], dtype=s.dtype))[0]  # (moments, n): one pullback per moment
    return m, J @ J.T


class SimDraws(eqx.Module):
    """Fixed simulation draws: ``log_u`` (S,) the log uniform of the cost rank, ``za``, ``zw`` (S, M) the
    normal scores of the shocks (markets in their original order); computed once, outside the
    objective, so the compiled objective carries no inverse normal CDF."""

    log_u: jax.Array
    za: jax.Array
    zw: jax.Array


def sim_draws(n_sim: int, n_markets: int, seed: int) -> SimDraws:
    """Firms ``0 … n_sim−1`` of the engine's Philox stream at ``seed`` (1 + 2M float64 uniforms each)."""
    u = rng.firm_uniforms(n_sim, 1, 1 + 2 * n_markets, seed=seed, dtype=jnp.float64)[:, 0, :]
    m = n_markets
    return SimDraws(jnp.log(u[:, 0]), ndtri(u[:, 1 : 1 + m]), ndtri(u[:, 1 + m :]))


def max_last(x):
    """``max(x, axis=-1)`` with its derivative taken through the arg-max (a gather).

    ``jnp.max``'s JVP divides by the number of entries equal to the maximum; under ``jit`` XLA may
    recompute the operand in a different fusion, no entry compares equal, and the derivative is
    0/0 = NaN (the NaN of the jitted Jacobian). The gather has no such division."""
    i = jnp.argmax(jax.lax.stop_gradient(x), axis=-1)
    return jnp.take_along_axis(x, i[..., None], axis=-1)[..., 0]


def _conditional_segments(log_u, la, lh, p, lub, scale, log_b):
    """EKK's simulator with the cost rank integrated out over the entry pattern (001 §6.4).

    Given firm s's shocks, u = b_s U with U ~ U(0, 1) and the firm enters n iff U < c_n = min(1, b_n/b_s)
    (b_n = ū_n η_n^{θ̃}, b_s = min(1, max_n b_n), so max_n c_n = 1). Sort c descending,
    c_(1) = 1 ≥ c_(2) ≥ … ≥ c_(M), c_(M+1) = 0: on U ∈ (c_(k+1), c_(k)] the firm enters exactly its
    k markets of largest c, with probability c_(k) − c_(k+1) (closed form, smooth in the parameters,
    no smoothing). Sales within segment k are taken at U = c_(k+1) + (c_(k) − c_(k+1)) V_s (V_s the
    firm's fixed uniform): unbiased for the segment's conditional mean. Returns rows (S·M, …): hard 0/1
    entry d, sales s, weights b_s (c_(k) − c_(k+1)) (sum over a firm's rows: b_s)."""
    n, m = lh.shape
    log_bn = jnp.minimum(0.0, lub[None, :] + p.theta_tilde * lh)  # log min(1, b_n)
    log_c = log_bn - log_b[:, None]  # ≤ 0; the max is exactly 0
    rank_order = jnp.argsort(-jax.lax.stop_gradient(log_c), axis=-1)
    c_sorted = jnp.exp(jnp.take_along_axis(log_c, rank_order, axis=-1))
    hi = c_sorted  # segment k (0-based): (c_(k+1), c_(k)]
    lo = jnp.concatenate([c_sorted[:, 1:], jnp.zeros_like(c_sorted[:, :1])], axis=-1)
    width = hi - lo  # (S, M), ≥ 0, sums to 1 over k
    v = jnp.exp(log_u)  # the fixed uniform
    U = lo + width * v[:, None]  # (S, M) one point per segment
    lu = log_b[:, None] + jnp.log(U)  # log cost rank at each segment's point
    rank = jnp.argsort(rank_order, axis=-1)  # rank of market n among the firm's c (0 = largest)
    d = (rank[:, None, :] <= jnp.arange(m)[None, :, None]).astype(lh.dtype)  # (S, K, M): top k+1 entered
    ell = lh[:, None, :] - (lu[:, :, None] - lub[None, None, :]) / p.theta_tilde
    ells = jnp.maximum(ell, 0.0)
    s = d * scale[None, None, :] * jnp.exp(la - lh)[:, None, :] * (jnp.exp(ells) - jnp.exp((1.0 - p.lam) * ells))
    w = jnp.exp(log_b)[:, None] * width
    return d.reshape(n * m, m), s.reshape(n * m, m), w.reshape(n * m)


ENTRY = ("smooth", "conditional")


def simulated_moments(p: mp.Params, markets: mp.Markets, draws: SimDraws, temperature: float, quantiles=QUANTILES,
                      entry: str = "smooth"):
    """Model moments from the fixed draws (importance weights b_s).

    ``entry="smooth"``: u = b_s U_s, smoothed entry at ``temperature`` (hard at a Python 0).
    ``entry="conditional"``: the cost rank integrated out over each firm's entry pattern
    (:func:`_conditional_segments`; exact entry probabilities, no smoothing; ``temperature`` unused)."""
    if entry not in ENTRY:
        fail("entry", entry, '"smooth" or "conditional"')
    la = p.sigma_a * draws.za
    lh = p.sigma_h * (p.rho * draws.za + jnp.sqrt(1 - p.rho * p.rho) * draws.zw)
    lub, scale = mp.sales_scales(p, markets)
    log_b = jnp.minimum(0.0, max_last(lub[None, :] + p.theta_tilde * lh))
    order = jnp.argsort(-markets.entry_share, stable=True)  # traced: the markets may be jit arguments
    if entry == "conditional":
        d, s, w = _conditional_segments(draws.log_u, la, lh, p, lub, scale, log_b)
    else:
        log_u = log_b + draws.log_u
        hard = isinstance(temperature, (int, float)) and temperature == 0
        ell, d, s = mp.firm_outcomes(log_u, la, lh, p, lub, scale, 0.0 if hard else temperature)
        if not hard:
            d = d / max_last(d)[:, None]
        w = jnp.exp(log_b)
    d, s = d[:, order], s[:, order]
    f = _contributions(jnp.ones_like(w), d, s, w, quantiles, markets.entry_share[order], draws.log_u.shape[0])
    F = (w[:, None] * f).sum(0) / draws.log_u.shape[0]
    return _moments(F, d.shape[1], len(quantiles))


def to_params(z) -> mp.Params:
    return mp.Params(1.0 + jnp.exp(z[0]), jnp.exp(z[1]), jnp.exp(z[2]), jnp.exp(z[3]), jnp.tanh(z[4]))


def from_params(p: mp.Params):
    return jnp.array([jnp.log(p.theta_tilde - 1.0), jnp.log(p.lam), jnp.log(p.sigma_a), jnp.log(p.sigma_h), jnp.arctanh(p.rho)])


def _vec(p: mp.Params):
    return jnp.stack([p.theta_tilde, p.lam, p.sigma_a, p.sigma_h, p.rho])


def objective_factory(m_data, weight, markets, draws, temperature, quantiles=QUANTILES, entry="smooth"):
    """Q(z) = (m(z) − m_data)' W (m(z) − m_data) on unconstrained coordinates z."""

    def q(z, args=None):
        r = simulated_moments(to_params(z), markets, draws, temperature, quantiles, entry) - m_data
        return jnp.sum(weight * r * r)

    return q


def _objective(z, tau, m_data, weight, markets, draws, entry="smooth"):
    r = simulated_moments(to_params(z), markets, draws, tau, entry=entry) - m_data
    return jnp.sum(weight * r * r) if weight.ndim == 1 else r @ weight @ r


_OPT = optax.lbfgs()


@functools.partial(jax.jit, static_argnames="entry")
def _lbfgs_step(z, st, tau, m_data, weight, markets, draws, entry="smooth"):
    """One optax L-BFGS step (zoom line search); compiled once for every start and temperature
    (τ is an argument, not a constant)."""
    q = lambda z: _objective(z, tau, m_data, weight, markets, draws, entry)
    v, g = optax.value_and_grad_from_state(q)(z, state=st)
    u, st = _OPT.update(g, st, z, value=v, grad=g, value_fn=q)
    return optax.apply_updates(z, u), st, v, g


_objective_jit = jax.jit(_objective, static_argnames="entry")
_moments_jit = jax.jit(lambda p, markets, draws, tau, entry="smooth": simulated_moments(p, markets, draws, tau, entry=entry),
                       static_argnames="entry")
_jacobian_jit = jax.jit(lambda v, markets, draws, tau, entry="smooth": jax.jacfwd(
    lambda v: simulated_moments(mp.Params(*v), markets, draws, tau, entry=entry))(v), static_argnames="entry")


def _lbfgs(z, tau, args, max_steps: int, gtol: float, on_step=None, entry="smooth"):
    """L-BFGS on the objective at temperature ``tau``; stops when ‖∇q‖ < gtol·max(1, |q|).
    ``on_step(i, value)`` after every step (a progress bar)."""
    tau = jnp.asarray(tau, z.dtype)
    st = _OPT.init(z)
    for i in range(int(max_steps)):
        z_new, st, v, g = _lbfgs_step(z, st, tau, *args, entry=entry)
        if on_step is not None:
            on_step(i, float(v))
        if not np.all(np.isfinite(np.asarray(z_new))):
            return z, i, False
        if float(jnp.linalg.norm(g)) < gtol * max(1.0, abs(float(v))):
            return z, i, True
        z = z_new
    return z, int(max_steps), False


def moment_jacobian(p: mp.Params, markets: mp.Markets, draws: SimDraws, temperature: float, entry: str = "smooth"):
    """G = ∂m/∂(θ̃, λ, σ_a, σ_h, ρ) of the simulated moments (jitted forward mode)."""
    return _jacobian_jit(_vec(p), markets, draws, jnp.asarray(float(temperature)), entry=entry)


def identification(G, weight):
    """Singular values of W^{1/2} G (descending), the numerical rank (relative tolerance 1e-8) and the
    right singular vectors (rows: directions in (θ̃, λ, σ_a, σ_h, ρ), the last the weakest)."""
    W = np.asarray(weight)
    if W.ndim == 1:
        A = np.sqrt(W)[:, None] * np.asarray(G)
    else:  # symmetric square root of a positive semi-definite W (e.g. the efficient Ω⁺)
        e, V = np.linalg.eigh(0.5 * (W + W.T))
        A = (V * np.sqrt(np.maximum(e, 0.0))) @ V.T @ np.asarray(G)
    _, sv, vt = np.linalg.svd(A, full_matrices=False)
    return sv, int(np.sum(sv > sv[0] * 1e-8)), vt


class Estimate(eqx.Module):
    params: dict
    std_errors: dict
    result: optx.RESULTS
    num_steps: int
    residual: float  # objective value at the estimate (final temperature)
    jacobian_rank: int
    singular_values: np.ndarray
    moments_data: np.ndarray
    moments_model: np.ndarray
    seconds: float


def estimate(sales, *, markets: mp.Markets, seed: int = 1, start=None, n_sim: int = 50_000,
             temperatures=(0.1, 0.03), max_steps: int = 200, gtol: float = 1e-6, weight="diagonal",
             progress=None, entry: str = "smooth") -> Estimate:
    """SMM estimate of (θ̃, λ, σ_a, σ_h, ρ) from a (firms × markets) sales matrix (0 = no sale).

    ``markets`` must describe the same firms (e.g. :meth:`Markets.from_sales`); ``seed`` fixes the
    simulation draws; ``start`` a :class:`~jaxtrade.models.market_penetration.Params` or a list of them
    (multi-start: the lowest final objective wins; default θ̃=3, λ=1, σ_a=1, σ_h=0.5, ρ=0); each start
    runs L-BFGS at every temperature of ``temperatures`` in turn (annealing); ``weight`` see
    :func:`weighting` (``"efficient"``: anneal under the diagonal weight, then one more L-BFGS run at the
    last temperature under Ω⁺; the objective and standard errors are under Ω⁺); ``progress(dict)`` after every step;
    ``entry`` (:func:`simulated_moments`): ``"smooth"`` (default, annealed soft entry) or ``"conditional"``
    (the cost rank integrated out over each firm's entry pattern, EKK's simulator: exact entry
    probabilities, no smoothing bias; ``temperatures`` are then not annealed, one stage per weight). Needs
    float64 (``jax_enable_x64``)."""
    if not jax.config.jax_enable_x64:
        fail("jax_enable_x64", False, "SMM needs float64: run it inside `with jax.enable_x64(True):` or set jax_enable_x64 in your script")
    s = np.asarray(sales, dtype=float)
    if not isinstance(markets, mp.Markets):
        fail("markets", type(markets).__name__, "a Markets")
    if s.ndim != 2 or s.shape[1] != markets.n_markets:
        fail("sales", s.shape, f"(n_firms, {markets.n_markets}) to agree with markets")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        fail("sales", "negative or non-finite entries", "sales >= 0 and finite")
    if markets.n_markets < 2:
        fail("markets", markets.n_markets, "at least 2 markets")
    if entry not in ENTRY:
        fail("entry", entry, '"smooth" or "conditional"')
    if entry == "conditional":
        temperatures = (0.0,)  # no smoothing: nothing to anneal
    t0 = time.perf_counter()
    m_data, omega = moments_from_sales(s, markets)
    n, S = s.shape[0], int(n_sim)
    two_step = isinstance(weight, str) and weight == "efficient"
    w_final = weighting(omega, weight)
    weight = weighting(omega, "diagonal") if two_step else w_final
    draws = sim_draws(S, markets.n_markets, seed)
    starts = start if isinstance(start, (list, tuple)) else [start if start is not None else mp.params(3.0, 1.0, 1.0, 0.5, 0.0)]
    for st in starts:
        mp.check_params(st)
    args = (m_data, weight, markets, draws)
    tau = float(temperatures[-1])
    best = None
    steps = 0
    for j, st in enumerate(starts):
        z = from_params(st)
        stages = [(float(t_), args) for t_ in temperatures]
        if two_step:  # anneal under diag(Ω)^{-1}, then the last temperature again under Ω⁺
            stages.append((tau, (m_data, w_final, markets, draws)))
        for tau_j, args_j in stages:
            on_step = None if progress is None else (lambda i, v, tau=tau_j, j=j: progress(dict(start=j, temperature=float(tau), step=i, objective=v)))
            z, n_steps, converged = _lbfgs(z, tau_j, args_j, max_steps, gtol, on_step, entry)
            steps += n_steps
        val = float(_objective_jit(z, jnp.asarray(tau), m_data, w_final, markets, draws, entry=entry))
        if best is None or val < best[1]:
            best = (z, val, converged)
    z, val, converged = best
    weight = w_final
    result = optx.RESULTS.successful if converged else optx.RESULTS.max_steps_reached
    p = to_params(z)
    G = moment_jacobian(p, markets, draws, tau, entry)
    se, V = sandwich(G, weight, omega, n, S)
    sv, rank, _ = identification(G, weight)
    if rank < 5:
        result = optx.RESULTS.nonlinear_divergence
    names = mp.NAMES
    return Estimate(
        params={k: float(v) for k, v in zip(names, np.asarray(_vec(p)))},
        std_errors={k: float(v) for k, v in zip(names, se)},
        result=result, num_steps=steps, residual=val, jacobian_rank=rank, singular_values=sv,
        moments_data=np.asarray(m_data), moments_model=np.asarray(_moments_jit(p, markets, draws, jnp.asarray(tau), entry=entry)),
        seconds=time.perf_counter() - t0,
    )


def weighting(omega, kind="diagonal"):
    """W: ``"diagonal"`` diag(Ω)^{-1} (default), ``"efficient"`` Ω^{-1} (a pseudo-inverse on the span of
    Ω's eigenvectors above 1e-10 of the largest: the moment shares are linearly related), or an array."""
    if not isinstance(kind, str):
        W = jnp.asarray(kind)
        if W.shape not in ((omega.shape[0],), omega.shape):
            fail("weight", W.shape, f"a vector or matrix matching the {omega.shape[0]} moments")
        return W
    if kind == "diagonal":
        return 1.0 / jnp.maximum(jnp.diag(omega), 1e-14)
    if kind == "efficient":
        return jnp.linalg.pinv(omega, rtol=1e-10, hermitian=True)
    fail("weight", kind, '"diagonal", "efficient" or an array')


def _quad(weight, r):
    return jnp.sum(weight * r * r) if weight.ndim == 1 else r @ weight @ r


def sandwich(G, weight, omega, n, S):
    """Standard errors (1 + n/S)(G'WG)^{-1} G'WΩWG (G'WG)^{-1}: the simulation noise of S draws for n firms."""
    W = jnp.diag(weight) if weight.ndim == 1 else weight
    WG = W @ G
    bread = jnp.linalg.pinv(G.T @ WG)
    V = (1.0 + n / S) * bread @ (WG.T @ omega @ WG) @ bread
    return np.sqrt(np.maximum(np.diag(np.asarray(V)), 0.0)), np.asarray(V)
