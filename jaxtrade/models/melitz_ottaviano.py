"""Variable mark-ups: Melitz & Ottaviano (2008) as presented in Melitz & Redding (2014), 001 §8.

Quasi-linear quadratic preferences (001 §8, Ottaviano-Tabuchi-Thisse 2002)::

    U = q_0 + α ∫ q_ω dω − ½ γ ∫ q_ω² dω − ½ η (∫ q_ω dω)²,

inverse demand ``p_ω = α − γ q_ω − η Q`` (eq. 26) with a choke price (eq. 27); labour is the only
factor, the numeraire outside good pins the wage at 1, a firm pays the sunk entry cost ``f_E`` and
then draws a unit labour requirement ``c``. Firms are indexed by cost; jaxtrade's distributions are
over *productivity* φ = 1/c, so ``dist`` is any
:class:`jaxtrade.distributions.AbstractDistribution` over φ and ``G(c) = 1 − G_φ(1/c)``
(Pareto(shape=k, scale=1/c_M) over φ gives the paper's ``G(c) = (c/c_M)^k`` on ``[0, c_M]``).

Equations (destination first: ``tau[n, i]`` = τ_ni ships from ``i`` to ``n``, τ_nn = 1)
----------------------------------------------------------------------------------
* Firm outcomes in market ``n`` for a firm of origin ``i`` with delivered cost ``v = τ_ni c ≤ c_Dn``
  (the four firm equations of 001 §8): price ``p = (c_Dn + v)/2``, mark-up ``μ = (c_Dn − v)/2``,
  revenue ``r = L_n/(4γ)(c_Dn² − v²)``, profit ``π = L_n/(4γ)(c_Dn − v)²``; export cut-off
  ``c_Xni = c_Dn/τ_ni`` (eq. 28, second line).
* Free entry in origin ``i``::

      Σ_n L_n τ_ni² H_i(c_Dn/τ_ni) = 4 γ f_E,     H(x) = ∫_0^x (x − c)² dG(c),

  ``M`` equations for the ``M`` domestic cut-offs (closed economy: ``L H(c_D) = 4γ f_E``; Pareto:
  ``c_D = (γφ/L)^{1/(k+2)}``, ``φ = 2(k+1)(k+2) c_M^k f_E``; symmetric τ: eq. 28).
* Zero-profit cut-off = choke price (eq. 27), ``c_Dn (η N_n + γ) = γα + η N_n p̄_n``, written as a
  linear system for the entrants ``N_E``::

      (η/2) Σ_i N_Ei τ_ni K_i(c_Dn/τ_ni) = γ (α − c_Dn),      K(x) = ∫_0^x (x − c) dG(c);

  sellers ``N_n = Σ_i N_Ei G_i(c_Dn/τ_ni)``.
* Welfare (indirect utility of 001 §8, income ``I^c = 1``, the unit wage; expected profits are zero
  under free entry): ``U_n = 1 + ½ (η + γ/N_n)^{−1} (α − p̄_n)² + ½ (N_n/γ) σ²_{p,n}``.

Integrals ``G``, ``K``, ``H`` over the bounded cost support ``[0, x]`` are tail integrals over
productivity above ``φ* = 1/x``:  ``∫_0^x (x − c)^m dG(c) = x^m ∫_{φ*}^∞ (1 − φ*/φ)^m dG_φ(φ)``,
computed by the engine's exp-sinh rule (:func:`jaxtrade.engine.quadrature.tail_integral`); the
rule's log-survival substitution puts its nodes where the mass is, bounded support or not.

Solves: ``log c_D`` by Newton with an Armijo line search (:class:`jaxtrade.engine.selection.DampedNewton`
through :func:`jaxtrade.engine.selection.root_solve`, ``optimistix.root_find`` with
``ImplicitAdjoint``: derivatives of every output in every parameter by the implicit function
theorem). Stopping rule: step and residual below ``1e3·eps`` of the working dtype.

Regimes the formulas do not cover are reported, never returned as successful numbers:
free entry without a solution with positive cut-offs, or a country whose implied entrants
``N_Ei ≤ 0`` (no entry: the corner the interior formulas exclude), or a market with
``c_Dn ≥ α`` (no seller) give ``result = optx.RESULTS.nonlinear_divergence`` and the flags
``entry_positive`` / ``sellers_positive``; ``throw=True`` raises (``eqx.error_if``) naming the regime.
The flags ``outside_good_produced`` (differentiated-sector labour below ``L``) and
``numeraire_consumed`` (differentiated spending per consumer below the income 1) report the two
assumptions of 001 §8 that keep the wage at 1 and demand independent of income.
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
    "ClosedEconomy",
    "OpenEconomy",
    "ShortRunEconomy",
    "closed_economy",
    "open_economy",
    "short_run_economy",
    "cost_moments",
    "pareto_cost_cutoff",
    "pareto_open_cost_cutoffs",
    "REGIME_FAILURE",
]

#: The result code of a regime the interior formulas do not cover (no entry, no seller, no
#: free-entry solution); the flags of the result say which.
REGIME_FAILURE = optx.RESULTS.nonlinear_divergence


# ------------------------------------------------------------------------------------------
# integrals over the cost distribution


def cost_moments(dist, x, *, rule: quad.TailRule = quad.DEFAULT_RULE):
    """``(G(x), K(x), H(x))`` with ``K = ∫_0^x (x−c) dG(c)``, ``H = ∫_0^x (x−c)² dG(c)``.

    ``G`` is the cdf of the unit cost ``c = 1/φ``, φ ~ ``dist``. Computed as tail integrals over φ
    above ``φ* = 1/x`` (``x^m ∫_{φ*} (1 − φ*/φ)^m dG_φ``) with the engine's exp-sinh rule, both in
    one pass over the nodes; ``G(x)`` is the exact survival ``1 − G_φ(1/x)``. Pareto(k, 1/c_M):
    ``K = x^{k+1}/((k+1)c_M^k)``, ``H = 2x^{k+2}/((k+1)(k+2)c_M^k)`` for ``x ≤ c_M``.

    Derivatives in ``x`` are the analytic Leibniz rule ``dH/dx = 2K``, ``dK/dx = G`` (the
    integrands vanish at ``c = x``), linearised at the evaluation point as the engine's ``J`` does
    (first derivatives exact; no differentiation through the nodes, whose inverse-survival map
    has unbounded derivatives in the far tail); derivatives in the distribution's parameters go
    through the rule.
    """
    x = jnp.asarray(x)
    x0 = jax.lax.stop_gradient(x)
    phistar = 1.0 / x0
    G = quad.survival(dist, 1.0 / x)
    m = jnp.reshape(jnp.asarray([1.0, 2.0], x0.dtype), (2,) + (1,) * (x0.ndim + 1))
    lps = jnp.log(phistar)[None, ..., None]

    def integrand(lp, d):
        return (-jnp.expm1(lps - lp)) ** m * jnp.exp(-d)  # (1 − φ*/φ)^m e^{−d}

    both = quad.tail_integral(dist, jnp.broadcast_to(phistar, (2,) + x0.shape), integrand, rule=rule)
    G0 = jax.lax.stop_gradient(G)
    K0 = x0 * both[0]
    H0 = x0**2 * both[1]
    dx = x - x0
    return G, K0 + G0 * dx, H0 + 2.0 * K0 * dx


def pareto_cost_cutoff(k, c_M, L, gamma, f_E):
    """001 §8: ``c_D = (γφ/L)^{1/(k+2)}``, ``φ = 2(k+1)(k+2) c_M^k f_E`` (valid while c_D ≤ c_M)."""
    phi = 2.0 * (k + 1.0) * (k + 2.0) * c_M**k * f_E
    return (gamma * phi / L) ** (1.0 / (k + 2.0))


def pareto_open_cost_cutoffs(k, c_M, L, tau, gamma, f_E):
    """Pareto cut-offs for any τ: free entry ``Σ_n τ_ni^{−k} L_n c_Dn^{k+2} = γφ`` is linear in
    ``L_n c_Dn^{k+2}``; symmetric τ gives eq. (28). Returns NaN where the linear solution is not
    positive (no interior equilibrium)."""
    tau = jnp.asarray(tau)
    L = jnp.asarray(L)
    phi = 2.0 * (k + 1.0) * (k + 2.0) * c_M**k * f_E
    T = jnp.transpose(tau ** (-k))  # T[i, n] = τ_ni^{−k}
    x = jnp.linalg.solve(T, gamma * phi * jnp.ones_like(L))
    return jnp.where(x > 0, (x / L) ** (1.0 / (k + 2.0)), jnp.nan)


# ------------------------------------------------------------------------------------------
# validation


def _lowest_cost(dist):
    """``1/φ_max``: 0 for an unbounded productivity support."""
    up = dist.support[1]
    if is_concrete(up):
        u = np.asarray(up, float)
        return np.where(np.isfinite(u), 1.0 / u, 0.0)
    return None


def _check_common(dist, alpha, gamma, eta, f_E):
    if not isinstance(dist, dists.AbstractDistribution):
        fail("dist", type(dist).__name__, "an AbstractDistribution over productivity φ = 1/c")
    check_positive_scalar("alpha", alpha)
    check_positive_scalar("gamma", gamma)
    check_positive_scalar("eta", eta)
    check_positive_scalar("f_E", f_E)
    cmin = _lowest_cost(dist)
    if cmin is not None and is_concrete(alpha) and not np.all(np.asarray(alpha) > cmin):
        fail(
            "alpha",
            alpha,
            f"α above the lowest unit cost c_min = 1/φ_max = {float(np.max(cmin))} (001 §8: a firm "
            "sells only if its cost is below the choke price, which never exceeds α)",
        )


def _check_L(L, shape=None):
    check_positive_scalar("L", L)
    if shape is not None and jnp.shape(L) != shape:
        fail("L", L, f"shape {shape}")


def _check_tau(tau):
    tau_a = jnp.asarray(tau)
    if tau_a.ndim != 2 or tau_a.shape[0] != tau_a.shape[1]:
        fail("tau", tau, "a square (M, M) matrix, destination first (tau[n, i] = τ_ni from i to n)")
    if is_concrete(tau):
        a = np.asarray(tau, float)
        if not np.all(np.isfinite(a)) or not np.all(a >= 1.0):
            fail("tau", tau, "τ_ni ≥ 1 (iceberg trade cost)")
        if not np.allclose(np.diag(a), 1.0):
            fail("tau", tau, "τ_nn = 1 (no trade cost at home)")




# ------------------------------------------------------------------------------------------
# results


class OpenEconomy(eqx.Module):
    """Open-economy equilibrium with ``M`` countries (001 §8, eq. 28). Destination first.

    ``cost_cutoff[n]`` c_Dn, ``export_cutoff[n, i]`` c_Xni = c_Dn/τ_ni (diagonal = c_Dn),
    ``n_entrants[i]`` N_Ei, ``n_producers[i]`` N_Ei G(c_Dii), ``sellers[n, i]`` N_Ei G(c_Xni),
    ``n_sellers[n]`` N_n (varieties consumed in n), ``average_price[n]`` p̄_n,
    ``price_variance[n]`` σ²_{p,n}, ``average_markup[n]`` (over sellers in n), ``choke_price[n]``
    eq. (27) evaluated at (N_n, p̄_n) (= c_Dn in equilibrium), ``trade_flows[n, i]`` X_ni (value of
    sales of i in n), ``trade_shares[n, i]``, ``welfare[n]`` U_n, ``labour_demand[i]``
    (differentiated sector), flags ``entry_positive[i]``, ``sellers_positive[n]``,
    ``outside_good_produced[i]``, ``numeraire_consumed[n]``; ``result``, ``num_steps``, ``residual``.
    """

    cost_cutoff: jax.Array
    export_cutoff: jax.Array
    n_entrants: jax.Array
    n_producers: jax.Array
    sellers: jax.Array
    n_sellers: jax.Array
    average_price: jax.Array
    price_variance: jax.Array
    average_markup: jax.Array
    choke_price: jax.Array
    trade_flows: jax.Array
    trade_shares: jax.Array
    welfare: jax.Array
    differentiated_spending: jax.Array
    labour_demand: jax.Array
    entry_positive: jax.Array
    sellers_positive: jax.Array
    outside_good_produced: jax.Array
    numeraire_consumed: jax.Array
    L: jax.Array
    tau: jax.Array
    gamma: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    def _delivered(self, c):
        c = jnp.asarray(c)
        lead = (1,) * c.ndim
        v = c[..., None, None] * jnp.reshape(self.tau, lead + self.tau.shape)
        cd = jnp.reshape(self.cost_cutoff, lead + (-1, 1))
        return v, cd

    def price(self, c):
        """``p_ni(c) = (c_Dn + τ_ni c)/2`` where served (``τ_ni c ≤ c_Dn``), NaN-free 0 elsewhere;
        shape ``c.shape + (M, M)`` [..., n, i]."""
        v, cd = self._delivered(c)
        return jnp.where(v <= cd, 0.5 * (cd + v), 0.0)

    def markup(self, c):
        """``μ_ni(c) = (c_Dn − τ_ni c)/2`` (0 where not served)."""
        v, cd = self._delivered(c)
        return jnp.maximum(0.5 * (cd - v), 0.0)

    def revenue(self, c):
        """``r_ni(c) = L_n/(4γ)(c_Dn² − (τ_ni c)²)`` (0 where not served)."""
        v, cd = self._delivered(c)
        Ln = jnp.reshape(self.L, cd.shape)
        return jnp.where(v <= cd, Ln / (4.0 * self.gamma) * (cd**2 - v**2), 0.0)

    def profit(self, c):
        """``π_ni(c) = L_n/(4γ)(c_Dn − τ_ni c)²`` (0 where not served)."""
        v, cd = self._delivered(c)
        Ln = jnp.reshape(self.L, cd.shape)
        return Ln / (4.0 * self.gamma) * jnp.maximum(cd - v, 0.0) ** 2


class ClosedEconomy(eqx.Module):
    """Closed-economy equilibrium (001 §8): ``cost_cutoff`` c_D (free entry
    ``L/(4γ) ∫_0^{c_D} (c_D − c)² dG = f_E``), ``n_entrants`` N_E, ``n_sellers`` N,
    ``survival_probability`` G(c_D), ``average_cost`` c̄, ``average_price`` p̄ = (c_D + c̄)/2,
    ``price_variance`` σ²_p = Var(c | c ≤ c_D)/4, ``average_markup`` (c_D − c̄)/2, ``choke_price``
    eq. (27) at (N, p̄), ``welfare`` U, ``differentiated_spending`` per consumer,
    ``labour_demand`` in the differentiated sector, the regime flags of :class:`OpenEconomy`;
    ``result``, ``num_steps``, ``residual``. Methods give the four firm equations of §8.
    """

    cost_cutoff: jax.Array
    n_entrants: jax.Array
    n_sellers: jax.Array
    survival_probability: jax.Array
    average_cost: jax.Array
    average_price: jax.Array
    price_variance: jax.Array
    average_markup: jax.Array
    choke_price: jax.Array
    welfare: jax.Array
    differentiated_spending: jax.Array
    labour_demand: jax.Array
    entry_positive: jax.Array
    sellers_positive: jax.Array
    outside_good_produced: jax.Array
    numeraire_consumed: jax.Array
    L: jax.Array
    gamma: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    def price(self, c):
        """``p(c) = (c_D + c)/2`` for producers (c ≤ c_D), 0 otherwise."""
        c = jnp.asarray(c)
        return jnp.where(c <= self.cost_cutoff, 0.5 * (self.cost_cutoff + c), 0.0)

    def markup(self, c):
        """``μ(c) = p(c) − c = (c_D − c)/2`` (0 for c > c_D)."""
        return jnp.maximum(0.5 * (self.cost_cutoff - jnp.asarray(c)), 0.0)

    def quantity(self, c):
        """Output ``q(c) = L (c_D − c)/(2γ)`` (0 for c > c_D)."""
        return self.L / (2.0 * self.gamma) * jnp.maximum(self.cost_cutoff - jnp.asarray(c), 0.0)

    def revenue(self, c):
        """``r(c) = L/(4γ)(c_D² − c²)`` (0 for c > c_D)."""
        c = jnp.asarray(c)
        return jnp.where(c <= self.cost_cutoff, self.L / (4.0 * self.gamma) * (self.cost_cutoff**2 - c**2), 0.0)

    def profit(self, c):
        """``π(c) = L/(4γ)(c_D − c)²`` (0 for c > c_D)."""
        return self.L / (4.0 * self.gamma) * jnp.maximum(self.cost_cutoff - jnp.asarray(c), 0.0) ** 2


class ShortRunEconomy(eqx.Module):
    """Short run (001 §8, MO 2008 §4): entrants ``N_E`` (hence incumbents) fixed, cut-offs from the
    choke-price conditions alone; ``cost_cutoff[n]``, ``n_sellers[n]``, ``average_price[n]``,
    ``price_variance[n]``, ``welfare[n]``, ``sellers_positive[n]``; ``result``, ``num_steps``,
    ``residual``."""

    cost_cutoff: jax.Array
    n_sellers: jax.Array
    average_price: jax.Array
    price_variance: jax.Array
    welfare: jax.Array
    sellers_positive: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


# ------------------------------------------------------------------------------------------
# the equations


def _free_entry_residual(y, args, rule):
    """``log Σ_n L_n τ_ni² H(c_Dn/τ_ni) − log(4γ f_E)`` per origin ``i`` (unknowns ``y = log c_D``)."""
    dist, L, tau, gamma, f_E = args
    cd = jnp.exp(y)
    x = cd[:, None] / tau  # x[n, i] = c_Xni
    _, _, H = cost_moments(dist, x, rule=rule)
    profit = jnp.sum(L[:, None] * tau**2 * H, axis=0)  # by origin i, times 4γ
    return jnp.log(profit) - jnp.log(4.0 * gamma * f_E)


def _market_aggregates(dist, cd, NE, tau, alpha, gamma, eta, rule):
    """Sellers, average price and price variance in every market given cut-offs and entrants."""
    x = cd[:, None] / tau
    G, K, H = cost_moments(dist, x, rule=rule)
    sellers = NE[None, :] * G
    N = jnp.sum(sellers, axis=1)
    # u = c_Dn − τ c (twice the mark-up) over sellers in n
    Nsafe = jnp.where(N > 0, N, 1.0)
    ubar = jnp.sum(NE[None, :] * tau * K, axis=1) / Nsafe
    u2 = jnp.sum(NE[None, :] * tau**2 * H, axis=1) / Nsafe
    pbar = cd - 0.5 * ubar
    varp = 0.25 * jnp.maximum(u2 - ubar**2, 0.0)
    welfare = 1.0 + 0.5 * (alpha - pbar) ** 2 / (eta + gamma / Nsafe) + 0.5 * N / gamma * varp
    choke = (gamma * alpha + eta * N * pbar) / (eta * N + gamma)
    return dict(x=x, G=G, K=K, H=H, sellers=sellers, N=N, ubar=ubar, pbar=pbar, varp=varp,
                welfare=welfare, choke=choke)


def _initial_guess(dist, M, dt):
    """``log c_D`` at the median cost ``1/median(φ)`` in every market."""
    med = jnp.asarray(dist.icdf(jnp.asarray(0.5, dt)), dt)
    return jnp.full((M,), -jnp.log(med), dt)


@eqx.filter_jit
def _open_economy(dist, L, tau, alpha, gamma, eta, f_E, max_steps, throw, rule):
    M = tau.shape[0]
    dt = tau.dtype
    args = (dist, L, tau, gamma, f_E)
    fn = lambda y, a: _free_entry_residual(y, a, rule)  # noqa: E731 (rule is static)
    y0 = _initial_guess(dist, M, dt)
    rtol = atol = 1e3 * float(jnp.finfo(dt).eps)
    rs = sel.root_solve(
        fn, y0, args, solver=sel.DampedNewton(rtol=rtol, atol=atol), max_steps=max_steps, throw=False
    )
    cd = jnp.exp(rs.value)
    solved = rs.result == optx.RESULTS.successful
    # entrants from the choke-price conditions (eq. 27): (η/2) Σ_i N_Ei τ_ni K(c_Xni) = γ(α − c_Dn)
    x = cd[:, None] / tau
    _, K, H = cost_moments(dist, x, rule=rule)
    A = 0.5 * eta * tau * K
    b = gamma * (alpha - cd)
    NE = jnp.linalg.solve(A, b)
    agg = _market_aggregates(dist, cd, NE, tau, alpha, gamma, eta, rule)
    entry_pos = NE > 0
    sellers_pos = (cd < alpha) & (agg["N"] > 0)
    interior = jnp.all(entry_pos) & jnp.all(sellers_pos) & jnp.all(jnp.isfinite(NE))
    result = optx.RESULTS.where(solved, optx.RESULTS.where(interior, optx.RESULTS.successful, REGIME_FAILURE),
                                rs.result)
    # trade flows X_ni = N_Ei L_n/(4γ) ∫ (c_Dn² − v²) dG = N_Ei L_n/(4γ) τ (2 c_Dn K − τ H)
    flows = NE[None, :] * L[:, None] / (4.0 * gamma) * tau * (2.0 * cd[:, None] * K - tau * H)
    Xn = jnp.sum(flows, axis=1)
    # production labour: Σ_n N_Ei L_n/(2γ) ∫ v (c_Dn − v) dG = N_Ei L_n/(2γ) τ (c_Dn K − τ H)
    prod_lab = jnp.sum(NE[None, :] * L[:, None] / (2.0 * gamma) * tau * (cd[:, None] * K - tau * H), axis=0)
    labour = NE * f_E + prod_lab
    spending = Xn / L
    if throw:
        cd = eqx.error_if(
            cd, ~solved,
            "Melitz-Ottaviano: free entry (Σ_n L_n τ_ni² H(c_Dn/τ_ni) = 4γ f_E) has no solution found with "
            "positive cut-offs in every market; with very asymmetric τ some country attracts no entry (a corner "
            "the interior formulas of 001 §8 do not cover)",
        )
        cd = eqx.error_if(
            cd, solved & ~jnp.all(sellers_pos),
            "Melitz-Ottaviano: c_D ≥ α in some market, so no variety is sold there (raise α or lower costs)",
        )
        cd = eqx.error_if(
            cd, solved & jnp.all(sellers_pos) & ~jnp.all(entry_pos),
            "Melitz-Ottaviano: no interior equilibrium, the choke-price conditions give entrants N_E ≤ 0 in some "
            "country (no entry there: a corner the formulas of 001 §8 do not cover)",
        )
    return OpenEconomy(
        cost_cutoff=cd,
        export_cutoff=cd[:, None] / tau,
        n_entrants=NE,
        n_producers=NE * jnp.diagonal(agg["G"]),
        sellers=agg["sellers"],
        n_sellers=agg["N"],
        average_price=agg["pbar"],
        price_variance=agg["varp"],
        average_markup=0.5 * agg["ubar"],
        choke_price=agg["choke"],
        trade_flows=flows,
        trade_shares=flows / Xn[:, None],
        welfare=agg["welfare"],
        differentiated_spending=spending,
        labour_demand=labour,
        entry_positive=entry_pos,
        sellers_positive=sellers_pos,
        outside_good_produced=labour < L,
        numeraire_consumed=spending < 1.0,
        L=L,
        tau=tau,
        gamma=gamma,
        result=result,
        num_steps=rs.steps,
        residual=rs.residual,
    )


def open_economy(
    dist,
    *,
    L,
    tau,
    alpha,
    gamma,
    eta,
    f_E,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> OpenEconomy:
    """Melitz-Ottaviano open economy with ``M`` countries, any ``L`` (M,) and any τ (M, M),
    destination first (001 §8, eq. 28; MO 2008 §4).

    Solves free entry ``Σ_n L_n τ_ni² H(c_Dn/τ_ni) = 4γ f_E`` (one equation per origin) for the
    domestic cost cut-offs, then the entrants from the choke-price conditions (eq. 27) and every
    market aggregate. Symmetric τ under Pareto gives eq. (28). ``dist`` is over productivity φ = 1/c,
    shared by all countries. See the module docstring for the regimes reported.
    """
    _check_common(dist, alpha, gamma, eta, f_E)
    _check_tau(tau)
    M = jnp.shape(tau)[0]
    L_arr = jnp.asarray(L)
    if L_arr.shape != (M,):
        fail("L", L, f"shape ({M},), one labour endowment per country (tau is {M}×{M})")
    _check_L(L)
    dt = _dtype(L, tau, alpha, gamma, eta, f_E)
    L, tau, alpha, gamma, eta, f_E = (jnp.asarray(v, dt) for v in (L, tau, alpha, gamma, eta, f_E))
    return _open_economy(dist, L, tau, alpha, gamma, eta, f_E, max_steps, throw, rule)


def closed_economy(
    dist,
    *,
    L,
    alpha,
    gamma,
    eta,
    f_E,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> ClosedEconomy:
    """Melitz-Ottaviano closed economy (001 §8) for any productivity distribution.

    Free entry ``L/(4γ) ∫_0^{c_D} (c_D − c)² dG(c) = f_E`` for the cost cut-off c_D (Newton in
    ``log c_D``; Pareto: ``c_D = (γφ/L)^{1/(k+2)}``), the choke-price condition (27) for the number
    of sellers ``N = 2γ(α − c_D)/(η(c_D − c̄))``, and welfare
    ``U = 1 + ½(η + γ/N)^{−1}(α − p̄)² + ½(N/γ)σ²_p``. It is the one-country case of
    :func:`open_economy`.
    """
    _check_common(dist, alpha, gamma, eta, f_E)
    _check_L(L)
    if jnp.ndim(L) != 0:
        fail("L", L, "a scalar labour endowment (use open_economy for several countries)")
    dt = _dtype(L, alpha, gamma, eta, f_E)
    L1 = jnp.reshape(jnp.asarray(L, dt), (1,))
    tau = jnp.ones((1, 1), dt)
    alpha, gamma, eta, f_E = (jnp.asarray(v, dt) for v in (alpha, gamma, eta, f_E))
    eq = _open_economy(dist, L1, tau, alpha, gamma, eta, f_E, max_steps, throw, rule)
    return _to_closed(eq, dist, rule)


@eqx.filter_jit
def _to_closed(eq: OpenEconomy, dist, rule):
    cd = eq.cost_cutoff[0]
    G, K, _ = cost_moments(dist, cd, rule=rule)
    cbar = cd - K / G  # E[c | c ≤ c_D] = c_D − K/G
    return ClosedEconomy(
        cost_cutoff=cd,
        n_entrants=eq.n_entrants[0],
        n_sellers=eq.n_sellers[0],
        survival_probability=G,
        average_cost=cbar,
        average_price=eq.average_price[0],
        price_variance=eq.price_variance[0],
        average_markup=eq.average_markup[0],
        choke_price=eq.choke_price[0],
        welfare=eq.welfare[0],
        differentiated_spending=eq.differentiated_spending[0],
        labour_demand=eq.labour_demand[0],
        entry_positive=eq.entry_positive[0],
        sellers_positive=eq.sellers_positive[0],
        outside_good_produced=eq.outside_good_produced[0],
        numeraire_consumed=eq.numeraire_consumed[0],
        L=eq.L[0],
        gamma=eq.gamma,
        result=eq.result,
        num_steps=eq.num_steps,
        residual=eq.residual,
    )


# ------------------------------------------------------------------------------------------
# short run: entrants fixed


def _choke_residual(y, args, rule):
    """``log[(η/2) Σ_i N_Ei τ_ni K(c_Dn/τ_ni)] − log[γ(α − c_Dn)]`` per market (unknowns log c_D)."""
    dist, NE, tau, alpha, gamma, eta = args
    cd = jnp.exp(y)
    _, K, _ = cost_moments(dist, cd[:, None] / tau, rule=rule)
    lhs = 0.5 * eta * jnp.sum(NE[None, :] * tau * K, axis=1)
    gap = alpha - cd
    # below α the right-hand side is positive; past it the residual stays finite and positive
    rhs = jnp.where(gap > 0, gamma * gap, gamma * jnp.finfo(cd.dtype).tiny)
    return jnp.log(lhs) - jnp.log(rhs)


@eqx.filter_jit
def _short_run(dist, NE, L, tau, alpha, gamma, eta, max_steps, throw, rule):
    M = tau.shape[0]
    dt = tau.dtype
    args = (dist, NE, tau, alpha, gamma, eta)
    fn = lambda y, a: _choke_residual(y, a, rule)  # noqa: E731
    y0 = jnp.minimum(_initial_guess(dist, M, dt), jnp.log(0.5 * alpha))
    rtol = atol = 1e3 * float(jnp.finfo(dt).eps)
    rs = sel.root_solve(fn, y0, args, solver=sel.DampedNewton(rtol=rtol, atol=atol), max_steps=max_steps,
                        throw=False)
    cd = jnp.exp(rs.value)
    agg = _market_aggregates(dist, cd, NE, tau, alpha, gamma, eta, rule)
    solved = rs.result == optx.RESULTS.successful
    ok = (cd < alpha) & (agg["N"] > 0)
    result = optx.RESULTS.where(solved, optx.RESULTS.where(jnp.all(ok), optx.RESULTS.successful, REGIME_FAILURE),
                                rs.result)
    if throw:
        cd = eqx.error_if(cd, ~solved | ~jnp.all(ok),
                          "Melitz-Ottaviano short run: the choke-price conditions have no solution with sellers "
                          "in every market")
    return ShortRunEconomy(
        cost_cutoff=cd,
        n_sellers=agg["N"],
        average_price=agg["pbar"],
        price_variance=agg["varp"],
        welfare=agg["welfare"],
        sellers_positive=ok,
        result=result,
        num_steps=rs.steps,
        residual=rs.residual,
    )


def short_run_economy(
    dist,
    *,
    n_entrants,
    L,
    tau,
    alpha,
    gamma,
    eta,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> ShortRunEconomy:
    """Short-run equilibrium (001 §8: "holding the number of firms in each country fixed"): the
    entrants ``n_entrants[i]`` (and so the incumbents' cost draws) are given, free entry is dropped,
    and each market's cut-off solves its choke-price condition (eq. 27)
    ``(η/2) Σ_i N_Ei τ_ni K(c_Dn/τ_ni) = γ(α − c_Dn)``. ``L`` enters only through the firms' outputs
    and is kept for symmetry with :func:`open_economy`."""
    _check_common(dist, alpha, gamma, eta, 1.0)
    _check_tau(tau)
    M = jnp.shape(tau)[0]
    for name, v in (("n_entrants", n_entrants), ("L", L)):
        if jnp.shape(v) != (M,):
            fail(name, v, f"shape ({M},)")
        check_positive_scalar(name, v)
    dt = _dtype(n_entrants, L, tau, alpha, gamma, eta)
    NE, L, tau, alpha, gamma, eta = (jnp.asarray(v, dt) for v in (n_entrants, L, tau, alpha, gamma, eta))
    return _short_run(dist, NE, L, tau, alpha, gamma, eta, max_steps, throw, rule)
