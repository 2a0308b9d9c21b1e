"""Multi-product firms: product scope, selection within and across firms (Melitz & Redding 001, §9.1;
Bernard, Redding & Schott 2011).

A firm draws *ability* φ ~ g (common to all its products) and, for each product h of the
continuum [0, 1], *attributes* λ_h ~ z (001 §9.1). A product sold in market m (m = d for the home
market, x for each of the n = N − 1 symmetric export markets) earns variable profit
``A_m (φλ)^{σ−1}`` with ``A_d = B`` and ``A_x = B τ^{1−σ}`` (B the market demand of 001 eq. 10);
supplying it costs the product fixed cost ``f_m`` and serving the market at all the market fixed
cost ``F_m``. Then (001 §9.1, the two displayed conditions):

* attribute cut-off  ``A_m (φ λ*_m(φ))^{σ−1} = f_m``, i.e. ``λ*_m(φ) = (f_m/A_m)^{1/(σ−1)} / φ``;
* firm profit in m   ``π_m(φ) = f_m J_z(λ*_m(φ)) − F_m`` with ``J_z(λ*) = ∫_{λ*} [(λ/λ*)^{σ−1} − 1] dz``
  (the J of 001 eq. 5 over attributes, from the quadrature engine);
* ability cut-off    ``π_m(φ*_m) = 0``: ``J_z(Λ_m) = F_m/f_m`` fixes the attribute cut-off of the
  marginal firm ``Λ_m = λ*_m(φ*_m)`` independently of the equilibrium, and
  ``φ*_m = (f_m/A_m)^{1/(σ−1)}/Λ_m``;
* product scope      ``1 − Z(λ*_m(φ))`` (share of the continuum supplied to m), rising in φ;
* free entry         ``Σ_m w_m ∫_{φ*_m} π_m(φ) dg = f_E`` (w = 1, n), solved for log B by Newton
  with implicit differentiation (``selection.root_solve``); the inner integral is the engine's J over
  z, the outer a tail integral over g (nested exp-sinh quadrature).

Markets are separable (fixed costs are per market and per product-market), so whether attributes
are common to all markets or drawn per market changes no firm-level decision or aggregate; it
changes only which products are exported *and* sold at home. With common attributes and
``τ^{σ−1} f_x > f_d`` the products a firm exports are a subset of those it sells at home (the worst
are domestic only). Any ``AbstractDistribution`` for g and z; the Pareto-Pareto closed forms are
:func:`pareto_closed_form` (tests).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..engine import distributions as dists
from ..engine import quadrature as quad
from ..engine import selection as sel
from ..engine.validation import check_positive_scalar, fail, is_concrete
from ..engine.validation import float_dtype as _dtype
from ..engine.selection import price_index_from_demand as _price_index

__all__ = [
    "MultiProductEquilibrium",
    "multiproduct_economy",
    "marginal_attribute_cutoff",
    "pareto_closed_form",
]






def marginal_attribute_cutoff(attributes, sigma, market_fixed, product_fixed, *, throw: bool = True, rule=quad.DEFAULT_RULE):
    """``Λ`` with ``f J_z(Λ) = F``: the attribute cut-off of the marginal firm (001 §9.1).

    ``J_z`` falls from ∞ (as Λ → 0) to 0, so the root is unique; Newton in log Λ. Returns a
    :class:`~jaxtrade.engine.selection.RootSolution` (``value`` is log Λ).
    """
    s = jnp.asarray(sigma) - 1.0
    target = jnp.log(jnp.asarray(market_fixed)) - jnp.log(jnp.asarray(product_fixed))

    def fn(loglam, args):
        z, ss, tgt = args
        return jnp.log(quad.J(z, jnp.exp(loglam), ss, rule=rule)) - tgt

    y0 = jnp.log(attributes.icdf(jnp.asarray(0.5, jnp.result_type(s))))
    return sel.root_solve(fn, y0, (attributes, s, target), throw=throw)




def _market_profit(dist, attributes, s, phi_star, lam_star, f_m, F_m, rule):
    """``∫_{φ*} [f J_z(Λ φ*/φ) − F] dg``, the firm-product pairs ``∫_{φ*} (1 − Z(λ*(φ))) dg`` and the
    variable profit ``∫_{φ*} f (J_z + S_z)(λ*(φ)) dg`` of market m, per entrant.

    The integrand has a kink where λ*(φ) = c/φ reaches the bottom of the attributes' support
    (from there on the firm supplies every product); the outer integral is split there: Gauss-Legendre
    on ``[φ*, kink]``, exp-sinh beyond (or exp-sinh from φ* when there is no kink above φ*).
    """
    c = lam_star * phi_star  # λ*(φ) = c/φ
    lo = jnp.asarray(attributes.support[0], jnp.result_type(c))
    kink = jnp.where(lo > 0, c / jnp.where(lo > 0, lo, 1.0), jnp.inf)
    split = jnp.isfinite(kink) & (kink > phi_star)
    start = jnp.where(split, kink, phi_star)
    lp_t, om_t = quad.tail_nodes(dist, start, rule)
    lp_s, om_s = quad.segment_nodes(dist, phi_star, jnp.where(split, kink, phi_star * 2.0))
    om_s = jnp.where(split, om_s, 0.0)
    lp = jnp.concatenate([lp_t, lp_s])
    om = jnp.concatenate([om_t, om_s])
    # λ*(φ) = c/φ, floored where the weights have long underflowed (J_z ~ λ^{−s} must stay finite)
    lam = jnp.exp(jnp.maximum(jnp.log(c) - lp, -250.0 / s))
    Sz, Jz = quad.selection_integrals(attributes, lam, s, rule=rule)
    prof = jnp.sum(om * (f_m * Jz - F_m))
    prods = jnp.sum(om * Sz)
    var = jnp.sum(om * f_m * (Jz + Sz))
    return prof, prods, var


class MultiProductEquilibrium(eqx.Module):
    """Symmetric N-country equilibrium with multi-product firms (001 §9.1; BRS 2011).

    Per market (index 0 domestic, 1 each export market): ``ability_cutoff`` φ*_m,
    ``marginal_attribute_cutoff`` Λ_m = λ*_m(φ*_m), ``firms`` (mass of firms serving m),
    ``products`` (firm-product pairs supplied to m), ``sales`` (value of sales in m),
    ``average_scope`` (products per firm serving m), ``intensive_margin`` (sales per firm-product
    pair). ``market_demand`` B, ``mass_of_entrants`` M_E, ``domestic_trade_share``,
    ``price_index``, ``welfare`` P^{−β}, ``autarky_market_demand`` and ``gains_from_trade``.
    ``firm_sorting`` (φ*_x > φ*_d: exit, domestic only, exporters), ``product_sorting``
    (τ^{σ−1} f_x > f_d: an exporter's worst products are domestic only).
    """

    ability_cutoff: jax.Array  # (2,)
    marginal_attribute_cutoff: jax.Array  # (2,)
    firms: jax.Array  # (2,)
    products: jax.Array  # (2,)
    sales: jax.Array  # (2,)
    average_scope: jax.Array  # (2,)
    intensive_margin: jax.Array  # (2,)
    market_demand: jax.Array
    mass_of_entrants: jax.Array
    domestic_trade_share: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    autarky_market_demand: jax.Array
    gains_from_trade: jax.Array
    firm_sorting: jax.Array
    product_sorting: jax.Array
    sigma: jax.Array
    tau: jax.Array
    product_fixed: jax.Array  # (2,)
    attributes: object
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    def attribute_cutoff(self, phi):
        """``λ*_m(φ) = (f_m/A_m)^{1/(σ−1)}/φ`` for both markets, shape ``φ.shape + (2,)``."""
        phi = jnp.asarray(phi)
        s = self.sigma - 1.0
        A = self.market_demand * jnp.stack([jnp.ones_like(self.tau), self.tau ** (-s)])
        c = (self.product_fixed / A) ** (1.0 / s)
        return jnp.reshape(c, (1,) * phi.ndim + (2,)) / phi[..., None]

    def scope(self, phi):
        """Product scope ``1 − Z(λ*_m(φ))`` in each market for firms that serve it (0 otherwise)."""
        phi = jnp.asarray(phi)
        lam = self.attribute_cutoff(phi)
        S = quad.survival(self.attributes, lam)
        serves = phi[..., None] >= jnp.reshape(self.ability_cutoff, (1,) * phi.ndim + (2,))
        return jnp.where(serves, S, 0.0)


def _check(sigma, dist, attributes):
    if is_concrete(sigma):
        a = np.asarray(sigma)
        if not np.all(np.isfinite(a)) or not np.all(a > 1):
            fail("sigma", sigma, "σ > 1 (CES demand, 001 §9.1)")
    for name, d in (("dist", dist), ("attributes", attributes)):
        if not isinstance(d, dists.AbstractDistribution):
            fail(name, type(d).__name__, "an AbstractDistribution")
    if isinstance(attributes, (dists.Pareto, dists.Frechet)) and is_concrete(attributes.shape) and is_concrete(sigma):
        if not np.all(np.asarray(attributes.shape) > np.asarray(sigma) - 1.0):
            fail("attributes.shape", attributes.shape, "attribute shape ν > σ − 1 (a product's expected sales must be finite)")
    if isinstance(dist, (dists.Pareto, dists.Frechet)) and is_concrete(dist.shape) and is_concrete(sigma):
        k = np.asarray(dist.shape)
        bound = np.asarray(sigma) - 1.0
        if isinstance(attributes, (dists.Pareto, dists.Frechet)) and is_concrete(attributes.shape):
            bound = np.maximum(bound, np.asarray(attributes.shape))
        if not np.all(k > bound):
            fail(
                "dist.shape",
                dist.shape,
                f"ability shape k > max(σ − 1, ν) = {bound} (firm profits grow like φ^ν for Pareto attributes: "
                "expected profit must be finite)",
            )


def multiproduct_economy(
    dist,
    attributes,
    sigma,
    F_d,
    F_x,
    f_d,
    f_x,
    f_e,
    tau,
    n_countries=2,
    L=1.0,
    *,
    beta=1.0,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> MultiProductEquilibrium:
    """Bernard-Redding-Schott equilibrium (001 §9.1) for ability ``dist`` and attributes ``attributes``.

    ``F_d``, ``F_x``: fixed costs of serving the home market and each export market; ``f_d``,
    ``f_x``: fixed costs per product there; ``tau`` ≥ 1 iceberg cost; ``n_countries`` symmetric
    countries (1: closed economy). Raises if the firm sorting φ*_x > φ*_d or the product sorting
    ``τ^{σ−1} f_x > f_d`` fails (concrete inputs); under a trace both are reported as flags.
    """
    _check(sigma, dist, attributes)
    for nme, v in (("F_d", F_d), ("F_x", F_x), ("f_d", f_d), ("f_x", f_x), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(nme, v)
    if is_concrete(tau) and (not np.all(np.isfinite(np.asarray(tau))) or not np.all(np.asarray(tau) >= 1)):
        fail("tau", tau, "τ ≥ 1 (iceberg trade cost), finite")
    if is_concrete(n_countries) and not np.all(np.asarray(n_countries) >= 1):
        fail("n_countries", n_countries, "n_countries ≥ 1 (1 is the closed economy)")
    dt = _dtype(sigma, F_d, F_x, f_d, f_x, f_e, tau, L)
    args = tuple(jnp.asarray(v, dt) for v in (sigma, F_d, F_x, f_d, f_x, f_e, tau, n_countries, L, beta))
    if all(is_concrete(v) for v in (sigma, F_d, F_x, f_d, f_x, tau, n_countries)) and np.asarray(n_countries) > 1:
        # both sortings are parametric (Λ_m does not depend on the equilibrium): checked before the solve
        sg = np.asarray(sigma, float)
        if not np.asarray(tau, float) ** (sg - 1.0) * np.asarray(f_x, float) > np.asarray(f_d, float):
            fail("f_x", f_x, "τ^(σ−1) f_x > f_d (product sorting: an exporter's worst products are sold at home only)")
        lam = np.exp(np.asarray(_marginal_cutoffs(attributes, args[0], args[1], args[2], args[3], args[4], rule)))
        ratio = float(np.asarray(tau, float) * (np.asarray(f_x, float) / np.asarray(f_d, float)) ** (1.0 / (sg - 1.0)) * lam[0] / lam[1])
        if not ratio > 1.0:
            fail(
                "F_x",
                F_x,
                f"φ*_x > φ*_d, i.e. τ (f_x/f_d)^(1/(σ−1)) Λ_d/Λ_x > 1 (firm sorting: exporters also serve home; here {ratio:.6g})",
            )
    return _multiproduct(dist, attributes, *args, max_steps, throw, rule)


@eqx.filter_jit
def _marginal_cutoffs(attributes, sigma, F_d, F_x, f_d, f_x, rule):
    a = marginal_attribute_cutoff(attributes, sigma, F_d, f_d, throw=False, rule=rule)
    b = marginal_attribute_cutoff(attributes, sigma, F_x, f_x, throw=False, rule=rule)
    return jnp.stack([a.value, b.value])


@eqx.filter_jit
def _multiproduct(dist, attributes, sigma, F_d, F_x, f_d, f_x, f_e, tau, N, L, beta, max_steps, throw, rule):
    s = sigma - 1.0
    n = N - 1.0
    lam_d = marginal_attribute_cutoff(attributes, sigma, F_d, f_d, throw=throw, rule=rule)
    lam_x = marginal_attribute_cutoff(attributes, sigma, F_x, f_x, throw=throw, rule=rule)
    Lam = jnp.exp(jnp.stack([lam_d.value, lam_x.value]))
    fm = jnp.stack([f_d, f_x])
    Fm = jnp.stack([F_d, F_x])
    scale = jnp.stack([jnp.ones_like(tau), tau ** (-s)])
    weights = jnp.stack([jnp.ones_like(n), n])

    def cutoffs(logb):
        return (fm / (jnp.exp(logb) * scale)) ** (1.0 / s) / Lam

    def expected(logb, w):
        phi = cutoffs(logb)
        p0 = _market_profit(dist, attributes, s, phi[0], Lam[0], fm[0], Fm[0], rule)
        p1 = _market_profit(dist, attributes, s, phi[1], Lam[1], fm[1], Fm[1], rule)
        return phi, p0, p1, p0[0] + w[1] * p1[0]

    def residual(logb, args):
        w = args
        return jnp.log(expected(logb, w)[3]) - jnp.log(f_e)

    med = dist.icdf(jnp.asarray(0.5, s.dtype))
    logb0 = jnp.log(fm[0]) - s * jnp.log(Lam[0] * med)
    rs = sel.root_solve(residual, logb0, weights, max_steps=max_steps, throw=throw)
    ra = sel.root_solve(residual, logb0, jnp.stack([jnp.ones_like(n), jnp.zeros_like(n)]), max_steps=max_steps, throw=throw)
    logb = rs.value
    phi, p0, p1, _ = expected(logb, weights)
    firms_pe = jnp.stack([quad.survival(dist, phi[0]), quad.survival(dist, phi[1])])
    prods_pe = jnp.stack([p0[1], p1[1]])
    sales_pe = sigma * jnp.stack([p0[2], p1[2]])
    revenue_pe = sales_pe[0] + n * sales_pe[1]
    ME = beta * L / revenue_pe
    B = jnp.exp(logb)
    BA = jnp.exp(ra.value)
    P = _price_index(sigma, beta * L, B)
    firms = ME * firms_pe
    products = ME * prods_pe
    sales = ME * sales_pe
    result = optx.RESULTS.where(rs.result == optx.RESULTS.successful, ra.result, rs.result)
    for r in (lam_d, lam_x):
        result = optx.RESULTS.where(result == optx.RESULTS.successful, r.result, result)
    return MultiProductEquilibrium(
        ability_cutoff=phi,
        marginal_attribute_cutoff=Lam,
        firms=firms,
        products=products,
        sales=sales,
        average_scope=products / firms,
        intensive_margin=sales / products,
        market_demand=B,
        mass_of_entrants=ME,
        domestic_trade_share=sales_pe[0] / revenue_pe,
        price_index=P,
        welfare=P ** (-beta),
        autarky_market_demand=BA,
        gains_from_trade=(B / BA) ** (-beta / s),
        firm_sorting=(N <= 1.0) | (phi[1] > phi[0]),
        product_sorting=(N <= 1.0) | (tau**s * f_x > f_d),
        sigma=sigma,
        tau=tau,
        product_fixed=fm,
        attributes=attributes,
        result=result,
        num_steps=rs.steps + ra.steps + lam_d.steps + lam_x.steps,
        residual=jnp.maximum(rs.residual, ra.residual),
    )


def pareto_closed_form(k, nu, sigma, F_d, F_x, f_d, f_x, f_e, tau, n_countries=2):
    """Closed forms with ability ~ Pareto(k, 1) and attributes ~ Pareto(ν, 1) (NumPy, for tests).

    ``J_z(λ) = s/(ν−s) λ^{−ν}`` for λ ≥ 1 and ``ν/(ν−s) λ^{−s} − 1`` for λ < 1, so
    ``Λ_m = (s f_m/((ν−s) F_m))^{1/ν}`` when that is ≥ 1 (else ``(ν f_m/((ν−s)(f_m+F_m)))^{1/s}``);
    firms with ``φ ≥ c_m = Λ_m φ*_m`` supply every product. Free entry is then a sum of
    elementary power integrals, and ``B^{k/s}`` solves a linear equation (``φ*_m ∝ B^{−1/s}``).
    Returns ``dict(Lambda, cutoff, B)``.
    """
    s = sigma - 1.0
    n = n_countries - 1.0
    fm = np.array([f_d, f_x], float)
    Fm = np.array([F_d, F_x], float)
    lam = (s * fm / ((nu - s) * Fm)) ** (1.0 / nu)
    lam = np.where(lam >= 1.0, lam, (nu * fm / ((nu - s) * (fm + Fm))) ** (1.0 / s))

    def power(a, b, p):  # ∫_a^b φ^p k φ^{−k−1} dφ
        return k / (k - p) * (a ** (p - k) - (b ** (p - k) if np.isfinite(b) else 0.0))

    def market(phi_star, L_, f, F):
        c = L_ * phi_star
        lo = max(phi_star, 1.0)
        if c > lo:  # partial-scope firms on [φ*, c)
            part = f * s / (nu - s) * c ** (-nu) * power(lo, c, nu) - F * power(lo, c, 0.0)
            top = c
        else:
            part, top = 0.0, lo
        full = f * nu / (nu - s) * c ** (-s) * power(top, np.inf, s) - (f + F) * power(top, np.inf, 0.0)
        return part + full

    scale = np.array([1.0, tau ** (-s)])

    def total(logb):
        phi = (fm / (np.exp(logb) * scale)) ** (1.0 / s) / lam
        return market(phi[0], lam[0], fm[0], Fm[0]) + n * market(phi[1], lam[1], fm[1], Fm[1])

    # with all cut-offs above 1, total ∝ B^{k/s}: one evaluation gives B exactly
    B = 1.0
    for _ in range(3):  # exact once the cut-offs at the previous B are all above 1
        B = B * (f_e / total(np.log(B))) ** (s / k)
    phi = (fm / (B * scale)) ** (1.0 / s) / lam
    return dict(Lambda=lam, cutoff=phi, B=B, total_at_B=total(np.log(B)))
