"""General equilibrium with quasi-linear CES demand and free entry (Tyazhelnikov 004, Section 4).

The model, as the paper's Section 4 reads once its misprints are corrected (``docs/errata.md``):

- **Demand (§4.1).** ``U = Q^ζ/ζ + q_0`` with ``Q`` the CES aggregate of the varieties (elasticity
  ``σ > 1``) and ``0 < ζ < (σ−1)/σ``. With the price index ``P = [∫ p(ω)^{1−σ} dω]^{1/(1−σ)}``
  the consumer buys ``Q = P^{−1/(1−ζ)}``, spends ``P Q = P^{−ζ/(1−ζ)}`` on varieties and
  ``q_0 = E − P^{−ζ/(1−ζ)}`` on the numeraire; indirect utility is
  ``W = E + (1−ζ)/ζ · P^{−ζ/(1−ζ)}`` (the second term is the *consumer surplus* ``CS = W − E``).
  Demand for a variety is ``q = P^{(σ−1−ζσ)/(1−ζ)} p^{−σ}`` — the printed eq. (11) has the exponent
  ``(ζ−σ)/(1−ζ)``, which does not follow from the utility (erratum; the corrected exponent is the
  one behind the paper's own closed form for ``P``).
- **Pricing (§4.3, eq. 12).** ``p = σ/(σ−1) · MC``.
- **Free entry (§4.4).** Firms pay the sunk cost ``f_s`` and then draw their marginal cost ``MC``
  (the solution of the firm's problem, :func:`jaxtrade.solve_chain`); there are no fixed costs, so
  every entrant produces. Expected profit equals the sunk cost:
  ``E[π(MC)] = (1/σ) P^{(σ−1−ζσ)/(1−ζ)} E[p(MC)^{1−σ}] = f_s``.
- **Aggregation.** ``P^{1−σ} = S · E[p(MC)^{1−σ}]`` with ``S`` the mass of firms (``M`` in §4.4).
  Both conditions depend on the MC distribution only through the power mean
  ``M̃C = (E[MC^{1−σ}])^{1/(1−σ)}`` (:func:`aggregate_cost`; the printed definition is circular).

Closed forms (``D ≡ σ − 1 − ζσ > 0``, ``p̃ = σ/(σ−1) · M̃C``)::

    P  = (σ f_s)^{(1−ζ)/D} p̃^{(σ−1)(1−ζ)/D}
    S  = (σ f_s)^{−(1−ζ)(σ−1)/D} p̃^{−ζ(σ−1)/D}
    CS = κ p̃^{−ζ(σ−1)/D},   κ = (1−ζ)/ζ (σ f_s)^{−ζ/D}
    d ln CS = −ζ(σ−1)/D · d ln M̃C                                     (eq. 13)

Eq. (13) is the elasticity of the consumer-surplus term ``W − E``; the elasticity of ``W`` itself is
that times ``CS/W``. :func:`solve_free_entry` solves the two equilibrium conditions numerically
(optimistix Newton on the logs of ``P`` and ``S``, computed from the simulated MC sample itself,
not from ``M̃C``) and is the check of the closed forms in :func:`free_entry_closed_form`.

**Several destination markets (§3.3, §4.5).** With final-shipment costs a firm has one MC per
destination ``d``; it pays ``f_s`` once and sells in every market (no fixed costs). Each market
has its own price index ``P_d^{1−σ} = S E[p_d^{1−σ}]`` and the single free-entry condition is
``Σ_d (1/σ) P_d^{(σ−1−ζσ)/(1−ζ)} E[p_d^{1−σ}] = f_s``, whose solution is
``S^{(σ−1−ζσ)/((1−ζ)(σ−1))} = Σ_d p̃_d^{−ζ/(1−ζ)} / (σ f_s)`` (``D = 1`` gives the formulas above).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float

from ..engine.validation import fail, is_concrete

__all__ = [
    "QuasiLinearCES",
    "Equilibrium",
    "aggregate_cost",
    "free_entry_closed_form",
    "solve_free_entry",
    "welfare_elasticity",
    "price_and_variety_shares",
]


def _check_demand(sigma, zeta):
    if is_concrete(sigma):
        s = np.asarray(sigma)
        if s.shape != () or not np.isfinite(s) or not s > 1:
            fail("sigma", sigma, "the elasticity of substitution must be a finite scalar with sigma > 1 (004 §4.1)")
    if is_concrete(zeta) and is_concrete(sigma):
        z, s = np.asarray(zeta), float(np.asarray(sigma))
        if z.shape != () or not np.isfinite(z) or not (0 < z < (s - 1) / s):
            fail(
                "zeta",
                zeta,
                f"0 < zeta < (sigma-1)/sigma = {(s - 1) / s:.6g} (004 §4.1: varieties must be closer substitutes "
                "to each other than to the numeraire; otherwise free entry has no interior equilibrium)",
            )


class QuasiLinearCES(eqx.Module):
    """Quasi-linear CES preferences ``U = Q^ζ/ζ + q_0`` (004 §4.1) with mark-up pricing (eq. 12).

    ``sigma`` (σ > 1) is the elasticity of substitution between varieties; ``zeta`` (ζ) must lie in
    ``(0, (σ−1)/σ)`` — checked on construction with a :class:`~jaxtrade.JaxtradeInputError`.
    """

    sigma: Float[Array, ""]
    zeta: Float[Array, ""]

    def __init__(self, sigma, zeta):
        _check_demand(sigma, zeta)
        self.sigma = jnp.asarray(sigma)
        self.zeta = jnp.asarray(zeta)

    @property
    def slack(self):
        """``D = σ − 1 − ζσ > 0``, the denominator of every closed form of §4.4."""
        return self.sigma - 1.0 - self.zeta * self.sigma

    @property
    def markup(self):
        return self.sigma / (self.sigma - 1.0)

    @property
    def demand_exponent(self):
        """Exponent of ``P`` in the demand for a variety: ``(σ−1−ζσ)/(1−ζ)`` (corrected eq. 11)."""
        return self.slack / (1.0 - self.zeta)

    def price(self, mc):
        """Eq. (12): ``p = σ/(σ−1) MC``."""
        return self.markup * mc

    def quantity(self, mc, price_index):
        """Output of a firm with marginal cost ``mc``: ``q = P^{(σ−1−ζσ)/(1−ζ)} p^{−σ}`` (eq. 11 corrected)."""
        return price_index**self.demand_exponent * self.price(mc) ** (-self.sigma)

    def revenue(self, mc, price_index):
        """``r(MC) = P^{(σ−1−ζσ)/(1−ζ)} p(MC)^{1−σ}``."""
        return price_index**self.demand_exponent * self.price(mc) ** (1.0 - self.sigma)

    def profit(self, mc, price_index):
        """Variable profit ``π(MC) = r(MC)/σ`` (no fixed costs of production)."""
        return self.revenue(mc, price_index) / self.sigma

    def consumption(self, price_index):
        """Real consumption of the CES aggregate ``Q = P^{−1/(1−ζ)}``."""
        return price_index ** (-1.0 / (1.0 - self.zeta))

    def spending(self, price_index):
        """Expenditure on varieties ``P Q = P^{−ζ/(1−ζ)}``."""
        return price_index ** (-self.zeta / (1.0 - self.zeta))

    def consumer_surplus(self, price_index):
        """``W − E = (1−ζ)/ζ · P^{−ζ/(1−ζ)}`` (§4.1)."""
        return (1.0 - self.zeta) / self.zeta * self.spending(price_index)


def welfare_elasticity(demand: QuasiLinearCES):
    """Eq. (13): ``d ln CS / d ln M̃C = −ζ(σ−1)/(σ−1−ζσ)``, the elasticity of the consumer-surplus term.

    (The paper calls it ``d ln W``; the elasticity of ``W = E + CS`` is this times ``CS/W``.)
    """
    return -demand.zeta * (demand.sigma - 1.0) / demand.slack


def price_and_variety_shares(demand: QuasiLinearCES):
    """Shares of ``d ln P`` due to lower prices at a given mass of firms and to more varieties.

    ``d ln P = d ln p̃ − d ln S/(σ−1)``; with ``d ln S = −ζ(σ−1)/D d ln p̃`` the price channel is
    ``D/((1−ζ)(σ−1))`` and the variety channel ``ζ/((1−ζ)(σ−1))`` of the total. The paper (§4.4)
    prints the two the other way round (erratum).
    """
    total = (1.0 - demand.zeta) * (demand.sigma - 1.0)
    return demand.slack / total, demand.zeta / total


def aggregate_cost(mc, sigma, *, axis: int = 0, weights=None):
    """The CES power mean ``M̃C = (E[MC^{1−σ}])^{1/(1−σ)}`` over the firm axis (004 §4.4).

    Computed in logs (``logsumexp``) so that ``MC^{1−σ}`` neither overflows nor underflows.
    ``weights`` (same shape as ``mc`` along ``axis``, non-negative) give a weighted mean, e.g. for
    a quadrature rule. Every other axis (e.g. destinations) is kept.
    """
    mc = jnp.asarray(mc)
    x = (1.0 - sigma) * jnp.log(mc)
    if weights is None:
        n = mc.shape[axis]
        lse = jax.nn.logsumexp(x, axis=axis) - jnp.log(jnp.asarray(n, x.dtype))
    else:
        w = jnp.asarray(weights, x.dtype)
        w = jnp.expand_dims(w, tuple(i for i in range(mc.ndim) if i != axis % mc.ndim)) if w.ndim == 1 and mc.ndim > 1 else w
        w = jnp.broadcast_to(w, mc.shape)
        lse = jax.nn.logsumexp(x, axis=axis, b=w) - jnp.log(jnp.sum(w, axis=axis))
    return jnp.exp(lse / (1.0 - sigma))


class Equilibrium(eqx.Module):
    """The free-entry equilibrium of §4.4 (one entry per destination market on the last axis, if any).

    - ``aggregate_cost``: ``M̃C`` per market; ``average_price``: ``p̃ = σ/(σ−1) M̃C``.
    - ``price_index`` ``P``; ``mass_of_firms`` ``S`` (``M`` in the paper; one for all markets).
    - ``consumption`` ``Q = P^{−1/(1−ζ)}``; ``spending`` ``P Q``; ``numeraire_consumption``
      ``q_0 = E − P Q`` (NaN when ``income`` is not given).
    - ``consumer_surplus`` ``W − E``; ``welfare`` ``W = E + CS`` (NaN without ``income``).
    - ``result``, ``num_steps``, ``residual``: the root finder's report (closed form: successful,
      0 steps, the residual of the equilibrium conditions at the closed form).
    """

    aggregate_cost: Array
    average_price: Array
    price_index: Array
    mass_of_firms: Array
    consumption: Array
    spending: Array
    numeraire_consumption: Array
    consumer_surplus: Array
    welfare: Array
    result: optx.RESULTS
    num_steps: Array
    residual: Array


def _check_positive(name, x):
    if x is not None and is_concrete(x):
        a = np.asarray(x)
        if not np.all(np.isfinite(a)) or not np.all(a > 0):
            fail(name, x, f"{name} must be finite and > 0")


def _finish(demand, mc_tilde, log_p, log_s, income, result, steps, residual):
    price_index = jnp.exp(log_p)
    spending = demand.spending(price_index)
    cs = demand.consumer_surplus(price_index)
    if income is None:
        q0 = jnp.full_like(cs, jnp.nan)
        welfare = jnp.full_like(cs, jnp.nan)
    else:
        income = jnp.asarray(income, cs.dtype)
        q0 = income - spending
        welfare = income + cs
    return Equilibrium(
        aggregate_cost=mc_tilde,
        average_price=demand.price(mc_tilde),
        price_index=price_index,
        mass_of_firms=jnp.exp(log_s),
        consumption=demand.consumption(price_index),
        spending=spending,
        numeraire_consumption=q0,
        consumer_surplus=cs,
        welfare=welfare,
        result=result,
        num_steps=jnp.asarray(steps),
        residual=jnp.asarray(residual),
    )


def _conditions(log_p, log_s, log_mean_p1s, demand, f_s):
    """Residuals of the equilibrium in logs: free entry (1 equation) and the price indices (one per market).

    ``log_mean_p1s[d] = ln E[p_d^{1−σ}]``. Free entry: ``ln Σ_d E[π_d] − ln f_s``; price index:
    ``(1−σ) ln P_d − ln S − ln E[p_d^{1−σ}]``.
    """
    sigma = demand.sigma
    log_profit = demand.demand_exponent * log_p + log_mean_p1s - jnp.log(sigma)
    entry = jax.nn.logsumexp(log_profit) - jnp.log(f_s)
    index = (1.0 - sigma) * log_p - log_s - log_mean_p1s
    return jnp.concatenate([entry[None], index])


def free_entry_closed_form(demand: QuasiLinearCES, mc_tilde, f_s, *, income=None) -> Equilibrium:
    """The §4.4 equilibrium from the closed forms, given ``M̃C`` (scalar, or ``(D,)`` markets).

    ``P = (σ f_s)^{(1−ζ)/D} p̃^{(σ−1)(1−ζ)/D}`` and ``S = (σ f_s)^{−(1−ζ)(σ−1)/D} p̃^{−ζ(σ−1)/D}`` for
    one market (``D = σ−1−ζσ``); for several markets ``S`` solves the single free-entry condition
    ``S^{D/((1−ζ)(σ−1))} = Σ_d p̃_d^{−ζ/(1−ζ)}/(σ f_s)`` and ``P_d = p̃_d S^{1/(1−σ)}``. The printed second
    form of ``S`` has ``f_s`` with the wrong sign of exponent and ``ζ−1−ζσ`` for ``σ−1−ζσ`` (errata).
    """
    _check_positive("f_s", f_s)
    _check_positive("mc_tilde", mc_tilde)
    mc_tilde = jnp.asarray(mc_tilde)
    scalar = mc_tilde.ndim == 0
    m = jnp.atleast_1d(mc_tilde)
    sigma, zeta = demand.sigma, demand.zeta
    log_pt = jnp.log(demand.price(m))
    log_sum = jax.nn.logsumexp(-zeta / (1.0 - zeta) * log_pt)
    log_s = (log_sum - jnp.log(sigma * f_s)) * (1.0 - zeta) * (sigma - 1.0) / demand.slack
    log_p = log_pt + log_s / (1.0 - sigma)
    res = _conditions(log_p, log_s, (1.0 - sigma) * log_pt, demand, f_s)
    out = _finish(demand, m, log_p, log_s, income, optx.RESULTS.successful, 0, jnp.max(jnp.abs(res)))
    if scalar:
        out = jax.tree.map(lambda x: x[0] if (eqx.is_array(x) and x.ndim == 1) else x, out)
    return out


def solve_free_entry(
    demand: QuasiLinearCES,
    mc,
    f_s,
    *,
    income=None,
    weights=None,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int = 64,
    throw: bool = True,
) -> Equilibrium:
    """Solves free entry numerically from a sample (or quadrature) of marginal costs (004 §4.4).

    ``mc``: ``(F,)`` firms, or ``(F, D)`` firms × destination markets; ``weights`` ``(F,)``
    optional probability weights. Unknowns ``(ln P_d, ln S)``; equations: expected profit over all
    markets equals ``f_s`` and ``P_d^{1−σ} = S E[p_d^{1−σ}]``, with the expectations taken over the
    sample directly. Solved by ``optx.Newton`` from ``P = 1, S = 1`` (stopping rule: optimistix's
    Cauchy criterion with ``rtol``/``atol``, default ``100·eps`` of the dtype); differentiable by
    the implicit function theorem. The result code, the number of steps and the max-norm of the
    residual are returned; ``throw=True`` raises on failure.
    """
    _check_positive("f_s", f_s)
    _check_positive("mc", mc)
    mc = jnp.asarray(mc)
    if mc.ndim not in (1, 2):
        fail("mc", mc, "mc must have shape (firms,) or (firms, markets)")
    scalar = mc.ndim == 1
    mc2 = mc[:, None] if scalar else mc
    dtype = mc2.dtype
    sigma = jnp.asarray(demand.sigma, dtype)
    p1s = (1.0 - sigma) * jnp.log(demand.price(mc2))  # ln p^{1−σ} per firm and market
    if weights is None:
        log_mean = jax.nn.logsumexp(p1s, axis=0) - jnp.log(jnp.asarray(mc2.shape[0], dtype))
    else:
        w = jnp.asarray(weights, dtype)
        log_mean = jax.nn.logsumexp(p1s, axis=0, b=w[:, None]) - jnp.log(jnp.sum(w))
    f_s = jnp.asarray(f_s, dtype)
    n_mk = mc2.shape[1]

    def fn(y, args):
        log_mean, f_s = args
        return _conditions(y[:n_mk], y[n_mk], log_mean, demand, f_s)

    eps = float(jnp.finfo(dtype).eps)
    solver = optx.Newton(rtol=rtol if rtol is not None else 100 * eps, atol=atol if atol is not None else 100 * eps)
    sol = optx.root_find(fn, solver, jnp.zeros((n_mk + 1,), dtype), (log_mean, f_s), max_steps=max_steps, throw=throw)
    y = sol.value
    res = jnp.max(jnp.abs(fn(y, (log_mean, f_s))))
    mc_tilde = jnp.exp(log_mean / (1.0 - sigma)) / demand.markup
    out = _finish(demand, mc_tilde, y[:n_mk], y[n_mk], income, sol.result, sol.stats["num_steps"], res)
    if scalar:
        out = jax.tree.map(lambda x: x[0] if (eqx.is_array(x) and x.ndim == 1) else x, out)
    return out
