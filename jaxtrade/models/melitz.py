"""Melitz-type equilibria for any productivity distribution.

Melitz & Redding (2014), *Heterogeneous Firms and Trade* (001), Sections 3-6, and Baldwin &
Robert-Nicoud (2004) (002). Every model here is a set of *strategies* handed to the selection engine
(:mod:`jaxtrade._selection`): a firm with productivity φ drawn from ``G`` earns
``c · φ^{σ−1} · B_n − F`` from each strategy; cut-offs and free entry are solved by
``optimistix.root_find`` (Newton, implicit differentiation), integrals over ``G`` by the
quadrature of :mod:`jaxtrade._quadrature`. Pareto closed forms are tests, not the engine.

Conventions
-----------
* Productivity φ (not cost) is the random variable; ``dist`` is any
  :class:`jaxtrade.distributions.AbstractDistribution` over φ.
* **Destination first**: ``tau[n, i]`` (τ_ni) is the iceberg cost of shipping from origin ``i`` to
  destination ``n``; ``f[n, i]`` the fixed cost (in origin-``i`` labour) of serving ``n`` from ``i``;
  ``f[i, i]`` is the domestic fixed cost (overhead production included, 001 §5.1).
* ``B_n = (σ−1)^{σ−1}/σ^σ · X_n P_n^{σ−1}`` is market demand (001 §3.3, eq. 10); ``X_n = β w_n L̄_n``
  is spending on the differentiated sector.
* Welfare per worker is ``U_n = w_n P_n^{−β}`` (001 eq. 13, one differentiated sector with Cobb-Douglas
  share β and the numeraire outside good).
* Every result carries ``result`` (an ``optimistix.RESULTS`` code), ``num_steps`` (``steps`` is the
  old name, a read-only alias), ``residual``, ``condition`` (a :class:`CONDITIONS` code naming a
  violated regularity condition or a corner; ``CONDITIONS.satisfied`` otherwise) and
  ``quadrature_error`` (estimated relative error of the entrants' expected profit).
* No silent wrong answer: every regularity condition (σ > 1, a finite ``E[φ^{σ−1}]`` for any
  distribution, τ ≥ 1, selection into exporting, the HMY sorting, positive costs) is checked on
  concrete inputs (``JaxtradeInputError``) *and* inside the graph, so under ``jit``/``vmap`` a
  violation is ``result = RESULTS.nonlinear_divergence`` with ``condition`` naming it; with
  ``throw=True`` (the default) every failure raises ``JaxtradeSolveError`` naming the condition (or the
  solver's reason) and the batch index.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..engine import quadrature as quad
from ..engine import selection as sel
from ..engine import distributions as dists
from ..engine.validation import check_positive_scalar, fail, is_concrete
from ..engine.validation import float_dtype as _dtype
from ..engine.selection import price_index_from_demand as _price_index

CONDITIONS = sel.CONDITIONS
C = CONDITIONS

__all__ = [
    "CONDITIONS",
    "ClosedEconomy",
    "SymmetricOpenEconomy",
    "MultiCountry",
    "ExportVersusFDI",
    "KrugmanEconomy",
    "BaldwinRobertNicoud",
    "DynamicMelitz",
    "closed_economy",
    "symmetric_open_economy",
    "multi_country",
    "export_versus_fdi",
    "krugman_economy",
    "acr_welfare_gain",
    "krugman_exports",
    "trade_elasticity",
    "baldwin_robert_nicoud",
    "dynamic_melitz",
]


# ------------------------------------------------------------------------------------------
# validation


def _check_sigma(sigma):
    if is_concrete(sigma):
        a = np.asarray(sigma)
        if not np.all(np.isfinite(a)) or not np.all(a > 1):
            fail("sigma", sigma, "σ > 1 (CES demand elastic enough for monopolistic competition, 001 eq. 2)")


def _check_dist(dist, sigma):
    """Finite average firm size needs ``E[φ^{σ−1}] < ∞`` (001 §6.1: Pareto shape k > σ − 1)."""
    ds = dist if isinstance(dist, (tuple, list)) else (dist,)
    for d in ds:
        if not isinstance(d, dists.AbstractDistribution):
            fail("dist", type(d).__name__, "an AbstractDistribution over productivity φ")
        if isinstance(d, (dists.Pareto, dists.Frechet)) and is_concrete(d.shape) and is_concrete(sigma):
            if not np.all(np.asarray(d.shape) > np.asarray(sigma) - 1.0):
                name = "Pareto" if isinstance(d, dists.Pareto) else "Fréchet"
                fail(
                    "dist.shape",
                    d.shape,
                    f"{name} shape k > σ − 1 = {np.asarray(sigma) - 1.0} (001 §6.1, footnote 25: "
                    "average firm size must be finite)",
                )
        elif is_concrete(sigma) and all(is_concrete(x) for x in jax.tree_util.tree_leaves(d)):
            b = d.tail_index()  # a tracer when called under an outer jit: then the in-graph check decides
            if is_concrete(b) and not np.all(np.asarray(b) > np.asarray(sigma) - 1.0):
                fail(
                    "dist",
                    f"{type(d).__name__} with tail index {b}",
                    f"tail index b > σ − 1 = {np.asarray(sigma) - 1.0}: E[φ^(σ−1)] finite (001 §6.1; average "
                    "firm size must be finite)",
                )


def _check_selection(tau, f_x, f, sigma):
    """Selection into exporting, 001 §5.5: ``τ^{σ−1} f_X > f``."""
    if all(is_concrete(x) for x in (tau, f_x, f, sigma)):
        t, fx, ff, s = (np.asarray(x) for x in (tau, f_x, f, sigma))
        if not np.all(t ** (s - 1.0) * fx > ff):
            fail(
                "f_x",
                f_x,
                "τ^(σ−1) f_x > f: selection into export markets (001 §5.5); with τ^(σ−1) f_x ≤ f every "
                "producer would export",
            )


def _check_tau(name, tau):
    if is_concrete(tau):
        a = np.asarray(tau)
        if not np.all(np.isfinite(a)) or not np.all(a >= 1.0):
            fail(name, tau, f"{name} ≥ 1 (iceberg trade cost)")


def _positive(*xs):
    """In-graph: every argument finite and > 0."""
    ok = jnp.asarray(True)
    for x in xs:
        x = jnp.asarray(x)
        ok = ok & jnp.all(jnp.isfinite(x) & (x > 0))
    return ok


def _combine(cond, *more):
    """The first violated condition: ``cond`` (the model's own checks) first, then each of ``more``."""
    for m in more:
        cond = C.where(cond == C.satisfied, m, cond)
    return cond






# ------------------------------------------------------------------------------------------
# closed economy (001 Section 4)


class ClosedEconomy(eqx.Module):
    """Closed-economy equilibrium (001 §4.1-4.2).

    Fields: ``cutoff`` φ* (eq. 5), ``market_demand`` B (= f φ*^{1−σ}), ``survival_probability``
    1 − G(φ*), ``average_productivity`` φ̃ (``φ̃^{σ−1} = ∫_{φ*} φ^{σ−1} dG/(1−G(φ*))``),
    ``average_profit`` π̄ = f_E/(1−G(φ*)), ``average_revenue`` r̄ = σ(π̄ + f), ``mass_of_firms``
    M = βL/r̄, ``mass_of_entrants`` M_E = M/(1−G(φ*)), ``price_index`` P (eq. 12),
    ``welfare`` P^{−β} (eq. 13).
    """

    cutoff: jax.Array
    market_demand: jax.Array
    survival_probability: jax.Array
    average_productivity: jax.Array
    average_profit: jax.Array
    average_revenue: jax.Array
    mass_of_firms: jax.Array
    mass_of_entrants: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    sigma: jax.Array
    fixed_cost: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    condition: sel.CONDITIONS = None
    quadrature_error: jax.Array = None

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps

    def revenue(self, phi):
        """``r(φ) = σ B φ^{σ−1}`` for producers (φ ≥ φ*), 0 otherwise (001 §4.1)."""
        phi = jnp.asarray(phi)
        return jnp.where(phi >= self.cutoff, self.sigma * self.market_demand * phi ** (self.sigma - 1.0), 0.0)

    def profit(self, phi):
        """``π(φ) = max(0, B φ^{σ−1} − f)`` (exiting firms earn 0)."""
        phi = jnp.asarray(phi)
        return jnp.maximum(self.market_demand * phi ** (self.sigma - 1.0) - self.fixed_cost, 0.0)

    def employment(self, phi):
        """``l(φ) = q/φ + f = r(σ−1)/σ + f`` for producers."""
        r = self.revenue(phi)
        return jnp.where(r > 0, r * (self.sigma - 1.0) / self.sigma + self.fixed_cost, 0.0)


def closed_economy(
    dist,
    sigma,
    f,
    f_e,
    L=1.0,
    *,
    beta=1.0,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> ClosedEconomy:
    """Melitz closed economy for any productivity distribution (001 §4, eq. 5).

    Solves ``f J(φ*) = f_E`` with ``J(φ*) = ∫_{φ*} [(φ/φ*)^{σ−1} − 1] dG`` for the market demand
    ``B = f φ*^{1−σ}`` (Newton in ``log B``), then the mass of firms from ``L = R = M r̄``
    (sector spending ``X = βL``, wage 1) and the price index from eq. 12.
    """
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    for n, v in (("f", f), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(n, v)
    dt = _dtype(sigma, f, f_e, L)
    sigma, f, f_e, L, beta = (jnp.asarray(x, dt) for x in (sigma, f, f_e, L, beta))
    return _closed_economy(dist, sigma, f, f_e, L, beta, max_steps, throw, rule)


@eqx.filter_jit
def _closed_economy(dist, sigma, f, f_e, L, beta, max_steps, throw, rule):
    dt = sigma.dtype
    st = sel.Strategies(
        multiplier=jnp.ones((1,), dt),
        fixed_cost=jnp.reshape(f, (1,)),
        weight=jnp.ones((1,), dt),
        origin=(0,),
        market=(0,),
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(f_e, (1,)), 1, rule)
    sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
    cond = _combine(sel.first_violation((_positive(f, f_e, L, beta), C.invalid_parameter)), sol.condition)
    cut, S, Jv = sol.cutoffs[0], sol.survival[0], sol.J[0]
    B = sol.demand[0]
    phitilde = cut * ((Jv + S) / S) ** (1.0 / (sigma - 1.0))
    pibar = f_e / S
    rbar = sigma * (pibar + f)
    M = beta * L / rbar
    P = _price_index(sigma, beta * L, B)
    return sel.tie(ClosedEconomy(
        cutoff=cut,
        market_demand=B,
        survival_probability=S,
        average_productivity=phitilde,
        average_profit=pibar,
        average_revenue=rbar,
        mass_of_firms=M,
        mass_of_entrants=M / S,
        price_index=P,
        welfare=P ** (-beta),
        sigma=sigma,
        fixed_cost=f,
        result=sel.report(sol.result, cond, throw),
        num_steps=sol.num_steps,
        residual=sol.residual,
        condition=cond,
        quadrature_error=sol.quadrature_error,
    ), throw)


# ------------------------------------------------------------------------------------------
# symmetric open economy (001 Sections 5.5-5.6)


class SymmetricOpenEconomy(eqx.Module):
    """Open economy with ``N`` symmetric countries (001 §5.5, eq. 14-16).

    ``cutoff`` φ* (eq. 14), ``export_cutoff`` φ*_X = τ (f_X/f)^{1/(σ−1)} φ* (eq. 15),
    ``market_demand`` B, ``exporter_share`` (1−G(φ*_X))/(1−G(φ*)) (fraction of producers that
    export), ``domestic_trade_share`` λ_nn = X_nn/X_n, ``import_share`` λ_ni per partner,
    ``mass_of_firms`` M (producers per country), ``mass_of_entrants`` M_E, ``mass_of_exporters``,
    ``average_productivity`` φ̃ of producers, ``average_revenue`` r̄ = σ(π̄ + f̄),
    ``price_index`` P (eq. 12), ``welfare`` P^{−β}, ``autarky_cutoff`` φ*_A (eq. 5 with the same
    parameters) and ``gains_from_trade`` U/U_A = φ*/φ*_A (eq. 12-13; same labour).
    """

    cutoff: jax.Array
    export_cutoff: jax.Array
    market_demand: jax.Array
    survival_probability: jax.Array
    exporter_share: jax.Array
    domestic_trade_share: jax.Array
    import_share: jax.Array
    mass_of_firms: jax.Array
    mass_of_entrants: jax.Array
    mass_of_exporters: jax.Array
    average_productivity: jax.Array
    average_revenue: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    autarky_cutoff: jax.Array
    autarky_market_demand: jax.Array
    gains_from_trade: jax.Array
    sigma: jax.Array
    tau: jax.Array
    fixed_cost: jax.Array
    export_fixed_cost: jax.Array
    n_countries: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    condition: sel.CONDITIONS = None
    quadrature_error: jax.Array = None

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps

    def profit(self, phi):
        """Total profit ``π(φ) = max(0, π_D) + (N−1) max(0, π_X)`` (001 Figure 1.2)."""
        phi = jnp.asarray(phi)
        z = phi ** (self.sigma - 1.0)
        pd = jnp.maximum(self.market_demand * z - self.fixed_cost, 0.0)
        px = jnp.maximum(self.market_demand * self.tau ** (1.0 - self.sigma) * z - self.export_fixed_cost, 0.0)
        return pd + (self.n_countries - 1.0) * px

    def autarky_profit(self, phi):
        """``π^A(φ) = max(0, B^A φ^{σ−1} − f)`` (001 Figure 1.3)."""
        phi = jnp.asarray(phi)
        return jnp.maximum(self.autarky_market_demand * phi ** (self.sigma - 1.0) - self.fixed_cost, 0.0)

    def revenue(self, phi):
        """Total revenue ``σ B φ^{σ−1} [1 + (N−1) τ^{1−σ} 1(φ ≥ φ*_X)]`` for producers."""
        phi = jnp.asarray(phi)
        z = phi ** (self.sigma - 1.0)
        rd = jnp.where(phi >= self.cutoff, self.sigma * self.market_demand * z, 0.0)
        rx = jnp.where(phi >= self.export_cutoff, self.sigma * self.market_demand * self.tau ** (1.0 - self.sigma) * z, 0.0)
        return rd + (self.n_countries - 1.0) * rx


def symmetric_open_economy(
    dist,
    sigma,
    f,
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
) -> SymmetricOpenEconomy:
    """Symmetric open economy (001 §5.5): ``f J(φ*) + (N−1) f_X J(φ*_X) = f_E`` (eq. 16).

    Two strategies share one market demand B: serve home (multiplier 1, fixed cost f) and export
    to each of the ``N−1`` partners (multiplier τ^{1−σ}, fixed cost f_X). Requires selection into
    exporting, ``τ^{σ−1} f_X > f``. The autarky equilibrium (same G, σ, f, f_E) is solved alongside
    for the gains from trade. Trade flows (001 §6.2): ``X_ni ∝ f_ni [J(φ*_ni) + 1 − G(φ*_ni)]``.
    """
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    for n, v in (("f", f), ("f_x", f_x), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(n, v)
    _check_tau("tau", tau)
    _check_selection(tau, f_x, f, sigma)
    if is_concrete(n_countries) and not np.all(np.asarray(n_countries) >= 2):
        fail("n_countries", n_countries, "n_countries ≥ 2")
    dt = _dtype(sigma, f, f_x, f_e, tau, L)
    sigma, f, f_x, f_e, tau, N, L, beta = (
        jnp.asarray(x, dt) for x in (sigma, f, f_x, f_e, tau, n_countries, L, beta)
    )
    return _symmetric_open_economy(dist, sigma, f, f_x, f_e, tau, N, L, beta, max_steps, throw, rule)


@eqx.filter_jit
def _symmetric_open_economy(dist, sigma, f, f_x, f_e, tau, N, L, beta, max_steps, throw, rule):
    dt = sigma.dtype
    st = sel.Strategies(
        multiplier=jnp.stack([jnp.ones((), dt), tau ** (1.0 - sigma)]),
        fixed_cost=jnp.stack([f, f_x]),
        weight=jnp.stack([jnp.ones((), dt), N - 1.0]),
        origin=(0, 0),
        market=(0, 0),
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(f_e, (1,)), 1, rule)
    sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
    aut = _closed_economy(dist, sigma, f, f_e, L, beta, max_steps, False, rule)
    own = sel.first_violation(
        (_positive(f, f_x, f_e, L, beta), C.invalid_parameter),
        (tau >= 1.0, C.tau_below_one),
        (N >= 2, C.invalid_parameter),
        (tau ** (sigma - 1.0) * f_x > f, C.no_export_selection),
    )
    cond = _combine(own, sol.condition, aut.condition)
    cut, cutx = sol.cutoffs[0], sol.cutoffs[1]
    S, SX = sol.survival[0], sol.survival[1]
    Jd, Jx = sol.J[0], sol.J[1]
    B = sol.demand[0]
    dom = f * (Jd + S)
    exp_ = f_x * (Jx + SX)
    denom = dom + (N - 1.0) * exp_
    pibar = f_e / S
    fbar = f + (N - 1.0) * f_x * SX / S
    rbar = sigma * (pibar + fbar)
    M = beta * L / rbar
    P = _price_index(sigma, beta * L, B)
    result = optx.RESULTS.where(aut.result == optx.RESULTS.successful, sol.result, aut.result)
    return sel.tie(SymmetricOpenEconomy(
        cutoff=cut,
        export_cutoff=cutx,
        market_demand=B,
        survival_probability=S,
        exporter_share=SX / S,
        domestic_trade_share=dom / denom,
        import_share=exp_ / denom,
        mass_of_firms=M,
        mass_of_entrants=M / S,
        mass_of_exporters=M * SX / S,
        average_productivity=cut * ((Jd + S) / S) ** (1.0 / (sigma - 1.0)),
        average_revenue=rbar,
        price_index=P,
        welfare=P ** (-beta),
        autarky_cutoff=aut.cutoff,
        autarky_market_demand=aut.market_demand,
        gains_from_trade=(cut / aut.cutoff) ** beta,
        sigma=sigma,
        tau=tau,
        fixed_cost=f,
        export_fixed_cost=f_x,
        n_countries=N,
        result=sel.report(result, cond, throw),
        num_steps=sol.num_steps + aut.num_steps,
        residual=jnp.maximum(sol.residual, aut.residual),
        condition=cond,
        quadrature_error=jnp.maximum(sol.quadrature_error, aut.quadrature_error),
    ), throw)


def acr_welfare_gain(domestic_trade_share, trade_elasticity, expenditure_share=None, labor_ratio=None):
    """Arkolakis-Costinot-Rodríguez-Clare welfare gain from autarky (001 §6.3, eq. 24-25).

    One sector (``expenditure_share=None``): ``λ_nn^{−1/ε}``. Under Pareto productivity (ε = k) and no
    labour reallocation across sectors this is the exact welfare gain of the Melitz model; for other
    distributions it is a benchmark to compare with.

    ``J ≥ 1`` sectors: the last axis of ``domestic_trade_share`` λ_nnj, ``trade_elasticity`` k_j,
    ``expenditure_share`` β_j and ``labor_ratio`` L̂_nj = L_nj^open/L_nj^closed (default 1: no
    reallocation) indexes the sectors, and the gain is the unnumbered equation after eq. 25,
    ``Π_j (λ_nnj/L̂_nj)^{−β_j/k_j}``. With one differentiated sector beside an outside good this is
    ``(λ_nn/L̂_n)^{−β/k}`` (pass ``expenditure_share=[β]``).
    """
    lam = jnp.asarray(domestic_trade_share)
    eps = jnp.asarray(trade_elasticity)
    if expenditure_share is None:
        if labor_ratio is None:
            return lam ** (-1.0 / eps)
        return (lam / jnp.asarray(labor_ratio)) ** (-1.0 / eps)
    beta = jnp.asarray(expenditure_share)
    lr = jnp.ones_like(lam) if labor_ratio is None else jnp.broadcast_to(jnp.asarray(labor_ratio), lam.shape)
    expo = jnp.broadcast_to(-beta / eps, lam.shape)
    return jnp.prod((lam / lr) ** expo, axis=-1)


def trade_elasticity(dist, sigma, f, f_x, f_e, tau, n_countries=2, *, rule=quad.DEFAULT_RULE):
    """Partial trade elasticity ``ε = −∂ ln(X_ni/X_nn)/∂ ln τ`` at the symmetric equilibrium,
    holding market demand B fixed (the macro-level elasticity of ACR; ``= k`` under Pareto,
    ``= σ−1`` in Krugman). Computed by forward-mode differentiation of the engine's integrals."""
    eq = symmetric_open_economy(dist, sigma, f, f_x, f_e, tau, n_countries, rule=rule)
    B = jax.lax.stop_gradient(eq.market_demand)
    s = jnp.asarray(sigma) - 1.0

    def log_ratio(log_tau):
        t = jnp.exp(log_tau)
        cutx = (f_x / (B * t ** (-s))) ** (1.0 / s)
        Sx, Jx = quad.selection_integrals(dist, cutx, s, rule=rule)
        # X_ni ∝ τ^{1−σ} ∫_{φ_X} φ^{σ−1} dG = τ^{1−σ} φ_X^{σ−1} (J_X + S_X)
        return -s * log_tau + s * jnp.log(cutx) + jnp.log(Jx + Sx)

    lt = jnp.log(jnp.asarray(tau, dtype=jnp.result_type(B)))
    _, d = jax.jvp(log_ratio, (lt,), (jnp.ones_like(lt),))
    return -d


# ------------------------------------------------------------------------------------------
# asymmetric countries (001 Sections 5.1-5.4, 5.7, 6.2)


class MultiCountry(eqx.Module):
    """Asymmetric multi-country equilibrium (001 eq. 6-12, 19-20). Destination-first subscripts.

    ``cutoff[n]`` φ*_nn, ``export_cutoff[n, i]`` φ*_ni (diagonal = domestic cut-offs),
    ``market_demand[n]`` B_n, ``wage[i]`` w_i, ``mass_of_entrants[i]`` M_Ei (eq. 11),
    ``trade_flows[n, i]`` X_ni, ``trade_shares[n, i]`` λ_ni = X_ni/X_n, ``domestic_trade_share[n]``,
    ``extensive_margin[n, i]`` M_Ei (1 − G_i(φ*_ni)) (number of sellers from i in n, eq. 20),
    ``intensive_margin[n, i]`` X_ni / extensive margin (average firm sales, eq. 20),
    ``price_index[n]`` P_n (eq. 10), ``welfare[n]`` w_n P_n^{−β}, ``sector_labor[i]`` R_i/w_i
    (labour in the differentiated sector), ``outside_good_produced[i]`` (``sector_labor ≤ L̄``, within
    ``sqrt(eps)``; always True without an outside good), ``entry_positive[i]`` (M_Ei > 0: an interior
    solution). A corner (some ``M_Ei ≤ 0``, or an outside good not produced) is not an equilibrium of
    these equations: ``condition`` is ``CONDITIONS.corner_no_entry`` or
    ``CONDITIONS.outside_good_not_produced`` and ``result`` a failure (``throw=True`` raises).
    """

    cutoff: jax.Array
    export_cutoff: jax.Array
    market_demand: jax.Array
    wage: jax.Array
    mass_of_entrants: jax.Array
    trade_flows: jax.Array
    trade_shares: jax.Array
    domestic_trade_share: jax.Array
    extensive_margin: jax.Array
    intensive_margin: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    sector_labor: jax.Array
    outside_good_produced: jax.Array
    entry_positive: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    condition: sel.CONDITIONS = None
    quadrature_error: jax.Array = None

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps


def _pair_strategies(N, multiplier, fixed_cost, dt):
    """One strategy per (destination n, origin i), flattened in row-major (n, i) order."""
    nn, ii = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    return sel.Strategies(
        multiplier=jnp.reshape(multiplier, (N * N,)),
        fixed_cost=jnp.reshape(fixed_cost, (N * N,)),
        weight=jnp.ones((N * N,), dt),
        origin=tuple(int(x) for x in ii.ravel()),
        market=tuple(int(x) for x in nn.ravel()),
    )


def _wage_problem(y, args, rule, N):
    """Residual of the no-outside-good equilibrium (001 §5.7, 6.3): free entry in every country
    (N equations in wage units) and goods-market clearing ``Σ_i X_ni = w_n L̄_n`` for n < N
    (the last one holds by Walras' law); unknowns ``log B`` (N) and ``log w_i``, i < N (w_N = 1)."""
    sigma, dist, tau, f, f_e, L = args
    logb, logw_head = y
    w = jnp.concatenate([jnp.exp(logw_head), jnp.ones((1,), logw_head.dtype)])
    flows, extra = _flows(logb, w, sigma, dist, tau, f, f_e, L, rule, N)
    fe_res = extra["free_entry_residual"]
    gm = jnp.log(jnp.sum(flows, axis=1)) - jnp.log(w * L)
    return (fe_res, gm[:-1])


def _flows(logb, w, sigma, dist, tau, f, f_e, L, rule, N):
    """Trade flows given demand indices and wages, with entry from ``M_Ei = w_i L̄_i / r̄_Ei``."""
    s = sigma - 1.0
    dt = logb.dtype
    mult = (w[None, :] * tau) ** (-s)
    fc = w[None, :] * f
    st = _pair_strategies(N, mult, fc, dt)
    prob = sel.SelectionProblem(sigma, dist, st, w * f_e, N, rule)
    total, (cut, surv, jj) = sel.expected_profit(prob, logb)
    res = jnp.log(total) - jnp.log(w * f_e)
    # per-entrant revenue from n: σ F_ni (J + S) (001 §6.2)
    rev = sigma * jnp.reshape(fc.ravel() * (jj + surv), (N, N))
    rbar = jnp.sum(rev, axis=0)  # per entrant of origin i
    ME = w * L / rbar
    flows = rev * ME[None, :]
    return flows, dict(
        problem=prob,
        free_entry_residual=res,
        cut=jnp.reshape(cut, (N, N)),
        surv=jnp.reshape(surv, (N, N)),
        ME=ME,
    )


def multi_country(
    dist,
    sigma,
    tau,
    f,
    f_e,
    L,
    *,
    beta=1.0,
    outside_good: bool = True,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> MultiCountry:
    """Asymmetric Melitz equilibrium among ``N`` countries (001 §5.1-5.4, §5.7, §6.2-6.3).

    ``tau[n, i]``, ``f[n, i]``: destination-first (τ_ni: from i to n; ``tau[i, i] = 1``);
    ``f_e[i]`` and ``L[i]`` (labour endowment L̄_i) per country; ``dist`` one distribution for all,
    one with parameters of leading axis N, or a tuple of N distributions (G_i).

    * ``outside_good=True`` (001 §5.1-5.3): the numeraire good is produced everywhere, so
      ``w_i = 1``; free entry (eq. 8) gives the N market demands B_n, then eq. 11 (linear in M_E)
      the entrants, with sector spending ``X_n = β L̄_n``. ``outside_good_produced`` reports whether
      the implied sector labour stays below L̄ (the incomplete-specialisation assumption).
    * ``outside_good=False`` (001 §5.7, Demidova & Rodríguez-Clare; §6.3): a single differentiated
      sector (β = 1); wages solve balanced trade, ``w_N = 1`` is the numeraire, and unknowns
      ``(log B, log w)`` solve free entry and goods-market clearing jointly.
    """
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    _check_tau("tau", tau)
    for n, v in (("f", f), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(n, v)
    tau = jnp.asarray(tau)
    if tau.ndim != 2 or tau.shape[0] != tau.shape[1]:
        fail("tau", tau, "a square (N, N) matrix, destination first")
    N = tau.shape[0]
    dt = _dtype(sigma, tau, f, f_e, L)
    sigma, beta = jnp.asarray(sigma, dt), jnp.asarray(beta, dt)
    tau = jnp.asarray(tau, dt)
    f = jnp.broadcast_to(jnp.asarray(f, dt), (N, N))
    f_e = jnp.broadcast_to(jnp.asarray(f_e, dt), (N,))
    L = jnp.broadcast_to(jnp.asarray(L, dt), (N,))
    if is_concrete(tau) and not np.allclose(np.diag(np.asarray(tau)), 1.0):
        fail("tau", tau, "τ_ii = 1 (001 §5.1 normalisation)")
    if not outside_good and is_concrete(beta) and not np.allclose(np.asarray(beta), 1.0):
        fail("beta", beta, "β = 1 without an outside good (one differentiated sector)")
    return _multi_country(dist, sigma, tau, f, f_e, L, beta, outside_good, max_steps, throw, rule)


@eqx.filter_jit
def _multi_country(dist, sigma, tau, f, f_e, L, beta, outside_good, max_steps, throw, rule):
    N = tau.shape[0]
    dt = tau.dtype
    s = sigma - 1.0
    ones = jnp.ones((N,), dt)

    if outside_good:
        st = _pair_strategies(N, tau ** (-s), f, dt)
        prob = sel.SelectionProblem(sigma, dist, st, f_e, N, rule)
        sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
        engine_cond, qerr = sol.condition, sol.quadrature_error
        cut = jnp.reshape(sol.cutoffs, (N, N))
        surv = jnp.reshape(sol.survival, (N, N))
        A = sigma * f * jnp.reshape(sol.J + sol.survival, (N, N))  # X_ni = A_ni M_Ei
        X = beta * L
        ME = jnp.linalg.solve(A, X)
        flows = A * ME[None, :]
        logb, w = sol.log_demand, ones
        result, steps, residual = sol.result, sol.num_steps, sol.residual
        spending = X
    else:
        st0 = _pair_strategies(N, tau ** (-s), f, dt)
        prob0 = sel.SelectionProblem(sigma, dist, st0, f_e, N, rule)
        y0 = (sel.default_log_demand_guess(prob0), jnp.zeros((N - 1,), dt))
        args = (sigma, dist, tau, f, f_e, L)
        fn = lambda y, a: _wage_problem(y, a, rule, N)  # noqa: E731  (static: rule, N)
        rs = sel.root_solve(fn, y0, args, max_steps=max_steps, throw=False)
        logb, logw_head = rs.value
        w = jnp.concatenate([jnp.exp(logw_head), jnp.ones((1,), dt)])
        flows, extra = _flows(logb, w, sigma, dist, tau, f, f_e, L, rule, N)
        cut, surv, ME = extra["cut"], extra["surv"], extra["ME"]
        result, steps, residual = rs.result, rs.num_steps, rs.residual
        qerr = sel.quadrature_error(extra["problem"], jnp.ravel(cut))
        tol = float(np.sqrt(np.finfo(np.dtype(dt)).eps))
        engine_cond = _combine(sel.regularity(prob0), sel.first_violation((qerr <= tol, C.quadrature_unresolved)))
        spending = w * L
    B = jnp.exp(logb)
    Xn = jnp.sum(flows, axis=1)
    shares = flows / Xn[:, None]
    ext = ME[None, :] * surv
    P = _price_index(sigma, spending, B)
    sector_labor = jnp.sum(flows, axis=0) / w
    # the outside good's output L̄ − sector labour must be ≥ 0 (= 0 within rounding when β = 1)
    slack = float(np.sqrt(np.finfo(np.dtype(dt)).eps))
    produced = sector_labor <= L * (1.0 + slack) if outside_good else jnp.ones((N,), bool)
    own = sel.first_violation(
        (_positive(f, f_e, L, beta), C.invalid_parameter),
        (tau >= 1.0, C.tau_below_one),
    )
    corners = sel.first_violation((ME > 0, C.corner_no_entry), (produced, C.outside_good_not_produced))
    cond = _combine(own, engine_cond, corners)
    return sel.tie(MultiCountry(
        cutoff=jnp.diagonal(cut),
        export_cutoff=cut,
        market_demand=B,
        wage=w,
        mass_of_entrants=ME,
        trade_flows=flows,
        trade_shares=shares,
        domestic_trade_share=jnp.diagonal(shares),
        extensive_margin=ext,
        intensive_margin=flows / ext,
        price_index=P,
        welfare=w * P ** (-beta),
        sector_labor=sector_labor,
        outside_good_produced=produced,
        entry_positive=ME > 0,
        result=sel.report(result, cond, throw),
        num_steps=steps,
        residual=residual,
        condition=cond,
        quadrature_error=qerr,
    ), throw)


# ------------------------------------------------------------------------------------------
# Helpman-Melitz-Yeaple: exports versus FDI


class ExportVersusFDI(eqx.Module):
    """Helpman, Melitz & Yeaple (2004) with ``N`` symmetric countries.

    A firm serves each foreign market by exporting (variable profit ``τ^{1−σ} B φ^{σ−1}``, fixed cost
    f_X) or by a foreign affiliate (``B φ^{σ−1}``, fixed cost f_I > τ^{σ−1} f_X). Fields: ``cutoff``
    φ*, ``export_cutoff`` φ*_X, ``fdi_cutoff`` φ*_I with
    ``(1 − τ^{1−σ}) B φ*_I^{σ−1} = f_I − f_X``, ``market_demand`` B, ``exporter_share`` and
    ``fdi_share`` (fractions of producers), ``fdi_to_export_sales`` (foreign sales of affiliates
    over exports), ``welfare`` P^{−β}.
    """

    cutoff: jax.Array
    export_cutoff: jax.Array
    fdi_cutoff: jax.Array
    market_demand: jax.Array
    exporter_share: jax.Array
    fdi_share: jax.Array
    fdi_to_export_sales: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    condition: sel.CONDITIONS = None
    quadrature_error: jax.Array = None

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps


def export_versus_fdi(
    dist,
    sigma,
    f,
    f_x,
    f_i,
    f_e,
    tau,
    n_countries=2,
    L=1.0,
    *,
    beta=1.0,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> ExportVersusFDI:
    """Export versus FDI as a ladder of strategies in each foreign market (HMY 2004).

    ``max(0, τ^{1−σ}Bz − f_X, Bz − f_I)`` (z = φ^{σ−1}) equals the export strategy plus the
    increment ``(1 − τ^{1−σ}) B z − (f_I − f_X)``; free entry is
    ``f J(φ*) + (N−1)[f_X J(φ*_X) + (f_I − f_X) J(φ*_I)] = f_E``. Requires the HMY sorting
    ``f < τ^{σ−1} f_X < f_I`` (so that φ* < φ*_X < φ*_I).
    """
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    for n, v in (("f", f), ("f_x", f_x), ("f_i", f_i), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(n, v)
    _check_tau("tau", tau)
    _check_selection(tau, f_x, f, sigma)
    if all(is_concrete(x) for x in (tau, f_x, f_i, sigma)):
        if not np.all(np.asarray(f_i) > np.asarray(tau) ** (np.asarray(sigma) - 1.0) * np.asarray(f_x)):
            fail("f_i", f_i, "f_i > τ^(σ−1) f_x (HMY sorting: only the most productive firms choose FDI)")
    dt = _dtype(sigma, f, f_x, f_i, f_e, tau, L)
    sigma, f, f_x, f_i, f_e, tau, N, L, beta = (
        jnp.asarray(x, dt) for x in (sigma, f, f_x, f_i, f_e, tau, n_countries, L, beta)
    )
    return _export_versus_fdi(dist, sigma, f, f_x, f_i, f_e, tau, N, L, beta, max_steps, throw, rule)


@eqx.filter_jit
def _export_versus_fdi(dist, sigma, f, f_x, f_i, f_e, tau, N, L, beta, max_steps, throw, rule):
    dt = sigma.dtype
    tx = tau ** (1.0 - sigma)
    st = sel.Strategies(
        multiplier=jnp.stack([jnp.ones((), dt), tx, 1.0 - tx]),
        fixed_cost=jnp.stack([f, f_x, f_i - f_x]),
        weight=jnp.stack([jnp.ones((), dt), N - 1.0, N - 1.0]),
        origin=(0, 0, 0),
        market=(0, 0, 0),
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(f_e, (1,)), 1, rule)
    sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
    own = sel.first_violation(
        (_positive(f, f_x, f_i, f_e, L, beta), C.invalid_parameter),
        (tau >= 1.0, C.tau_below_one),
        (tau ** (sigma - 1.0) * f_x > f, C.no_export_selection),
        (f_i > tau ** (sigma - 1.0) * f_x, C.hmy_sorting),
    )
    cond = _combine(own, sol.condition)
    c, S, Jv = sol.cutoffs, sol.survival, sol.J
    B = sol.demand[0]
    s = sigma - 1.0
    # ∫_{a}^{b} φ^{s} dG = φ_a^s (J_a + S_a) − φ_b^s (J_b + S_b)
    mom = c**s * (Jv + S)
    export_sales = tx * (mom[1] - mom[2])
    fdi_sales = mom[2]
    P = _price_index(sigma, beta * L, B)
    return sel.tie(ExportVersusFDI(
        cutoff=c[0],
        export_cutoff=c[1],
        fdi_cutoff=c[2],
        market_demand=B,
        exporter_share=(S[1] - S[2]) / S[0],
        fdi_share=S[2] / S[0],
        fdi_to_export_sales=fdi_sales / export_sales,
        price_index=P,
        welfare=P ** (-beta),
        result=sel.report(sol.result, cond, throw),
        num_steps=sol.num_steps,
        residual=sol.residual,
        condition=cond,
        quadrature_error=sol.quadrature_error,
    ), throw)


# ------------------------------------------------------------------------------------------
# Krugman (1980) benchmark


class KrugmanEconomy(eqx.Module):
    """Homogeneous firms (Krugman 1980) with ``N`` symmetric countries and a fixed export cost.

    Every firm has productivity ``productivity`` and pays ``f + f_e`` (overhead and entry) plus
    ``f_x`` per export market it serves. Firms export only when it pays: with homogeneous firms the
    symmetric equilibrium has either every firm exporting or none, and exporting pays iff
    ``τ^{1−σ} (f + f_e) ≥ f_x`` (:func:`krugman_exports`; at equality firms are indifferent and the
    all-export equilibrium is reported). Then free entry makes revenue cover the fixed costs,
    ``r = σ (f + f_e + (N−1) f_x)``, ``M = βL/r``,
    ``P^{1−σ} = M (σ/((σ−1)φ))^{1−σ} (1 + (N−1)τ^{1−σ})``; otherwise the economy stays in autarky
    (``M = βL/(σ(f + f_e))``, no trade, ``gains_from_trade = 1``). ``exporting`` says which;
    ``export_profit`` is the profit a firm earns (exporting) or would earn (deviating) from one
    export market at the equilibrium demand. Trade elasticity σ−1, so
    ``gains_from_trade = λ^{−1/(σ−1)}`` exactly when ``f_x = 0``.
    """

    mass_of_firms: jax.Array
    domestic_trade_share: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    gains_from_trade: jax.Array
    exporting: jax.Array = None
    export_profit: jax.Array = None


def krugman_exports(sigma, f, tau, *, f_e=0.0, f_x=0.0):
    """Whether homogeneous Krugman firms export: ``τ^{1−σ} (f + f_e) ≥ f_x``.

    Derivation: with every firm exporting, free entry gives operating profit per market
    ``r_d/σ = (f + f_e + (N−1) f_x)/(1 + (N−1) τ^{1−σ})`` at home and ``τ^{1−σ}`` times that abroad;
    the export profit ``τ^{1−σ} r_d/σ − f_x ≥ 0`` reduces to the condition above (the same condition
    makes a deviation from the no-export equilibrium, where ``r_d/σ = f + f_e``, unprofitable)."""
    sigma, f, tau, f_e, f_x = (jnp.asarray(x) for x in (sigma, f, tau, f_e, f_x))
    return tau ** (1.0 - sigma) * (f + f_e) >= f_x


def krugman_economy(sigma, f, tau, n_countries=2, L=1.0, *, f_e=0.0, f_x=0.0, productivity=1.0, beta=1.0):
    """Krugman (1980) benchmark (001 §6.3): closed form, differentiable in every argument; firms
    export only when it pays (see :class:`KrugmanEconomy`)."""
    _check_sigma(sigma)
    _check_tau("tau", tau)
    check_positive_scalar("f", f)
    check_positive_scalar("f_e", f_e, strict=False)
    check_positive_scalar("f_x", f_x, strict=False)
    dt = _dtype(sigma, f, tau, L)
    sigma, f, tau, N, L, f_e, f_x, phi, beta = (
        jnp.asarray(x, dt) for x in (sigma, f, tau, n_countries, L, f_e, f_x, productivity, beta)
    )
    s = sigma - 1.0
    exporting = krugman_exports(sigma, f, tau, f_e=f_e, f_x=f_x)
    tx = tau ** (-s)
    open_factor = 1.0 + (N - 1.0) * tx

    def welfare(M, factor):
        p1s = M * (sigma / (s * phi)) ** (-s) * factor
        P = p1s ** (-1.0 / s)
        return P, P ** (-beta)

    M_open = beta * L / (sigma * (f + f_e + (N - 1.0) * f_x))
    MA = beta * L / (sigma * (f + f_e))
    factor = jnp.where(exporting, open_factor, jnp.ones_like(open_factor))
    M = jnp.where(exporting, M_open, MA)
    P, U = welfare(M, factor)
    _, UA = welfare(MA, jnp.ones_like(open_factor))
    # operating profit per market at home, r_d/σ, in the equilibrium played
    home = jnp.where(exporting, (f + f_e + (N - 1.0) * f_x) / open_factor, f + f_e)
    return KrugmanEconomy(
        mass_of_firms=M,
        domestic_trade_share=1.0 / factor,
        price_index=P,
        welfare=U,
        gains_from_trade=U / UA,
        exporting=exporting,
        export_profit=tx * home - f_x,
    )


# ------------------------------------------------------------------------------------------
# Baldwin & Robert-Nicoud (002): moved to jaxtrade.models.baldwin_robert_nicoud, re-exported here

from .baldwin_robert_nicoud import BaldwinRobertNicoud as BaldwinRobertNicoud  # noqa: E402
from .baldwin_robert_nicoud import DynamicMelitz as DynamicMelitz  # noqa: E402
from .baldwin_robert_nicoud import baldwin_robert_nicoud as baldwin_robert_nicoud  # noqa: E402
from .baldwin_robert_nicoud import dynamic_melitz as dynamic_melitz  # noqa: E402
