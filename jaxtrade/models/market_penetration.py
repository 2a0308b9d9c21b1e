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
  (:mod:`jaxtrade.engine.rng`), blocks of :data:`~jaxtrade.engine.rng.FIRM_BLOCK` firms, so data are
  bitwise identical whatever ``chunk_blocks``.
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
    """Log profit ratio ℓ = log x, entry (hard, or sigmoid(ℓ/temperature)) and sales of firms.

    ``log_u`` (...,), ``la``, ``lh`` (..., M). Sales σF_n (α/η)(x − x^{1−λ}) on entry, 0 otherwise,
    continuous in the parameters (e* → 0 at the threshold)."""
    ell = lh - (log_u[..., None] - log_ubar[None, :]) / p.theta_tilde
    enter_hard = ell > 0
    ells = jnp.maximum(ell, 0.0)
    sales = jnp.where(enter_hard, scale[None, :] * jnp.exp(la - lh) * (jnp.exp(ells) - jnp.exp((1.0 - p.lam) * ells)), 0.0)
    if temperature == 0.0:
        d = enter_hard.astype(sales.dtype)
    else:
        d = jax.nn.sigmoid(ell / temperature)
    return ell, d, sales


@functools.partial(jax.jit, static_argnums=0)
def _block_sales(m, key, block, p, lub, scale):
    """Sales of the 65 536 firms of one block: one compiled graph for every block, so the bits do not
    depend on how blocks are grouped (an XLA loop over a varying number of blocks fuses differently)."""
    u = rng.block_uniforms(key, block, 1 + 2 * m, lub.dtype, 23)
    la, lh = shock_draws(u, p)
    return firm_outcomes(jnp.log(u[:, 0]), la, lh, p, lub, scale)[2]


def simulate(params: Params, *, n_firms: int, markets: Markets, seed: int = 0, chunk_blocks: int = 4, first_firm: int = 0):
    """Firm-by-destination sales (n_firms, n_markets), 0 where the firm does not sell (001 §6.4).

    Firms are the source's potential firms, cost rank u ~ U(0,1) (EKK's unit measure), shocks
    jointly log-normal; draws from the Philox stream at ``seed`` (firm f at counter f), streamed in
    chunks of ``chunk_blocks`` × 65 536 firms: bitwise the same whatever the chunking."""
    check_params(params)
    if not isinstance(markets, Markets):
        fail("markets", type(markets).__name__, "a Markets (see market_penetration.markets)")
    n_firms = int(n_firms)
    if n_firms < 1:
        fail("n_firms", n_firms, "n_firms >= 1")
    if int(chunk_blocks) < 1:
        fail("chunk_blocks", chunk_blocks, "chunk_blocks >= 1")
    m = markets.n_markets
    lub, scale = sales_scales(params, markets)
    key = jnp.asarray(rng.seed_key(seed))
    B = rng.FIRM_BLOCK
    b0, b1 = first_firm // B, -(-(first_firm + n_firms) // B)
    out = []
    blocks = np.arange(b0, b1, dtype=np.uint32)
    for c in range(0, len(blocks), int(chunk_blocks)):
        chunk = [_block_sales(m, key, jnp.uint32(b), params, lub, scale) for b in blocks[c : c + int(chunk_blocks)]]
        out.append(np.asarray(jnp.concatenate(chunk)))
    s = np.concatenate(out)
    start = first_firm - b0 * B
    return s[start : start + n_firms]
