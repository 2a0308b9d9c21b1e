"""Baldwin & Robert-Nicoud (2004), *Trade and growth with heterogeneous firms* (002).

Two symmetric nations, the Melitz selection of 001 §5.5 with all fixed costs sunk, and an
innovation (I) sector whose learning curve ``b_I = 1/n`` (002 eq. 11) makes the number of varieties
grow at ``g``. Two entry points:

* :func:`baldwin_robert_nicoud` — the closed forms under Pareto cost draws ``G[a] = a^k`` on
  [0, 1] (002 eq. 3): eq. 7-10 (static) and eq. 14, 26-27 (dynamic);
* :func:`dynamic_melitz` — the same growth rate for any productivity distribution, from the
  selection engine (:mod:`jaxtrade.engine.selection`).

Feasibility (002 §3 and appendix A) is checked and reported, also under ``jit``/``vmap``: the growth
rate ``g ≥ 0`` (``CONDITIONS.negative_growth``) and labour in every activity non-negative: I-sector
labour ``L_I = (δ + g) F̄`` (eq. 15 with ``n b_I = 1``) and production labour ``L − L_I``
(``CONDITIONS.negative_labour``). A violated condition gives ``result =
RESULTS.nonlinear_divergence`` with ``condition`` naming it; ``throw=True`` (the default) raises.

Moved here from :mod:`jaxtrade.models.melitz`, which re-exports every name (``melitz.dynamic_melitz``
keeps working).
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

__all__ = ["BaldwinRobertNicoud", "DynamicMelitz", "baldwin_robert_nicoud", "dynamic_melitz"]

C = sel.CONDITIONS


def _dtype(*xs):
    return jnp.result_type(*[jnp.asarray(x) for x in xs], float)


def _check_common(sigma, tau):
    if is_concrete(sigma):
        a = np.asarray(sigma)
        if not np.all(np.isfinite(a)) or not np.all(a > 1):
            fail("sigma", sigma, "σ > 1 (CES demand elastic enough for monopolistic competition, 001 eq. 2)")
    if is_concrete(tau):
        a = np.asarray(tau)
        if not np.all(np.isfinite(a)) or not np.all(a >= 1.0):
            fail("tau", tau, "tau ≥ 1 (iceberg trade cost)")


def _feasibility(g, L_I, L_P):
    return sel.first_violation((g >= 0, C.negative_growth), ((L_I >= 0) & (L_P >= 0), C.negative_labour))


class BaldwinRobertNicoud(eqx.Module):
    """Static and dynamic Melitz model of Baldwin & Robert-Nicoud (2004), two symmetric nations,
    cost draws ``G[a] = a^k`` on [0, 1] (002 eq. 3), i.e. productivity 1/a ~ Pareto(k, 1).

    ``beta_`` β = k/(σ−1) (> 1), ``openness`` Ω = τ^{−k}(F_X/F_D)^{1−β} (eq. 8),
    ``domestic_cost_cutoff`` a_D and ``export_cost_cutoff`` a_X (eq. 9),
    ``mass_of_firms`` n (eq. 8, static), ``expected_fixed_cost`` F̄ = βF_D(1+Ω)/(β−1) (eq. 4, 14),
    ``average_productivity`` φ̃ = (β/(β−1))^{1/(σ−1)}/a_D (physical units, Result 2),
    ``measured_productivity`` 1/PPI of national firms (derived from the definition above eq. 10:
    ``(1−1/σ)(βn/(β−1))^{1/(σ−1)}/a_D``), ``expenditure`` E = L + ρF̄ (eq. 27, n b_I = 1),
    ``growth_rate`` g = E/(σF̄) − δ − ρ (eq. 26; eq. 14 when ρ = 0), ``innovation_labor``
    L_I = (δ + g)F̄ (eq. 15), ``production_labor`` L − L_I, ``feasible`` (g ≥ 0, L_I ≥ 0, L − L_I ≥ 0),
    ``condition`` (``CONDITIONS``) and ``result`` (``optx.RESULTS``: successful or
    ``nonlinear_divergence``).
    """

    beta_: jax.Array
    openness: jax.Array
    domestic_cost_cutoff: jax.Array
    export_cost_cutoff: jax.Array
    mass_of_firms: jax.Array
    expected_fixed_cost: jax.Array
    average_productivity: jax.Array
    measured_productivity: jax.Array
    expenditure: jax.Array
    growth_rate: jax.Array
    innovation_labor: jax.Array
    production_labor: jax.Array
    feasible: jax.Array
    condition: sel.CONDITIONS
    result: optx.RESULTS


def baldwin_robert_nicoud(
    sigma, k, tau, F_D, F_X, F_I, delta, L=1.0, rho=0.0, *, throw: bool = True
) -> BaldwinRobertNicoud:
    """Closed forms of 002: eq. 7-10 (static) and 14, 26-27 (dynamic, learning curve b_I = 1/n).

    Requires σ > 1, β = k/(σ−1) > 1 (002 eq. 7: the integrals converge) and a_D < 1 (eq. 9: some
    draws are abandoned); concrete violations raise ``JaxtradeInputError``, traced ones are the
    result's ``condition``. Feasibility (g ≥ 0, L_I ≥ 0, L − L_I ≥ 0) is reported in ``feasible``,
    ``condition`` and ``result``; with ``throw=True`` an infeasible or irregular point raises.
    """
    _check_common(sigma, tau)
    for n, v in (("k", k), ("F_D", F_D), ("F_X", F_X), ("F_I", F_I), ("delta", delta), ("L", L)):
        check_positive_scalar(n, v)
    check_positive_scalar("rho", rho, strict=False)
    if is_concrete(k) and is_concrete(sigma):
        b = np.asarray(k) / (np.asarray(sigma) - 1.0)
        if not np.all(b > 1):
            fail("k", k, f"β = k/(σ−1) > 1 (002 eq. 7 regularity condition; β = {b})")
    dt = _dtype(sigma, k, tau, F_D, F_X, F_I, delta, L, rho)
    sigma, k, tau, F_D, F_X, F_I, delta, L, rho = (
        jnp.asarray(x, dt) for x in (sigma, k, tau, F_D, F_X, F_I, delta, L, rho)
    )
    s = sigma - 1.0
    beta = k / s
    omega = tau ** (-k) * (F_X / F_D) ** (1.0 - beta)
    a_D = ((beta - 1.0) * F_I / F_D / (1.0 + omega)) ** (1.0 / k)
    a_X = (omega * (beta - 1.0) * F_I / F_X / (1.0 + omega)) ** (1.0 / k)
    n = L * (beta - 1.0) / (delta * sigma * beta * F_D * (1.0 + omega))
    Fbar = beta * F_D * (1.0 + omega) / (beta - 1.0)
    phitilde = (beta / (beta - 1.0)) ** (1.0 / s) / a_D
    measured = (1.0 - 1.0 / sigma) * (beta * n / (beta - 1.0)) ** (1.0 / s) / a_D
    if is_concrete(a_D) and not np.all(np.asarray(a_D) < 1.0):
        fail(
            "F_I",
            F_I,
            "(β−1) F_I/F_D < 1 + Ω, i.e. a_D < a_0 = 1 (002 eq. 9 assumes some draws are abandoned; "
            f"here a_D = {np.asarray(a_D)})",
        )
    E = L + rho * Fbar
    g = E / (sigma * Fbar) - delta - rho
    L_I = (delta + g) * Fbar
    L_P = L - L_I
    positive = (k > 0) & (F_D > 0) & (F_X > 0) & (F_I > 0) & (delta > 0) & (L > 0) & (rho >= 0)
    cond = sel.first_violation(
        (sigma > 1.0, C.sigma_not_above_one),
        (tau >= 1.0, C.tau_below_one),
        (positive, C.invalid_parameter),
        (beta > 1.0, C.tail_too_heavy),
        (a_D < 1.0, C.cutoff_outside_support),
    )
    feas = _feasibility(g, L_I, L_P)
    cond = C.where(cond == C.satisfied, feas, cond)
    return sel.tie(BaldwinRobertNicoud(
        beta_=beta,
        openness=omega,
        domestic_cost_cutoff=a_D,
        export_cost_cutoff=a_X,
        mass_of_firms=n,
        expected_fixed_cost=Fbar,
        average_productivity=phitilde,
        measured_productivity=measured,
        expenditure=E,
        growth_rate=g,
        innovation_labor=L_I,
        production_labor=L_P,
        feasible=(g >= 0) & (L_I >= 0) & (L_P >= 0),
        condition=cond,
        result=sel.report(optx.RESULTS.successful, cond, throw),
    ), throw)


class DynamicMelitz(eqx.Module):
    """The dynamic Melitz model of 002 for any productivity distribution, from the engine.

    ``cutoff`` φ* = 1/a_D, ``export_cutoff`` φ*_X = 1/a_X, ``expected_fixed_cost``
    F̄ = F_D + F_X (1−G(φ*_X))/(1−G(φ*)) + F_I/(1−G(φ*)) (002 eq. 4 and 22), ``growth_rate``
    g = (L + ρF̄)/(σF̄) − δ − ρ (eq. 26-27), ``mass_of_firms`` of the static model
    ``n = L/(σ δ F̄)`` (eq. 8), ``innovation_labor`` L_I = (δ + g)F̄, ``production_labor`` L − L_I,
    ``feasible``, ``condition``, ``result``, ``num_steps`` (``steps``: the old name), ``residual``.
    """

    cutoff: jax.Array
    export_cutoff: jax.Array
    expected_fixed_cost: jax.Array
    mass_of_firms: jax.Array
    growth_rate: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array
    innovation_labor: jax.Array = None
    production_labor: jax.Array = None
    feasible: jax.Array = None
    condition: sel.CONDITIONS = None

    @property
    def steps(self):
        """The old name of ``num_steps`` (read-only alias)."""
        return self.num_steps


def dynamic_melitz(
    dist,
    sigma,
    tau,
    F_D,
    F_X,
    F_I,
    delta,
    L=1.0,
    rho=0.0,
    *,
    max_steps: int = 64,
    throw: bool = True,
    rule=quad.DEFAULT_RULE,
) -> DynamicMelitz:
    """Growth rate of the dynamic Melitz model (002 §3, appendix A) for a general distribution.

    With all fixed costs sunk and the learning curve b_I = 1/n, the cut-off conditions (002 eq. 20)
    and zero profit in innovation (eq. 23) are the symmetric Melitz conditions (001 eq. 16) with
    ``f = F_D``, ``f_X = F_X``, ``f_E = F_I`` (the common discount factor δ+ρ+g cancels from the
    cut-offs), two nations; F̄ is the expected sunk cost of a winning variety and
    ``g = E/(σF̄) − δ − ρ`` with ``E = L + ρF̄``. Needs selection into exporting
    (τ^{σ−1} F_X > F_D) and a finite ``E[φ^{σ−1}]``; feasibility is reported as in
    :func:`baldwin_robert_nicoud`.
    """
    _check_common(sigma, tau)
    if not isinstance(dist, dists.AbstractDistribution):
        fail("dist", type(dist).__name__, "an AbstractDistribution over productivity φ")
    for n, v in (("F_D", F_D), ("F_X", F_X), ("F_I", F_I), ("delta", delta), ("L", L)):
        check_positive_scalar(n, v)
    check_positive_scalar("rho", rho, strict=False)
    if all(is_concrete(x) for x in (tau, F_X, F_D, sigma)):
        if not np.all(np.asarray(tau) ** (np.asarray(sigma) - 1.0) * np.asarray(F_X) > np.asarray(F_D)):
            fail("F_X", F_X, "τ^(σ−1) F_X > F_D: selection into export markets (001 §5.5)")
    if is_concrete(sigma):
        b = dist.tail_index()
        if is_concrete(b) and not np.all(np.asarray(b) > np.asarray(sigma) - 1.0):
            fail("dist", b, f"tail index b > σ − 1 = {np.asarray(sigma) - 1.0} (average firm size finite, 001 §6.1)")
    dt = _dtype(sigma, tau, F_D, F_X, F_I, delta, L, rho)
    args = tuple(jnp.asarray(x, dt) for x in (sigma, tau, F_D, F_X, F_I, delta, L, rho))
    return _dynamic_melitz(dist, *args, max_steps, throw, rule)


@eqx.filter_jit
def _dynamic_melitz(dist, sigma, tau, F_D, F_X, F_I, delta, L, rho, max_steps, throw, rule):
    dt = sigma.dtype
    st = sel.Strategies(
        multiplier=jnp.stack([jnp.ones((), dt), tau ** (1.0 - sigma)]),
        fixed_cost=jnp.stack([F_D, F_X]),
        weight=jnp.ones((2,), dt),
        origin=(0, 0),
        market=(0, 0),
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(F_I, (1,)), 1, rule)
    sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
    S, SX = sol.survival[0], sol.survival[1]
    Fbar = F_D + F_X * SX / S + F_I / S
    E = L + rho * Fbar
    g = E / (sigma * Fbar) - delta - rho
    L_I = (delta + g) * Fbar
    L_P = L - L_I
    positive = (F_D > 0) & (F_X > 0) & (F_I > 0) & (delta > 0) & (L > 0) & (rho >= 0)
    cond = sel.first_violation(
        (tau >= 1.0, C.tau_below_one),
        (positive, C.invalid_parameter),
        (tau ** (sigma - 1.0) * F_X > F_D, C.no_export_selection),
    )
    cond = C.where(cond == C.satisfied, sol.condition, cond)
    cond = C.where(cond == C.satisfied, _feasibility(g, L_I, L_P), cond)
    return sel.tie(DynamicMelitz(
        cutoff=sol.cutoffs[0],
        export_cutoff=sol.cutoffs[1],
        expected_fixed_cost=Fbar,
        mass_of_firms=L / (sigma * delta * Fbar),
        growth_rate=g,
        result=sel.report(sol.result, cond, throw),
        num_steps=sol.num_steps,
        residual=sol.residual,
        innovation_labor=L_I,
        production_labor=L_P,
        feasible=(g >= 0) & (L_I >= 0) & (L_P >= 0),
        condition=cond,
    ), throw)
