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
  ``M̃C(w) = (E[MC(a; w)^{1−σ}])^{1/(1−σ)}`` by the closed forms of :mod:`jaxtrade.models.sequential_ge`.
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
- (``temperature=None``) solves the exact step functions: for M = 2 by bisection on ``ln w_2``; for
  M > 2 by a homotopy of smooth equilibria as the temperature falls, then a Gauss-Seidel polish that
  bisects each market in its own wage.

The other closure (``closure="full_employment"``, footnote 31: no homogeneous sector, every labour
market clears) is also implemented. Given ``w``, free entry pins ``P`` (``P^{D/(1−ζ)} = σ f_s p̃^{σ−1}``)
and the price index then pins ``S = (P/p̃)^{1−σ}``, so ``L^D(w)`` has no free scale: quasi-linear
demand is not homogeneous of degree zero in the wages (``f_s``, additive ``τ`` and the utility's linear
good fix the unit of account), and ``w_1 = 1`` is not a free normalisation. All ``M`` wages are
unknowns and all ``M`` markets clear, ``L_k^D(w) = L_k`` (``docs/equilibrium.md``); for the exact
minimum the solver is the homotopy + Gauss-Seidel polish for every M.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float

from .sequential_ge import QuasiLinearCES, free_entry_closed_form
from ..engine.production import Tree, solve_chain, solve_tree
from ..engine.selection import JaxtradeSolveError
from ..engine.validation import fail, is_concrete

__all__ = ["WageEquilibrium", "labour_demand", "solve_wages", "CLOSURES"]

#: The two closures of the labour market (see :func:`solve_wages`).
CLOSURES = ("numeraire_sector", "full_employment")


class WageEquilibrium(eqx.Module):
    """Equilibrium wages of §3.5 under the closure of :mod:`jaxtrade.models.wages`.

    - ``wages`` ``(M,)`` with ``wages[0] = 1`` (numeraire; under the full-employment closure ``w_1`` is
      solved for too); ``labour_demand`` ``(M,)`` of the parts sector; ``numeraire_sector_labour``
      ``L_1 − L_1^D`` (negative: the closure is violated; ≈ 0 under full employment).
    - ``tariff_revenue``: the ad-valorem reading's trade-cost revenue, paid to consumers (numeraire
      units; zero in the iceberg reading and for additive costs, whose transport uses no labour);
      ``tariff_revenue_by_importer`` ``(M,)``: the part of it levied on intermediate parts, by the
      importing country (where the part is assembled into its parent); ``tariff_revenue_by_destination``
      (scalar, or ``(D,)``): the part levied on the final shipment into each destination market (zero
      without destinations). The three add up: ``Σ by_importer + Σ by_destination = tariff_revenue``.
    - ``aggregate_cost`` ``M̃C``, ``mass_of_firms`` ``S``, ``price_index`` ``P`` at those wages, and
      ``consumer_surplus`` ``CS = W − E`` (§4.1); all four per destination market ``(D,)`` with destinations
      (``S`` one for all). Welfare of a market's consumers is ``E + CS`` plus the tariff revenue they collect.
    - ``result``, ``num_steps``, ``residual`` (max |ln L_k^D − ln L_k| over the cleared markets: k ≥ 2, or all k under full employment).
    """

    wages: Float[Array, " countries"]
    labour_demand: Float[Array, " countries"]
    numeraire_sector_labour: Float[Array, ""]
    tariff_revenue: Float[Array, ""]
    tariff_revenue_by_importer: Float[Array, " countries"]
    tariff_revenue_by_destination: Float[Array, "*destinations"]
    aggregate_cost: Float[Array, "*destinations"]
    mass_of_firms: Float[Array, ""]
    price_index: Float[Array, "*destinations"]
    consumer_surplus: Float[Array, "*destinations"]
    result: optx.RESULTS
    num_steps: Array
    residual: Float[Array, ""]


def _log_mean_mc(wages, costs, trade_costs, tau, sigma, temperature, tree=None, value_dependent=False, destination_costs=None):
    """``ln E[MC^{1−σ}]`` over the firm sample at the given wages (chain or tree technology); ``(D,)``
    with destination markets."""
    kw = dict(wages=wages, temperature=temperature, value_dependent=value_dependent, destination_costs=destination_costs)
    if tree is None:
        mc = solve_chain(costs, trade_costs, tau, **kw).cost
    else:
        mc = solve_tree(costs, tree, trade_costs, tau, **kw).cost
    x = (1.0 - sigma) * jnp.log(mc)
    return jax.nn.logsumexp(x, axis=0) - jnp.log(jnp.asarray(x.shape[0], x.dtype))


def labour_demand(wages, costs, trade_costs, tau, demand: QuasiLinearCES, f_s, *, temperature=None, tree=None, value_dependent=False,
                  reading: str = "iceberg", destination_costs=None):
    """Aggregate labour demand of the parts sector in every country, ``(M,)``.

    ``L_k^D = (σ−1) f_s S(w) ∂ ln M̃C/∂w_k`` (see the module docstring). With ``temperature=None``
    the derivative is the envelope one (each firm's path held fixed: ``ChainSolution.labour``);
    with a temperature it is the derivative of the smooth soft-min cost. ``costs`` ``(F, N, M)``
    is the (fixed) sample of firms' cost draws; with a ``tree`` (004 §2.2) ``N`` is its nodes.

    Value-dependent costs (eq. 7-9) have two readings (footnotes 18-19), ``reading``:

    - ``"iceberg"``: the quantity lost in transit is produced, so ``∂MC/∂w_k`` (which counts the
      labour that makes the lost quantity) is the labour per unit;
    - ``"ad_valorem"``: the trade cost is a tariff, paid as money, its revenue going to the importing
      country's consumers: labour per unit is the raw ``Σ_i 1(c_i = k) a_ik`` of the path, and the
      tariff per unit is the path's ``trade_cost`` (TTMC). Needs the exact minimum (a path).

    Then ``L_k^D = (σ−1) f_s S · E[MC^{−σ} ℓ_k] / E[MC^{1−σ}]`` (demand ``q ∝ MC^{−σ}`` with free entry).

    With ``destination_costs`` ``(M, D)`` (§3.3, final shipment to D destination markets) a firm enters
    once (``f_s``) and serves every destination market from its best path to it (004 §4.5, as in
    :func:`jaxtrade.free_entry_closed_form`); with ``R_d = P_d^{−ζ/(1−ζ)}`` the sales in market d,
    ``L_k^D = (σ−1)/σ Σ_d R_d ∂ ln M̃C_d/∂w_k``; ``M̃C`` and ``P`` are then ``(D,)``. In the ad-valorem
    reading the same weights apply market by market, ``L_k^D = (σ−1)/σ Σ_d R_d E[MC_d^{−σ} ℓ_kd]/E[MC_d^{1−σ}]``
    with ``ℓ_kd`` the raw labour of the firm's path to d, and the final shipment is a tariff too (its
    revenue to market d's consumers; :class:`WageEquilibrium`).
    Returns ``(L^D, M̃C, S, P)``.
    """
    ld, _, mc_tilde, mass, price_index = _labour_and_revenue(wages, costs, trade_costs, tau, demand, f_s, temperature, tree, value_dependent,
                                                             reading, destination_costs)
    return ld, mc_tilde, mass, price_index


READINGS = ("iceberg", "ad_valorem")


def _labour_and_revenue(wages, costs, trade_costs, tau, demand, f_s, temperature, tree, value_dependent, reading, destination_costs=None,
                        breakdown=False):
    """``(L^D, revenue, M̃C, S, P)``. ``revenue`` is ``(total, by_importer, by_destination)`` (zeros except in
    the ad-valorem reading); the two breakdowns are computed only with ``breakdown=True`` (else ``None``)."""
    sigma = demand.sigma
    m = costs.shape[-1]
    if reading == "iceberg" or not value_dependent:
        args = (costs, trade_costs, tau, sigma, temperature, tree, value_dependent, destination_costs)
        log_mean = _log_mean_mc(wages, *args)
        jac = jax.jacrev(_log_mean_mc)(wages, *args)  # (M,) or (D, M)
        mc_tilde = jnp.exp(log_mean / (1.0 - sigma))
        eq = free_entry_closed_form(demand, mc_tilde, f_s)
        dln_mc = jac / (1.0 - sigma)  # ∂ ln M̃C / ∂ w
        if destination_costs is None:
            ld = (sigma - 1.0) * f_s * eq.mass_of_firms * dln_mc
        else:
            # One entry (f_s once) serves every market (004 §4.5): market d's sales R_d = P_d^{−ζ/(1−ζ)} and
            # L_k^D = (σ−1)/σ Σ_d R_d ∂ ln M̃C_d/∂w_k (one market: R = σ f_s S, the formula above).
            zeta = demand.zeta
            sales = jnp.exp(-zeta / (1.0 - zeta) * jnp.log(eq.price_index))  # (D,)
            ld = (sigma - 1.0) / sigma * jnp.sum(sales[:, None] * dln_mc, axis=0)
        zero = jnp.zeros((), ld.dtype)
        by_dest = jnp.zeros_like(mc_tilde)
        revenue = (zero, jnp.zeros((m,), ld.dtype) if breakdown else None, by_dest if breakdown else None)
        return ld, revenue, mc_tilde, eq.mass_of_firms, eq.price_index
    # The ad-valorem reading (footnotes 18-19): one unit of every part per unit of the final good, the trade
    # cost a tariff on the value that crosses the border. Labour per unit is the path's raw labour, the
    # tariff per unit its TTMC; each market d weighs firm f by q_d(MC_fd) ∝ MC_fd^{−σ}.
    has_dest = destination_costs is not None
    kw = dict(wages=wages, value_dependent=True, destination_costs=destination_costs)
    sol = solve_chain(costs, trade_costs, tau, **kw) if tree is None else solve_tree(costs, tree, trade_costs, tau, **kw)
    mc = sol.cost if has_dest else sol.cost[:, None]  # (F, D)
    path = sol.path if has_dest else sol.path[..., None]  # (F, n, D)
    ttmc = sol.trade_cost if has_dest else sol.trade_cost[:, None]  # (F, D)
    n_firms = mc.shape[0]
    onehot = path[:, :, None, :] == jnp.arange(m, dtype=path.dtype)[None, None, :, None]  # (F, n, M, D)
    raw = jnp.sum(jnp.where(onehot, costs[..., None], 0.0), axis=1)  # (F, M, D): Σ_i 1(c_id = k) a_ik
    log_mc = jnp.log(mc)
    log_mean = jax.nn.logsumexp((1.0 - sigma) * log_mc, axis=0) - jnp.log(jnp.asarray(n_firms, mc.dtype))  # (D,)
    mc_tilde = jnp.exp(log_mean / (1.0 - sigma))
    eq = free_entry_closed_form(demand, mc_tilde if has_dest else mc_tilde[0], f_s)
    if has_dest:
        zeta = demand.zeta
        sales = jnp.exp(-zeta / (1.0 - zeta) * jnp.log(eq.price_index))  # R_d; Σ_d R_d = σ f_s S (free entry)
    else:
        sales = (sigma * f_s * eq.mass_of_firms)[None]
    # S·E[q_d(MC_d) x] = (σ−1)/σ R_d E[MC_d^{−σ} x]/E[MC_d^{1−σ}]  (one market: (σ−1) f_s S E[...]/E[...])
    weight = jnp.exp(-sigma * log_mc - log_mean[None]) / n_firms * ((sigma - 1.0) / sigma * sales)[None]  # (F, D)
    ld = jnp.einsum("fd,fmd->m", weight, raw)
    total = jnp.sum(weight * ttmc)
    by_importer = by_dest = None
    if breakdown:
        by_importer, by_dest = _tariff_breakdown(weight, costs, path, wages, trade_costs, tau, tree, destination_costs)
        if not has_dest:
            by_dest = by_dest[0]
    mct = mc_tilde if has_dest else mc_tilde[0]
    return ld, (total, by_importer, by_dest), mct, eq.mass_of_firms, eq.price_index


def _tariff_breakdown(weight, costs, path, wages, trade_costs, tau, tree, destination_costs):
    """Who collects the ad-valorem tariffs: ``(by_importer (M,), by_destination (D,))``.

    Per unit of the final good, the part made at node ``l`` crosses into its parent's country carrying its
    value ``V_l = w a_l + Σ_{c child of l} (1 + τ_c T(c_c, c_l)) V_c`` (eq. 7-9 read as values, upstream
    tariffs included) and pays ``τ_l T(c_l, c_parent) V_l`` to the country of the parent, the importer; the
    final shipment to destination d pays ``τ^F T^F(c_root, d) V_root`` to market d. The legs add up to
    TTMC (``MC_d = (1 + τ^F T^F) V_root``). ``weight`` ``(F, D)`` turns per-unit amounts into market totals."""
    f, n, m = costs.shape
    d = path.shape[-1]
    tr = Tree.chain(n) if tree is None else tree
    tau = jnp.asarray(tau)
    edge = {c: e for e, c in enumerate(tr.edges)}
    loc = [path[:, i, :] for i in range(n)]  # (F, D)
    countries = jnp.arange(m, dtype=path.dtype)[None, :, None]
    value, imported = {}, jnp.zeros((f, m, d), weight.dtype)
    for node in tr.order:  # children first
        v = wages[loc[node]] * jnp.take_along_axis(costs[:, node, :], loc[node], axis=1)
        for c in tr.children[node]:
            t = tau if tau.ndim == 0 else tau[edge[c]]
            vc = value.pop(c)
            tariff = t * trade_costs[loc[c], loc[node]] * vc  # paid to the country of `node`
            imported = imported + jnp.where(loc[node][:, None, :] == countries, tariff[:, None, :], 0.0)
            v = v + vc + tariff
        value[node] = v
    if destination_costs is None:
        ship = jnp.zeros_like(weight)
    else:
        ship = destination_costs[loc[tr.root], jnp.arange(d)[None, :]] * value[tr.root]  # (F, D)
    return jnp.einsum("fd,fmd->m", weight, imported), jnp.sum(weight * ship, axis=0)


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
    if temperature is not None and is_concrete(temperature):
        t = np.asarray(temperature)
        if t.shape != () or not np.isfinite(t) or not t > 0:
            fail("temperature", temperature, "temperature must be a finite scalar > 0 or None")
    return costs, ls


def _excess(log_w_rest, args):
    costs, trade_costs, tau, labour_supply, demand, f_s, temperature, tree, value_dependent, closure, reading, dest = args
    wages = _wages_of(log_w_rest, closure)
    ld = _labour_and_revenue(wages, costs, trade_costs, tau, demand, f_s, temperature, tree, value_dependent, reading, dest)[0]
    tiny = jnp.finfo(ld.dtype).tiny
    log_ld = jnp.log(jnp.maximum(ld, tiny))
    if closure == "full_employment":  # every labour market clears, in all M wages (w_1 included)
        return log_ld - jnp.log(labour_supply)
    return log_ld[1:] - jnp.log(labour_supply[1:])


def _wages_of(log_w, closure):
    """The wage vector from the unknowns: ``ln w_2..ln w_M`` (numeraire sector, ``w_1 = 1``) or
    ``ln w_1..ln w_M`` (full employment: the wage level is an unknown, see :func:`solve_wages`)."""
    if closure == "full_employment":
        return jnp.exp(log_w)
    return jnp.concatenate([jnp.ones((1,), log_w.dtype), jnp.exp(log_w)])


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
    # A bracket whose ends already differ in sign is kept, in either orientation: a rising crossing (an
    # unstable equilibrium, possible under the full-employment closure) is found where it is asked for.
    rising = flo <= 0 < fhi
    while k < max_steps and not rising and not (flo > 0 and fhi <= 0):
        centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        if flo <= 0:
            lo = centre - 4 * half
            flo = float(f(jnp.asarray(lo, dtype)))
        else:
            hi = centre + 4 * half
            fhi = float(f(jnp.asarray(hi, dtype)))
        k += 1

    def bracketed():
        return (flo <= 0 < fhi) if rising else (flo > 0 and fhi <= 0)

    while k < max_steps and bracketed() and not hi - lo < atol + rtol * abs(0.5 * (lo + hi)):
        mid = 0.5 * (lo + hi)
        fmid = float(f(jnp.asarray(mid, dtype)))
        if (fmid > 0) != rising:
            lo, flo = mid, fmid
        else:
            hi, fhi = mid, fmid
        k += 1
    ok = bracketed() and hi - lo < atol + rtol * abs(0.5 * (lo + hi))
    result = optx.RESULTS.successful if ok else optx.RESULTS.nonlinear_max_steps_reached
    return jnp.asarray(0.5 * (lo + hi), dtype), jnp.asarray(k), result


@eqx.filter_jit
def _excess_vector(log_w_rest, args):
    return _excess(log_w_rest, args)


def _polish(log_w_rest, args, dtype, rtol, atol, max_steps, max_sweeps=60):
    """Exact wages for M > 2 on the step-function labour demands of a finite sample.

    Gauss-Seidel over the labour markets: market k's own wage is moved to the crossing of its exact
    excess demand through zero (:func:`_bisect` on ``ln w_k``, the others held fixed), sweep after sweep,
    until no wage moves by more than ``atol + rtol·|ln w|``. Own-wage excess demand is non-increasing
    (the aggregate Lemma 2), so each one-market problem has one crossing. Returns
    ``(log_w_rest, evaluations, result)``."""
    y = np.asarray(log_w_rest, np.float64).copy()
    evals = 0
    tol_r = 1e-12 if rtol is None else rtol
    tol_a = 1e-12 if atol is None else atol
    for _ in range(max_sweeps):
        old = y.copy()
        for k in range(y.shape[0]):
            def f(yk, k=k):
                z = y.copy()
                z[k] = float(yk)
                return _excess_vector(jnp.asarray(z, dtype), args)[k]

            yk, n, res = _bisect(f, (np.exp(y[k] - 0.5), np.exp(y[k] + 0.5)), dtype, rtol, atol, max_steps)
            evals += int(n)
            if res != optx.RESULTS.successful:
                return jnp.asarray(y, dtype), evals, res
            y[k] = float(yk)
        if np.max(np.abs(y - old)) <= 10 * (tol_a + tol_r * np.max(np.abs(y))):
            return jnp.asarray(y, dtype), evals, optx.RESULTS.successful
    return jnp.asarray(y, dtype), evals, optx.RESULTS.nonlinear_max_steps_reached


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
    tree=None,
    value_dependent: bool = False,
    closure: str = "numeraire_sector",
    reading: str = "iceberg",
    destination_costs=None,
) -> WageEquilibrium:
    """Wages that clear the labour markets of countries 2..M, or all M (004 §3.5, Proposition 8).

    Args:
        costs: ``(F, N, M)`` sample of firms' cost draws (held fixed: common random numbers).
        trade_costs, tau: as in :func:`jaxtrade.solve_chain`; differentiable (implicit function
            theorem) when ``temperature`` is given.
        labour_supply: ``(M,)`` inelastic supplies ``L_k``; ``L_1`` only enters the check
            ``numeraire_sector_labour = L_1 − L_1^D ≥ 0``.
        demand, f_s: the §4 goods market (σ, ζ) and sunk entry cost.
        temperature: soft-min temperature (smooth labour demand, dogleg Newton on ``ln w_k``); ``None``
            for the exact minimum (not traceable): for M = 2 bisection on ``ln w_2`` from ``bracket``
            (expanded if needed); for M > 2 a homotopy of smooth equilibria as the temperature falls
            (0.1, 0.03, 0.01, 0.003 × the aggregate cost) followed by a Gauss-Seidel polish that
            bisects each market's exact step-function excess demand in its own wage until no wage moves.
        initial_wages: ``(M,)`` starting point of the smooth solver (default all ones).
        rtol, atol: stopping tolerances on ``ln w`` (default ``1e3·eps`` of the dtype, and for
            bisection an interval of ``1e-12`` relative).
        tree: a :class:`jaxtrade.Tree` technology (004 §2.2; ``costs`` then has one row per node);
            ``None`` for the chain.
        value_dependent: value-dependent unbundling costs (eq. 7-9), read as ``reading`` says.
        destination_costs: ``(M, D)`` final shipment costs (§3.3): each destination a separate market
            with free entry; labour demand sums over them (:func:`labour_demand`). Value-dependent, the
            final shipment is ``(1 + τ^F T^F) V_root``: under the ad-valorem reading a tariff collected
            by the destination market (``tariff_revenue_by_destination``).
        reading: value-dependent costs as ``"iceberg"`` (the lost quantity is produced) or
            ``"ad_valorem"`` (a tariff: no extra labour, revenue to consumers; exact minimum only).
        closure: ``"numeraire_sector"`` (country 1 keeps the homogeneous sector of §4.3, which pins
            ``w_1 = 1`` and absorbs its remaining labour; markets 2..M clear) or ``"full_employment"``
            (footnote 31: no homogeneous sector; every labour market clears, ``L_k^D(w) = L_k`` for all k,
            in all M wages: the wage level is pinned by free entry and the price index, so ``w_1`` is an
            unknown; ``initial_wages`` then sets its start too, and ``bracket`` is unused).
        throw: raise on failure (:class:`jaxtrade.engine.selection.JaxtradeSolveError`, stating the
            residual and the tolerance, for the exact solvers; optimistix's error for the smooth one).

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
    if tree is not None and not isinstance(tree, Tree):
        fail("tree", tree, "must be a jaxtrade.Tree or None")
    if tree is not None and costs.shape[1] != tree.n_nodes:
        fail("costs", costs, f"costs must have one row per node of the tree: shape (firms, {tree.n_nodes}, countries)")
    if closure not in CLOSURES:
        fail("closure", closure, f"one of {CLOSURES}")
    if reading not in READINGS:
        fail("reading", reading, f"one of {READINGS}")
    if reading == "ad_valorem" and not value_dependent:
        fail("reading", reading, "the ad-valorem reading is one of value-dependent costs: pass value_dependent=True")
    if reading == "ad_valorem" and t is not None:
        fail("temperature", temperature, "the ad-valorem reading needs each firm's path: the exact minimum, temperature=None")
    dest = None if destination_costs is None else cast(destination_costs)
    if dest is not None and (dest.ndim != 2 or dest.shape[0] != costs.shape[-1]):
        fail("destination_costs", destination_costs, f"destination_costs must have shape (countries, destinations) = ({costs.shape[-1]}, D)")
    args = (costs, trade_costs, tau, labour_supply, demand, f_s, t, tree, bool(value_dependent), closure, reading, dest)
    full = closure == "full_employment"
    if full:  # the unknowns are all M log wages (the level is not a normalisation: see the docstring)
        y0 = jnp.zeros((m,), dtype) if initial_wages is None else jnp.log(cast(initial_wages))
    else:
        y0 = jnp.zeros((m - 1,), dtype) if initial_wages is None else jnp.log(cast(initial_wages)[1:] / cast(initial_wages)[0])
    newton_tol = (rtol if rtol is not None else 1e3 * eps, atol if atol is not None else 1e3 * eps)
    if t is None and m == 2 and not full:
        log_w, steps, result = _bisect(lambda y: _excess_scalar(y, args), bracket, dtype, rtol, atol, max_steps)
        log_w_rest = log_w[None]
        sol = None
    elif t is None:
        # Exact wages for M > 2: a homotopy of smooth (soft-min) equilibria as the temperature falls, then
        # the Gauss-Seidel polish on the exact step functions (_polish).
        wages0 = _wages_of(y0, closure)
        mc0 = jnp.min(jnp.exp(_log_mean_mc(wages0, costs, trade_costs, tau, 2.0, None, tree, bool(value_dependent), dest) / (1.0 - 2.0)))
        y, steps = y0, 0
        for c in (0.1, 0.03, 0.01, 0.003):
            smooth_args = args[:6] + (cast(c * mc0),) + args[7:10] + ("iceberg", dest)  # the start only: the polish is exact
            sm = _newton(y, smooth_args, *newton_tol, int(max_steps), False)
            steps += int(sm.stats["num_steps"])
            if sm.result == optx.RESULTS.successful:
                y = sm.value
        log_w_rest, evals, result = _polish(y, args, dtype, rtol, atol, max_steps)
        steps = jnp.asarray(steps + evals)
        sol = None
    else:
        if full:
            # Dogleg from the default start can reach the root of the M-equation system without meeting its
            # stopping rule (rejected steps at the rounding floor); a warm restart from where it ended stops
            # at once. The implicit adjoint differentiates at the root, so the first leg needs no gradient.
            y0 = jax.lax.stop_gradient(_newton(y0, args, *newton_tol, int(max_steps), False).value)
        sol = _newton(y0, args, *newton_tol, int(max_steps), bool(throw))
        log_w_rest = sol.value
    if sol is None and throw and result != optx.RESULTS.successful:
        res = float(jnp.max(jnp.abs(_excess(log_w_rest, args))))
        tol = f"rtol = {1e-12 if rtol is None else rtol}, atol = {1e-12 if atol is None else atol} on ln w"
        raise JaxtradeSolveError(f"no equilibrium: the exact wage solver did not converge within max_steps = {max_steps} "
                                 f"(bracket {bracket}; residual max|ln L^D - ln L| = {res:.3e}; tolerance {tol}); "
                                 "pass throw=False to get the result code and the residual")
    wages = _wages_of(log_w_rest, closure)
    ld, (revenue, by_importer, by_dest), mc_tilde, mass, price_index = _labour_and_revenue(
        wages, costs, trade_costs, tau, demand, f_s, t, tree, bool(value_dependent), reading, dest, breakdown=True)
    res = jnp.max(jnp.abs(_excess(log_w_rest, args)))
    return WageEquilibrium(
        wages=wages,
        labour_demand=ld,
        numeraire_sector_labour=labour_supply[0] - ld[0],
        tariff_revenue=revenue,
        tariff_revenue_by_importer=by_importer,
        tariff_revenue_by_destination=by_dest,
        aggregate_cost=mc_tilde,
        mass_of_firms=mass,
        price_index=price_index,
        consumer_surplus=demand.consumer_surplus(price_index),
        result=result if sol is None else sol.result,
        num_steps=steps if sol is None else jnp.asarray(sol.stats["num_steps"]),
        residual=res,
    )
