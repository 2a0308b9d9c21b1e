"""Market-penetration costs (Arkolakis 2010) in the Eaton-Kortum-Kramarz (2011) model.

Melitz & Redding (2014), *Heterogeneous Firms and Trade* (001), Section 6.4. A firm ω of one source
country sells in destination ``n`` to a share ``e`` of its consumers at entry cost

    f_nω = ε_nω F_n M(e),   M(e) = [1 − (1 − e)^{1−1/λ}] / (1 − 1/λ)            (001 §6.4)

(``M(e) = −log(1 − e)`` at λ = 1) and sells ``X_nω = α_nω e_nω X_n (τ_n p_ω / P_n)^{1−σ}``.

Conventions
-----------
* ``x`` is the firm's variable profit in ``n`` at full reach (``e = 1``) over its entry cost ``ε F_n``.
  The firm maximises ``x e − M(e)``; ``M'(e) = (1 − e)^{−1/λ}`` so ``e* = max(0, 1 − x^{−λ})``
  (:func:`optimal_share`): it enters iff ``x > 1``. Sales are ``σ ε F_n x e*``.
* EKK's normalisation: a firm's cost rank ``u`` (the measure of firms with a lower unit cost) has unit
  measure on ``(0, 1)`` (the source's *potential* firms, e.g. all manufacturers; firms that sell nowhere
  are rows of zeros). With Pareto costs ``x_n = η_n (u / ū_n)^{−1/θ̃}``, ``θ̃ = θ/(σ−1)``, ``η = α/ε``,
  so the firm enters ``n`` iff ``u < ū_n η_n^{θ̃}``, and its sales are
  ``X_n = σF_n (α/η) (x − x^{1−λ})`` on entry.
* ``(log α, log η)`` are jointly normal, mean 0, standard deviations ``σ_a, σ_h``, correlation ρ.
* **Markets** (:class:`Markets`) are described as EKK condition on market data: for each destination
  the share of the source's potential firms that sell there, ``N_n / N``, and the mean sales of those
  sellers, ``X̄_n``. Given the parameters, the hurdle ``ū_n`` solves
  ``E[min(1, ū_n η^{θ̃})] = N_n/N`` (closed form in Φ, :func:`hurdles`) and the scale ``σF_n`` makes
  the model's mean sales of sellers equal ``X̄_n`` (Gauss-Legendre over log η, split at the kink,
  :func:`sales_scales`). :meth:`Markets.from_sales` reads both from a data matrix.
* Limits: λ → ∞ gives ``M(e) → e`` and ``e* → 1{x > 1}`` (the fixed-cost Melitz-Chaney model);
  σ_a, σ_h → 0 gives a strict hierarchy of markets (a firm selling in a less popular market sells in
  every more popular one).
* Random draws: firm ``f`` reads its ``1 + 2M`` uniforms from the engine's Philox stream at counter ``f``
  (:mod:`jaxtrade.engine.rng`, the same bits as :func:`~jaxtrade.engine.rng.firm_uniforms`); one
  compiled kernel per chunk shape, elementwise in firms, so data are bitwise identical whatever
  ``chunk_firms`` (tested).
* Counterfactual (001 §6.4: a 10% fall in trade barriers, EKK 2011 §6): :func:`counterfactual`.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr, ndtri

from ..engine import rng
from ..engine.validation import fail, is_concrete

__all__ = [
    "Params",
    "Markets",
    "params",
    "markets",
    "marketing_cost",
    "optimal_share",
    "hurdles",
    "sales_scales",
    "firm_outcomes",
    "simulate",
    "simulate_chunks",
    "price_index_change",
    "market_shifters",
    "Counterfactual",
    "counterfactual",
    "shock_draws",
]


# --------------------------------------------------------------------------- parameters and markets
class Params(eqx.Module):
    """The five EKK parameters (001 §6.4): θ̃ = θ/(σ−1), λ, σ_a, σ_h, ρ."""

    theta_tilde: jax.Array
    lam: jax.Array
    sigma_a: jax.Array
    sigma_h: jax.Array
    rho: jax.Array

    def as_dict(self) -> dict:
        return {k: float(getattr(self, k)) for k in NAMES}


NAMES = ("theta_tilde", "lam", "sigma_a", "sigma_h", "rho")


def check_params(p: Params, *, need_theta_above_one: bool = True) -> None:
    """Concrete checks: λ > 0, σ_a, σ_h > 0, |ρ| < 1, θ̃ > 1 (mean sales finite)."""
    vals = {k: getattr(p, k) for k in NAMES}
    if not all(is_concrete(v) for v in vals.values()):
        return
    v = {k: np.asarray(x, dtype=float) for k, x in vals.items()}
    for k, x in v.items():
        if not np.all(np.isfinite(x)):
            fail(k, x, "must be finite")
    if not np.all(v["lam"] > 0):
        fail("lam", v["lam"], "lam > 0 (convexity of marketing costs)")
    for k in ("sigma_a", "sigma_h"):
        if not np.all(v[k] > 0):
            fail(k, v[k], f"{k} > 0 (positive standard deviation; use a small value for the limit)")
    if not np.all(np.abs(v["rho"]) < 1):
        fail("rho", v["rho"], "|rho| < 1")
    if need_theta_above_one and not np.all(v["theta_tilde"] > 1):
        fail("theta_tilde", v["theta_tilde"], "theta_tilde > 1 (finite mean sales)")


def params(theta_tilde, lam, sigma_a, sigma_h, rho) -> Params:
    """Public constructor of :class:`Params`, with the checks of 001 §6.4 (λ > 0, |ρ| < 1, σ's > 0, θ̃ > 1)."""
    p = Params(*(jnp.asarray(x, dtype=jnp.result_type(float)) for x in (theta_tilde, lam, sigma_a, sigma_h, rho)))
    check_params(p)
    return p


class Markets(eqx.Module):
    """Destinations as EKK condition on them: ``entry_share[n] = N_n/N`` (sellers in n over the source's
    potential firms, in (0, 1)) and ``mean_sales[n] = X̄_n`` (mean sales of those sellers, > 0);
    ``size`` (optional, e.g. absorption X_n) is used only for the entry-size relation."""

    entry_share: jax.Array
    mean_sales: jax.Array
    size: jax.Array | None = None

    @property
    def n_markets(self) -> int:
        return int(self.entry_share.shape[0])

    @staticmethod
    def from_sales(sales, size=None) -> "Markets":
        """Entry shares and mean sales of sellers from a (firms, markets) matrix with 0 for no sale."""
        s = np.asarray(sales, dtype=float)
        if s.ndim != 2:
            fail("sales", s.shape, "a (n_firms, n_markets) matrix")
        d = s > 0
        cnt = d.sum(0)
        if np.any(cnt == 0):
            fail("sales", cnt.tolist(), "every market has at least one seller")
        return markets(cnt / s.shape[0], s.sum(0) / cnt, size=size)


def markets(entry_share, mean_sales, size=None) -> Markets:
    """Public constructor of :class:`Markets` with checks (shares in (0,1), mean sales > 0, same length)."""
    es = jnp.asarray(entry_share, dtype=jnp.result_type(float))
    ms = jnp.asarray(mean_sales, dtype=jnp.result_type(float))
    if es.ndim != 1 or ms.shape != es.shape:
        fail("mean_sales", ms.shape, f"same 1-d shape as entry_share {es.shape}")
    if is_concrete(es) and not np.all((np.asarray(es) > 0) & (np.asarray(es) < 1)):
        fail("entry_share", np.asarray(es), "0 < entry_share < 1")
    if is_concrete(ms) and not np.all(np.asarray(ms) > 0):
        fail("mean_sales", np.asarray(ms), "mean_sales > 0")
    sz = None
    if size is not None:
        sz = jnp.asarray(size, dtype=es.dtype)
        if sz.shape != es.shape:
            fail("size", sz.shape, f"same shape as entry_share {es.shape}")
    return Markets(es, ms, sz)


# --------------------------------------------------------------------------- the firm's problem
def marketing_cost(e, lam):
    """M(e) = [1 − (1−e)^{1−1/λ}]/(1 − 1/λ) (001 §6.4), −log(1−e) at λ = 1; e in [0, 1]."""
    e = jnp.asarray(e)
    lam = jnp.asarray(lam, dtype=jnp.result_type(e, float))
    if is_concrete(lam) and not np.all(np.asarray(lam) > 0):
        fail("lam", np.asarray(lam), "lam > 0")
    if is_concrete(e) and not np.all((np.asarray(e) >= 0) & (np.asarray(e) <= 1)):
        fail("e", np.asarray(e), "0 <= e <= 1")
    k = 1.0 - 1.0 / lam
    log1me = jnp.log1p(-e)
    near = jnp.abs(k) < 1e-8
    k_safe = jnp.where(near, 1.0, k)
    general = -jnp.expm1(k_safe * log1me) / k_safe
    return jnp.where(near, -log1me, general)


def optimal_share(x, lam):
    """e* = argmax_e x e − M(e) = max(0, 1 − x^{−λ}) (FOC x = M'(e) = (1−e)^{−1/λ}; M convex).

    ``x`` is variable profit at full reach over the entry cost ε F_n; e* = 0 when x ≤ 1 (no entry)."""
    x = jnp.asarray(x)
    lam = jnp.asarray(lam, dtype=jnp.result_type(x, float))
    if is_concrete(lam) and not np.all(np.asarray(lam) > 0):
        fail("lam", np.asarray(lam), "lam > 0")
    if is_concrete(x) and not np.all(np.asarray(x) >= 0):
        fail("x", np.asarray(x), "x >= 0")
    xs = jnp.maximum(x, 1.0)
    return jnp.where(x > 1.0, -jnp.expm1(-lam * jnp.log(xs)), 0.0)


# --------------------------------------------------------------------------- market calibration
def _entry_mass(log_ubar, tt, sh):
    """E[min(1, ū e^{θ̃ σ_h z})], z ~ N(0,1), and its derivative in log ū."""
    a = tt * sh
    zs = -log_ubar / a
    inner = jnp.exp(log_ubar + 0.5 * a * a) * ndtr(zs - a)
    return inner + 1.0 - ndtr(zs), inner


def hurdles(p: Params, share):
    """log ū_n solving E[min(1, ū_n η^{θ̃})] = share_n (bisection, then one Newton step carrying the
    implicit derivative). Without the cap at u = 1 this is EKK's ū_n = N_n / E[η^{θ̃}]."""
    share = jnp.asarray(share)
    tt, sh = p.theta_tilde, p.sigma_h
    a = tt * sh
    lo = jnp.log(share) - 0.5 * a * a
    hi = jnp.maximum(a * ndtri(share), lo) + 1.0

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        big = _entry_mass(mid, tt, sh)[0] > share
        return jnp.where(big, lo, mid), jnp.where(big, mid, hi)

    lo_, hi_ = jax.lax.fori_loop(0, 100, body, (jax.lax.stop_gradient(lo), jax.lax.stop_gradient(hi)))
    l0 = jax.lax.stop_gradient(0.5 * (lo_ + hi_))
    val, der = _entry_mass(l0, tt, sh)
    return l0 - (val - share) / der


_GL_X, _GL_W = np.polynomial.legendre.leggauss(96)


def _seller_sales_mass(p: Params, log_ubar):
    """E[1{enter} (α/η)(x − x^{1−λ})] over u ~ U(0,1) and the shocks: mean sales over σF_n times N_n/N."""
    tt, lam, sa, sh, rho = p.theta_tilde, p.lam, p.sigma_a, p.sigma_h, p.rho
    a = tt * sh
    zs = -log_ubar / a
    width = 12.0 + a + sa
    left = jnp.minimum(jnp.maximum(zs, -width), width)

    def integrate(z0, z1):
        z = 0.5 * (z1 - z0)[..., None] * _GL_X[None, :] + 0.5 * (z1 + z0)[..., None]
        w = 0.5 * (z1 - z0)[..., None] * _GL_W[None, :]
        h = sh * z
        lu = log_ubar[..., None]
        logb = jnp.minimum(0.0, lu + tt * h)
        log_ma = rho * sa * z + 0.5 * sa * sa * (1 - rho * rho)
        k1, k2 = 1.0 - 1.0 / tt, 1.0 + (lam - 1.0) / tt
        t1 = jnp.exp(log_ma + lu / tt + k1 * logb) / k1
        t2 = jnp.exp(log_ma - lam * h - (lam - 1.0) / tt * lu + k2 * logb) / k2
        phi = jnp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return jnp.sum(w * (t1 - t2) * phi, axis=-1)

    return integrate(-width * jnp.ones_like(left), left) + integrate(left, width * jnp.ones_like(left))


def sales_scales(p: Params, mk: Markets):
    """(log ū_n, σF_n): hurdles matching the entry shares and scales matching mean sales of sellers."""
    lub = hurdles(p, mk.entry_share)
    return lub, mk.mean_sales * mk.entry_share / _seller_sales_mass(p, lub)


_sales_scales_jit = jax.jit(sales_scales)


# --------------------------------------------------------------------------- firms
def shock_draws(u, p: Params):
    """(log α, log η) of shape (..., M) from the normal scores of 2M uniforms ``u[..., 1:]``."""
    m = (u.shape[-1] - 1) // 2
    za = ndtri(u[..., 1 : 1 + m])
    zw = ndtri(u[..., 1 + m :])
    la = p.sigma_a * za
    lh = p.sigma_h * (p.rho * za + jnp.sqrt(1 - p.rho * p.rho) * zw)
    return la, lh


def firm_outcomes(log_u, la, lh, p: Params, log_ubar, scale, temperature=0.0):
    """Log profit ratio ℓ = log x, entry (hard at a Python 0, else sigmoid(ℓ/temperature)) and sales of firms.

    ``log_u`` (...,), ``la``, ``lh`` (..., M). Sales σF_n (α/η)(x − x^{1−λ}) on entry, 0 otherwise,
    continuous in the parameters (e* → 0 at the threshold)."""
    ell = lh - (log_u[..., None] - log_ubar[None, :]) / p.theta_tilde
    enter_hard = ell > 0
    ells = jnp.maximum(ell, 0.0)
    sales = jnp.where(enter_hard, scale[None, :] * jnp.exp(la - lh) * (jnp.exp(ells) - jnp.exp((1.0 - p.lam) * ells)), 0.0)
    if isinstance(temperature, (int, float)) and temperature == 0.0:  # a traced temperature: smoothed
        d = enter_hard.astype(sales.dtype)
    else:
        d = jax.nn.sigmoid(ell / temperature)
    return ell, d, sales


@functools.partial(jax.jit, static_argnums=(0, 1))
def _chunk_sales(n_firms, m, key, first, p, lub, scale, kappa):
    """One compiled kernel for a chunk of ``n_firms`` firms (static shape), firm ``f`` reading its
    ``1 + 2m`` uniforms at counter ``f``: every firm's sales are computed elementwise from its own
    draws, so the output does not depend on how firms are grouped into chunks (tested bitwise).
    ``kappa`` (m,) multiplies every firm's x_n (counterfactual market shifters; ones = baseline)."""
    u = rng.range_uniforms(key, first, n_firms, 1 + 2 * m, lub.dtype, 23)  # float32: 23-bit, float64: 53-bit
    la, lh = shock_draws(u, p)
    log_u = jnp.log(u[:, 0])
    ell = lh - (log_u[:, None] - lub[None, :]) / p.theta_tilde + jnp.log(kappa)[None, :]
    enter = ell > 0
    ells = jnp.maximum(ell, 0.0)
    return jnp.where(enter, scale[None, :] * jnp.exp(la - lh) * (jnp.exp(ells) - jnp.exp((1.0 - p.lam) * ells)), 0.0)


def _default_chunk(m: int) -> int:
    return int(max(1024, min(65_536, (1 << 21) // max(m, 1))))


def _check_sim_args(params, markets, n_firms, chunk_firms, first_firm):
    check_params(params)
    if not isinstance(markets, Markets):
        fail("markets", type(markets).__name__, "a Markets (see market_penetration.markets)")
    if int(n_firms) < 1:
        fail("n_firms", n_firms, "n_firms >= 1")
    if chunk_firms is not None and int(chunk_firms) < 1:
        fail("chunk_firms", chunk_firms, "chunk_firms >= 1")
    if int(first_firm) < 0 or int(first_firm) + int(n_firms) > 2**64:
        fail("first_firm", first_firm, "0 <= first_firm and first_firm + n_firms <= 2**64")


def simulate_chunks(params: Params, *, n_firms: int, markets: Markets, seed: int = 0, chunk_firms: int | None = None,
                    first_firm: int = 0, kappa=None):
    """Yields ``(first, sales)`` chunk by chunk (sales ``(k, n_markets)`` NumPy, firms ``first … first+k−1``):
    the streaming form of :func:`simulate` for data too large to hold (1e6 firms × 100 markets).
    All chunks but the last have ``chunk_firms`` rows; one compiled kernel serves them all (the last
    is computed at the same shape and cut)."""
    _check_sim_args(params, markets, n_firms, chunk_firms, first_firm)
    n_firms, first_firm = int(n_firms), int(first_firm)
    m = markets.n_markets
    lub, scale = _sales_scales_jit(params, markets)
    kap = jnp.ones(m, lub.dtype) if kappa is None else jnp.broadcast_to(jnp.asarray(kappa, lub.dtype), (m,))
    key = jnp.asarray(rng.seed_key(seed))
    T = int(chunk_firms) if chunk_firms is not None else _default_chunk(m)
    T = min(T, n_firms)
    pending = None
    for f in range(first_firm, first_firm + n_firms, T):
        res = (f, _chunk_sales(T, m, key, jnp.asarray(rng.u64_words(f)), params, lub, scale, kap))  # dispatched async
        if pending is not None:
            yield pending[0], np.asarray(pending[1])
        k = min(T, first_firm + n_firms - f)
        pending = (f, res[1][:k] if k < T else res[1])
    yield pending[0], np.asarray(pending[1])


def simulate(params: Params, *, n_firms: int, markets: Markets, seed: int = 0, chunk_firms: int | None = None,
             first_firm: int = 0, progress=None, kappa=None):
    """Firm-by-destination sales (n_firms, n_markets), 0 where the firm does not sell (001 §6.4).

    Firms are the source's potential firms, cost rank u ~ U(0,1) (EKK's unit measure), shocks
    jointly log-normal; firm ``f`` draws its ``1 + 2M`` uniforms from the engine's Philox stream at
    ``seed``, counter ``f`` (the firms of :func:`jaxtrade.engine.rng.firm_uniforms`), so the data are
    bitwise the same whatever ``chunk_firms`` (firms per call of the one compiled kernel; default
    about 2^21 / n_markets). ``progress`` is called with the number of firms finished after each
    chunk (e.g. ``tqdm.update``). ``kappa`` (n_markets,) multiplies x_n (:func:`counterfactual`)."""
    _check_sim_args(params, markets, n_firms, chunk_firms, first_firm)
    out = np.empty((int(n_firms), markets.n_markets), dtype=np.dtype(jnp.result_type(float)))
    for f, chunk in simulate_chunks(params, n_firms=n_firms, markets=markets, seed=seed, chunk_firms=chunk_firms,
                                    first_firm=first_firm, kappa=kappa):
        i = f - int(first_firm)
        out[i : i + chunk.shape[0]] = chunk
        if progress is not None:
            progress(chunk.shape[0])
    return out


# --------------------------------------------------------------------------- counterfactual (001 §6.4)
def price_index_change(own_share, tau_hat, theta):
    """P̂_n = [π_nn + (1 − π_nn) τ̂^{−θ}]^{−1/θ}: the price index of destination n when every foreign
    supplier's barrier into n changes by τ̂ (wages, spending and entry costs fixed; Pareto-CES gravity,
    θ = θ̃(σ−1) the Pareto shape), with ``own_share`` π_nn the destination's spending on its own goods."""
    own = jnp.asarray(own_share)
    return (own + (1.0 - own) * jnp.asarray(tau_hat) ** (-theta)) ** (-1.0 / theta)


def market_shifters(theta_tilde, sigma, own_share, *, trade_cost_change=0.9, home: int = 0):
    """κ_n = τ̂_n^{1−σ} P̂_n^{σ−1}: the factor on every source firm's x_n = (variable profit at full reach)/εF_n
    (x ∝ X_n (τ_n p/P_n)^{1−σ}/F_n, 001 §6.4) when all trade barriers change by ``trade_cost_change``:
    τ̂ = 1 at ``home``, the destinations' price indices from :func:`price_index_change`. ``own_share``
    None: partial equilibrium (P̂ = 1)."""
    own = None if own_share is None else np.asarray(own_share, dtype=float)
    m = None if own is None else own.shape[0]
    if own is not None and (own.ndim != 1 or not np.all((own > 0) & (own <= 1))):
        fail("own_share", own, "a vector of destination own-spending shares in (0, 1]")
    if not trade_cost_change > 0:
        fail("trade_cost_change", trade_cost_change, "trade_cost_change > 0")
    if not sigma > 1:
        fail("sigma", sigma, "sigma > 1")
    theta = float(theta_tilde) * (float(sigma) - 1.0)
    p_hat = np.ones(1) if own is None else np.asarray(price_index_change(own, trade_cost_change, theta))
    return p_hat, theta, m


class Counterfactual(eqx.Module):
    """The change in the source's firms' sales when trade barriers fall (001 §6.4; EKK 2011 Table 5).

    Firms are ranked by their baseline total sales (active firms only) into deciles; per decile, over
    ``replications`` independent simulations of ``n_firms`` potential firms: ``baseline`` and ``change``
    in total sales (means over replications, in the units of ``mean_sales``), ``change_se`` (the
    simulation standard deviation of one replication), ``band`` (2.5%/97.5% over replications),
    ``exit_share`` (the share of the decile's firms that sell nowhere afterwards). ``entrants``: sales
    of firms active only afterwards. ``kappa``: the market shifters, ``price_index``: P̂_n."""

    kappa: np.ndarray
    price_index: np.ndarray
    baseline: np.ndarray
    change: np.ndarray
    change_se: np.ndarray
    band: np.ndarray
    exit_share: np.ndarray
    exit_share_se: np.ndarray
    entrant_sales: float
    entrant_sales_se: float
    total_change: float
    total_change_se: float
    replications: int
    n_firms: int


def _decile_stats(base, cf):
    tb, tc = base.sum(1), cf.sum(1)
    act = tb > 0
    idx = np.flatnonzero(act)
    order = idx[np.argsort(tb[idx], kind="stable")]
    dec = np.empty(len(order), dtype=int)
    dec[:] = (10 * np.arange(len(order))) // max(len(order), 1)
    b = np.zeros(10); c = np.zeros(10); ex = np.zeros(10)
    np.add.at(b, dec, tb[order]); np.add.at(c, dec, tc[order]); np.add.at(ex, dec, (tc[order] <= 0).astype(float))
    cnt = np.bincount(dec, minlength=10)
    ent = tc[~act].sum()
    return b, c - b, ex / np.maximum(cnt, 1), ent, tc.sum() - tb.sum()


def counterfactual(params: Params, markets: Markets, *, sigma: float, own_share=None, trade_cost_change: float = 0.9,
                   home: int = 0, n_firms: int = 100_000, replications: int = 10, seed: int = 0,
                   chunk_firms: int | None = None, progress=None) -> Counterfactual:
    """The §6.4 counterfactual of 001 (EKK 2011): all trade barriers of the source's firms, and of every
    other exporter, change by ``trade_cost_change`` (0.9: a 10% fall); destination ``n``'s price index
    changes by P̂_n (:func:`price_index_change`, ``own_share`` π_nn per destination, ``home`` the
    source's own market, where only imports get cheaper) and every firm's x_n by
    κ_n = τ̂_n^{1−σ} P̂_n^{σ−1}; entry and sales are recomputed from the *same* draws (firm f keeps
    its cost rank and shocks). σ enters only here (θ = θ̃(σ−1)); the estimated five parameters do
    not pin it down. Simulation error: ``replications`` disjoint sets of ``n_firms`` firms."""
    check_params(params)
    if not isinstance(markets, Markets):
        fail("markets", type(markets).__name__, "a Markets")
    m = markets.n_markets
    if not 0 <= int(home) < m:
        fail("home", home, f"0 <= home < n_markets = {m}")
    if int(replications) < 2:
        fail("replications", replications, "replications >= 2 (for the simulation error bands)")
    p_hat, theta, mo = market_shifters(params.theta_tilde, sigma, own_share, trade_cost_change=trade_cost_change, home=home)
    if mo is not None and mo != m:
        fail("own_share", np.asarray(own_share).shape, f"one share per market ({m})")
    p_hat = np.broadcast_to(p_hat, (m,))
    tau_hat = np.full(m, float(trade_cost_change)); tau_hat[int(home)] = 1.0
    kappa = tau_hat ** (1.0 - sigma) * p_hat ** (sigma - 1.0)
    rows = []
    for r in range(int(replications)):
        kw = dict(n_firms=n_firms, markets=markets, seed=seed, chunk_firms=chunk_firms, first_firm=r * int(n_firms))
        base = simulate(params, **kw)
        cf = simulate(params, kappa=kappa, **kw)
        rows.append(_decile_stats(base, cf))
        if progress is not None:
            progress(1)
    b, c, ex, ent, tot = (np.array([row[i] for row in rows]) for i in range(5))
    return Counterfactual(
        kappa=kappa, price_index=np.asarray(p_hat), baseline=b.mean(0), change=c.mean(0), change_se=c.std(0, ddof=1),
        band=np.percentile(c, [2.5, 97.5], axis=0), exit_share=ex.mean(0), exit_share_se=ex.std(0, ddof=1),
        entrant_sales=float(ent.mean()), entrant_sales_se=float(ent.std(ddof=1)), total_change=float(tot.mean()),
        total_change_se=float(tot.std(ddof=1)), replications=int(replications), n_firms=int(n_firms),
    )
