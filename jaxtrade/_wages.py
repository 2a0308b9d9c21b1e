"""Endogenous wages (Tyazhelnikov 004, Section 3.5, eq. 10, Lemma 2, Proposition 8).

With wages ``w_k`` a firm's marginal cost is ``MC(a; w, τ) = min_c Σ_i w_{c_i} a_{i c_i} + τ T(c_i, c_{i+1})``
(eq. 10, with the wage of the country where the part is made) and its labour demand per unit of
output in country ``k`` is ``L_Dk = Σ_i 1(c_i = k) a_ik = ∂MC/∂w_k`` (Shephard's lemma / the
envelope theorem; ``ChainSolution.labour``). Transport services use no labour (§3.5).

The closure (the paper leaves it open; this is the one implemented)
-------------------------------------------------------------------
- **Goods market: Section 4.** Final goods are sold to consumers with the quasi-linear CES demand
  of §4.1 (σ, ζ); firms pay the sunk cost ``f_s`` (in units of the numeraire) to draw their cost
  matrix ``a`` and enter freely (§4.4). The mass of firms ``S`` and the price index follow from
  ``M̃C(w) = (E[MC(a; w)^{1−σ}])^{1/(1−σ)}`` by the closed forms of :mod:`jaxtrade._equilibrium`.
- **Numeraire: country 1's wage.** Country 1 (index 0) also has the homogeneous-good sector of
  §4.3 (productivity 1), which pins ``w_1 = 1`` and employs the labour the parts sector leaves
  (reported as ``numeraire_sector_labour = L_1 − L_1^D``; it must be ≥ 0 for the closure to hold).
- **Labour markets of countries 2..M clear**: ``L_k^D(w) = L_k`` (inelastic supplies), ``M − 1``
  equations in ``w_2..w_M``.

Aggregate labour demand. With ``q(MC) = P^{(σ−1−ζσ)/(1−ζ)} p^{−σ}`` and free entry
(``P^{(σ−1−ζσ)/(1−ζ)} = σ f_s p̃^{σ−1}``), ``L_k^D = S E[q(MC) ∂MC/∂w_k]`` simplifies to

    L_k^D(w) = (σ − 1) f_s S(w) · ∂ ln M̃C(w) / ∂w_k,

so that the wage bill ``Σ_k w_k L_k^D`` is the variable cost ``(σ−1) f_s S`` when τ = 0 (``M̃C`` is then
homogeneous of degree one in ``w``).

Uniqueness for M = 2 (Proposition 8, "work in progress" in the paper). Write ``s_f = w_k ℓ_fk/MC_f``
for a firm's cost share of country k and ``E_ω`` for the mean with weights ``MC^{1−σ}``. Then
``ε(M̃C, w_k) = E_ω[s]`` and, using Lemma 2 (``ℓ_fk`` non-increasing in ``w_k``),
``ε(E[MC^{−σ} ℓ_k], w_k) ≤ −σ E_ω[s²]/E_ω[s] ≤ −σ E_ω[s]``; since ``S p̃^{σ−1} ∝ M̃C^{(σ−1)(1−ζ/D)}``,
``ε(L_k^D, w_k) ≤ ((σ−1)(1 − ζ/D) − σ) E_ω[s] < 0`` (``D = σ−1−ζσ``). Own-wage labour demand strictly
falls wherever country k is used, for any M (the aggregate Lemma 2); with M = 2 the single excess
demand is strictly decreasing, runs from +∞ (``w_2 → 0``: every firm moves to country 2) to 0, and
the equilibrium exists and is unique. The tests check this numerically over a grid of parameters,
and for M = 3 that Newton from many starting points finds one equilibrium.

Smoothing. With a finite sample of firms and the exact minimum, labour demand is a step function of
``w`` (firms switch paths discretely). :func:`solve_wages` therefore either
- uses the soft-min relaxation of the firm problem (``temperature`` t, :func:`jaxtrade.solve_chain`):
  ``L^D`` is smooth, the root is found by a trust-region Newton method (``optx.Dogleg``) on ``ln w_2..ln w_M`` and differentiated by
  the implicit function theorem (``optx.ImplicitAdjoint``); the equilibrium converges to the exact
  one as ``t → 0`` (tested); or
- (M = 2, ``temperature=None``) brackets the exact step function's crossing by bisection
  on ``ln w_2``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float

from ._equilibrium import QuasiLinearCES, free_entry_closed_form
from ._production import solve_chain
from ._validation import fail, is_concrete

__all__ = ["WageEquilibrium", "labour_demand", "solve_wages"]


class WageEquilibrium(eqx.Module):
    """Equilibrium wages of §3.5 under the closure of :mod:`jaxtrade._wages`.

    - ``wages`` ``(M,)`` with ``wages[0] = 1`` (numeraire); ``labour_demand`` ``(M,)`` of the parts
      sector; ``numeraire_sector_labour`` ``L_1 − L_1^D`` (negative: the closure is violated).
    - ``aggregate_cost`` ``M̃C``, ``mass_of_firms`` ``S``, ``price_index`` ``P`` at those wages.
    - ``result``, ``num_steps``, ``residual`` (max |ln L_k^D − ln L_k|, k ≥ 2).
    """

    wages: Float[Array, " countries"]
    labour_demand: Float[Array, " countries"]
    numeraire_sector_labour: Float[Array, ""]
    aggregate_cost: Float[Array, ""]
    mass_of_firms: Float[Array, ""]
    price_index: Float[Array, ""]
    result: optx.RESULTS
    num_steps: Array
    residual: Float[Array, ""]


def _log_mean_mc(wages, costs, trade_costs, tau, sigma, temperature):
    """``ln E[MC^{1−σ}]`` over the firm sample at the given wages."""
    mc = solve_chain(costs, trade_costs, tau, wages=wages, temperature=temperature).cost
    x = (1.0 - sigma) * jnp.log(mc)
    return jax.nn.logsumexp(x) - jnp.log(jnp.asarray(x.shape[0], x.dtype))


def labour_demand(wages, costs, trade_costs, tau, demand: QuasiLinearCES, f_s, *, temperature=None):
    """Aggregate labour demand of the parts sector in every country, ``(M,)``.

    ``L_k^D = (σ−1) f_s S(w) ∂ ln M̃C/∂w_k`` (see the module docstring). With ``temperature=None``
    the derivative is the envelope one (each firm's path held fixed: ``ChainSolution.labour``);
    with a temperature it is the derivative of the smooth soft-min cost. ``costs`` ``(F, N, M)``
    is the (fixed) sample of firms' cost draws.
    Returns ``(L^D, M̃C, S, P)``.
    """
    sigma = demand.sigma
    log_mean, grad = jax.value_and_grad(_log_mean_mc)(wages, costs, trade_costs, tau, sigma, temperature)
    mc_tilde = jnp.exp(log_mean / (1.0 - sigma))
    eq = free_entry_closed_form(demand, mc_tilde, f_s)
    dln_mc = grad / (1.0 - sigma)  # ∂ ln M̃C / ∂ w
    ld = (sigma - 1.0) * f_s * eq.mass_of_firms * dln_mc
    return ld, mc_tilde, eq.mass_of_firms, eq.price_index


def _check(costs, labour_supply, f_s, temperature):
    costs = jnp.asarray(costs)
    if costs.ndim != 3:
        fail("costs", costs, "costs must have shape (firms, stages, countries)")
    m = costs.shape[-1]
    if m < 2:
        fail("costs", costs, "endogenous wages need at least two countries")
    ls = jnp.asarray(labour_supply)
    if ls.shape != (m,):
        fail("labour_supply", labour_supply, f"labour_supply must have shape (M,) = ({m},)")
    for name, x in (("labour_supply", ls), ("f_s", f_s)):
        if is_concrete(x):
            a = np.asarray(x)
            if not np.all(np.isfinite(a)) or not np.all(a > 0):
                fail(name, x, f"{name} must be finite and > 0")
    if temperature is None and m != 2:
        fail("temperature", temperature, "the exact (temperature=None) solver brackets one wage: it needs M = 2; pass a soft-min temperature for M > 2")
    if temperature is not None and is_concrete(temperature):
        t = np.asarray(temperature)
        if t.shape != () or not np.isfinite(t) or not t > 0:
            fail("temperature", temperature, "temperature must be a finite scalar > 0 or None")
    return costs, ls


def _excess(log_w_rest, args):
    costs, trade_costs, tau, labour_supply, demand, f_s, temperature = args
    wages = jnp.concatenate([jnp.ones((1,), log_w_rest.dtype), jnp.exp(log_w_rest)])
    ld = labour_demand(wages, costs, trade_costs, tau, demand, f_s, temperature=temperature)[0]
    tiny = jnp.finfo(ld.dtype).tiny
    return jnp.log(jnp.maximum(ld[1:], tiny)) - jnp.log(labour_supply[1:])


@eqx.filter_jit
def _excess_scalar(log_w2, args):
    return _excess(log_w2[None], args)[0]


@eqx.filter_jit
def _newton(y0, args, rtol, atol, max_steps, throw):
    # A trust-region (dogleg) Newton: plain Newton diverges from far starting points (tested).
    solver = optx.Dogleg(rtol=rtol, atol=atol)
    return optx.root_find(_excess, solver, y0, args, max_steps=max_steps, throw=throw, adjoint=optx.ImplicitAdjoint())


def _bisect(fn, bracket, dtype, rtol, atol, max_steps):
    """Bisection on ``ln w_2`` for a non-increasing (step) excess demand ``fn`` (host loop, jitted ``fn``).

    Stops when the bracket is shorter than ``atol + rtol·|y|`` (default 1e-12 each): the point is
    then the crossing of excess demand through zero, which for the exact minimum lies at a jump
    (one firm switching its path), so the residual there need not be small — it is reported.
    Expands the bracket (×4 in ``ln w``) while both ends have the same sign. Every evaluation
    counts as a step against ``max_steps``.
    """
    f = fn
    lo, hi = (float(np.log(b)) for b in bracket)
    rtol = 1e-12 if rtol is None else rtol
    atol = 1e-12 if atol is None else atol
    flo, fhi = float(f(jnp.asarray(lo, dtype))), float(f(jnp.asarray(hi, dtype)))
    k = 2
    while k < max_steps and not (flo > 0 and fhi <= 0):
        centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        if flo <= 0:
            lo = centre - 4 * half
            flo = float(f(jnp.asarray(lo, dtype)))
        else:
            hi = centre + 4 * half
            fhi = float(f(jnp.asarray(hi, dtype)))
        k += 1
    while k < max_steps and flo > 0 and fhi <= 0 and not hi - lo < atol + rtol * abs(0.5 * (lo + hi)):
        mid = 0.5 * (lo + hi)
        fmid = float(f(jnp.asarray(mid, dtype)))
        if fmid > 0:
            lo = mid
        else:
            hi = mid
        k += 1
    ok = flo > 0 and fhi <= 0 and hi - lo < atol + rtol * abs(0.5 * (lo + hi))
    result = optx.RESULTS.successful if ok else optx.RESULTS.nonlinear_max_steps_reached
    return jnp.asarray(0.5 * (lo + hi), dtype), jnp.asarray(k), result


def solve_wages(
    costs,
    trade_costs,
    tau,
    labour_supply,
    *,
    demand: QuasiLinearCES,
    f_s,
    temperature=None,
    initial_wages=None,
    bracket=(1e-4, 1e4),
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int = 200,
    throw: bool = True,
) -> WageEquilibrium:
    """Wages that clear the labour markets of countries 2..M (004 §3.5, Proposition 8).

    Args:
        costs: ``(F, N, M)`` sample of firms' cost draws (held fixed: common random numbers).
        trade_costs, tau: as in :func:`jaxtrade.solve_chain`; differentiable (implicit function
            theorem) when ``temperature`` is given.
        labour_supply: ``(M,)`` inelastic supplies ``L_k``; ``L_1`` only enters the check
            ``numeraire_sector_labour = L_1 − L_1^D ≥ 0``.
        demand, f_s: the §4 goods market (σ, ζ) and sunk entry cost.
        temperature: soft-min temperature (smooth labour demand, dogleg Newton on ``ln w_k``); ``None``
            for the exact minimum (M = 2 only; bisection on ``ln w_2`` from ``bracket``, expanded if needed; not traceable).
        initial_wages: ``(M,)`` starting point of the smooth solver (default all ones).
        rtol, atol: stopping tolerances on ``ln w`` (default ``1e3·eps`` of the dtype, and for
            bisection an interval of ``1e-12`` relative).

    Returns:
        :class:`WageEquilibrium` with the result code, steps and residual.
    """
    costs, labour_supply = _check(costs, labour_supply, f_s, temperature)
    dtype = costs.dtype
    cast = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    trade_costs, tau, labour_supply, f_s = cast(trade_costs), cast(tau), cast(labour_supply), cast(f_s)
    t = None if temperature is None else cast(temperature)
    m = costs.shape[-1]
    eps = float(jnp.finfo(dtype).eps)
    args = (costs, trade_costs, tau, labour_supply, demand, f_s, t)
    if t is None:
        log_w, steps, result = _bisect(lambda y: _excess_scalar(y, args), bracket, dtype, rtol, atol, max_steps)
        if throw and result != optx.RESULTS.successful:
            raise RuntimeError(f"wage bisection did not bracket a crossing within max_steps = {max_steps} (bracket {bracket})")
        log_w_rest = log_w[None]
        sol = None
    else:
        y0 = jnp.zeros((m - 1,), dtype) if initial_wages is None else jnp.log(cast(initial_wages)[1:] / cast(initial_wages)[0])
        sol = _newton(y0, args, rtol if rtol is not None else 1e3 * eps, atol if atol is not None else 1e3 * eps, int(max_steps), bool(throw))
        log_w_rest = sol.value
    wages = jnp.concatenate([jnp.ones((1,), dtype), jnp.exp(log_w_rest)])
    ld, mc_tilde, mass, price_index = labour_demand(wages, costs, trade_costs, tau, demand, f_s, temperature=t)
    res = jnp.max(jnp.abs(_excess(log_w_rest, args)))
    return WageEquilibrium(
        wages=wages,
        labour_demand=ld,
        numeraire_sector_labour=labour_supply[0] - ld[0],
        aggregate_cost=mc_tilde,
        mass_of_firms=mass,
        price_index=price_index,
        result=result if sol is None else sol.result,
        num_steps=steps if sol is None else jnp.asarray(sol.stats["num_steps"]),
        residual=res,
    )
