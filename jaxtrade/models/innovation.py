"""Endogenous firm productivity through innovation (Melitz & Redding 001, §9.2).

Two models, both static (one ex-post period, 001 §9):

* **Technology adoption** (§9.2.1, Bustos 2011, after Yeaple 2005): a binary choice. A firm with
  productivity φ may pay the fixed cost ``f_I`` to raise productivity to ``ιφ`` (ι > 1, the same for
  all firms). Together with the export choice a producer has four options (z = φ^{σ−1},
  s = σ − 1, n = N − 1 symmetric export markets, t = τ^{−s}, B the market demand of 001 eq. 10):

      neither         B z                     − f
      export only     B z (1 + n t)           − f − n f_X
      adopt only      B ι^s z                 − f − f_I
      export + adopt  B ι^s z (1 + n t)       − f − f_I − n f_X

  and exit (0). Profits are supermodular in (φ, adoption, exporting) (001 footnote 44), so firms
  sort: the best option is the upper envelope of four lines in x = B z, and which lines are on
  the envelope (the *ordering* of the cut-offs φ*, φ*_X, φ*_I) depends on (f, f_X, f_I, τ, ι, σ, N)
  but **not** on B — see :func:`adoption_regime`. The envelope is handed to the selection engine as
  a ladder of increments; free entry (001 eq. 8) gives B.

* **Innovation intensity** (§9.2.2, static Atkeson-Burstein 2010): see the second half of this
  module (:func:`innovation_intensity`).

Conventions as in :mod:`jaxtrade.models.melitz`: productivity φ ~ ``dist`` (any
``AbstractDistribution``), symmetric countries, wage 1, sector spending X = βL, welfare P^{−β}.
Every solve returns ``result`` (an ``optimistix.RESULTS``), ``num_steps`` and ``residual``.
"""

from __future__ import annotations

from collections.abc import Callable

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
    "OPTIONS",
    "REGIMES",
    "TechnologyAdoption",
    "AdoptionRegime",
    "adoption_regime",
    "technology_adoption",
    "upper_envelope",
    # innovation intensity (§9.2.2)
    "AbstractInnovationCost",
    "LogInnovationCost",
    "PowerInnovationCost",
    "CallableInnovationCost",
    "InnovationIntensity",
    "InnovationEquilibrium",
    "optimal_intensity",
    "innovation_intensity",
    "innovation_equilibrium",
]

#: The producer's options in label order (exit is implicit, group 0).
OPTIONS = ("neither", "export_only", "adopt_only", "export_and_adopt")

#: Orderings of the cut-offs (the active lines of the upper envelope), by code.
REGIMES = (
    "export_then_adopt",  # 0: φ* < φ*_X < φ*_I   (neither, export only, export+adopt): Bustos' case
    "adopt_then_export",  # 1: φ* < φ*_I < φ*_X   (neither, adopt only, export+adopt)
    "joint",  # 2: φ* < φ*_X = φ*_I         (neither, export+adopt)
    "all_export",  # 3: φ* = φ*_X < φ*_I    (export only, export+adopt): no selection into exporting
    "all_adopt",  # 4: φ* = φ*_I < φ*_X     (adopt only, export+adopt)
    "all_both",  # 5: φ* = φ*_X = φ*_I      (export+adopt only)
    "closed",  # 6: no export market (N = 1): neither, adopt only
    "closed_all_adopt",  # 7: N = 1 and every producer adopts
)


def _check_sigma(sigma):
    if is_concrete(sigma):
        a = np.asarray(sigma)
        if not np.all(np.isfinite(a)) or not np.all(a > 1):
            fail("sigma", sigma, "σ > 1 (CES demand, 001 eq. 2)")


def _check_dist(dist, sigma):
    if not isinstance(dist, dists.AbstractDistribution):
        fail("dist", type(dist).__name__, "an AbstractDistribution over productivity φ")
    if isinstance(dist, (dists.Pareto, dists.Frechet)) and is_concrete(dist.shape) and is_concrete(sigma):
        if not np.all(np.asarray(dist.shape) > np.asarray(sigma) - 1.0):
            fail(
                "dist.shape",
                dist.shape,
                f"shape k > σ − 1 = {np.asarray(sigma) - 1.0} (001 §6.1: average firm size must be finite)",
            )


def _check_tau(tau):
    if is_concrete(tau):
        a = np.asarray(tau)
        if not np.all(np.isfinite(a)) or not np.all(a >= 1.0):
            fail("tau", tau, "τ ≥ 1 (iceberg trade cost), finite")


def _check_iota(iota):
    if is_concrete(iota):
        a = np.asarray(iota)
        if not np.all(np.isfinite(a)) or not np.all(a > 1.0):
            fail("iota", iota, "ι > 1 (adoption or successful innovation raises productivity, 001 §9.2.1)")






# ------------------------------------------------------------------------------------------
# the upper envelope of lines (a ladder of mutually exclusive options)


class Envelope(eqx.Module):
    """Upper envelope of ``max(0, a_j x − F_j)`` over lines ``j`` (x ≥ 0).

    ``active[j]``: line j is optimal on a non-empty interval ``[lower[j], upper[j])`` of x;
    ``d_slope[j]``, ``d_fixed[j]``: the ladder increment ``(a_j − a_p) x − (F_j − F_p)`` from the
    next active line below (p; exit for the lowest), whose threshold ``d_fixed/d_slope`` equals
    ``lower[j]``. Inactive lines have ``d_slope = d_fixed = 1`` (harmless placeholders).
    """

    active: jax.Array
    lower: jax.Array
    upper: jax.Array
    d_slope: jax.Array
    d_fixed: jax.Array

    def previous(self, values):
        """The value of a per-line attribute at each line's previous active line (0 below the first)."""
        return _previous(self.active, self._slopes, values)

    _slopes: jax.Array


def _previous(active, slopes, values):
    below = active[:, None] & (slopes[:, None] < slopes[None, :])  # [i, j]: i active, below j
    a_prev = jnp.max(jnp.where(below, slopes[:, None], -jnp.inf), axis=0)
    pick = below & (slopes[:, None] == a_prev[None, :])
    return jnp.sum(jnp.where(pick, values[:, None], 0.0), axis=0)


def upper_envelope(slopes, fixed) -> Envelope:
    """The upper envelope of ``max(0, max_j a_j x − F_j)`` for lines with ``a_j > 0``, ``F_j > 0``.

    Works under ``jit``/``vmap`` (static number of lines). Line j beats line i with a smaller
    slope for ``x > (F_j − F_i)/(a_j − a_i)`` and exit for ``x > F_j/a_j``; it is optimal on
    ``(lower_j, upper_j)`` with ``lower_j`` the largest of these and ``upper_j`` the smallest
    breakpoint with a steeper line. Of parallel lines the one with the smaller fixed cost (the
    earlier one on a tie) dominates. Active lines, ordered by slope, form the ladder the selection
    engine takes (001 §3.3 and the Helpman-Melitz-Yeaple ladder in :mod:`jaxtrade.models.melitz`).
    """
    a = jnp.asarray(slopes)
    F = jnp.asarray(fixed)
    K = a.shape[0]
    da = a[None, :] - a[:, None]  # [i, j] = a_j − a_i
    dF = F[None, :] - F[:, None]
    steeper = da > 0
    bp = dF / jnp.where(steeper, da, 1.0)  # [i, j]: x where j overtakes i (valid where steeper)
    lower = jnp.maximum(F / a, jnp.max(jnp.where(steeper, bp, -jnp.inf), axis=0))
    upper = jnp.min(jnp.where(steeper.T, bp.T, jnp.inf), axis=0)  # [j, i] with i steeper than j
    idx = np.arange(K)
    earlier = jnp.asarray(idx[:, None] < idx[None, :])
    parallel = (da == 0) & ~jnp.eye(K, dtype=bool)
    dominated = jnp.any(parallel & ((F[:, None] < F[None, :]) | ((F[:, None] == F[None, :]) & earlier)), axis=0)
    active = (lower < upper) & ~dominated
    a_prev = _previous(active, a, a)
    F_prev = _previous(active, a, F)
    d_slope = jnp.where(active, a - a_prev, 1.0)
    d_fixed = jnp.where(active, F - F_prev, 1.0)
    return Envelope(active=active, lower=lower, upper=upper, d_slope=d_slope, d_fixed=d_fixed, _slopes=a)


# ------------------------------------------------------------------------------------------
# technology adoption (001 §9.2.1)


def _lines(sigma, f, f_x, f_i, tau, iota, N):
    """Slopes (in x = B φ^{σ−1}) and fixed costs of the four options, in :data:`OPTIONS` order,
    and the domestic part of each slope."""
    s = sigma - 1.0
    n = N - 1.0
    t = tau ** (-s)
    I = iota**s
    slopes = jnp.stack([jnp.ones_like(t), 1.0 + n * t, I * jnp.ones_like(t), I * (1.0 + n * t)])
    fixed = jnp.stack([f, f + n * f_x, f + f_i, f + f_i + n * f_x])
    dom = jnp.stack([jnp.ones_like(t), jnp.ones_like(t), I * jnp.ones_like(t), I * jnp.ones_like(t)])
    return slopes, fixed, dom


def _regime_code(active, N):
    d, x, i, b = (active[k] for k in range(4))
    closed = N <= 1.0
    code = jnp.select(
        [closed & d, closed, d & x, d & i, d, x, i],
        [6, 7, 0, 1, 2, 3, 4],
        default=5,
    )
    return code


class AdoptionRegime(eqx.Module):
    """Which options are on the upper envelope, from parameters alone (no equilibrium needed).

    ``code`` indexes :data:`REGIMES`; ``active`` (4,) flags the options of :data:`OPTIONS`;
    ``thresholds`` (4,) the x = Bφ^{σ−1} at which each active option starts (``inf`` if inactive).
    The cut-offs are ``φ = (threshold/B)^{1/(σ−1)}``.
    """

    code: jax.Array
    active: jax.Array
    thresholds: jax.Array


def adoption_regime(sigma, f, f_x, f_i, tau, iota, n_countries=2) -> AdoptionRegime:
    """The ordering of the cut-offs φ*, φ*_X, φ*_I (001 §9.2.1; Bustos 2011).

    With s = σ−1, n = N−1, t = τ^{−s}, I = ι^s, the "neither" line ``x − f`` is overtaken first by
    exporting at ``x_X = τ^s f_X``, by adopting at ``x_I = f_I/(I − 1)``, or by doing both at
    ``x_B = (f_I + n f_X)/(I(1 + n t) − 1)``; it is on the envelope iff ``f < min(x_X, x_I, x_B)``,
    and the three interior orderings are

    * export before adopt (φ* < φ*_X < φ*_I):  ``f < τ^s f_X < f_I / ((I − 1)(1 + n t))``
      (Bustos' case; the second inequality is ``x_X < x_B`` and implies ``x_X < x_I``);
    * adopt before export (φ* < φ*_I < φ*_X):  ``f < f_I/(I − 1) < τ^s f_X / I``
      (``x_I < x_B``, which implies ``x_I < x_X``);
    * joint (φ* < φ*_X = φ*_I):  neither second inequality, and ``f < x_B``.

    At most one of "export only" and "adopt only" is ever on the envelope (their breakpoints cannot
    be ordered both ways), so these with the corners of :data:`REGIMES` are all the orderings.
    """
    dt = _dtype(sigma, f, f_x, f_i, tau, iota)
    sigma, f, f_x, f_i, tau, iota, N = (jnp.asarray(v, dt) for v in (sigma, f, f_x, f_i, tau, iota, n_countries))
    slopes, fixed, _ = _lines(sigma, f, f_x, f_i, tau, iota, N)
    env = upper_envelope(slopes, fixed)
    return AdoptionRegime(
        code=_regime_code(env.active, N),
        active=env.active,
        thresholds=jnp.where(env.active, env.lower, jnp.inf),
    )


class TechnologyAdoption(eqx.Module):
    """Equilibrium of the Melitz model with technology adoption (001 §9.2.1; Bustos 2011).

    Cut-offs: ``cutoff`` φ* (zero profit), ``export_cutoff`` φ*_X (lowest exporter; ``inf`` without
    an export market), ``adoption_cutoff`` φ*_I (lowest adopter; ``inf`` if nobody adopts).
    ``regime`` indexes :data:`REGIMES`; ``active`` the options of :data:`OPTIONS` on the envelope;
    ``option_cutoffs`` (4,) where each active option starts (``inf`` if inactive).
    ``group_shares`` (5,): shares of *entrants* that exit, do neither, export only, adopt only,
    export and adopt (sum 1). ``exporter_share``, ``adopter_share`` (of producers),
    ``adoption_among_exporters`` (share of exporters that adopt), ``market_demand`` B,
    ``domestic_trade_share`` λ_nn, ``mass_of_entrants`` M_E, ``mass_of_firms`` M,
    ``price_index`` P, ``welfare`` P^{−β}; ``autarky_*`` the same model with N = 1 and
    ``gains_from_trade`` U/U_A.
    """

    cutoff: jax.Array
    export_cutoff: jax.Array
    adoption_cutoff: jax.Array
    regime: jax.Array
    active: jax.Array
    option_cutoffs: jax.Array
    group_shares: jax.Array
    exporter_share: jax.Array
    adopter_share: jax.Array
    adoption_among_exporters: jax.Array
    market_demand: jax.Array
    domestic_trade_share: jax.Array
    mass_of_entrants: jax.Array
    mass_of_firms: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    autarky_cutoff: jax.Array
    autarky_adoption_cutoff: jax.Array
    autarky_market_demand: jax.Array
    gains_from_trade: jax.Array
    slopes: jax.Array
    fixed_costs: jax.Array
    sigma: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    def option_profits(self, phi):
        """Profits of the four options at productivity φ, shape ``φ.shape + (4,)``."""
        phi = jnp.asarray(phi)
        z = phi[..., None] ** (self.sigma - 1.0)
        lead = (1,) * phi.ndim
        return self.market_demand * jnp.reshape(self.slopes, lead + (4,)) * z - jnp.reshape(self.fixed_costs, lead + (4,))

    def profit(self, phi):
        """``π(φ) = max(0, best option)``."""
        return jnp.maximum(jnp.max(self.option_profits(phi), axis=-1), 0.0)

    def group(self, phi):
        """0 exit, 1 neither, 2 export only, 3 adopt only, 4 export and adopt — from the cut-offs."""
        phi = jnp.asarray(phi)
        prod = phi >= self.cutoff
        ex = phi >= self.export_cutoff
        ad = phi >= self.adoption_cutoff
        g = jnp.where(ex & ad, 4, jnp.where(ad, 3, jnp.where(ex, 2, 1)))
        return jnp.where(prod, g, 0)


def technology_adoption(
    dist,
    sigma,
    f,
    f_x,
    f_i,
    f_e,
    tau,
    iota,
    n_countries=2,
    L=1.0,
    *,
    beta=1.0,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> TechnologyAdoption:
    """Technology adoption and exporting with free entry (001 §9.2.1; Bustos 2011), any G.

    The options' upper envelope (:func:`upper_envelope`) is a ladder of increments
    ``Δa_k B φ^{σ−1} − ΔF_k``, one selection-engine strategy each; free entry (001 eq. 8) is
    ``Σ_k ΔF_k J(φ_k) = f_E`` (inactive options carry weight 0). N symmetric countries;
    ``n_countries=1`` is the closed economy. The autarky equilibrium is solved alongside.
    """
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    for nme, v in (("f", f), ("f_x", f_x), ("f_i", f_i), ("f_e", f_e), ("L", L), ("beta", beta)):
        check_positive_scalar(nme, v)
    _check_tau(tau)
    _check_iota(iota)
    if is_concrete(n_countries) and not np.all(np.asarray(n_countries) >= 1):
        fail("n_countries", n_countries, "n_countries ≥ 1 (1 is the closed economy)")
    dt = _dtype(sigma, f, f_x, f_i, f_e, tau, iota, L)
    args = tuple(jnp.asarray(v, dt) for v in (sigma, f, f_x, f_i, f_e, tau, iota, n_countries, L, beta))
    return _technology_adoption(dist, *args, max_steps, throw, rule)


def _adoption_solve(dist, sigma, f, f_x, f_i, f_e, tau, iota, N, max_steps, throw, rule):
    s = sigma - 1.0
    slopes, fixed, dom = _lines(sigma, f, f_x, f_i, tau, iota, N)
    env = upper_envelope(slopes, fixed)
    w = env.active.astype(slopes.dtype)
    st = sel.Strategies(
        multiplier=env.d_slope, fixed_cost=env.d_fixed, weight=w, origin=(0, 0, 0, 0), market=(0, 0, 0, 0)
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(f_e, (1,)), 1, rule)
    x_lo = jnp.min(jnp.where(env.active, env.lower, jnp.inf))
    logb0 = jnp.log(x_lo) - s * jnp.log(dist.icdf(jnp.asarray(0.5, slopes.dtype)))
    sol = sel.solve_selection(prob, log_demand0=jnp.reshape(logb0, (1,)), max_steps=max_steps, throw=throw)
    return env, slopes, fixed, dom, sol


@eqx.filter_jit
def _technology_adoption(dist, sigma, f, f_x, f_i, f_e, tau, iota, N, L, beta, max_steps, throw, rule):
    env, slopes, fixed, dom, sol = _adoption_solve(dist, sigma, f, f_x, f_i, f_e, tau, iota, N, max_steps, throw, rule)
    act = env.active
    cut = jnp.where(act, sol.cutoffs, jnp.inf)
    S = jnp.where(act, sol.survival, 0.0)
    Jv = jnp.where(act, sol.J, 0.0)
    B = sol.demand[0]
    exports = jnp.array([False, True, False, True])
    adopts = jnp.array([False, False, True, True])
    phi_star = jnp.min(cut)
    phi_x = jnp.min(jnp.where(exports, cut, jnp.inf))
    phi_i = jnp.min(jnp.where(adopts, cut, jnp.inf))

    def surv_at(phi):  # S at one of the cut-offs (0 at inf)
        hit = act & (cut == phi)
        return jnp.max(jnp.where(hit, S, 0.0))

    S0, SX, SI = surv_at(phi_star), surv_at(phi_x), surv_at(phi_i)
    S_both = jnp.minimum(SX, SI)
    groups = jnp.stack([1.0 - S0, S0 - jnp.maximum(SX, SI), SX - S_both, SI - S_both, S_both])
    # B · ∫_{φ_k} φ^s dG = x_k (J_k + S_k); sales by ladder increment
    bpm = jnp.where(act, env.d_fixed / env.d_slope * (Jv + S), 0.0)
    d_dom = jnp.where(act, dom - env.previous(dom), 0.0)
    var_total = jnp.sum(jnp.where(act, env.d_slope, 0.0) * bpm)
    var_dom = jnp.sum(d_dom * bpm)
    ME = beta * L / (sigma * var_total)
    P = _price_index(sigma, beta * L, B)
    N1 = jnp.ones_like(N)
    aenv, _, _, _, asol = _adoption_solve(dist, sigma, f, f_x, f_i, f_e, tau, iota, N1, max_steps, throw, rule)
    acut = jnp.where(aenv.active, asol.cutoffs, jnp.inf)
    aB = asol.demand[0]
    result = optx.RESULTS.where(asol.result == optx.RESULTS.successful, sol.result, asol.result)
    return TechnologyAdoption(
        cutoff=phi_star,
        export_cutoff=phi_x,
        adoption_cutoff=phi_i,
        regime=_regime_code(act, N),
        active=act,
        option_cutoffs=cut,
        group_shares=groups,
        exporter_share=SX / S0,
        adopter_share=SI / S0,
        adoption_among_exporters=jnp.where(SX > 0, S_both / jnp.where(SX > 0, SX, 1.0), 0.0),
        market_demand=B,
        domestic_trade_share=var_dom / var_total,
        mass_of_entrants=ME,
        mass_of_firms=ME * S0,
        price_index=P,
        welfare=P ** (-beta),
        autarky_cutoff=jnp.min(acut),
        autarky_adoption_cutoff=jnp.where(aenv.active[2], acut[2], jnp.inf),
        autarky_market_demand=aB,
        gains_from_trade=(B / aB) ** (-beta / (sigma - 1.0)),
        slopes=slopes,
        fixed_costs=fixed,
        sigma=sigma,
        result=result,
        num_steps=sol.steps + asol.steps,
        residual=jnp.maximum(sol.residual, asol.residual),
    )


# ------------------------------------------------------------------------------------------
# innovation intensity (001 §9.2.2, static Atkeson-Burstein)


class AbstractInnovationCost(eqx.Module):
    """A convex innovation cost ``c_I(α) ≥ 0`` on α ∈ [0, 1] with ``c_I(0) = 0`` (001 §9.2.2).

    The total cost of intensity α for a firm of rescaled productivity ϕ = φ^{σ−1} is ``ϕ c_I(α)``.
    ``optimal(g)`` maximises ``α g − c_I(α)`` over [0, 1]: the root of ``c_I'(α) = g`` (eq. 29 with
    ``g = (ι − 1)B``), or a corner.
    """

    def value(self, alpha):
        raise NotImplementedError

    def marginal(self, alpha):
        return jax.vmap(jax.grad(self.value))(jnp.ravel(alpha)).reshape(jnp.shape(alpha))

    def curvature(self, alpha):
        g = jax.grad(jax.grad(self.value))
        return jax.vmap(g)(jnp.ravel(alpha)).reshape(jnp.shape(alpha))

    def optimal(self, g):
        return _bisect_optimal(self, jnp.asarray(g))


def _bisect_optimal(cost, g, iters=60):
    """``argmax_{α∈[0,1]} α g − c(α)`` by bisection on ``c'(α) − g`` (concave objective)."""
    dt = jnp.result_type(g, float)
    top = jnp.asarray(1.0 - 1e-12, dt)

    @jax.custom_jvp
    def solve(g):
        lo = jnp.zeros_like(g)
        hi = jnp.full_like(g, top)

        def body(_, lh):
            lo, hi = lh
            mid = 0.5 * (lo + hi)
            up = cost.marginal(mid) < g
            return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

        lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
        a = 0.5 * (lo + hi)
        a = jnp.where(cost.marginal(jnp.zeros_like(g)) >= g, 0.0, a)
        return jnp.where(cost.marginal(jnp.full_like(g, top)) <= g, 1.0, a)

    @solve.defjvp
    def _jvp(primals, tangents):
        (g,), (dg,) = primals, tangents
        a = solve(g)
        interior = (a > 0) & (a < 1)
        curv = cost.curvature(jnp.where(interior, a, 0.5))
        return a, jnp.where(interior, dg / curv, 0.0)

    return solve(g)


class LogInnovationCost(AbstractInnovationCost):
    """``c_I(α) = −κ [α + log(1 − α)]``: convex, ``c_I'(α) = κα/(1−α)`` → ∞ as α → 1, so the optimum
    is interior in closed form, ``α* = g/(g + κ)`` for g ≥ 0 (the default family)."""

    kappa: jax.Array

    def __init__(self, kappa):
        check_positive_scalar("kappa", kappa)
        self.kappa = jnp.asarray(kappa, float) if not eqx.is_array(kappa) else kappa

    def value(self, alpha):
        return -self.kappa * (alpha + jnp.log1p(-alpha))

    def marginal(self, alpha):
        return self.kappa * alpha / (1.0 - alpha)

    def curvature(self, alpha):
        return self.kappa / (1.0 - alpha) ** 2

    def optimal(self, g):
        g = jnp.maximum(jnp.asarray(g), 0.0)
        return g / (g + self.kappa)


class PowerInnovationCost(AbstractInnovationCost):
    """``c_I(α) = κ α^γ/γ`` (γ > 1): ``α* = min(1, (g/κ)^{1/(γ−1)})`` for g ≥ 0."""

    kappa: jax.Array
    gamma: jax.Array

    def __init__(self, kappa, gamma):
        check_positive_scalar("kappa", kappa)
        if is_concrete(gamma) and not np.all(np.asarray(gamma) > 1.0):
            fail("gamma", gamma, "γ > 1 (convexity of c_I)")
        self.kappa = jnp.asarray(kappa, float) if not eqx.is_array(kappa) else kappa
        self.gamma = jnp.asarray(gamma, float) if not eqx.is_array(gamma) else gamma

    def value(self, alpha):
        return self.kappa * alpha**self.gamma / self.gamma

    def marginal(self, alpha):
        return self.kappa * alpha ** (self.gamma - 1.0)

    def curvature(self, alpha):
        return self.kappa * (self.gamma - 1.0) * alpha ** (self.gamma - 2.0)

    def optimal(self, g):
        g = jnp.maximum(jnp.asarray(g), 0.0)
        return jnp.minimum(1.0, (g / self.kappa) ** (1.0 / (self.gamma - 1.0)))


class CallableInnovationCost(AbstractInnovationCost):
    """Any user function ``c_I(α)``, differentiated by JAX; the optimum by bisection on c'.

    Checked on construction (on a grid of α in [0, 1)): ``c_I(0) = 0``, ``c_I ≥ 0`` and convexity
    ``c_I'' ≥ 0``.
    """

    fn: Callable = eqx.field(static=True)

    def __init__(self, fn):
        self.fn = fn
        a = jnp.linspace(0.0, 0.999, 257)
        with jax.ensure_compile_time_eval():
            c = np.asarray(jax.vmap(fn)(a))
            c2 = np.asarray(jax.vmap(jax.grad(jax.grad(fn)))(a))
        if not np.all(np.isfinite(c)) or abs(c[0]) > 1e-12:
            fail("c_I", c[0], "c_I(0) = 0 and c_I finite on [0, 1)")
        if np.any(c < -1e-12):
            fail("c_I", c.min(), "c_I(α) ≥ 0 on [0, 1] (001 §9.2.2)")
        if np.any(c2 < -1e-9 * max(1.0, np.max(np.abs(c2)))):
            fail("c_I", float(c2.min()), "convexity of c_I: c_I''(α) ≥ 0 on [0, 1] (001 §9.2.2)")

    def value(self, alpha):
        return self.fn(alpha)


class InnovationIntensity(eqx.Module):
    """Firm-level innovation intensity (001 §9.2.2) at given market demand B.

    ``alpha`` α(φ); ``marginal_value`` g(φ) = [V(ιϕ) − V(ϕ)]/ϕ, the right-hand side of the
    first-order condition (eq. 29: (ι−1)B for firms that produce whatever the outcome and do not
    export; (ι−1)B(1 + nτ^{1−σ}) for firms that export whatever the outcome; in between for firms
    whose production or export decision hinges on success, 001 footnote 47); ``expected_profit``
    ``(1−α)V(ϕ) + αV(ιϕ) − ϕ c_I(α)``; ``status_fail``/``status_success``: 0 exit, 1 domestic only,
    2 exporter after an unsuccessful / successful innovation; ``no_exit`` (status_fail > 0: the
    restriction under which eq. 29 holds).
    """

    alpha: jax.Array
    marginal_value: jax.Array
    expected_profit: jax.Array
    status_fail: jax.Array
    status_success: jax.Array
    no_exit: jax.Array


def _value(phi_s, B, f, f_x, n, t):
    d = jnp.maximum(B * phi_s - f, 0.0)
    x = jnp.maximum(B * t * phi_s - f_x, 0.0)
    return d + n * x


def _stat(phi_s, B, f, f_x, t):
    prod = B * phi_s >= f
    ex = B * t * phi_s >= f_x
    return jnp.where(ex, 2, jnp.where(prod, 1, 0))


def innovation_intensity(cost, phi, market_demand, iota, sigma, tau=1.0, f=1.0, f_x=1.0, n_countries=1):
    """Optimal innovation intensity α(φ) of firms with productivity φ (001 §9.2.2).

    With ϕ = φ^{σ−1}, V(ϕ) = max(0, Bϕ − f) + n max(0, Bτ^{1−σ}ϕ − f_X) (n = N − 1; N = 1 is the
    closed economy) and success raising ϕ to ιϕ, the firm maximises
    ``(1−α) V(ϕ) + α V(ιϕ) − ϕ c_I(α)``; the first-order condition is ``c_I'(α) = [V(ιϕ) − V(ϕ)]/ϕ``,
    which is eq. 29 above the no-exit threshold ϕ ≥ f/B and its open-economy form for firms that
    export whatever the outcome. Below the threshold (ϕ < f/B) the firm produces only if
    innovation succeeds and the marginal value is ιB − f/ϕ < (ι−1)B; below f/(ιB) it is 0.
    """
    _check_sigma(sigma)
    _check_iota(iota)
    _check_tau(tau)
    if not isinstance(cost, AbstractInnovationCost):
        fail("cost", type(cost).__name__, "an AbstractInnovationCost (LogInnovationCost, PowerInnovationCost, CallableInnovationCost)")
    for nme, v in (("market_demand", market_demand), ("f", f), ("f_x", f_x)):
        check_positive_scalar(nme, v)
    dt = _dtype(phi, market_demand, iota, sigma, tau, f, f_x)
    phi, B, iota, sigma, tau, f, f_x, N = (jnp.asarray(v, dt) for v in (phi, market_demand, iota, sigma, tau, f, f_x, n_countries))
    return _intensity(cost, phi, B, iota, sigma, tau, f, f_x, N)


def _intensity(cost, phi, B, iota, sigma, tau, f, f_x, N):
    s = sigma - 1.0
    n = N - 1.0
    t = tau ** (-s)
    ps = phi**s
    v0 = _value(ps, B, f, f_x, n, t)
    v1 = _value(iota * ps, B, f, f_x, n, t)
    g = (v1 - v0) / ps
    a = cost.optimal(g)
    prof = v0 + a * (v1 - v0) - ps * cost.value(a)
    # the export status of n = 0 economies is "domestic" whatever τ says
    sf = jnp.where(n > 0, _stat(ps, B, f, f_x, t), jnp.minimum(_stat(ps, B, f, f_x, t), 1))
    ss = jnp.where(n > 0, _stat(iota * ps, B, f, f_x, t), jnp.minimum(_stat(iota * ps, B, f, f_x, t), 1))
    return InnovationIntensity(alpha=a, marginal_value=g, expected_profit=prof, status_fail=sf, status_success=ss, no_exit=sf > 0)


def optimal_intensity(cost, market_demand, iota, sigma=None, tau=None, n_countries=1):
    """The common intensity of eq. 29: ``c_I'(α) = (ι − 1) B`` (closed economy, firms above the
    no-exit threshold), and for ``n_countries > 1`` the exporters' ``c_I'(α) = (ι−1)B(1 + nτ^{1−σ})``.
    Returns ``(α_nonexporter, α_exporter)``."""
    _check_iota(iota)
    B, iota = jnp.asarray(market_demand, float), jnp.asarray(iota, float)
    a_d = cost.optimal((iota - 1.0) * B)
    if sigma is None or tau is None:
        return a_d, a_d
    n = jnp.asarray(n_countries, float) - 1.0
    a_x = cost.optimal((iota - 1.0) * B * (1.0 + n * jnp.asarray(tau, float) ** (1.0 - jnp.asarray(sigma, float))))
    return a_d, a_x


class InnovationEquilibrium(eqx.Module):
    """Free-entry equilibrium with innovation intensity (001 §9.2.2), N symmetric countries.

    ``market_demand`` B; thresholds in φ: ``entry_threshold`` (produces only if innovation succeeds,
    ϕ = f/(ιB)), ``no_exit_threshold`` (produces regardless, ϕ = f/B), ``export_threshold_success``
    (ϕ = τ^{σ−1} f_X/(ιB)), ``export_threshold`` (exports regardless, ϕ = τ^{σ−1} f_X/B);
    ``alpha_nonexporter`` and ``alpha_exporter`` (the common intensities of eq. 29 and its open form),
    ``mean_intensity`` (average α over firms above the entry threshold), ``innovation_rate``
    (expected share of them that succeed), ``result``, ``num_steps``, ``residual``.
    """

    market_demand: jax.Array
    entry_threshold: jax.Array
    no_exit_threshold: jax.Array
    export_threshold_success: jax.Array
    export_threshold: jax.Array
    alpha_nonexporter: jax.Array
    alpha_exporter: jax.Array
    mean_intensity: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


def innovation_equilibrium(
    dist, cost, sigma, f, f_e, iota, tau=1.0, f_x=1.0, n_countries=1, *, max_steps: int = 64, throw: bool = True, rule=quad.DEFAULT_RULE
) -> InnovationEquilibrium:
    """Free entry ``∫ max_α E[π(φ)] dG(φ) = f_E`` (001 eq. 8 with §9.2.2's firm problem), solved
    for log B by Newton with implicit differentiation. The integrand has kinks where production
    and export decisions switch (ϕ = f/(ιB), f/B, τ^{σ−1}f_X/(ιB), τ^{σ−1}f_X/B): Gauss-Legendre
    between them, exp-sinh above the last. Requires selection into exporting ``τ^{σ−1} f_X > f``
    when N > 1 (exporters are a subset of producers)."""
    _check_sigma(sigma)
    _check_dist(dist, sigma)
    _check_iota(iota)
    _check_tau(tau)
    for nme, v in (("f", f), ("f_e", f_e), ("f_x", f_x)):
        check_positive_scalar(nme, v)
    if not isinstance(cost, AbstractInnovationCost):
        fail("cost", type(cost).__name__, "an AbstractInnovationCost")
    if all(is_concrete(v) for v in (tau, f_x, f, sigma, n_countries)) and np.asarray(n_countries) > 1:
        if not np.asarray(tau) ** (np.asarray(sigma) - 1.0) * np.asarray(f_x) > np.asarray(f):
            fail("f_x", f_x, "τ^(σ−1) f_x > f (selection into exporting, 001 §5.5)")
    dt = _dtype(sigma, f, f_e, iota, tau, f_x)
    args = tuple(jnp.asarray(v, dt) for v in (sigma, f, f_e, iota, tau, f_x, n_countries))
    return _innovation_equilibrium(dist, cost, *args, max_steps, throw, rule)


@eqx.filter_jit
def _innovation_equilibrium(dist, cost, sigma, f, f_e, iota, tau, f_x, N, max_steps, throw, rule):

    s = sigma - 1.0
    n = N - 1.0
    t = tau ** (-s)
    open_ = n > 0
    fx_eff = jnp.where(open_, f_x, jnp.inf)

    def thresholds(logb):
        B = jnp.exp(logb)
        ks = jnp.stack([f / (iota * B), f / B, fx_eff / (t * iota * B), fx_eff / (t * B)])
        return ks  # in ϕ

    def integrals(logb):
        B = jnp.exp(logb)
        ks = thresholds(logb)
        k_sorted = jnp.sort(jnp.where(jnp.isfinite(ks), ks, jnp.max(jnp.where(jnp.isfinite(ks), ks, 0.0))))
        phis = k_sorted ** (1.0 / s)
        lps, oms = [], []
        for a, b in zip(range(3), range(1, 4)):
            lp, om = quad.segment_nodes(dist, phis[a], jnp.where(phis[b] > phis[a], phis[b], phis[a] * 2.0))
            lps.append(lp)
            oms.append(jnp.where(phis[b] > phis[a], om, 0.0))
        lp, om = quad.tail_nodes(dist, phis[3], rule)
        lps.append(lp)
        oms.append(om)
        lp, om = jnp.concatenate(lps), jnp.concatenate(oms)
        # nodes with φ^{σ−1} beyond e^{300} carry weights that have underflowed long before
        # (their share of the integral is below e^{−300(k/(σ−1) − 1)} for Pareto(k)); clamp them
        lp = jnp.minimum(lp, 300.0 / s)
        r = _intensity(cost, jnp.exp(lp), B, iota, sigma, tau, f, f_x, N)
        return jnp.sum(om * r.expected_profit), jnp.sum(om * r.alpha), jnp.sum(om), phis

    def residual(logb, _):
        return jnp.log(integrals(logb)[0]) - jnp.log(f_e)

    med = dist.icdf(jnp.asarray(0.5, s.dtype))
    logb0 = jnp.log(f) - s * jnp.log(med)
    rs = sel.root_solve(residual, logb0, None, max_steps=max_steps, throw=throw)
    prof, asum, mass, _ = integrals(rs.value)
    B = jnp.exp(rs.value)
    ks = thresholds(rs.value) ** (1.0 / s)
    a_d = cost.optimal((iota - 1.0) * B)
    a_x = cost.optimal((iota - 1.0) * B * (1.0 + n * t))
    return InnovationEquilibrium(
        market_demand=B,
        entry_threshold=ks[0],
        no_exit_threshold=ks[1],
        export_threshold_success=ks[2],
        export_threshold=ks[3],
        alpha_nonexporter=a_d,
        alpha_exporter=jnp.where(open_, a_x, a_d),
        mean_intensity=asum / mass,
        result=rs.result,
        num_steps=rs.steps,
        residual=rs.residual,
    )
