"""The export-magnification effect of offshoring (paper 003), for any productivity distribution.

*The export-magnification effect of offshoring: sourcing and exporting with heterogeneous firms*
(``shared/papers/003``; its extraction lost most formulas, ``docs/offshoring.md`` derives every one
used here). ``n + 1`` symmetric advanced economies and a workbench country ``W``; three sectors:
a homogeneous final good ``Y`` (numeraire, traded freely), a homogeneous intermediate ``I`` and
differentiated final goods ``X`` (Melitz 2003 firms, traded among the advanced economies only).

Prices (003 §3.2, eq. 6): ``w = φ_Y`` (``p_Y = 1 = w/φ_Y``), ``w^w = φ_Y^w``,
``p_I^d = w/φ_I``, ``p_I^w = φ_Y^w/φ_I^w``, ``p_I^off = τ_I p_I^w`` (iceberg).

A firm of productivity ϕ sourcing at price ``p_I^k`` has efficiency ``φ^k = ϕ/(p_I^k)^α``, marginal
cost ``w^{1−α}/φ^k`` and price ``w^{1−α}/(ρφ^k)`` (003 §3.3, ``ρ = (σ−1)/σ``), domestic revenue
(eq. 8) ``r_H = (w^{1−α}/(ρφ^k))^{1−σ} E_X P_X^{σ−1}`` and revenue ``τ^{1−σ} r_H`` in each of the
``n`` export markets. Profits in labour units are, with ``z = ϕ^{σ−1}``,
``a_k = (p_I^k)^{α(1−σ)}``, ``t = τ^{1−σ}`` and the demand index
``B = (w^{1−α}/ρ)^{1−σ} E_X P_X^{σ−1}/(σ w)``:

==========================  =====================  ==========================  ==========
strategy                    slope (multiplier)     fixed cost (labour)         paper
==========================  =====================  ==========================  ==========
``domestic`` (D)            ``a_d``                ``f_p``                     eq. 9
``offshoring`` (O)          ``a_off``              ``f_p + f_I``               eq. 10
``exporting`` (X)           ``(1 + n t) a_d``      ``f_p + n f_ex``            App. A
``offshoring_exporting``    ``(1 + n t) a_off``    ``f_p + f_I + n f_ex``      eq. 13
==========================  =====================  ==========================  ==========

Each earns ``slope · B · z − fixed`` and a firm takes the best one or exits. The upper envelope of
these lines in ``z`` depends on the parameters only (not on ``B``), so it is computed first
(:func:`strategy_envelope`: which strategies are chosen by some firm, in which order) and handed to
the selection engine as a *ladder of increments* between consecutive chosen strategies. Free entry
(003 eq. 18-19, App. C) is then ``Σ_m ΔF_m J(ϕ*_m) = f_e`` (``J`` of Melitz & Redding 001 eq. 5), one
equation in ``log B``, solved by Newton with implicit differentiation. Under Assumptions A.1-A.3 the
chosen strategies are D, O, OX and the cut-offs are eq. 11, 12 and 14; when an assumption fails the
strategy set sorts itself (no offshoring, everyone offshores, exporting without offshoring, ...)
and the result reports the regime; nothing is refused.

Every result carries ``result`` (an ``optimistix.RESULTS``), ``num_steps`` and ``residual``.
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
from ..engine.validation import fail, is_concrete

__all__ = [
    "STRATEGIES",
    "PAPER_REGIME",
    "OffshoringParams",
    "Envelope",
    "Assumptions",
    "OffshoringEquilibrium",
    "ParetoCutoffs",
    "params",
    "prices",
    "strategy_lines",
    "strategy_envelope",
    "assumptions",
    "equilibrium",
    "pareto_cutoffs",
    "comparative_statics",
    "regime_name",
]

#: The four strategies, in the order of every ``(4,)`` array of a result.
STRATEGIES = ("domestic", "offshoring", "exporting", "offshoring_exporting")
_BITS = (1, 2, 4, 8)
#: ``regime`` of the paper's partition ϕ_min < ϕ_off < ϕ_ex,off (D, O and OX chosen): 1 + 2 + 8.
PAPER_REGIME = 11

_PARAM_NAMES = (
    "sigma", "alpha", "n", "tau", "tau_I", "f_p", "f_I", "f_ex", "f_e",
    "phi_Y", "phi_I", "phi_Y_w", "phi_I_w", "beta", "L",
)  # fmt: skip


def regime_name(regime) -> str:
    """``regime`` (bit mask D=1, O=2, X=4, OX=8) as the chosen strategies, e.g. ``"D+O+OX"``."""
    r = int(regime)
    short = ("D", "O", "X", "OX")
    return "+".join(s for s, b in zip(short, _BITS) if r & b) or "none"


# ------------------------------------------------------------------------------------------
# parameters, prices, strategies


class OffshoringParams(eqx.Module):
    """Parameters of 003 (all arrays; a pytree, so derivatives flow through every field).

    ``sigma`` σ > 1 (eq. 2), ``alpha`` α ∈ (0, 1) intermediate share (§3.3), ``n`` export markets
    (n + 1 advanced economies), ``tau`` τ ≥ 1 iceberg cost of final goods among advanced economies,
    ``tau_I`` τ_I ≥ 1 iceberg cost of intermediates from W, fixed costs in labour: ``f_p`` overhead,
    ``f_I`` offshoring, ``f_ex`` per export market, ``f_e`` entry; labour productivities ``phi_Y``,
    ``phi_I`` (advanced) and ``phi_Y_w``, ``phi_I_w`` (workbench) of eq. 4-5; ``beta`` β the
    Cobb-Douglas share of X (eq. 1) and ``L`` labour per advanced economy.
    """

    sigma: jax.Array
    alpha: jax.Array
    n: jax.Array
    tau: jax.Array
    tau_I: jax.Array
    f_p: jax.Array
    f_I: jax.Array
    f_ex: jax.Array
    f_e: jax.Array
    phi_Y: jax.Array
    phi_I: jax.Array
    phi_Y_w: jax.Array
    phi_I_w: jax.Array
    beta: jax.Array
    L: jax.Array


def params(**kw) -> OffshoringParams:
    """:class:`OffshoringParams` from keywords (``beta`` defaults to 0.5, ``L`` to 1), one dtype."""
    kw = dict(kw)
    kw.setdefault("beta", 0.5)
    kw.setdefault("L", 1.0)
    missing = [k for k in _PARAM_NAMES if k not in kw]
    if missing:
        raise TypeError(f"missing parameters: {missing}")
    extra = sorted(set(kw) - set(_PARAM_NAMES))
    if extra:
        raise TypeError(f"unknown parameters: {extra}")
    dt = jnp.result_type(*[jnp.asarray(kw[k]) for k in _PARAM_NAMES], float)
    return OffshoringParams(**{k: jnp.asarray(kw[k], dt) for k in _PARAM_NAMES})


def prices(p: OffshoringParams):
    """003 §3.2, eq. 6: ``(w, p_I^d, p_I^w, p_I^off)`` with ``w = φ_Y``, ``p_I^d = φ_Y/φ_I``,
    ``p_I^w = φ_Y^w/φ_I^w``, ``p_I^off = τ_I p_I^w``."""
    w = p.phi_Y
    p_d = p.phi_Y / p.phi_I
    p_w = p.phi_Y_w / p.phi_I_w
    return w, p_d, p_w, p.tau_I * p_w


def strategy_lines(p: OffshoringParams):
    """Slopes ``c_j`` and fixed costs ``F_j`` (labour) of D, O, X, OX: ``π_j = c_j B ϕ^{σ−1} − F_j``
    (003 eq. 9, 10, 13 and the fourth strategy of App. A, divided by ``w``)."""
    s = p.sigma - 1.0
    _, p_d, _, p_off = prices(p)
    a_d = p_d ** (-p.alpha * s)
    a_o = p_off ** (-p.alpha * s)
    ex = 1.0 + p.n * p.tau ** (-s)
    slopes = jnp.stack([a_d, a_o, ex * a_d, ex * a_o])
    fixed = jnp.stack([p.f_p, p.f_p + p.f_I, p.f_p + p.n * p.f_ex, p.f_p + p.f_I + p.n * p.f_ex])
    return slopes, fixed


class Envelope(eqx.Module):
    """Upper envelope of ``max(0, c_j u − F_j)`` over ``u = B ϕ^{σ−1} ≥ 0`` (:func:`strategy_envelope`).

    ``active`` (4,): strategy chosen on an interval of positive length; ``lower``/``upper`` (4,):
    that interval in ``u`` (``inf`` for unchosen strategies; ``upper = inf`` for the top one);
    ``prev`` (4,): the chosen strategy just below (``-1``: exit); ``increment_multiplier`` and
    ``increment_fixed_cost`` (4,): ``c_j − c_prev`` and ``F_j − F_prev`` (for unchosen strategies
    the line itself, with ``weight`` 0); ``regime``: bit mask of the chosen strategies.
    """

    active: jax.Array
    lower: jax.Array
    upper: jax.Array
    prev: jax.Array
    increment_multiplier: jax.Array
    increment_fixed_cost: jax.Array
    weight: jax.Array
    regime: jax.Array


def strategy_envelope(slopes, fixed) -> Envelope:
    """Which strategies some firm chooses, and in which order (branch-free: works under jit/vmap).

    With the exit line ``(0, 0)`` added, line ``j`` is the maximum exactly on
    ``[max_{i: c_i < c_j} u_ij, min_{i: c_i > c_j} u_ij]`` with ``u_ij = (F_j − F_i)/(c_j − c_i)``
    (it lies above every flatter line to the right of their crossing and above every steeper line to
    the left of it); a line tied in slope with a cheaper one never is. Consecutive chosen lines give
    the increments ``(c_j − c_prev) u − (F_j − F_prev)`` whose positive parts sum to the envelope
    (their break points rise by construction), which is what the selection engine integrates.
    """
    dt = slopes.dtype
    c = jnp.concatenate([jnp.zeros((1,), dt), slopes])
    F = jnp.concatenate([jnp.zeros((1,), dt), fixed])
    ds = c[None, :] - c[:, None]  # [i, j] = c_j − c_i
    dF = F[None, :] - F[:, None]
    nz = ds != 0
    u = jnp.where(nz, dF / jnp.where(nz, ds, 1.0), 0.0)  # crossing of lines i and j
    flatter, steeper = ds > 0, ds < 0
    lo = jnp.maximum(jnp.max(jnp.where(flatter, u, -jnp.inf), axis=0), 0.0)
    hi = jnp.min(jnp.where(steeper, u, jnp.inf), axis=0)
    idx = jnp.arange(5)
    same = (~nz) & (idx[:, None] != idx[None, :])
    cheaper = (F[:, None] < F[None, :]) | ((F[:, None] == F[None, :]) & (idx[:, None] < idx[None, :]))
    dominated = jnp.any(same & cheaper, axis=0)
    # a chosen interval of (relative) width below a few ulps is a triple crossing in exact arithmetic
    # (e.g. f_p = f_ex at a relative price of 1): no firm chooses that line
    sliver = jnp.isfinite(hi) & (hi - lo <= 64 * jnp.finfo(dt).eps * jnp.abs(hi))
    active5 = (lo < hi) & ~sliver & ~dominated
    # previous chosen line: the flatter chosen line whose crossing with j is the largest (it is unique)
    cand = jnp.where(flatter & active5[:, None], u, -jnp.inf)
    prev5 = jnp.argmax(cand, axis=0)
    d_c = c - c[prev5]
    d_F = F - F[prev5]
    act = active5[1:]
    inc_c = jnp.where(act, d_c[1:], slopes)
    inc_F = jnp.where(act, d_F[1:], fixed)
    regime = jnp.sum(jnp.where(act, jnp.asarray(_BITS, jnp.int32), 0))
    return Envelope(
        active=act,
        lower=jnp.where(act, lo[1:], jnp.inf),
        upper=jnp.where(act, hi[1:], jnp.inf),
        prev=prev5[1:] - 1,
        increment_multiplier=inc_c,
        increment_fixed_cost=inc_F,
        weight=act.astype(dt),
        regime=regime,
    )


class Assumptions(eqx.Module):
    """Assumptions A.1-A.3 of 003 (§3.2-3.3, App. A) and the thresholds they compare.

    ``relative_price`` ``p_I^off/p_I^d = τ_I φ_Y^w φ_I/(φ_I^w φ_Y)``; ``p_tilde_1``
    ``(f_p/(f_p+f_I))^{1/(α(σ−1))}``, ``p_tilde_2`` ``(1 − f_I/(f_ex τ^{σ−1}))^{1/(α(σ−1))}`` (0 when
    ``f_I ≥ f_ex τ^{σ−1}``); ``A1``: relative price < 1; ``A2``: relative price in
    ``(p̃_1, p̃_2)`` (with A.3 this is ϕ_min < ϕ_off < ϕ_ex,off, App. A); ``A3``:
    ``f_p + f_I < f_ex τ^{σ−1}`` (⇔ p̃_2 > p̃_1).
    """

    relative_price: jax.Array
    p_tilde_1: jax.Array
    p_tilde_2: jax.Array
    A1: jax.Array
    A2: jax.Array
    A3: jax.Array

    def messages(self) -> list[str]:
        """One sentence per violated assumption (concrete values only)."""
        rp, p1, p2 = (float(np.asarray(x)) for x in (self.relative_price, self.p_tilde_1, self.p_tilde_2))
        out = []
        if not bool(self.A1):
            out.append(
                f"A.1 violated: p_I^off/p_I^d = {rp:.6g} ≥ 1 (the workbench's comparative advantage "
                "φ_Y φ_I^w/(φ_I φ_Y^w) does not exceed τ_I): no firm offshores"
            )
        if not bool(self.A3):
            out.append(
                "A.3 violated: f_p + f_I ≥ f_ex τ^(σ−1) (p̃_2 ≤ p̃_1): exporting-only is less demanding than "
                "offshoring-only, so the paper's partition ϕ_min < ϕ_off < ϕ_ex,off cannot hold"
            )
        if bool(self.A1) and not bool(self.A2):
            where = "≤ p̃_1: every producer offshores" if rp <= p1 else "≥ p̃_2: offshoring starts no earlier than exporting"
            out.append(f"A.2 violated: p_I^off/p_I^d = {rp:.6g} outside (p̃_1, p̃_2) = ({p1:.6g}, {p2:.6g}), {where}")
        return out


def assumptions(p: OffshoringParams) -> Assumptions:
    """Evaluates A.1-A.3 (003 §3.2-3.3); traced-safe (booleans as arrays)."""
    _, p_d, _, p_off = prices(p)
    ratio = p_off / p_d
    e = 1.0 / (p.alpha * (p.sigma - 1.0))
    p1 = (p.f_p / (p.f_p + p.f_I)) ** e
    inner = 1.0 - p.f_I / (p.f_ex * p.tau ** (p.sigma - 1.0))
    p2 = jnp.where(inner > 0, jnp.where(inner > 0, inner, 1.0) ** e, 0.0)
    a3 = p.f_p + p.f_I < p.f_ex * p.tau ** (p.sigma - 1.0)
    return Assumptions(ratio, p1, p2, ratio < 1.0, (ratio > p1) & (ratio < p2), a3)


# ------------------------------------------------------------------------------------------
# validation


def _valid(p: OffshoringParams):
    """All input conditions as one traced boolean (used for the result code under jit/vmap)."""
    fin = jnp.all(jnp.isfinite(jnp.stack(jax.tree_util.tree_leaves(p))))
    pos = jnp.all(
        jnp.stack([x > 0 for x in (p.n, p.f_p, p.f_I, p.f_ex, p.f_e, p.phi_Y, p.phi_I, p.phi_Y_w, p.phi_I_w, p.L)])
    )
    return (
        fin & pos & (p.sigma > 1) & (p.alpha > 0) & (p.alpha < 1) & (p.tau >= 1) & (p.tau_I >= 1)
        & (p.beta > 0) & (p.beta < 1)
    )  # fmt: skip


_CONDITIONS = {
    "sigma": (lambda v: v > 1, "σ > 1 (CES demand, 003 eq. 2)"),
    "alpha": (lambda v: (v > 0) & (v < 1), "0 < α < 1 (Cobb-Douglas intermediate share, 003 §3.3)"),
    "tau": (lambda v: v >= 1, "τ ≥ 1 (iceberg cost of final goods)"),
    "tau_I": (lambda v: v >= 1, "τ_I ≥ 1 (iceberg cost of intermediates, 003 §3.2)"),
    "beta": (lambda v: (v > 0) & (v < 1), "0 < β < 1 (Cobb-Douglas share of X, 003 eq. 1)"),
}


def _check_inputs(dist, raw: dict):
    for name, v in raw.items():
        if not is_concrete(v):
            continue
        a = np.asarray(v, dtype=float)
        if not np.all(np.isfinite(a)):
            fail(name, v, "must be finite")
        if name in _CONDITIONS:
            cond, text = _CONDITIONS[name]
            if not np.all(cond(a)):
                fail(name, v, text)
        elif not np.all(a > 0):
            what = "productivity" if name.startswith("phi") else ("markets" if name in ("n",) else "cost")
            fail(name, v, f"{name} > 0 (positive {what})")
    if not isinstance(dist, dists.AbstractDistribution):
        fail("dist", type(dist).__name__, "an AbstractDistribution over productivity ϕ")
    sigma = raw["sigma"]
    if isinstance(dist, (dists.Pareto, dists.Frechet)) and is_concrete(dist.shape) and is_concrete(sigma):
        if not np.all(np.asarray(dist.shape) > np.asarray(sigma) - 1.0):
            fail(
                "dist.shape",
                dist.shape,
                f"shape > σ − 1 = {np.asarray(sigma) - 1.0}: the (σ−1)th moment of g(ϕ) must be finite (003 footnote 1)",
            )


# ------------------------------------------------------------------------------------------
# the equilibrium


class OffshoringEquilibrium(eqx.Module):
    """Open-economy equilibrium of 003 (per advanced economy; values in units of the numeraire Y).

    **Cut-offs** (productivity ϕ): ``phi_min`` ϕ̂_min (eq. 11: the least productive producer),
    ``phi_off`` ϕ̂_off (eq. 12: the least productive offshoring firm; ``inf`` if none),
    ``phi_ex`` ϕ̂_ex (eq. 14: the least productive exporter), ``phi_ex_off`` (the least
    productive firm that offshores *and* exports; = ``phi_ex`` under A.1-A.3);
    ``strategy_lower``/``strategy_upper`` (4,): the ϕ-interval of each strategy (``inf`` if unchosen);
    ``active`` (4,), ``regime`` (bit mask, :data:`PAPER_REGIME` = 11 under A.1-A.3).

    **Firms**: ``market_demand`` B, ``survival_probability`` 1 − G(ϕ̂_min), ``strategy_share`` (4,)
    (ν_d, ν_off, ν_x, ν_ex,off of eq. 19: fractions of producers), ``share_offshoring``,
    ``share_exporting``, ``mass_of_entrants`` M_E, ``mass_of_firms`` M, ``mass_of_offshorers``,
    ``mass_of_exporters`` M_ex,off, ``mass_of_varieties`` M_t = M + n M_ex (App. B),
    ``average_efficiency`` φ̃ (eq. 15), ``average_efficiency_t`` φ̃_t (eq. 16).

    **Trade** (per advanced economy): ``final_exports`` (revenue from the n export markets,
    = final imports by symmetry), ``average_export_revenue`` (intensive margin: per exporter and
    market), ``domestic_sales``, ``intermediate_imports`` (value at c.i.f. = f.o.b. prices, iceberg),
    ``intermediate_imports_quantity`` (units delivered), ``domestic_intermediates`` (value),
    ``homogeneous_exports`` (Y shipped to W; = intermediate imports by balanced trade with W, §3.5.2),
    ``intermediate_share_of_imports``, ``trade_to_income`` ((final + Y exports)/(wL)),
    ``workbench_exports`` ((n+1) × intermediate imports), ``workbench_labor_in_I``.

    **Prices and welfare**: ``wage`` w = φ_Y, ``p_I_d``, ``p_I_w``, ``p_I_off``, ``price_index_X`` P_X
    (eq. 3, from eq. 11), ``price_index`` P = P_X^β/β̂, ``welfare`` W = w/P (eq. 17),
    ``welfare_workbench`` φ_Y^w; labour ``labor_Y``, ``labor_I``, ``labor_X``, ``labor_entry``,
    ``output_Y``.

    **Checks**: ``assumptions`` (:class:`Assumptions`), ``valid_input``, ``result``, ``num_steps``,
    ``residual`` (max-norm of the log free-entry residual).
    """

    phi_min: jax.Array
    phi_off: jax.Array
    phi_ex: jax.Array
    phi_ex_off: jax.Array
    strategy_lower: jax.Array
    strategy_upper: jax.Array
    active: jax.Array
    regime: jax.Array
    market_demand: jax.Array
    survival_probability: jax.Array
    strategy_share: jax.Array
    share_offshoring: jax.Array
    share_exporting: jax.Array
    mass_of_entrants: jax.Array
    mass_of_firms: jax.Array
    mass_of_offshorers: jax.Array
    mass_of_exporters: jax.Array
    mass_of_varieties: jax.Array
    average_efficiency: jax.Array
    average_efficiency_t: jax.Array
    final_exports: jax.Array
    average_export_revenue: jax.Array
    domestic_sales: jax.Array
    intermediate_imports: jax.Array
    intermediate_imports_quantity: jax.Array
    domestic_intermediates: jax.Array
    homogeneous_exports: jax.Array
    intermediate_share_of_imports: jax.Array
    trade_to_income: jax.Array
    workbench_exports: jax.Array
    workbench_labor_in_I: jax.Array
    wage: jax.Array
    p_I_d: jax.Array
    p_I_w: jax.Array
    p_I_off: jax.Array
    price_index_X: jax.Array
    price_index: jax.Array
    welfare: jax.Array
    welfare_workbench: jax.Array
    labor_Y: jax.Array
    labor_I: jax.Array
    labor_X: jax.Array
    labor_entry: jax.Array
    output_Y: jax.Array
    assumptions: Assumptions
    valid_input: jax.Array
    params: OffshoringParams
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    # firm-level schedules (003 eq. 8-13) ------------------------------------------------------
    def strategy(self, phi):
        """Index into :data:`STRATEGIES` of the strategy chosen at ϕ (−1: exit)."""
        phi = jnp.asarray(phi)
        inside = (phi[..., None] >= self.strategy_lower) & (phi[..., None] < self.strategy_upper)
        return jnp.where(jnp.any(inside, axis=-1), jnp.argmax(inside, axis=-1), -1)

    def _firm(self, phi):
        p = self.params
        slopes, fixed = strategy_lines(p)
        j = self.strategy(phi)
        on = j >= 0
        jj = jnp.where(on, j, 0)
        z = jnp.asarray(phi) ** (p.sigma - 1.0)
        offshores = on & ((jj == 1) | (jj == 3))
        exports = on & (jj >= 2)
        s = p.sigma - 1.0
        _, p_d, _, p_off = prices(p)
        a = jnp.where(offshores, p_off, p_d) ** (-p.alpha * s)
        return on, offshores, exports, z, a, slopes[jj], fixed[jj]

    def profit(self, phi):
        """``max(0, max_j π_j(ϕ))`` in labour units (003 eq. 9, 10, 13)."""
        on, _, _, z, _, c, F = self._firm(phi)
        return jnp.where(on, c * self.market_demand * z - F, 0.0)

    def domestic_revenue(self, phi):
        """``r_H(φ^k(ϕ)) = σ w a_k B ϕ^{σ−1}`` (eq. 8) for producers, 0 otherwise."""
        on, _, _, z, a, _, _ = self._firm(phi)
        p = self.params
        return jnp.where(on, p.sigma * self.wage * a * self.market_demand * z, 0.0)

    def export_revenue(self, phi):
        """Revenue in *one* export market, ``r_F = τ^{1−σ} r_H`` for exporters, 0 otherwise (eq. 13, 23)."""
        _, _, exports, _, _, _, _ = self._firm(phi)
        p = self.params
        return jnp.where(exports, p.tau ** (1.0 - p.sigma) * self.domestic_revenue(phi), 0.0)

    def intermediate_imports_of(self, phi):
        """A firm's imports of intermediates (value): ``α ρ`` × its total revenue if it offshores."""
        _, offshores, exports, _, _, _, _ = self._firm(phi)
        p = self.params
        total = self.domestic_revenue(phi) + p.n * self.export_revenue(phi)
        return jnp.where(offshores, p.alpha * (p.sigma - 1.0) / p.sigma * total, 0.0)


def equilibrium(
    dist,
    *,
    sigma,
    alpha,
    n,
    tau,
    tau_I,
    f_p,
    f_I,
    f_ex,
    f_e,
    phi_Y,
    phi_I,
    phi_Y_w,
    phi_I_w,
    beta=0.5,
    L=1.0,
    L_w=None,
    require_assumptions: bool = False,
    max_steps: int = 64,
    throw: bool = True,
    rule: quad.TailRule = quad.DEFAULT_RULE,
) -> OffshoringEquilibrium:
    """Equilibrium of 003 §3.5 for any productivity distribution ``dist`` over ϕ.

    Solves free entry (eq. 18-19; App. C, eq. C.3 in its corrected form, ``docs/offshoring.md``)
    ``Σ_m ΔF_m J(ϕ*_m) = f_e`` over the strategies some firm chooses (:func:`strategy_envelope`) for
    the demand index ``B``; then the cut-offs (eq. 11, 12, 14), the masses from ``R_X = βwL``
    (eq. 20), trade flows, market clearing (eq. 21) and welfare (eq. 17).

    Assumptions A.1-A.3 are evaluated and returned (``assumptions``, ``regime``); when one fails the
    chosen strategies change and are solved as they are. ``require_assumptions=True`` instead raises
    a :class:`~jaxtrade.JaxtradeInputError` naming the violated assumption (concrete inputs).
    ``L_w`` (workbench labour), if given, is checked against the labour W needs to produce the
    intermediates (incomplete specialisation of W, §3.2). Bad input (σ ≤ 1, α ∉ (0,1), τ < 1,
    τ_I < 1, β ∉ (0,1), non-positive costs, productivities or n) raises; under ``jit``/``vmap`` the
    same conditions give ``result = RESULTS.nonlinear_divergence`` and ``valid_input = False``
    (and an ``eqx.error_if`` when ``throw=True``).
    """
    raw = dict(
        sigma=sigma, alpha=alpha, n=n, tau=tau, tau_I=tau_I, f_p=f_p, f_I=f_I, f_ex=f_ex, f_e=f_e,
        phi_Y=phi_Y, phi_I=phi_I, phi_Y_w=phi_Y_w, phi_I_w=phi_I_w, beta=beta, L=L,
    )  # fmt: skip
    _check_inputs(dist, raw)
    p = params(**raw)
    if require_assumptions and all(is_concrete(x) for x in jax.tree_util.tree_leaves(p)):
        a = assumptions(p)
        msgs = a.messages()
        if msgs:
            name, value = ("f_ex", f_ex) if bool(a.A1) and not bool(a.A3) else ("tau_I", tau_I)
            fail(name, value, "; ".join(msgs) + " (require_assumptions=True)")
    if L_w is not None and is_concrete(L_w) and not np.all(np.asarray(L_w) > 0):
        fail("L_w", L_w, "L_w > 0 (workbench labour)")
    eq = _equilibrium(dist, p, max_steps, throw, rule)
    if L_w is not None and is_concrete(L_w) and is_concrete(eq.workbench_labor_in_I):
        if not np.all(np.asarray(eq.workbench_labor_in_I) < np.asarray(L_w)):
            fail(
                "L_w",
                L_w,
                f"L_w > (n+1)·(intermediate imports)/φ_Y^w = {np.asarray(eq.workbench_labor_in_I)}: the workbench "
                "must also produce Y (incomplete specialisation, 003 §3.2)",
            )
    return eq


def _initial_log_demand(dist, env: Envelope, sigma):
    """log B putting the lowest chosen increment's cut-off at the median productivity."""
    s = sigma - 1.0
    med = jnp.asarray(dist.icdf(jnp.asarray(0.5, sigma.dtype)), sigma.dtype)
    logb = jnp.log(env.increment_fixed_cost) - jnp.log(env.increment_multiplier) - s * jnp.log(med)
    return jnp.reshape(jnp.min(jnp.where(env.active, logb, jnp.inf)), (1,))


@eqx.filter_jit
def _equilibrium(dist, p: OffshoringParams, max_steps, throw, rule):
    dt = p.sigma.dtype
    valid = _valid(p)
    if throw:
        p = eqx.error_if(
            p, ~valid,
            "offshoring.equilibrium: invalid input (need σ > 1, 0 < α < 1, τ ≥ 1, τ_I ≥ 1, 0 < β < 1, positive "
            "finite costs, productivities, n and L)",
        )  # fmt: skip
    s = p.sigma - 1.0
    w, p_d, p_w, p_off = prices(p)
    slopes, fixed = strategy_lines(p)
    env = strategy_envelope(slopes, fixed)
    st = sel.Strategies(
        multiplier=env.increment_multiplier,
        fixed_cost=env.increment_fixed_cost,
        weight=env.weight,
        origin=(0, 0, 0, 0),
        market=(0, 0, 0, 0),
    )
    prob = sel.SelectionProblem(p.sigma, dist, st, jnp.reshape(p.f_e, (1,)), 1, rule)
    sol = sel.solve_selection(prob, log_demand0=_initial_log_demand(dist, env, p.sigma), max_steps=max_steps, throw=throw)
    B = sol.demand[0]
    act = env.active
    inf = jnp.asarray(jnp.inf, dt)
    cut = jnp.where(act, sol.cutoffs, inf)  # lower ϕ-bound of each chosen strategy
    S = jnp.where(act, sol.survival, 0.0)
    H = jnp.where(act, sol.J + sol.survival, 0.0)
    Mom = jnp.where(act, jnp.where(act, sol.cutoffs, 1.0) ** s * H, 0.0)  # ∫_{ϕ*_j}^∞ ϕ^{σ−1} dG
    # the next chosen strategy above j (the one whose predecessor is j)
    is_next = act[None, :] & (env.prev[None, :] == jnp.arange(4)[:, None])  # [j, i]
    S_hi = jnp.sum(jnp.where(is_next, S[None, :], 0.0), axis=1)
    M_hi = jnp.sum(jnp.where(is_next, Mom[None, :], 0.0), axis=1)
    upper = jnp.where(act & jnp.any(is_next, axis=1), jnp.sum(jnp.where(is_next, cut[None, :], 0.0), axis=1), inf)
    upper = jnp.where(act, upper, inf)
    N = S - S_hi  # mass (per entrant) choosing j
    Z = Mom - M_hi  # ∫_{strategy j} ϕ^{σ−1} dG
    a_d = p_d ** (-p.alpha * s)
    a_o = p_off ** (-p.alpha * s)
    a_k = jnp.stack([a_d, a_o, a_d, a_o])
    t = p.tau ** (-s)
    offs = jnp.asarray([False, True, False, True])
    exps = jnp.asarray([False, False, True, True])
    VP = slopes * B * Z  # variable profit (labour) per entrant, by strategy
    VP_home = a_k * B * Z
    VP_exp = jnp.where(exps, p.n * t * a_k * B * Z, 0.0)
    ME = p.beta * p.L / (p.sigma * jnp.sum(VP))  # R_X = σ w M_E ΣVP = βwL (eq. 20)
    S_min = jnp.sum(jnp.where(act, N, 0.0))
    M = ME * S_min
    phi_min = jnp.min(cut)
    phi_off = jnp.min(jnp.where(offs, cut, inf))
    phi_ex = jnp.min(jnp.where(exps, cut, inf))
    M_ex = ME * jnp.sum(jnp.where(exps, N, 0.0))
    M_off = ME * jnp.sum(jnp.where(offs, N, 0.0))
    rev = p.sigma * w * ME  # revenue per unit of variable profit (labour), times M_E
    final_exports = rev * jnp.sum(VP_exp)
    domestic_sales = rev * jnp.sum(VP_home)
    inter_share = p.alpha * (p.sigma - 1.0) / p.sigma
    IM = inter_share * rev * jnp.sum(jnp.where(offs, VP, 0.0))
    DI = inter_share * rev * jnp.sum(jnp.where(offs, 0.0, VP))
    # P_X from B (definition of B; eq. 11 at the marginal firm): P_X^{σ−1} = σ B (w^{1−α}/ρ)^{σ−1}/(βL)
    rho = s / p.sigma
    unit = w ** (1.0 - p.alpha) / rho
    PX = (p.sigma * B / (p.beta * p.L)) ** (1.0 / s) * unit
    bhat = p.beta**p.beta * (1.0 - p.beta) ** (1.0 - p.beta)
    P = PX**p.beta / bhat
    M_t = M + p.n * M_ex
    phi_tilde = (jnp.sum(jnp.where(act, a_k * Z, 0.0)) / S_min) ** (1.0 / s)  # eq. 15
    phi_tilde_t = (ME * jnp.sum(jnp.where(act, slopes * Z, 0.0)) / M_t) ** (1.0 / s)  # eq. 16
    fixed_labour = ME * jnp.sum(jnp.where(act, fixed * N, 0.0))
    L_X = ME * (1.0 - p.alpha) * s * jnp.sum(VP) + fixed_labour
    L_e = ME * p.f_e
    L_I = DI / w
    output_Y = (1.0 - p.beta) * w * p.L + IM  # consumption + exports to W (eq. 21)
    L_Y = output_Y / p.phi_Y
    result = optx.RESULTS.where(valid, sol.result, optx.RESULTS.nonlinear_divergence)
    return OffshoringEquilibrium(
        phi_min=phi_min,
        phi_off=phi_off,
        phi_ex=phi_ex,
        phi_ex_off=cut[3],
        strategy_lower=cut,
        strategy_upper=upper,
        active=act,
        regime=env.regime,
        market_demand=B,
        survival_probability=S_min,
        strategy_share=N / S_min,
        share_offshoring=M_off / M,
        share_exporting=M_ex / M,
        mass_of_entrants=ME,
        mass_of_firms=M,
        mass_of_offshorers=M_off,
        mass_of_exporters=M_ex,
        mass_of_varieties=M_t,
        average_efficiency=phi_tilde,
        average_efficiency_t=phi_tilde_t,
        final_exports=final_exports,
        average_export_revenue=jnp.where(M_ex > 0, final_exports / jnp.where(M_ex > 0, p.n * M_ex, 1.0), 0.0),
        domestic_sales=domestic_sales,
        intermediate_imports=IM,
        intermediate_imports_quantity=IM / p_off,
        domestic_intermediates=DI,
        homogeneous_exports=IM,
        intermediate_share_of_imports=IM / (IM + final_exports),
        trade_to_income=(final_exports + IM) / (w * p.L),
        workbench_exports=(p.n + 1.0) * IM,
        workbench_labor_in_I=(p.n + 1.0) * IM / p.phi_Y_w,
        wage=w,
        p_I_d=p_d,
        p_I_w=p_w,
        p_I_off=p_off,
        price_index_X=PX,
        price_index=P,
        welfare=w / P,
        welfare_workbench=p.phi_Y_w,
        labor_Y=L_Y,
        labor_I=L_I,
        labor_X=L_X,
        labor_entry=L_e,
        output_Y=output_Y,
        assumptions=assumptions(p),
        valid_input=valid,
        params=p,
        result=result,
        num_steps=sol.steps,
        residual=sol.residual,
    )


# ------------------------------------------------------------------------------------------
# Pareto closed forms (paper's regime)


class ParetoCutoffs(eqx.Module):
    """Closed-form cut-offs under Pareto ``G(ϕ) = 1 − (ϕ_0/ϕ)^k`` in the paper's regime (A.1-A.3)."""

    phi_min: jax.Array
    phi_off: jax.Array
    phi_ex: jax.Array
    share_offshoring: jax.Array
    share_exporting: jax.Array


def pareto_cutoffs(k, phi_0=1.0, **kw) -> ParetoCutoffs:
    """Eq. 11, 12, 14 with Pareto free entry (derived in ``docs/offshoring.md``):

    ``ϕ_off = ϕ_min [((p_off/p_d)^{α(1−σ)} − 1)^{−1} f_I/f_p]^{1/(σ−1)} = κ_off ϕ_min`` (eq. 12),
    ``ϕ_ex = ϕ_min τ (p_off/p_d)^α (f_ex/f_p)^{1/(σ−1)} = κ_ex ϕ_min`` (eq. 14), and, with
    ``J(c) = (σ−1)/(k−σ+1) (ϕ_0/c)^k``, free entry ``f_p J(ϕ_min) + f_I J(ϕ_off) + n f_ex J(ϕ_ex) = f_e``:

    ``ϕ_min = ϕ_0 [(σ−1)/((k−σ+1) f_e) · (f_p + f_I κ_off^{−k} + n f_ex κ_ex^{−k})]^{1/k}``.

    Valid when A.1-A.3 hold and ϕ_min ≥ ϕ_0 (raises otherwise). ``kw``: the keywords of
    :func:`equilibrium` (``beta``, ``L`` are irrelevant to the cut-offs).
    """
    kw = {key: v for key, v in kw.items() if key in _PARAM_NAMES}
    p = params(**kw)
    a = assumptions(p)
    if all(is_concrete(x) for x in (a.A1, a.A2, a.A3)) and not (bool(a.A1) and bool(a.A2) and bool(a.A3)):
        fail("tau_I", kw["tau_I"], "; ".join(a.messages()) + " (the Pareto closed form is for A.1-A.3)")
    s = p.sigma - 1.0
    k = jnp.asarray(k, p.sigma.dtype)
    phi_0 = jnp.asarray(phi_0, p.sigma.dtype)
    r = a.relative_price
    kappa_off = ((r ** (-p.alpha * s) - 1.0) ** -1 * p.f_I / p.f_p) ** (1.0 / s)
    kappa_ex = p.tau * r**p.alpha * (p.f_ex / p.f_p) ** (1.0 / s)
    bracket = p.f_p + p.f_I * kappa_off ** (-k) + p.n * p.f_ex * kappa_ex ** (-k)
    phi_min = phi_0 * (s / ((k - s) * p.f_e) * bracket) ** (1.0 / k)
    if is_concrete(phi_min) and not np.all(np.asarray(phi_min) >= np.asarray(phi_0)):
        fail("f_e", kw["f_e"], f"ϕ_min = {np.asarray(phi_min)} ≥ ϕ_0 = {np.asarray(phi_0)} (cut-off inside the Pareto support)")
    return ParetoCutoffs(
        phi_min=phi_min,
        phi_off=kappa_off * phi_min,
        phi_ex=kappa_ex * phi_min,
        share_offshoring=kappa_off ** (-k),
        share_exporting=kappa_ex ** (-k),
    )


# ------------------------------------------------------------------------------------------
# comparative statics


_SCALAR_OUTPUTS = (
    "phi_min", "phi_off", "phi_ex", "market_demand", "survival_probability", "share_offshoring",
    "share_exporting", "mass_of_entrants", "mass_of_firms", "mass_of_exporters", "mass_of_offshorers",
    "final_exports", "average_export_revenue", "domestic_sales", "intermediate_imports",
    "intermediate_imports_quantity", "homogeneous_exports", "intermediate_share_of_imports",
    "trade_to_income", "price_index_X", "welfare",
)  # fmt: skip


def comparative_statics(dist, *, wrt: str, at_phi=None, **kw) -> dict:
    """Derivatives ``d y/d x`` of the equilibrium outputs in one parameter ``x = wrt``.

    Forward mode (``jax.jvp``) through the free-entry solve, whose derivative is the implicit
    function theorem (``optx.ImplicitAdjoint``), i.e. Appendix D's differentiation of (C.3)
    done numerically for any distribution. ``kw`` are the keywords of :func:`equilibrium`.
    ``at_phi``: also the derivative of the export revenue (one market) and domestic revenue of a
    firm of that productivity (``export_revenue_at``, ``domestic_revenue_at``: eq. 23-24).
    Returns ``{name: (value, derivative)}``; unchosen cut-offs (``inf``) get derivative 0.
    """
    if wrt not in _PARAM_NAMES:
        fail("wrt", wrt, f"one of {_PARAM_NAMES}")
    kw = dict(kw)
    kw.setdefault("throw", True)
    x0 = kw.pop(wrt)

    def f(x):
        eq = equilibrium(dist, **{wrt: x}, **kw)
        out = {k: getattr(eq, k) for k in _SCALAR_OUTPUTS}
        if at_phi is not None:
            out["export_revenue_at"] = eq.export_revenue(at_phi)
            out["domestic_revenue_at"] = eq.domestic_revenue(at_phi)
        return out

    x0 = jnp.asarray(x0, jnp.result_type(float))
    val, tan = jax.jvp(f, (x0,), (jnp.ones_like(x0),))
    return {k: (val[k], jnp.where(jnp.isfinite(val[k]), tan[k], 0.0)) for k in val}
