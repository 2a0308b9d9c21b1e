"""Heterogeneous firms and factor abundance: Bernard, Redding & Schott (2007), 001 §7.

Two countries ``i ∈ {0, 1}``, two sectors ``j ∈ {0, 1}`` with skill intensities ``β_j`` (β_0 ≠ β_1),
two factors, skilled ``S_i`` and unskilled ``L_i`` labour. Upper-tier Cobb-Douglas preferences with
expenditure shares ``b_j`` (``shares``, Σ b_j = 1), CES within each sector (elasticity σ), Melitz
firms. The total cost of producing ``q`` units in sector ``j`` of country ``i`` is (001 §7)::

    Γ_ij = [f_ij + q/φ] · w_Si^{β_j} w_Li^{1−β_j} = [f_ij + q/φ] · c_ij,

and entry (``f_E``), overhead (``f``) and export (``f_X``) costs use the same composite input ``c_ij``
(homothetic technology). Productivity φ ~ ``dist`` (any ``jaxtrade.distributions`` law, common to
sectors and countries). Arrays are ``[country i, sector j]``; market demand ``B[n, j]`` is
destination-first, ``B_nj = (σ−1)^{σ−1}/σ^σ · b_j Y_n P_nj^{σ−1}``.

Equilibrium (costly trade, symmetric iceberg τ ≥ 1 and fixed export cost f_X)
-------------------------------------------------------------------------
* cut-offs (001 eq. 6 with composite costs): ``φ*_nij^{σ−1} = f_ni τ_ni^{σ−1} c_ij^σ / B_nj``
  (``f_ii = f``, ``f_ni = f_X``);
* free entry (001 eq. 8): ``Σ_n f_ni J(φ*_nij) = f_E`` for every (i, j): the composite cost cancels;
* factor markets (Cobb-Douglas within the composite): ``w_Si S_i = Σ_j β_j R_ij``,
  ``w_Li L_i = Σ_j (1−β_j) R_ij``, which give the sector revenues ``R_ij`` from factor prices alone;
* goods markets: ``b_j Y_n = Σ_i X_nij``, ``X_nij = R_ij a_nij / Σ_m a_mij``,
  ``a_nij = σ c_ij f_ni [J + 1 − G](φ*_nij)`` (per-entrant sales, 001 §6.2); ``Y_n = w_Sn S_n + w_Ln L_n``;
* unknowns ``log B`` (4) and ``log(w_S0, w_L0, w_S1)`` (``w_L1 = 1``, numeraire); one goods equation
  is dropped by Walras' law. Entrants ``M_Eij = R_ij / Σ_n a_nij``.

Zero trade costs (τ = 1, f_X = 0: :func:`free_trade`) every producer sells everywhere at the world
demand ``B_j = Σ_n B_nj``: free entry ``f J(φ*_ij) = f_E`` with ``φ*_ij^{σ−1} = f c_ij^σ / B_j``, and
world goods-market clearing ``Σ_i R_ij = b_j Y_w``. Factor prices are *solved for* in each country;
their equality (FPE) is an outcome, tested, as are Stolper-Samuelson, Rybczynski and Heckscher-Ohlin.
The integrated equilibrium (Dixit-Norman) gives ``w_S/w_L = (Σ β_j b_j)/(Σ (1−β_j) b_j) · L_w/S_w``
(:func:`integrated_relative_wage`). Autarky (:func:`autarky`) is the closed economy of each country.

Regimes: a country that does not produce in both sectors (``R_ij ≤ 0``: outside the FPE set under
free trade, complete specialisation with costly trade) or an export cut-off at or below the
domestic cut-off (no selection into exporting: the strategy decomposition assumes it) gives
``result = REGIME_FAILURE`` (``optx.RESULTS.nonlinear_divergence``) and the flags ``diversified``,
``selection_into_export``; ``throw=True`` raises naming the regime.

Solver: Newton with Armijo backtracking (``engine.selection.DampedNewton`` via
``engine.selection.root_solve``: ``optimistix.root_find`` with ``ImplicitAdjoint``); integrals
``J``, ``1 − G`` from ``engine.quadrature``. Stopping rule: step and residual below ``1e3·eps``.
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

__all__ = [
    "TradeEquilibrium",
    "Autarky",
    "equilibrium",
    "free_trade",
    "autarky",
    "integrated_relative_wage",
    "REGIME_FAILURE",
]

REGIME_FAILURE = optx.RESULTS.nonlinear_divergence


def _kappa(sigma):
    return (sigma - 1.0) ** (sigma - 1.0) / sigma**sigma


class TradeEquilibrium(eqx.Module):
    """Two-country, two-sector, two-factor equilibrium with heterogeneous firms (001 §7).

    ``[country, sector]`` arrays: ``composite_cost`` c_ij, ``domestic_cutoff`` φ*_iij,
    ``export_cutoff`` φ*_nij (n ≠ i; under free trade every producer exports and it equals the
    domestic cut-off), ``average_productivity`` φ̃_ij of producers
    (``φ̃^{σ−1} = ∫_{φ*} φ^{σ−1} dG/(1−G(φ*))``), ``exporter_share``, ``mass_of_entrants``,
    ``mass_of_firms`` (producers), ``revenue`` R_ij, ``skilled_employment``, ``unskilled_employment``,
    ``net_exports``; ``[market, sector]``: ``market_demand`` B_nj, ``sector_price_index`` P_nj; by
    country: ``skilled_wage``, ``unskilled_wage`` (w_L1 = 1), ``relative_wage`` w_S/w_L, ``income`` Y,
    ``price_index`` P_n = Π_j (P_nj/b_j)^{b_j}, ``real_skilled_wage``, ``real_unskilled_wage``;
    flags ``diversified`` [i, j] (R_ij > 0), ``selection_into_export`` [i, j]; ``result``,
    ``num_steps``, ``residual``.
    """

    composite_cost: jax.Array
    domestic_cutoff: jax.Array
    export_cutoff: jax.Array
    average_productivity: jax.Array
    exporter_share: jax.Array
    mass_of_entrants: jax.Array
    mass_of_firms: jax.Array
    revenue: jax.Array
    skilled_employment: jax.Array
    unskilled_employment: jax.Array
    net_exports: jax.Array
    market_demand: jax.Array
    sector_price_index: jax.Array
    skilled_wage: jax.Array
    unskilled_wage: jax.Array
    relative_wage: jax.Array
    income: jax.Array
    price_index: jax.Array
    real_skilled_wage: jax.Array
    real_unskilled_wage: jax.Array
    diversified: jax.Array
    selection_into_export: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


class Autarky(eqx.Module):
    """Each country closed (001 §7 benchmark): ``domestic_cutoff`` [i, j] (the Melitz closed-economy
    cut-off, the same in every sector and country), ``average_productivity`` [i, j], ``revenue``
    R_ij = b_j Y_i, ``relative_wage`` w_S/w_L = (Σβb/Σ(1−β)b) L_i/S_i, ``skilled_wage``,
    ``unskilled_wage`` (w_L = 1 in each country), ``price_index`` P_i, ``real_skilled_wage``,
    ``real_unskilled_wage``; ``result``, ``num_steps``, ``residual``."""

    domestic_cutoff: jax.Array
    average_productivity: jax.Array
    revenue: jax.Array
    relative_wage: jax.Array
    skilled_wage: jax.Array
    unskilled_wage: jax.Array
    price_index: jax.Array
    real_skilled_wage: jax.Array
    real_unskilled_wage: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


# ------------------------------------------------------------------------------------------
# validation


def _check(dist, sigma, beta, shares, skilled, unskilled, f, f_E):
    if not isinstance(dist, dists.AbstractDistribution):
        fail("dist", type(dist).__name__, "an AbstractDistribution over productivity φ")
    if is_concrete(sigma) and not np.all(np.asarray(sigma) > 1):
        fail("sigma", sigma, "σ > 1 (001 eq. 2)")
    if isinstance(dist, (dists.Pareto, dists.Frechet)) and is_concrete(dist.shape) and is_concrete(sigma):
        if not np.all(np.asarray(dist.shape) > np.asarray(sigma) - 1.0):
            fail("dist.shape", dist.shape, f"shape k > σ − 1 = {np.asarray(sigma) - 1.0} (001 §6.1: finite average firm size)")
    for name, v in (("beta", beta), ("shares", shares), ("skilled", skilled), ("unskilled", unskilled)):
        if jnp.shape(v) != (2,):
            fail(name, v, "shape (2,): one entry per sector (beta, shares) or per country (endowments)")
    if is_concrete(beta):
        b = np.asarray(beta, float)
        if not np.all((b > 0) & (b < 1)):
            fail("beta", beta, "0 < β_j < 1 (skill intensity of sector j)")
        if np.isclose(b[0], b[1]):
            fail("beta", beta, "β_0 ≠ β_1: sectors must differ in skill intensity (001 §7)")
    if is_concrete(shares):
        s = np.asarray(shares, float)
        if not np.all(s > 0) or not np.isclose(s.sum(), 1.0):
            fail("shares", shares, "expenditure shares b_j > 0 with Σ_j b_j = 1")
    check_positive_scalar("skilled", skilled)
    check_positive_scalar("unskilled", unskilled)
    check_positive_scalar("f", f)
    check_positive_scalar("f_E", f_E)




def integrated_relative_wage(beta, shares, skilled, unskilled):
    """Integrated equilibrium (Dixit-Norman): ``w_S/w_L = (Σ_j β_j b_j)/(Σ_j (1−β_j) b_j) · L_w/S_w``."""
    beta, shares = jnp.asarray(beta), jnp.asarray(shares)
    return jnp.sum(beta * shares) / jnp.sum((1.0 - beta) * shares) * jnp.sum(jnp.asarray(unskilled)) / jnp.sum(
        jnp.asarray(skilled)
    )


# ------------------------------------------------------------------------------------------
# common pieces


def _wages(logw):
    wS = jnp.exp(jnp.stack([logw[0], logw[2]]))
    wL = jnp.stack([jnp.exp(logw[1]), jnp.ones((), logw.dtype)])
    return wS, wL


def _composite(wS, wL, beta):
    return jnp.exp(beta[None, :] * jnp.log(wS)[:, None] + (1.0 - beta[None, :]) * jnp.log(wL)[:, None])


def _revenues(wS, wL, beta, skilled, unskilled):
    """``R_ij`` from the factor markets: ``[β; 1−β] R_i = [w_S S_i; w_L L_i]`` (Cobb-Douglas)."""
    A = jnp.stack([beta, 1.0 - beta])  # rows: factor, columns: sector
    rhs = jnp.stack([wS * skilled, wL * unskilled])  # (factor, country)
    return jnp.transpose(jnp.linalg.solve(A, rhs))  # (country, sector)


def _guess_logb(dist, sigma, f, dt, shape):
    med = jnp.asarray(dist.icdf(jnp.asarray(0.5, dt)), dt)
    return jnp.full(shape, jnp.log(f) - (sigma - 1.0) * jnp.log(med), dt)


# ------------------------------------------------------------------------------------------
# costly trade


def _trade_pieces(y, args, rule):
    dist, sigma, beta, shares, skilled, unskilled, f, f_X, f_E, tau = args
    s = sigma - 1.0
    logB = jnp.reshape(y[0], (2, 2))  # [n, j]
    wS, wL = _wages(y[1])
    c = _composite(wS, wL, beta)  # [i, j]
    eye = jnp.eye(2, dtype=bool)
    fmat = jnp.where(eye, f, f_X)  # [n, i]
    tmat = jnp.where(eye, 1.0, tau)
    logcut = (jnp.log(fmat)[:, :, None] + s * jnp.log(tmat)[:, :, None] + sigma * jnp.log(c)[None, :, :]
              - logB[:, None, :]) / s  # [n, i, j]
    cut = jnp.exp(logcut)
    S, J = quad.selection_integrals(dist, cut, s, rule=rule)
    fe = jnp.log(jnp.sum(fmat[:, :, None] * J, axis=0)) - jnp.log(f_E)  # [i, j]
    a = sigma * c[None, :, :] * fmat[:, :, None] * (J + S)  # [n, i, j]
    R = _revenues(wS, wL, beta, skilled, unskilled)
    X = R[None, :, :] * a / jnp.sum(a, axis=0, keepdims=True)  # [n, i, j]
    Y = wS * skilled + wL * unskilled
    demand = shares[None, :] * Y[:, None]  # [n, j]
    goods = (jnp.sum(X, axis=1) - demand) / demand
    return dict(logB=logB, wS=wS, wL=wL, c=c, cut=cut, S=S, J=J, fe=fe, a=a, R=R, X=X, Y=Y, goods=goods)


def _trade_residual(y, args, rule):
    p = _trade_pieces(y, args, rule)
    return (jnp.ravel(p["fe"]), jnp.ravel(p["goods"])[:3])


def _price_indices(sigma, shares, B, Y):
    Pnj = (B / (_kappa(sigma) * shares[None, :] * Y[:, None])) ** (1.0 / (sigma - 1.0))
    P = jnp.exp(jnp.sum(shares[None, :] * (jnp.log(Pnj) - jnp.log(shares)[None, :]), axis=1))
    return Pnj, P


def _finish(sol_result, steps, residual, sigma, beta, shares, wS, wL, c, B, dom_cut, dom_S, dom_J, exp_cut,
            exp_S, R, entrants_per_revenue, net, Y, throw, selection_ok):
    s = sigma - 1.0
    ME = R * entrants_per_revenue
    Mf = ME * dom_S
    phitilde = dom_cut * ((dom_J + dom_S) / dom_S) ** (1.0 / s)
    Pnj, P = _price_indices(sigma, shares, B, Y)
    diversified = R > 0
    solved = sol_result == optx.RESULTS.successful
    interior = jnp.all(diversified) & jnp.all(selection_ok)
    result = optx.RESULTS.where(solved, optx.RESULTS.where(interior, optx.RESULTS.successful, REGIME_FAILURE),
                                sol_result)
    if throw:
        wS = eqx.error_if(wS, ~solved, "factor abundance: the equilibrium solve did not converge")
        wS = eqx.error_if(
            wS, solved & ~jnp.all(diversified),
            "factor abundance: a country does not produce in both sectors (R_ij ≤ 0): the endowments lie "
            "outside the factor-price-equalisation (diversification) set, a corner the formulas of 001 §7 "
            "do not cover",
        )
        wS = eqx.error_if(
            wS, solved & jnp.all(diversified) & ~jnp.all(selection_ok),
            "factor abundance: an export cut-off lies at or below the domestic cut-off (no selection into "
            "exporting); lower f_X·τ^(σ−1) relative to f breaks the assumption of 001 §5.5",
        )
    return TradeEquilibrium(
        composite_cost=c,
        domestic_cutoff=dom_cut,
        export_cutoff=exp_cut,
        average_productivity=phitilde,
        exporter_share=exp_S / dom_S,
        mass_of_entrants=ME,
        mass_of_firms=Mf,
        revenue=R,
        skilled_employment=beta[None, :] * R / wS[:, None],
        unskilled_employment=(1.0 - beta[None, :]) * R / wL[:, None],
        net_exports=net,
        market_demand=B,
        sector_price_index=Pnj,
        skilled_wage=wS,
        unskilled_wage=wL,
        relative_wage=wS / wL,
        income=Y,
        price_index=P,
        real_skilled_wage=wS / P,
        real_unskilled_wage=wL / P,
        diversified=diversified,
        selection_into_export=selection_ok,
        result=result,
        num_steps=steps,
        residual=residual,
    )


@eqx.filter_jit
def _equilibrium(dist, sigma, beta, shares, skilled, unskilled, f, f_X, f_E, tau, max_steps, throw, rule):
    dt = sigma.dtype
    args = (dist, sigma, beta, shares, skilled, unskilled, f, f_X, f_E, tau)
    y0 = (jnp.ravel(_guess_logb(dist, sigma, f, dt, (2, 2))), jnp.zeros((3,), dt))
    fn = lambda y, a: _trade_residual(y, a, rule)  # noqa: E731
    tol = 1e3 * float(jnp.finfo(dt).eps)
    rs = sel.root_solve(fn, y0, args, solver=sel.DampedNewton(rtol=tol, atol=tol), max_steps=max_steps, throw=False)
    p = _trade_pieces(rs.value, args, rule)
    cut, S, J, a, R, X = p["cut"], p["S"], p["J"], p["a"], p["R"], p["X"]
    dom = lambda z: jnp.stack([z[0, 0], z[1, 1]])  # noqa: E731  [i, j] from [n, i, j] with n = i
    exp_ = lambda z: jnp.stack([z[1, 0], z[0, 1]])  # noqa: E731  n ≠ i
    dom_cut, exp_cut = dom(cut), exp_(cut)
    net0 = X[1, 0] - X[0, 1]  # country 0's exports minus imports, by sector
    B = jnp.exp(p["logB"])
    return _finish(rs.result, rs.steps, rs.residual, sigma, beta, shares, p["wS"], p["wL"], p["c"], B, dom_cut,
                   dom(S), dom(J), exp_cut, exp_(S), R, 1.0 / jnp.sum(a, axis=0), jnp.stack([net0, -net0]),
                   p["Y"], throw, exp_cut > dom_cut)


def equilibrium(
    dist,
    *,
    sigma,
    beta,
    shares,
    skilled,
    unskilled,
    f,
    f_X,
    f_E,
    tau,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> TradeEquilibrium:
    """Costly trade (τ ≥ 1 and f_X > 0, symmetric between the two countries), 001 §7.

    ``beta`` (2,) skill intensities, ``shares`` (2,) expenditure shares, ``skilled``/``unskilled``
    (2,) endowments by country. See the module docstring for the equations and regimes; use
    :func:`free_trade` for τ = 1, f_X = 0.
    """
    _check(dist, sigma, beta, shares, skilled, unskilled, f, f_E)
    check_positive_scalar("f_X", f_X)
    if is_concrete(tau) and not (np.all(np.isfinite(np.asarray(tau))) and np.all(np.asarray(tau) >= 1.0)):
        fail("tau", tau, "τ ≥ 1 (iceberg trade cost)")
    dt = _dtype(sigma, beta, shares, skilled, unskilled, f, f_X, f_E, tau)
    vals = (jnp.asarray(v, dt) for v in (sigma, beta, shares, skilled, unskilled, f, f_X, f_E, tau))
    return _equilibrium(dist, *vals, max_steps, throw, rule)


# ------------------------------------------------------------------------------------------
# zero trade costs


def _free_pieces(y, args, rule):
    dist, sigma, beta, shares, skilled, unskilled, f, f_E = args
    s = sigma - 1.0
    logBw = y[0]  # (j,)
    wS, wL = _wages(y[1])
    c = _composite(wS, wL, beta)
    cut = jnp.exp((jnp.log(f) + sigma * jnp.log(c) - logBw[None, :]) / s)  # [i, j]
    S, J = quad.selection_integrals(dist, cut, s, rule=rule)
    fe = jnp.log(f * J) - jnp.log(f_E)
    a = sigma * c * f * (J + S)  # world sales per entrant
    R = _revenues(wS, wL, beta, skilled, unskilled)
    Y = wS * skilled + wL * unskilled
    goods = (jnp.sum(R[:, 0]) - shares[0] * jnp.sum(Y)) / (shares[0] * jnp.sum(Y))
    return dict(logBw=logBw, wS=wS, wL=wL, c=c, cut=cut, S=S, J=J, fe=fe, a=a, R=R, Y=Y, goods=goods)


def _free_residual(y, args, rule):
    p = _free_pieces(y, args, rule)
    return (jnp.ravel(p["fe"]), jnp.reshape(p["goods"], (1,)))


@eqx.filter_jit
def _free_trade(dist, sigma, beta, shares, skilled, unskilled, f, f_E, max_steps, throw, rule):
    dt = sigma.dtype
    args = (dist, sigma, beta, shares, skilled, unskilled, f, f_E)
    y0 = (_guess_logb(dist, sigma, f, dt, (2,)), jnp.zeros((3,), dt))
    fn = lambda y, a: _free_residual(y, a, rule)  # noqa: E731
    tol = 1e3 * float(jnp.finfo(dt).eps)
    rs = sel.root_solve(fn, y0, args, solver=sel.DampedNewton(rtol=tol, atol=tol), max_steps=max_steps, throw=False)
    p = _free_pieces(rs.value, args, rule)
    Y, R = p["Y"], p["R"]
    Bw = jnp.exp(p["logBw"])
    B = Bw[None, :] * (Y / jnp.sum(Y))[:, None]  # common price index: B_nj ∝ Y_n
    sales = R[:, None, :] * (Y / jnp.sum(Y))[None, :, None]  # [i, n, j]: i's sales in n
    net0 = sales[0, 1] - sales[1, 0]
    return _finish(rs.result, rs.steps, rs.residual, sigma, beta, shares, p["wS"], p["wL"], p["c"], B, p["cut"],
                   p["S"], p["J"], p["cut"], p["S"], R, 1.0 / p["a"], jnp.stack([net0, -net0]), Y, throw,
                   jnp.ones((2, 2), bool))


def free_trade(
    dist,
    *,
    sigma,
    beta,
    shares,
    skilled,
    unskilled,
    f,
    f_E,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> TradeEquilibrium:
    """Zero trade costs (τ = 1, f_X = 0), 001 §7: all producers export; factor prices in the two
    countries are unknowns of the solve (FPE is an outcome). Outside the FPE set a country
    specialises (``diversified`` False, ``result = REGIME_FAILURE``)."""
    _check(dist, sigma, beta, shares, skilled, unskilled, f, f_E)
    dt = _dtype(sigma, beta, shares, skilled, unskilled, f, f_E)
    vals = (jnp.asarray(v, dt) for v in (sigma, beta, shares, skilled, unskilled, f, f_E))
    return _free_trade(dist, *vals, max_steps, throw, rule)


# ------------------------------------------------------------------------------------------
# autarky


def _closed_fe(y, args, rule):
    dist, sigma, f, f_E = args
    cut = jnp.exp(y)
    _, J = quad.selection_integrals(dist, cut, sigma - 1.0, rule=rule)
    return jnp.log(f * J) - jnp.log(f_E)


@eqx.filter_jit
def _autarky(dist, sigma, beta, shares, skilled, unskilled, f, f_E, max_steps, throw, rule):
    dt = sigma.dtype
    y0 = jnp.log(jnp.asarray(dist.icdf(jnp.asarray(0.5, dt)), dt))
    fn = lambda y, a: _closed_fe(y, a, rule)  # noqa: E731
    tol = 1e3 * float(jnp.finfo(dt).eps)
    rs = sel.root_solve(fn, y0, (dist, sigma, f, f_E), solver=optx.Newton(rtol=tol, atol=tol),
                        max_steps=max_steps, throw=throw)
    s = sigma - 1.0
    cut = jnp.exp(rs.value)
    S, J = quad.selection_integrals(dist, cut, s, rule=rule)
    phitilde = cut * ((J + S) / S) ** (1.0 / s)
    rel = jnp.sum(beta * shares) / jnp.sum((1.0 - beta) * shares) * unskilled / skilled  # w_S/w_L by country
    wS, wL = rel, jnp.ones_like(rel)
    Y = wS * skilled + wL * unskilled
    c = _composite(wS, wL, beta)
    B = f * c**sigma / cut**s  # [i, j]
    Pnj, P = _price_indices(sigma, shares, B, Y)
    ones = jnp.ones((2, 2), dt)
    return Autarky(
        domestic_cutoff=cut * ones,
        average_productivity=phitilde * ones,
        revenue=shares[None, :] * Y[:, None],
        relative_wage=rel,
        skilled_wage=wS,
        unskilled_wage=wL,
        price_index=P,
        real_skilled_wage=wS / P,
        real_unskilled_wage=wL / P,
        result=rs.result,
        num_steps=rs.steps,
        residual=rs.residual,
    )


def autarky(
    dist,
    *,
    sigma,
    beta,
    shares,
    skilled,
    unskilled,
    f,
    f_E,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> Autarky:
    """Each country closed: the Melitz closed-economy cut-off ``f J(φ*) = f_E`` (001 eq. 5) in every
    sector, and Cobb-Douglas factor prices ``w_S/w_L = (Σβb/Σ(1−β)b) L_i/S_i``."""
    _check(dist, sigma, beta, shares, skilled, unskilled, f, f_E)
    dt = _dtype(sigma, beta, shares, skilled, unskilled, f, f_E)
    vals = (jnp.asarray(v, dt) for v in (sigma, beta, shares, skilled, unskilled, f, f_E))
    return _autarky(dist, *vals, max_steps, throw, rule)
