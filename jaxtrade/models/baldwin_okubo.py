"""Heterogeneous footloose firms: trade, relocation and productivity (Baldwin & Okubo 2011, paper 000).

Baldwin, R. and T. Okubo (2011), *International Trade, Offshoring and Heterogeneous Firms*, NBER WP
16660. Two nations that differ only in size (North's expenditure share ``s_E`` in ``[½, 1)``), a
Dixit-Stiglitz sector whose firms draw a marginal cost ``a`` from ``G[a]`` after sinking ``F_I``,
beachhead cost ``F`` per market, freeness of trade ``φ = t^{1−σ} ∈ [0, 1]``, world expenditure on
the sector normalised to 1 (``E = s_E``, ``E* = 1 − s_E``), ``f = σδF`` and ``f_I = σδF_I`` (eq. 3-4).

The module reads like the paper:

* §2.2 autarky (eq. 3-6): :func:`autarky`;
* §3.1 instantaneous entry/exit, then relocation (eq. 7-9, Result 1): :func:`entry_then_relocation`;
  productivity (eq. 10-11): :func:`hft_productivity_weights`, :func:`hft_productivity_derivative`;
* §3.2 instantaneous relocation (eq. 12-20, Results 2-4): :func:`relocation_gains` (eq. 13-14),
  :func:`partition_point` (eq. 18), :func:`sustain_point`, :func:`relocation` (XX and DD phases
  and the full-agglomeration corner);
* §3.2.1 relocation followed by entry (eq. 21-22) — the default of :func:`relocation`
  (``entry=True``); ``entry=False`` is the relocation equilibrium before any entry/exit (eq. 17);
* §3.2.2 productivity (eq. 23, Result 5): the ``a_bar``/``a_bar_star`` fields,
  :func:`small_nation_productivity_dd` (eq. 23);
* §3.3 the general case given ``s_n`` (eq. 24): :func:`general_case`;
* §4 small-nation welfare (eq. 25-26, Results 6-7): :func:`small_nation_welfare`,
  :func:`paper_welfare_ratio`;
* §5.1.1 (appendix) quadratic adjustment costs and the order of relocation (eq. 27-31):
  :func:`relocation_transition`.

Pareto closed forms take the paper's ``G[a] = a^ρ`` on ``[0, 1]`` (eq. 5; ``rho`` the shape,
``β = ρ/(σ−1) > 1``, ``α = 1 − σ + ρ``). The ``*_general`` functions take any distribution
of marginal costs, given as the distribution of productivity ``1/a`` (a
:class:`jaxtrade.engine.distributions.AbstractDistribution`; ``G[a] = 1 − H(1/a)``; the paper's
Pareto costs are ``Pareto(rho, 1.0)``, see :func:`pareto_costs`), and solve the equilibrium
conditions (free entry, cut-off conditions, the location condition ``B = B*``) by
``optimistix`` root-finding with implicit differentiation (:func:`jaxtrade.engine.selection.root_solve`)
and the tail quadrature of :mod:`jaxtrade.engine.quadrature`.

Notation. ``M(x) = ∫_0^x a^{1−σ} dG[a]`` and ``M₁(x) = ∫_0^x a^{2−σ} dG[a]`` (Pareto:
``ρ x^α/α`` and ``ρ x^{1+α}/(1+α)``). ``n^w`` is the world mass of active firms, ``s_n`` the
North's share of the firms *born* there (ownership; relocated firms count for the South, §3.2.1),
``a_R`` the relocation threshold (Southern firms with ``a ≤ a_R`` produce in the North).
Averages ``a_bar`` are the sales-weighted unit input coefficients of eq. 10 (lower = more
productive, footnote 8).

Errata (derivations in ``docs/baldwin_okubo.md``): eq. (16)/(24) drop ``(s_E − s_n) a_D^α``;
(21) prints ``s_n/s_E − φ^β`` for ``s_n/s_E + φ^β``; (22), (24) and (25) for ``s_n ≠ s_E``
contradict the free-entry condition (8), which pins ``a_D`` whatever ``s_n``, so the welfare ratio
(26) is 1 and Result 7 does not follow; (26) as printed divides by ``1 + φ^β`` once too often;
the XX-phase ``ā*`` prints ``(1+φ)`` for ``φ``; (23) lacks the power ``1/ρ`` on its last factor;
(31) prints ``((β−1) f_I f)`` for ``((β−1) f_I/f)``. The paper's sustain point is that of the
long-run (relocation-then-entry) equilibrium; before entry/exit it is
``(1 − s_E)^{1/β}/s_E`` (:func:`short_run_sustain_point`).

Every equilibrium carries ``result`` (an ``optimistix.RESULTS``), ``num_steps`` and ``residual``
(the max-norm of the equilibrium conditions, re-evaluated from the definitions (15)/(19) at the
returned point); ``throw=True`` raises on invalid traced inputs or failed solves.
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
from ..engine.validation import float_dtype as _dtype

__all__ = [
    "PHASES",
    "pareto_costs",
    "Autarky",
    "autarky",
    "autarky_general",
    "EntryEquilibrium",
    "entry_then_relocation",
    "entry_then_relocation_general",
    "hft_productivity_weights",
    "hft_productivity_derivative",
    "InitialState",
    "initial_state",
    "relocation_gains",
    "partition_point",
    "sustain_point",
    "short_run_sustain_point",
    "Relocation",
    "relocation",
    "relocation_general",
    "small_nation_productivity_dd",
    "general_case",
    "Welfare",
    "small_nation_welfare",
    "paper_welfare_ratio",
    "Transition",
    "relocation_transition",
]

#: phase codes: 0 = XX migration (exporters move), 1 = DD migration (local firms move),
#: 2 = full agglomeration (every firm in the North: past the sustain point), 3 = interior HFT
#: equilibrium without relocation (§3.1).
PHASES = ("XX", "DD", "full_agglomeration", "no_relocation")


# ==========================================================================================
# §2  The model: parameters and their conditions


def pareto_costs(rho):
    """The paper's cost distribution ``G[a] = a^ρ`` on ``[0, 1]`` (eq. 5) as the distribution of
    productivity ``1/a``: ``Pareto(shape=ρ, scale=1)``."""
    return dists.Pareto(rho, 1.0)




def _concrete(*xs):
    return all(is_concrete(x) for x in xs)


def _check_common(phi, s_E, sigma, f, f_I):
    if _concrete(sigma):
        a = np.asarray(sigma, float)
        if not np.all(np.isfinite(a)) or not np.all(a > 1):
            fail("sigma", sigma, "σ > 1 (eq. 1-2: CES demand, 0 < μ < 1 < σ)")
    if phi is not None and _concrete(phi):
        a = np.asarray(phi, float)
        if not np.all(np.isfinite(a)) or not np.all((a >= 0) & (a <= 1)):
            fail("phi", phi, "0 ≤ φ ≤ 1 (freeness of trade φ = t^{1−σ}, eq. 2)")
    if s_E is not None and _concrete(s_E):
        a = np.asarray(s_E, float)
        if not np.all(np.isfinite(a)) or not np.all((a >= 0.5) & (a < 1)):
            fail("s_E", s_E, "½ ≤ s_E < 1 (the North is the larger nation, §2; s_E = 1 leaves no South)")
    for name, v in (("f", f), ("f_I", f_I)):
        if _concrete(v):
            a = np.asarray(v, float)
            if not np.all(np.isfinite(a)) or not np.all(a > 0):
                fail(name, v, f"{name} > 0 (beachhead and innovation costs, eq. 3-4)")


def _check_pareto(phi, s_E, sigma, rho, f, f_I):
    _check_common(phi, s_E, sigma, f, f_I)
    if _concrete(rho):
        a = np.asarray(rho, float)
        if not np.all(np.isfinite(a)) or not np.all(a > 0):
            fail("rho", rho, "ρ > 0 (Pareto shape of the cost draws, eq. 5)")
    if _concrete(rho, sigma):
        b = np.asarray(rho, float) / (np.asarray(sigma, float) - 1.0)
        if not np.all(b > 1):
            fail("rho", rho, f"β = ρ/(σ−1) > 1 (regularity condition after eq. 6: the integrals converge; β = {b})")
    if _concrete(rho, sigma, f, f_I):
        b = np.asarray(rho, float) / (np.asarray(sigma, float) - 1.0)
        A = np.asarray(f_I, float) * (b - 1.0) / np.asarray(f, float)
        if not np.all(A <= 1):
            fail(
                "f_I",
                f_I,
                "f_I (β−1)/f ≤ 1, i.e. the autarky cut-off a_D ≤ a_0 = 1 (eq. 6 needs the cut-off inside "
                f"the support [0, 1]; here f_I(β−1)/f = {A})",
            )


def _valid_pareto(phi, s_E, sigma, rho, f, f_I):
    """The same conditions as a boolean array (for traced inputs)."""
    beta = rho / (sigma - 1.0)
    A = f_I * (beta - 1.0) / f
    ok = (sigma > 1) & (beta > 1) & (f > 0) & (f_I > 0) & (A <= 1) & (s_E >= 0.5) & (s_E < 1)
    return ok & (phi >= 0) & (phi <= 1)


def _result_from(ok, throw, what):
    """The result code of a check (``throw`` is applied to the whole result by :func:`_guard`)."""
    del throw, what
    ok = jnp.asarray(ok)
    return optx.RESULTS.where(ok, optx.RESULTS.successful, optx.RESULTS.nonlinear_divergence)


def _guard(out, throw, what):
    """``eqx.error_if`` on every array of a result whose code is not successful (``throw=True``):
    under ``jit``/``vmap`` an invalid input or failed solve raises instead of returning numbers."""
    if not throw:
        return out
    bad = jnp.any(out.result != optx.RESULTS.successful)
    return eqx.error_if(out, bad, what)


@eqx.filter_jit
def _vectorised(fn, args, throw):
    """Calls the scalar kernel ``fn(*args, throw)`` on broadcast inputs (``vmap`` over the flattened
    batch, reshaped back): result codes are per element."""
    args = jnp.broadcast_arrays(*args)
    shape = args[0].shape
    if shape == ():
        return _guard(fn(*args, False), throw, f"{fn.__name__.strip('_')}: invalid input, failed solve, or equilibrium conditions not met")
    flat = [jnp.ravel(a) for a in args]
    out = jax.vmap(lambda *a: fn(*a, False))(*flat)
    out = jax.tree_util.tree_map(lambda x: jnp.reshape(x, shape + x.shape[1:]) if eqx.is_array(x) else x, out)
    return _guard(out, throw, f"{fn.__name__.strip('_')}: invalid input, failed solve, or equilibrium conditions not met")


def _sw(cond, x, safe):
    """``x`` where ``cond``, else a safe value (the double-``where`` that keeps gradients finite)."""
    return jnp.where(cond, x, safe)


# ------------------------------------------------------------------------------------------
# moments of the cost distribution: M(x) = ∫_0^x a^{1−σ} dG, M₁(x) = ∫_0^x a^{2−σ} dG, G(x)


class _ParetoCosts(eqx.Module):
    rho: jax.Array
    sigma: jax.Array

    @staticmethod
    def _pow(x, p):
        # x^p on [0, 1] with a finite (zero) derivative at x = 0
        x = jnp.minimum(x, 1.0)
        pos = x > 0
        return jnp.where(pos, jnp.where(pos, x, 1.0) ** p, 0.0)

    def G(self, x):
        return self._pow(x, self.rho)

    def M(self, x):
        al = 1.0 - self.sigma + self.rho
        return self.rho / al * self._pow(x, al)

    def M1(self, x):
        al = 1.0 - self.sigma + self.rho
        return self.rho / (1.0 + al) * self._pow(x, 1.0 + al)


class _QuadCosts(eqx.Module):
    """Moments of a general cost distribution, from the productivity distribution of ``1/a``."""

    dist: object
    sigma: jax.Array
    rule: quad.TailRule = eqx.field(static=True, default=quad.DEFAULT_RULE)

    def _log_moment(self, x, s):
        # log ∫_{z ≥ 1/x} z^s dH(z), in logs (no overflow for tiny x)
        x = jnp.asarray(x)
        pos = x > 0
        xs = jnp.where(pos, x, 1.0)
        cut = 1.0 / xs
        lc = jnp.log(cut)
        rel = quad.tail_integral(self.dist, cut, lambda lp, d: jnp.exp(s * (lp - lc[..., None]) - d), rule=self.rule)
        safe = jnp.where(rel > 0, rel, 1.0)
        return jnp.where(pos & (rel > 0), jnp.log(safe) + s * lc, -jnp.inf)

    def G(self, x):
        x = jnp.asarray(x)
        pos = x > 0
        return jnp.where(pos, quad.survival(self.dist, 1.0 / jnp.where(pos, x, 1.0)), 0.0)

    def logM(self, x):
        return self._log_moment(x, self.sigma - 1.0)

    def M(self, x):
        return jnp.exp(self.logM(x))

    def M1(self, x):
        return jnp.exp(self._log_moment(x, self.sigma - 2.0))


def _V(costs, b, f):
    """Expected operating profit net of beachhead costs from one market with demand ``b``:
    ``∫_0^{a*} (a^{1−σ} b − f) dG`` with ``a*^{σ−1} = b/f`` (the integrands of eq. 4 and 8)."""
    a = (b / f) ** (1.0 / (costs.sigma - 1.0))
    return b * costs.M(a) - f * costs.G(a)


# ------------------------------------------------------------------------------------------
# market indices (15)/(19) and sales-weighted averages (10), (23): shared by every case


def _market_indices(costs, s_n, n_w, a_D, a_X, a_R, phi):
    """``m̄`` and ``m̄*`` of eq. (15) (XX, ``a_R ≤ a_X``) and (19) (DD, ``a_R ≥ a_X``) in one
    expression: relocated Southern firms ``a ≤ a_R`` sell in the North untaxed; those of them that
    are exporters (``a ≤ a_X``) sell back into the South; Southern firms left behind sell at home
    and, if ``a ≤ a_X``, export. With ``a_R = 0`` this is the HFT market of §3.1 (eq. 7)."""
    GD = costs.G(a_D)
    a_m = jnp.minimum(a_R, a_X)
    MD, MX, MR, Mm = costs.M(a_D), costs.M(a_X), costs.M(a_R), costs.M(a_m)
    m = n_w / GD * (s_n * MD + (1.0 - s_n) * (MR + phi * (MX - Mm)))
    ms = n_w / GD * (s_n * phi * MX + (1.0 - s_n) * (phi * Mm + MD - MR))
    return m, ms


def _averages(costs, s_n, a_D, a_X, a_R, phi):
    """Sales-weighted average unit input coefficient of firms located in the North and in the
    South (eq. 10 with relocation; §3.2.2): exporters weigh ``a^{1−σ}(1+φ)``, local firms
    ``a^{1−σ}``. Returns ``(ā, ā*)``; ``ā*`` is NaN where no firm is left in the South."""
    a_m = jnp.minimum(a_R, a_X)
    M1D, M1X, M1R, M1m = costs.M1(a_D), costs.M1(a_X), costs.M1(a_R), costs.M1(a_m)
    MD, MX, MR, Mm = costs.M(a_D), costs.M(a_X), costs.M(a_R), costs.M(a_m)
    num = s_n * (phi * M1X + M1D) + (1.0 - s_n) * (phi * M1m + M1R)
    den = s_n * (phi * MX + MD) + (1.0 - s_n) * (phi * Mm + MR)
    a_bar = num / den
    num_s = phi * (M1X - M1m) + M1D - M1R
    den_s = phi * (MX - Mm) + MD - MR
    left = den_s > 1e-12 * MD
    a_bar_s = jnp.where(left, num_s / jnp.where(left, den_s, 1.0), jnp.nan)
    return a_bar, a_bar_s


def _pareto_south_average(costs, a_D, a_X, a_R, phi):
    """Closed form of ``ā*`` (§3.2.2, XX and DD) in the ratio ``x = a_R/a_D``, continuous at
    ``a_R → a_D`` (limit ``a_D``)."""
    al = 1.0 - costs.sigma + costs.rho
    y = a_X / a_D
    x = jnp.minimum(a_R / a_D, 1.0)
    xm = jnp.minimum(x, y)
    num = phi * (y ** (1 + al) - xm ** (1 + al)) + 1.0 - x ** (1 + al)
    den = phi * (y**al - xm**al) + 1.0 - x**al
    near = den < 1e-9
    limit = (1 + al) / al * jnp.ones_like(x)
    ratio = jnp.where(near, limit, num / jnp.where(near, 1.0, den))
    return al / (1.0 + al) * a_D * ratio


# ==========================================================================================
# §2.2  Autarky (eq. 3-6)


class Autarky(eqx.Module):
    """Closed-economy equilibrium of each nation (§2.2).

    ``a_D`` the cut-off (eq. 3, 6), ``n`` and ``n_star`` the masses of firms of a nation with
    expenditure ``s_E`` and ``1 − s_E`` (eq. 6: ``n = E(β−1)/(fβ)`` under Pareto), ``n_w`` their
    sum (eq. 12), ``B`` the per-firm demand ``E/m̄`` (the same in both nations: ``a_D^{σ−1} f``),
    ``m_bar`` and ``m_bar_star``.
    """

    a_D: jax.Array
    n: jax.Array
    n_star: jax.Array
    n_w: jax.Array
    B: jax.Array
    m_bar: jax.Array
    m_bar_star: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


def autarky(sigma, rho, f, f_I, s_E=0.5, *, throw: bool = True) -> Autarky:
    """Autarky under Pareto (eq. 6): ``a_D = (f_I(β−1)/f)^{1/ρ}``, ``n = E(β−1)/(fβ)``.

    ``residual`` re-evaluates the cut-off condition (3) and the free-entry condition (4)."""
    _check_pareto(None, s_E, sigma, rho, f, f_I)
    dt = _dtype(sigma, rho, f, f_I, s_E)
    sigma, rho, f, f_I, s_E = (jnp.asarray(x, dt) for x in (sigma, rho, f, f_I, s_E))
    beta = rho / (sigma - 1.0)
    a_D = (f_I * (beta - 1.0) / f) ** (1.0 / rho)
    n_w = (beta - 1.0) / (f * beta)
    costs = _ParetoCosts(rho, sigma)
    out = _autarky_finish(costs, a_D, n_w, s_E, f, f_I, jnp.zeros((), jnp.int32),
                          _valid_pareto(jnp.zeros((), dt), s_E, sigma, rho, f, f_I), throw)
    return _guard(out, throw, "autarky: invalid input")


def _autarky_finish(costs, a_D, n_w, s_E, f, f_I, steps, ok, throw):
    B = f * a_D ** (costs.sigma - 1.0)
    m = s_E * n_w * costs.M(a_D) / costs.G(a_D)
    ms = (1 - s_E) * n_w * costs.M(a_D) / costs.G(a_D)
    res = jnp.maximum(
        jnp.abs(jnp.log(s_E / m) - jnp.log(B)),  # (3): B = E/m̄ with a_D^{1−σ} B = f
        jnp.abs(jnp.log(_V(costs, B, f)) - jnp.log(f_I)),  # (4)
    )
    return Autarky(a_D=a_D, n=s_E * n_w, n_star=(1 - s_E) * n_w, n_w=n_w, B=B, m_bar=m, m_bar_star=ms,
                   result=_result_from(ok & jnp.isfinite(res), throw, "autarky: invalid input or non-finite solution"),
                   num_steps=steps, residual=res)


def _fe_solve(dist, phi, sigma, f, f_I, max_steps, rule):
    """Free entry with ``B = B*`` (eq. 4 with ``φ = 0``, eq. 8 otherwise): ``V(B) + V(φB) = f_I``,
    solved for ``log B`` by the selection engine (Newton, implicit differentiation)."""
    dt = sigma.dtype
    has_x = phi > 0
    st = sel.Strategies(
        multiplier=jnp.stack([jnp.ones((), dt), jnp.where(has_x, phi, 1.0)]),
        fixed_cost=jnp.stack([f, f]),
        weight=jnp.stack([jnp.ones((), dt), jnp.where(has_x, 1.0, 0.0)]),
        origin=(0, 0),
        market=(0, 0),
    )
    prob = sel.SelectionProblem(sigma, dist, st, jnp.reshape(f_I, (1,)), 1, rule)
    sol = sel.solve_selection(prob, max_steps=max_steps, throw=False)
    return sol.demand[0], sol.result, sol.steps


def autarky_general(dist, sigma, f, f_I, s_E=0.5, *, max_steps: int = 64, throw: bool = True,
                    rule: quad.TailRule = quad.DEFAULT_RULE) -> Autarky:
    """Autarky for any cost distribution (eq. 3-4): free entry ``∫_0^{a_D}(a^{1−σ}B − f)dG = f_I``
    with ``a_D^{1−σ}B = f`` solved for ``B`` by the selection engine; ``n = E G(a_D)/(B M(a_D))``.

    ``dist`` is the distribution of productivity ``1/a`` (see :func:`pareto_costs`)."""
    _check_common(None, s_E, sigma, f, f_I)
    dt = _dtype(sigma, f, f_I, s_E)
    sigma, f, f_I, s_E = (jnp.asarray(x, dt) for x in (sigma, f, f_I, s_E))
    return _autarky_general(dist, sigma, f, f_I, s_E, max_steps, throw, rule)


@eqx.filter_jit
def _autarky_general(dist, sigma, f, f_I, s_E, max_steps, throw, rule):
    costs = _QuadCosts(dist, sigma, rule)
    B, res_code, steps = _fe_solve(dist, jnp.zeros_like(sigma), sigma, f, f_I, max_steps, rule)
    a_D = (B / f) ** (1.0 / (sigma - 1.0))
    n_w = costs.G(a_D) / (B * costs.M(a_D))
    out = _autarky_finish(costs, a_D, n_w, s_E, f, f_I, steps, res_code == optx.RESULTS.successful, throw)
    return _guard(out, throw, "autarky_general: failed solve")


# ==========================================================================================
# §3.1  Instantaneous entry/exit followed by relocation (eq. 7-9, Result 1)


class EntryEquilibrium(eqx.Module):
    """The HFT equilibrium with instantaneous entry/exit (§3.1), where relocation never happens.

    ``a_D``, ``a_X`` (eq. 9), ``n_w`` (eq. 9), ``s_n`` (eq. 9: the home-market effect),
    ``n``/``n_star`` (masses producing in North/South), ``B``/``B_star`` re-evaluated from the
    market definitions of eq. 7 (``B = s_E/m̄``, ``B* = (1−s_E)/m̄*``; equal in the interior —
    Result 1), ``relocation_gain_X``/``relocation_gain_D`` (eq. 13-14 times ``δσ`` for a firm with
    ``a = a_X``: zero in the interior), ``a_bar``/``a_bar_star`` (eq. 10), ``m_bar``/``m_bar_star``,
    ``phase_code`` (3 = interior; 2 = full agglomeration past the sustain point, where ``s_n = 1``:
    the HME formula of eq. 9 would exceed 1), ``result``, ``num_steps``, ``residual``.
    """

    a_D: jax.Array
    a_X: jax.Array
    n_w: jax.Array
    s_n: jax.Array
    n: jax.Array
    n_star: jax.Array
    B: jax.Array
    B_star: jax.Array
    relocation_gain_X: jax.Array
    relocation_gain_D: jax.Array
    a_bar: jax.Array
    a_bar_star: jax.Array
    m_bar: jax.Array
    m_bar_star: jax.Array
    phase_code: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    @property
    def phase(self):
        return _phase_names(self.phase_code)

    def __getitem__(self, name):
        return getattr(self, name)


def _phase_names(code):
    c = np.asarray(code)
    names = np.asarray(PHASES, dtype=object)[c]
    return str(names) if c.ndim == 0 else names


def _hme_share(phi, s_E, beta):
    """eq. (9): ``s_n = ½ + (1+φ^β)/(1−φ^β) (s_E − ½)``, written as ``(s_E(1+φ^β) − φ^β)/(1−φ^β)``
    and set to ½ when ``s_E = ½`` (where φ = 1 gives 0/0)."""
    u = phi**beta
    sym = s_E == 0.5
    us = _sw(sym | (u >= 1), 0.5, u)
    return jnp.where(sym, 0.5, (s_E * (1 + us) - us) / (1 - us))


def entry_then_relocation(phi, s_E, sigma, rho, f, f_I, *, throw: bool = True) -> EntryEquilibrium:
    """Pareto closed forms of §3.1 (eq. 9) and the full-agglomeration corner past the sustain point.

    Interior (``φ ≤ φ^S = ((1−s_E)/s_E)^{1/β}``, where eq. 9's ``s_n ≤ 1``):
    ``a_D = (f_I(β−1)/(f(1+φ^β)))^{1/ρ}``, ``a_X = φ^{1/(σ−1)} a_D``,
    ``n^w = (1−1/β)/(f(1+φ^β))``, ``s_n = ½ + (1+φ^β)/(1−φ^β)(s_E − ½)``.
    Corner (derived; not in the paper): only the North produces, ``a_D = (s_E f_I(β−1)/f)^{1/ρ}``,
    ``a_X = ((1−s_E) f_I(β−1)/f)^{1/ρ}`` (the North's export cut-off into the South, where
    ``B* ≤ B``), ``n^w = s_E(1−1/β)/f``; Southern entry is unprofitable there.
    """
    _check_pareto(phi, s_E, sigma, rho, f, f_I)
    dt = _dtype(phi, s_E, sigma, rho, f, f_I)
    return _vectorised(_entry_pareto, [jnp.asarray(x, dt) for x in (phi, s_E, sigma, rho, f, f_I)], throw)


def _entry_pareto(phi, s_E, sigma, rho, f, f_I, throw):
    ok = _valid_pareto(phi, s_E, sigma, rho, f, f_I)
    costs = _ParetoCosts(rho, sigma)
    beta = rho / (sigma - 1.0)
    A = f_I * (beta - 1.0) / f
    u = phi**beta
    corner = phi > ((1 - s_E) / s_E) ** (1 / beta)
    a_D = jnp.where(corner, (s_E * A) ** (1 / rho), (A / (1 + u)) ** (1 / rho))
    a_X = jnp.where(corner, ((1 - s_E) * A) ** (1 / rho), phi ** (1 / (sigma - 1)) * a_D)
    n_w = jnp.where(corner, s_E * (1 - 1 / beta) / f, (1 - 1 / beta) / (f * (1 + u)))
    s_n = jnp.where(corner, 1.0, _hme_share(phi, s_E, beta))
    return _entry_finish(costs, phi, s_E, f, f_I, a_D, a_X, n_w, s_n, corner, jnp.zeros((), jnp.int32), ok, throw)


def _entry_finish(costs, phi, s_E, f, f_I, a_D, a_X, n_w, s_n, corner, steps, ok, throw):
    sigma = costs.sigma
    # markets of eq. (7) with no relocation (a_R = 0); in the corner the South has no firms
    zero = jnp.zeros_like(a_D)
    m, ms = _market_indices(costs, s_n, n_w, a_D, a_X, zero, phi)
    B, Bs = s_E / m, (1 - s_E) / ms
    gain_X = jnp.where(phi > 0, _sw(phi > 0, a_X, 1.0) ** (1 - sigma) * (1 - phi) * (B - Bs), 0.0)  # eq. (13) × δσ at a = a_X
    gain_D = a_D ** (1 - sigma) * (B - Bs)  # eq. (14) × δσ at a = a_D
    a_bar, _ = _averages(costs, jnp.ones_like(s_n), a_D, a_X, zero, phi)
    a_bar_s = jnp.where(corner, jnp.nan, a_bar)
    # conditions: domestic cut-off (7), export cut-off (7) into the South, free entry (8)
    r_dom = jnp.log(a_D ** (1 - sigma) * B / f)
    has_x = (phi > 0) & (a_X > 0)
    r_exp = jnp.where(has_x, jnp.log(_sw(has_x, phi * a_X ** (1 - sigma) * Bs / f, 1.0)), 0.0)
    fe = _V(costs, B, f) + jnp.where(phi > 0, _V(costs, phi * Bs, f), 0.0)
    r_fe = jnp.log(fe / f_I)
    res = jnp.maximum(jnp.maximum(jnp.abs(r_dom), jnp.abs(r_exp)), jnp.abs(r_fe))
    code = jnp.where(corner, 2, 3).astype(jnp.int32)
    return EntryEquilibrium(
        a_D=a_D, a_X=a_X, n_w=n_w, s_n=s_n, n=s_n * n_w, n_star=(1 - s_n) * n_w, B=B, B_star=Bs,
        relocation_gain_X=gain_X, relocation_gain_D=gain_D, a_bar=a_bar, a_bar_star=a_bar_s,
        m_bar=m, m_bar_star=ms, phase_code=code,
        result=_result_from(ok & jnp.isfinite(res) & (res < _res_tol(res.dtype)), throw,
                            "entry_then_relocation: invalid input, failed solve, or equilibrium conditions not met"),
        num_steps=steps, residual=res,
    )


def entry_then_relocation_general(dist, phi, s_E, sigma, f, f_I, *, max_steps: int = 64, throw: bool = True,
                                  rule: quad.TailRule = quad.DEFAULT_RULE) -> EntryEquilibrium:
    """§3.1 for any cost distribution (scalar inputs; ``jax.vmap`` for batches).

    Free entry (8) with ``B = B*`` (the two free-entry conditions imply it, footnote 7) gives
    ``V(B) + V(φB) = f_I`` for ``B`` (selection engine); ``n`` and ``n*`` solve the linear market
    conditions of eq. 7. Where they give ``n* < 0`` (past the sustain point) the corner with only
    Northern firms is solved instead: ``V(B) + V(φB*) = f_I`` and the two market conditions, for
    ``(log B, log B*)`` by Newton (:func:`jaxtrade.engine.selection.root_solve`).
    """
    _check_common(phi, s_E, sigma, f, f_I)
    dt = _dtype(phi, s_E, sigma, f, f_I)
    phi, s_E, sigma, f, f_I = (jnp.asarray(x, dt) for x in (phi, s_E, sigma, f, f_I))
    return _entry_general(dist, phi, s_E, sigma, f, f_I, max_steps, throw, rule)


def _corner_solve_if(corner, costs, phi, s_E, f, f_I, B0, max_steps):
    """:func:`_corner_solve` only where ``corner`` holds (``lax.cond``: outside the corner neither the
    solve nor its implicit adjoint runs, so a singular corner system cannot poison derivatives of
    interior equilibria; under ``vmap`` both branches run)."""
    def yes():
        Bc, Bsc, rc, stc = _corner_solve(costs, phi, s_E, f, f_I, B0, max_steps)
        return Bc, Bsc, rc, jnp.asarray(stc, jnp.int32)

    def no():
        return B0, B0, optx.RESULTS.successful, jnp.zeros((), jnp.int32)

    return jax.lax.cond(corner, yes, no)


def _corner_solve(costs, phi, s_E, f, f_I, B0, max_steps):
    """Full agglomeration with free entry: all firms in the North. Unknowns ``(log B, log B*)``:
    ``V(B) + V(φB*) = f_I`` and ``B* φ M(a_X)/(B M(a_D)) = (1−s_E)/s_E`` (the two market
    conditions with ``n`` eliminated)."""
    sigma = costs.sigma

    def fn(y, args):
        phi, s_E, f, f_I = args
        B, Bs = jnp.exp(y[0]), jnp.exp(y[1])
        a_D = (B / f) ** (1 / (sigma - 1))
        a_X = (phi * Bs / f) ** (1 / (sigma - 1))
        r1 = jnp.log(_V(costs, B, f) + _V(costs, phi * Bs, f)) - jnp.log(f_I)
        r2 = jnp.log(phi * Bs) + costs.logM(a_X) - jnp.log(B) - costs.logM(a_D) - jnp.log((1 - s_E) / s_E)
        return jnp.stack([r1, r2])

    y0 = jnp.stack([jnp.log(B0), jnp.log(B0)])
    rs = sel.root_solve(fn, y0, (phi, s_E, f, f_I), max_steps=max_steps, throw=False)
    return jnp.exp(rs.value[0]), jnp.exp(rs.value[1]), rs.result, rs.steps


@eqx.filter_jit
def _entry_general(dist, phi, s_E, sigma, f, f_I, max_steps, throw, rule):
    costs = _QuadCosts(dist, sigma, rule)
    B, r0, st0 = _fe_solve(dist, phi, sigma, f, f_I, max_steps, rule)
    a_D = (B / f) ** (1 / (sigma - 1))
    a_X = jnp.where(phi > 0, (phi * B / f) ** (1 / (sigma - 1)), 0.0)
    GD = costs.G(a_D)
    PD, PX = costs.M(a_D) / GD, phi * costs.M(a_X) / GD
    n_w = 1.0 / (B * (PD + PX))
    diff = (2 * s_E - 1) / (B * (PD - PX))  # n − n*
    n = 0.5 * (n_w + diff)
    corner = n > n_w
    Bc, Bsc, rc, stc = _corner_solve_if(corner, costs, jnp.where(phi > 0, phi, 1.0), s_E, f, f_I, B, max_steps)
    a_Dc = (Bc / f) ** (1 / (sigma - 1))
    a_Xc = (phi * Bsc / f) ** (1 / (sigma - 1))
    n_wc = s_E * costs.G(a_Dc) / (Bc * costs.M(a_Dc))
    a_D = jnp.where(corner, a_Dc, a_D)
    a_X = jnp.where(corner, a_Xc, a_X)
    n_w = jnp.where(corner, n_wc, n_w)
    s_n = jnp.where(corner, 1.0, n / n_w)
    code = optx.RESULTS.where(corner, rc, r0)
    ok = code == optx.RESULTS.successful
    out = _entry_finish(costs, phi, s_E, f, f_I, a_D, a_X, n_w, s_n, corner, st0 + jnp.where(corner, stc, 0), ok, throw)
    return _guard(out, throw, "entry_then_relocation_general: failed solve or equilibrium conditions not met")


# ------------------------------------------------------------------------------------------
# §3.1.2  productivity without relocation (eq. 10-11)


def hft_productivity_weights(phi, sigma, rho, f, f_I):
    """The weights of eq. (10) rewritten as ``ā = ∫_0^{a_X} W_X a^α da + ∫_{a_X}^{a_D} W_D a^α da``:
    ``W_X = (1+φ)/(1+φ^β)^{1/β} · ρ(1−1/β)/(f_I(β−1)/f)^{1−1/β}``, ``W_D`` the same without
    ``(1+φ)``. Returns ``(W_X, W_D)``."""
    beta = rho / (sigma - 1.0)
    c = rho * (1 - 1 / beta) / (f_I * (beta - 1) / f) ** (1 - 1 / beta)
    W_D = c / (1 + phi**beta) ** (1 / beta)
    return (1 + phi) * W_D, W_D


def hft_productivity_derivative(phi, sigma, rho, f, f_I):
    """``dā/dφ`` by the four terms of eq. (11) (weights' derivatives under the integrals, then the
    moving limits ``a_X`` and ``a_D``); negative: freer trade raises productivity (§3.1.2)."""
    beta = rho / (sigma - 1.0)
    al = 1 - sigma + rho
    A = f_I * (beta - 1) / f

    def weights(p):
        return hft_productivity_weights(p, sigma, rho, f, f_I)

    def cutoffs(p):
        aD = (A / (1 + p**beta)) ** (1 / rho)
        return p ** (1 / (sigma - 1)) * aD, aD

    W_X, W_D = weights(phi)
    dW_X, dW_D = jax.jvp(weights, (phi,), (jnp.ones_like(phi),))[1]
    (a_X, a_D), (da_X, da_D) = jax.jvp(cutoffs, (phi,), (jnp.ones_like(phi),))
    I = lambda lo, hi: (hi ** (1 + al) - lo ** (1 + al)) / (1 + al)  # noqa: E731  ∫ a^α da
    return (dW_X * I(0.0, a_X) + dW_D * I(a_X, a_D) + da_X * (W_X - W_D) * a_X**al + da_D * W_D * a_D**al)


# ==========================================================================================
# §3.2  Instantaneous relocation followed by entry/exit (eq. 12-22)


class InitialState(eqx.Module):
    """The situation just after trade opens, before any relocation or entry (§3.2, eq. 12-14):
    autarky firms (``a_D``, ``n^w``, ``s_n = s_E``), export cut-offs from the demand each exporter
    faces (``a_X_north``: Northern firms into the South, ``φ a^{1−σ} B* = f``; ``a_X_south``:
    Southern firms into the North, ``φ a^{1−σ} B = f``), and ``B > B*`` (the home-market-effect
    pressure that drives relocation)."""

    a_D: jax.Array
    a_X_north: jax.Array
    a_X_south: jax.Array
    n_w: jax.Array
    B: jax.Array
    B_star: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array


def _market_demand_root(costs, own, other, a_D, n_w, phi, f, E, relocated=None, max_steps=64):
    """Solves ``B · m̄(B) = E`` for one market where ``own`` (mass) sells untaxed on ``[0, a_D]``
    (plus an optional untaxed ``relocated = (mass, a_R)``) and ``other`` exports on
    ``[lo, a_X(B)]`` with ``φ a_X^{1−σ} B = f``. Monotone in ``log B``: Newton."""
    sigma = costs.sigma
    GD = costs.G(a_D)

    def fn(y, args):
        phi, f, E = args
        B = jnp.exp(y)
        a_X = (phi * B / f) ** (1 / (sigma - 1))
        if relocated is None:
            m = (own * costs.M(a_D) + other * phi * costs.M(a_X)) / GD
        else:
            mass, a_R = relocated
            top = jnp.maximum(a_X, a_R)
            m = (own * costs.M(a_D) + mass * costs.M(a_R) + other * phi * (costs.M(top) - costs.M(a_R))) / GD
        return y + jnp.log(m) - jnp.log(E)

    y0 = jnp.log(E * GD / (own * costs.M(a_D)))
    rs = sel.root_solve(fn, y0, (phi, f, E), max_steps=max_steps, throw=False)
    return jnp.exp(rs.value), rs.result, rs.steps, rs.residual


def initial_state(phi, s_E, sigma, rho, f, f_I, *, dist=None, throw: bool = True,
                  rule: quad.TailRule = quad.DEFAULT_RULE) -> InitialState:
    """The no-relocation, no-entry state at freeness ``φ`` (scalar inputs): the two markets'
    demands solve ``B m̄(B) = s_E`` and ``B* m̄*(B*) = 1 − s_E`` separately (each market's
    importers' cut-off depends on its own demand only). Pareto costs by default; ``dist`` (the
    distribution of ``1/a``) for a general ``G`` (then ``rho`` is ignored)."""
    if dist is None:
        _check_pareto(phi, s_E, sigma, rho, f, f_I)
    else:
        _check_common(phi, s_E, sigma, f, f_I)
    dt = _dtype(phi, s_E, sigma, rho, f, f_I)
    phi, s_E, sigma, rho, f, f_I = (jnp.asarray(x, dt) for x in (phi, s_E, sigma, rho, f, f_I))
    return _initial_state(dist, phi, s_E, sigma, rho, f, f_I, throw, rule)


@eqx.filter_jit
def _initial_state(dist, phi, s_E, sigma, rho, f, f_I, throw, rule):
    if dist is None:
        costs = _ParetoCosts(rho, sigma)
        aut = autarky(sigma, rho, f, f_I, s_E, throw=False)
    else:
        costs = _QuadCosts(dist, sigma, rule)
        aut = _autarky_general(dist, sigma, f, f_I, s_E, 64, False, rule)
    n_w, a_D = aut.n_w, aut.a_D
    ph = jnp.where(phi > 0, phi, 1.0)
    B, r1, s1, e1 = _market_demand_root(costs, s_E * n_w, (1 - s_E) * n_w * (phi > 0), a_D, n_w, ph, f, s_E)
    Bs, r2, s2, e2 = _market_demand_root(costs, (1 - s_E) * n_w, s_E * n_w * (phi > 0), a_D, n_w, ph, f, 1 - s_E)
    a_XS = jnp.where(phi > 0, (phi * B / f) ** (1 / (sigma - 1)), 0.0)
    a_XN = jnp.where(phi > 0, (phi * Bs / f) ** (1 / (sigma - 1)), 0.0)
    ok = (r1 == optx.RESULTS.successful) & (r2 == optx.RESULTS.successful) & (aut.result == optx.RESULTS.successful)
    out = InitialState(a_D=a_D, a_X_north=a_XN, a_X_south=a_XS, n_w=n_w, B=B, B_star=Bs,
                       result=_result_from(ok, throw, "initial_state: solve failed"),
                       num_steps=s1 + s2 + aut.num_steps, residual=jnp.maximum(jnp.abs(e1), jnp.abs(e2)))
    return _guard(out, throw, "initial_state: solve failed")


def relocation_gains(a, phi, B, B_star, a_X, sigma):
    """Present-value gain from moving North, times ``δσ`` (eq. 13-14):
    ``a^{1−σ}(1−φ)(B − B*)`` for an exporter (``a ≤ a_X``) and ``a^{1−σ}(B − B*)`` for a local firm.
    Decreasing in ``a`` on each piece and unbounded as ``a → 0`` (Result 2). (The paper's remark that
    the two pieces touch at ``a_X`` does not follow from (13)-(14): at ``a_X`` they differ by the
    factor ``1 − φ``.)"""
    a = jnp.asarray(a)
    w = a ** (1 - sigma) * (B - B_star)
    return jnp.where(a <= a_X, (1 - phi) * w, w)


def partition_point(s_E):
    """The partitioning freeness ``φ^P = (1 − s_E)/s_E`` (eq. 18), where ``a_R = a_X``: XX
    migration below it, DD migration above. Distribution-free: the location condition gives
    ``(1−s_E)(1−φ)M(a_R) = φ(2s_E−1)M(a_X)`` (XX) and ``(1−s_E)M(a_R) = φ s_E M(a_X)`` (DD) for
    any ``G``."""
    if _concrete(s_E):
        _check_common(None, s_E, 2.0, 1.0, 1.0)
    s_E = jnp.asarray(s_E, _dtype(s_E))
    return (1 - s_E) / s_E


def sustain_point(s_E, sigma, rho):
    """The sustain point ``φ^S = ((1 − s_E)/s_E)^{1/β}`` (§3.2, after eq. 20), where ``a_R = a_D``
    in the relocation-then-entry equilibrium (cut-offs related by ``a_X^{σ−1} = φ a_D^{σ−1}``):
    every firm has left the South. ``φ^P < φ^S < 1`` for ``s_E > ½``; it rises in ρ (Result 4)."""
    if _concrete(s_E, sigma, rho):
        _check_pareto(None, s_E, sigma, rho, 1.0, 1e-300)
    dt = _dtype(s_E, sigma, rho)
    s_E, sigma, rho = (jnp.asarray(x, dt) for x in (s_E, sigma, rho))
    return ((1 - s_E) / s_E) ** ((sigma - 1) / rho)


def short_run_sustain_point(s_E, sigma, rho):
    """Where ``a_R = a_D`` in the relocation equilibrium *before* entry/exit (``a_D`` and ``n^w`` at
    their autarky values, ``a_X`` from eq. 17): ``(1 − s_E)^{1/β}/s_E`` (derived: with
    ``a_R = a_D`` eq. 20 gives ``(a_X/a_D)^α = (1−s_E)/(φ s_E)`` and eq. 17 gives
    ``(a_X/a_D)^{σ−1} = φ s_E``). It exceeds :func:`sustain_point` and exceeds 1 (full
    agglomeration never happens before entry) when ``(1 − s_E)^{1/β} > s_E``."""
    dt = _dtype(s_E, sigma, rho)
    s_E, sigma, rho = (jnp.asarray(x, dt) for x in (s_E, sigma, rho))
    return (1 - s_E) ** ((sigma - 1) / rho) / s_E


class Relocation(eqx.Module):
    """Equilibrium with instantaneous relocation (§3.2), after entry/exit (§3.2.1, ``entry=True``)
    or before it (``entry=False``).

    ``a_D``, ``a_X``, ``a_R`` (relocation threshold: Southern-born firms with ``a ≤ a_R`` produce in
    the North), ``phase_code``/``phase`` (``"XX"`` for ``φ ≤ φ^P``, ``"DD"`` for
    ``φ^P < φ ≤ φ^S``, ``"full_agglomeration"`` past the sustain point, where ``a_R = a_D``),
    ``n_w`` (eq. 21 corrected / eq. 12), ``s_n`` (ownership share, ``= s_E`` by the initial
    conditions), ``north_share`` (share of active firms *located* in the North),
    ``B``/``B_star`` (re-evaluated from (15)/(19): equal, by the location condition, except in the
    corner where ``B > B*``), ``m_bar``/``m_bar_star``, ``a_bar``/``a_bar_star`` (§3.2.2; ``ā*`` is
    NaN where no Southern firm is left), ``partition_point``, ``sustain_point`` (the one of this
    equilibrium), ``result``, ``num_steps``, ``residual``.
    ``r["a_D"]`` works as well as ``r.a_D``.
    """

    a_D: jax.Array
    a_X: jax.Array
    a_R: jax.Array
    n_w: jax.Array
    s_n: jax.Array
    north_share: jax.Array
    B: jax.Array
    B_star: jax.Array
    m_bar: jax.Array
    m_bar_star: jax.Array
    a_bar: jax.Array
    a_bar_star: jax.Array
    phase_code: jax.Array
    partition_point: jax.Array
    sustain_point: jax.Array
    result: optx.RESULTS
    num_steps: jax.Array
    residual: jax.Array

    @property
    def phase(self):
        return _phase_names(self.phase_code)

    def __getitem__(self, name):
        return getattr(self, name)


def _short_run_export_ratio(phi, sigma, rho, max_steps=64):
    """``t = a_X/a_D`` from eq. (17): ``φ t^{1−σ} = 1 + φ t^α`` (XX and DD alike; derived from (19)
    in the DD phase). Newton on ``u = log t`` from the HFT ratio ``φ^{1/(σ−1)}`` (right of the root;
    the residual is concave and decreasing, so the iterates fall monotonically onto the root)."""
    al = 1 - sigma + rho
    ph = jnp.where(phi > 0, phi, 0.5)

    def fn(u, args):
        p, = args
        return jnp.log(p) + (1 - sigma) * u - jnp.log1p(p * jnp.exp(al * u))

    u0 = jnp.log(ph) / (sigma - 1)
    rs = sel.root_solve(fn, u0, (ph,), max_steps=max_steps, throw=False)
    t = jnp.where(phi > 0, jnp.exp(rs.value), 0.0)
    return t, rs.result, rs.steps


def relocation(phi, s_E, sigma, rho, f, f_I, *, entry: bool = True, throw: bool = True) -> Relocation:
    """Relocation equilibrium under Pareto costs (§3.2-3.2.1), vectorised over its inputs.

    ``entry=True`` (default; the equilibrium behind Figures 4-5, eq. 23, the sustain point and §4):
    relocation then free entry with ``s_n = s_E``. Cut-offs (22):
    ``a_D = (f_I(β−1)/(f(1+φ^β)))^{1/ρ}``, ``a_X = φ^{1/(σ−1)} a_D``; ``n^w = (1−1/β)/(f(1+φ^β))``
    (21, sign corrected); ``a_R`` from (17) in the XX phase (``φ ≤ φ^P``) and (20) in the DD phase
    (``φ^P < φ ≤ φ^S``). Past ``φ^S`` every firm is in the North (``a_R = a_D``) and the cut-offs are
    those of the corner of :func:`entry_then_relocation` (the two long-run equilibria coincide there).

    ``entry=False`` (§3.2 before entry/exit): ``a_D`` and ``n^w`` at autarky (12), ``a_X`` from the
    export cut-off condition (17) (solved by Newton), ``a_R`` from (17)/(20); full agglomeration
    past :func:`short_run_sustain_point` with ``a_X^ρ = (1−s_E) a_D^ρ``.
    """
    _check_pareto(phi, s_E, sigma, rho, f, f_I)
    dt = _dtype(phi, s_E, sigma, rho, f, f_I)
    fn = _relocation_pareto_long if entry else _relocation_pareto_short
    return _vectorised(fn, [jnp.asarray(x, dt) for x in (phi, s_E, sigma, rho, f, f_I)], throw)


def _relocation_threshold(phi, s_E, a_X, al, code):
    """``a_R`` from (17) (XX) or (20) (DD) given ``a_X``; finite gradients in both branches."""
    xx, dd = code == 0, code == 1
    p_xx = _sw(xx, phi, 0.0)
    r_xx = p_xx * (2 * s_E - 1) / ((1 - p_xx) * (1 - s_E))
    r_dd = _sw(dd, phi, 1.0) * s_E / (1 - s_E)
    ratio = jnp.where(dd, r_dd, r_xx)
    pos = ratio > 0
    return jnp.where(pos, _sw(pos, ratio, 1.0) ** (1 / al), 0.0) * a_X


def _res_tol(dtype):
    return 10.0 * float(np.sqrt(float(jnp.finfo(dtype).eps)))


def _relocation_finish(costs, phi, s_E, s_n, f, f_I, a_D, a_X, a_R, n_w, code, psus, entry, ok, steps, throw):
    sigma = costs.sigma
    corner = code == 2
    m, ms = _market_indices(costs, s_n, n_w, a_D, a_X, a_R, phi)
    # in the corner the South market is served only by Northern exporters
    ms = jnp.where(corner, phi * n_w * costs.M(a_X) / costs.G(a_D), ms)
    B, Bs = s_E / m, (1 - s_E) / ms
    a_bar, a_bar_s = _averages(costs, s_n, a_D, a_X, a_R, phi)
    if isinstance(costs, _ParetoCosts):
        a_bar_s = jnp.where(corner, jnp.nan, _pareto_south_average(costs, a_D, a_X, a_R, phi))
    else:
        a_bar_s = jnp.where(corner, jnp.nan, a_bar_s)
    north = s_n + (1 - s_n) * costs.G(a_R) / costs.G(a_D)
    # conditions: location B = B* (B ≥ B* in the corner), export cut-off into the South, and with
    # entry the domestic cut-off and free entry
    r_loc = jnp.where(corner, jnp.minimum(jnp.log(B / Bs), 0.0), jnp.log(B / Bs))
    has_x = (phi > 0) & (a_X > 0)  # a_X may underflow to 0 for tiny φ: then there are no exporters
    r_exp = jnp.where(has_x, jnp.log(_sw(has_x, phi * a_X ** (1 - sigma) * Bs / f, 1.0)), 0.0)
    res = jnp.maximum(jnp.abs(r_loc), jnp.abs(r_exp))
    if entry:
        r_dom = jnp.log(a_D ** (1 - sigma) * B / f)
        fe = _V(costs, B, f) + jnp.where(phi > 0, _V(costs, phi * Bs, f), 0.0)
        res = jnp.maximum(res, jnp.maximum(jnp.abs(r_dom), jnp.abs(jnp.log(fe / f_I))))
    ok = ok & jnp.isfinite(res) & (res < _res_tol(res.dtype))
    return Relocation(
        a_D=a_D, a_X=a_X, a_R=a_R, n_w=n_w, s_n=s_n, north_share=north, B=B, B_star=Bs, m_bar=m,
        m_bar_star=ms, a_bar=a_bar, a_bar_star=a_bar_s, phase_code=code.astype(jnp.int32),
        partition_point=(1 - s_E) / s_E, sustain_point=psus,
        result=_result_from(ok, throw, "relocation: invalid input, failed solve, or equilibrium conditions not met"),
        num_steps=steps, residual=res,
    )


def _phase_code(phi, s_E, psus):
    return jnp.where(phi <= (1 - s_E) / s_E, 0, jnp.where(phi <= psus, 1, 2))


def _relocation_pareto_long(phi, s_E, sigma, rho, f, f_I, throw):
    costs = _ParetoCosts(rho, sigma)
    ok = _valid_pareto(phi, s_E, sigma, rho, f, f_I)
    beta = rho / (sigma - 1)
    al = 1 - sigma + rho
    A = f_I * (beta - 1) / f
    psus = ((1 - s_E) / s_E) ** (1 / beta)
    code = _phase_code(phi, s_E, psus)
    corner = code == 2
    u = phi**beta
    a_D = jnp.where(corner, (s_E * A) ** (1 / rho), (A / (1 + u)) ** (1 / rho))
    a_X = jnp.where(corner, ((1 - s_E) * A) ** (1 / rho), phi ** (1 / (sigma - 1)) * a_D)
    a_R = jnp.where(corner, a_D, jnp.minimum(_relocation_threshold(phi, s_E, a_X, al, code), a_D))
    n_w = jnp.where(corner, s_E * (1 - 1 / beta) / f, (1 - 1 / beta) / (f * (1 + u)))
    return _relocation_finish(costs, phi, s_E, s_E, f, f_I, a_D, a_X, a_R, n_w, code, psus, True, ok,
                              jnp.zeros((), jnp.int32), throw)


def _relocation_pareto_short(phi, s_E, sigma, rho, f, f_I, throw):
    costs = _ParetoCosts(rho, sigma)
    ok = _valid_pareto(phi, s_E, sigma, rho, f, f_I)
    beta = rho / (sigma - 1)
    al = 1 - sigma + rho
    A = f_I * (beta - 1) / f
    psus = short_run_sustain_point(s_E, sigma, rho)
    code = _phase_code(phi, s_E, psus)
    corner = code == 2
    a_D = A ** (1 / rho)
    n_w = (1 - 1 / beta) / f
    t, rcode, steps = _short_run_export_ratio(phi, sigma, rho)
    a_X = jnp.where(corner, ((1 - s_E) * A) ** (1 / rho), t * a_D)
    a_R = jnp.where(corner, a_D, jnp.minimum(_relocation_threshold(phi, s_E, a_X, al, code), a_D))
    ok = ok & (corner | (rcode == optx.RESULTS.successful))
    return _relocation_finish(costs, phi, s_E, s_E, f, f_I, jnp.broadcast_to(a_D, phi.shape), a_X, a_R,
                              jnp.broadcast_to(n_w, phi.shape), code, psus, False, ok, steps, throw)


# ------------------------------------------------------------------------------------------
# general G: the location condition solved by root-finding


def _location_residual(costs, s_n, s_E, n_w, a_D, a_X, phi):
    """``log(s_E m̄*) − log((1−s_E) m̄)`` as a function of ``log a_R``, from the definitions (15)/(19)
    (``B = B*``; decreasing in ``a_R``)."""

    def fn(y, args):
        m, ms = _market_indices(costs, s_n, n_w, a_D, a_X, jnp.exp(y), phi)
        return jnp.log(s_E * ms) - jnp.log((1 - s_E) * m)

    return fn


def _solve_a_R(costs, s_n, s_E, n_w, a_D, a_X, phi, max_steps, span=120.0):
    """Bisection on ``log a_R ∈ [log a_D − span, log a_D]`` (the residual has a kink at ``a_X``;
    bisection does not mind), with implicit differentiation of the root."""
    fn = _location_residual(costs, s_n, s_E, n_w, a_D, a_X, phi)
    hi = jnp.log(a_D)
    lo = hi - span
    tol = 1e3 * float(jnp.finfo(a_D.dtype).eps)
    rs = sel.root_solve(lambda y, a: fn(y, a), 0.5 * (lo + hi), None, solver=optx.Bisection(rtol=tol, atol=tol, flip=True),
                        max_steps=max(max_steps, 256), throw=False, options=dict(lower=lo, upper=hi))
    return jnp.exp(rs.value), rs.result, rs.steps, rs.residual


def relocation_general(dist, phi, s_E, sigma, f, f_I, *, entry: bool = True, s_n=None, max_steps: int = 64,
                       throw: bool = True, rule: quad.TailRule = quad.DEFAULT_RULE) -> Relocation:
    """The relocation equilibrium of :func:`relocation` for any cost distribution (scalar inputs;
    ``jax.vmap`` for batches); ``dist`` is the distribution of productivity ``1/a``.

    ``entry=True``: free entry (8) with ``B = B*`` gives ``B`` (selection engine), hence ``a_D`` and
    ``a_X`` from the cut-off conditions (7), and ``n^w = G(a_D)/(B(M(a_D) + φM(a_X)))`` (the two
    market conditions summed). ``entry=False``: ``a_D``, ``n^w`` at autarky and ``a_X`` from the
    export cut-off condition, which with the location condition reads
    ``φ (a_X/a_D)^{1−σ} = 1 + φ M(a_X)/M(a_D)`` (eq. 17 for any ``G``; bisection in ``log a_X``).
    Then the location condition ``B = B*`` with the markets of (15)/(19) is solved for ``a_R`` by
    bisection in ``log a_R`` (implicit differentiation). Full agglomeration where
    ``s_E φ M(a_X) ≥ (1−s_E) M(a_D)`` (the location condition cannot hold with ``a_R ≤ a_D``):
    with entry, the corner of :func:`entry_then_relocation_general`; without, ``a_X`` from
    ``φ a_X^{1−σ} B* = f`` with only Northern exporters in the South.

    ``s_n`` (default ``s_E``) is the North's ownership share for the general case of §3.3: with
    ``entry=True`` the cut-offs and ``n^w`` do not depend on it (free entry pins them), ``a_R`` does.
    """
    _check_common(phi, s_E, sigma, f, f_I)
    dt = _dtype(phi, s_E, sigma, f, f_I)
    s_n = s_E if s_n is None else s_n
    phi, s_E, sigma, f, f_I, s_n = (jnp.asarray(x, dt) for x in (phi, s_E, sigma, f, f_I, s_n))
    return _relocation_general(dist, phi, s_E, sigma, f, f_I, s_n, entry, max_steps, throw, rule)


@eqx.filter_jit
def _relocation_general(dist, phi, s_E, sigma, f, f_I, s_n, entry, max_steps, throw, rule):
    costs = _QuadCosts(dist, sigma, rule)
    has_x = phi > 0
    ph = jnp.where(has_x, phi, 1.0)
    if entry:
        B, r0, st0 = _fe_solve(dist, phi, sigma, f, f_I, max_steps, rule)
        a_D = (B / f) ** (1 / (sigma - 1))
        a_X = jnp.where(has_x, (ph * B / f) ** (1 / (sigma - 1)), 0.0)
        n_w = costs.G(a_D) / (B * (costs.M(a_D) + phi * costs.M(a_X)))
    else:
        aut = _autarky_general(dist, sigma, f, f_I, s_E, max_steps, False, rule)
        a_D, n_w = aut.a_D, aut.n_w
        logMD = costs.logM(a_D)

        def fx(u, args):
            p, = args
            return jnp.log(p) + (1 - sigma) * (u - jnp.log(a_D)) - jnp.log1p(p * jnp.exp(costs.logM(jnp.exp(u)) - logMD))

        top = jnp.log(a_D) + jnp.log(ph) / (sigma - 1)
        tol = 1e3 * float(jnp.finfo(a_D.dtype).eps)
        rx = sel.root_solve(fx, top - 1.0, (ph,), solver=optx.Bisection(rtol=tol, atol=tol, flip=True), max_steps=256,
                            throw=False, options=dict(lower=top - 80.0, upper=top))
        a_X = jnp.where(has_x, jnp.exp(rx.value), 0.0)
        r0 = optx.RESULTS.where(aut.result == optx.RESULTS.successful, rx.result, aut.result)
        st0 = aut.num_steps + rx.steps
    MD, MX = costs.M(a_D), costs.M(a_X)
    # the location condition at a_R = a_D: can it still hold?
    m_top, ms_top = _market_indices(costs, s_n, n_w, a_D, a_X, a_D, phi)
    corner = s_E * ms_top >= (1 - s_E) * m_top
    # a_R ≥ 0 needs the residual at a_R → 0 to be positive
    m0, ms0 = _market_indices(costs, s_n, n_w, a_D, a_X, jnp.zeros_like(a_D), phi)
    none_move = s_E * ms0 <= (1 - s_E) * m0
    a_R, rR, stR, _ = _solve_a_R(costs, s_n, s_E, n_w, a_D, a_X, ph, max_steps)
    a_R = jnp.where(none_move | ~has_x, 0.0, a_R)
    # corner
    if entry:
        Bc, Bsc, rc, stc = _corner_solve_if(corner, costs, ph, s_E, f, f_I, jnp.exp(jnp.log(f) + (sigma - 1) * jnp.log(a_D)),
                                            max_steps)
        a_Dc = (Bc / f) ** (1 / (sigma - 1))
        a_Xc = (ph * Bsc / f) ** (1 / (sigma - 1))
        n_wc = s_E * costs.G(a_Dc) / (Bc * costs.M(a_Dc))
    else:
        a_Dc, n_wc = a_D, n_w

        def fc(u, args):
            p, = args
            # φ a_X^{1−σ} B* = f, B* = (1−s_E) G(a_D)/(φ n^w M(a_X))
            return (1 - sigma) * u + jnp.log(1 - s_E) + jnp.log(costs.G(a_D)) - jnp.log(n_w) - costs.logM(jnp.exp(u)) - jnp.log(f)

        tol = 1e3 * float(jnp.finfo(a_D.dtype).eps)

        def yes():
            rcs = sel.root_solve(fc, jnp.log(a_D) - 1.0, (ph,), solver=optx.Bisection(rtol=tol, atol=tol, flip=True),
                                 max_steps=256, throw=False, options=dict(lower=jnp.log(a_D) - 80.0, upper=jnp.log(a_D)))
            return jnp.exp(rcs.value), rcs.result, jnp.asarray(rcs.steps, jnp.int32)

        def no():
            return a_X, optx.RESULTS.successful, jnp.zeros((), jnp.int32)

        a_Xc, rc, stc = jax.lax.cond(corner, yes, no)
    # phase: a_R vs a_X (for s_n = s_E this is φ vs φ^P)
    code = jnp.where(corner, 2, jnp.where(a_R <= a_X * (1 + 1e-9), 0, 1))
    a_D = jnp.where(corner, a_Dc, a_D)
    a_X = jnp.where(corner, a_Xc, a_X)
    n_w = jnp.where(corner, n_wc, n_w)
    a_R = jnp.where(corner, a_D, a_R)
    ok_int = (r0 == optx.RESULTS.successful) & ((rR == optx.RESULTS.successful) | none_move | ~has_x)
    ok = jnp.where(corner, rc == optx.RESULTS.successful, ok_int)
    psus = jnp.asarray(jnp.nan, a_D.dtype)  # no closed form for a general G
    out = _relocation_finish(costs, phi, s_E, s_n, f, f_I, a_D, a_X, a_R, n_w, code, psus, entry, ok,
                             st0 + stR + jnp.where(corner, stc, 0), throw)
    return _guard(out, throw, "relocation_general: failed solve or equilibrium conditions not met")


# ------------------------------------------------------------------------------------------
# §3.2.2  productivity with relocation (eq. 23, Result 5)


def small_nation_productivity_dd(phi, s_E, sigma, rho, f, f_I):
    """Eq. (23): the small nation's ``ā*`` in the DD phase of the relocation-then-entry equilibrium,
    ``(1+φ^β)^{−1/ρ} · (1 − x^{1+1/α})/(1 − x) · α/(1+α) · (f_I α/(f(σ−1)))^{1/ρ}`` with
    ``x = φ^β s_E/(1−s_E) = (a_R/a_D)^α`` (the power ``1/ρ`` on the last factor is missing in
    print). For σ = ρ = 2 and ``f_I = f``: ``dā*/dφ = φ(s(2+φ²)/(1−s) − 1)/(2(1+φ²)^{3/2})``."""
    beta = rho / (sigma - 1)
    al = 1 - sigma + rho
    x = jnp.minimum(phi**beta * s_E / (1 - s_E), 1.0)
    near = x > 1 - 1e-9
    xs = _sw(near, 0.5, x)
    frac = jnp.where(near, (1 + al) / al, (1 - xs ** (1 + 1 / al)) / (1 - xs))
    return (1 + phi**beta) ** (-1 / rho) * frac * al / (1 + al) * (f_I * al / (f * (sigma - 1))) ** (1 / rho)


# ------------------------------------------------------------------------------------------
# §3.3  the general model given s_n (eq. 24)


def general_case(phi, s_n, s_E, sigma, rho, f, f_I, *, throw: bool = True) -> Relocation:
    """The long-run equilibrium of §3.3 for a given ownership share ``s_n`` (Pareto; eq. 24
    corrected). Free entry (8) with ``B = B*`` pins the cut-offs at their §3.1 values, whatever
    ``s_n``: ``a_D^ρ = f_I(β−1)/(f(1+φ^β))``, ``a_X = φ^{1/(σ−1)} a_D``; the two market conditions
    give ``n^w = (1−1/β)/(f(1+φ^β))`` (total demand does not depend on where firms are) and the
    location condition ``B = B*`` gives
    ``(1−s_n)(1−φ) a_R^α = φ(s_n+s_E−1) a_X^α + (s_E − s_n) a_D^α`` (XX; printed (24) drops the
    last term) or ``(1−s_n) a_R^α = s_E φ a_X^α + (s_E − s_n) a_D^α`` (DD). Equivalently
    ``a_R^α ∝ (1 − φ^β)(s_n^{HME} − s_n)``: ``s_n`` between ``s_E`` (relocation then entry, §3.2.1)
    and the HME share of eq. (9) (entry then relocation, ``a_R = 0``: Result 1). Outside that
    range the result code flags it (``s_n > s_n^{HME}`` would need firms to move South)."""
    _check_pareto(phi, s_E, sigma, rho, f, f_I)
    if _concrete(s_n) and not np.all((np.asarray(s_n) >= 0) & (np.asarray(s_n) < 1)):
        fail("s_n", s_n, "0 ≤ s_n < 1 (the North's share of firms)")
    dt = _dtype(phi, s_n, s_E, sigma, rho, f, f_I)
    return _vectorised(_general_case, [jnp.asarray(x, dt) for x in (phi, s_n, s_E, sigma, rho, f, f_I)], throw)


def _general_case(phi, s_n, s_E, sigma, rho, f, f_I, throw):
    """(Raises, with ``throw``, when ``s_n`` lies outside ``[s_E, s_n^HME]`` — no equilibrium with
    ``a_R ∈ [0, a_D]`` — or the input is invalid.)"""
    costs = _ParetoCosts(rho, sigma)
    beta = rho / (sigma - 1)
    al = 1 - sigma + rho
    A = f_I * (beta - 1) / f
    u = phi**beta
    a_D = (A / (1 + u)) ** (1 / rho)
    a_X = phi ** (1 / (sigma - 1)) * a_D
    n_w = (1 - 1 / beta) / (f * (1 + u))
    safe1 = _sw(phi < 1, phi, 0.0)
    rx = (phi * (s_n + s_E - 1) * a_X**al + (s_E - s_n) * a_D**al) / ((1 - s_n) * (1 - safe1))
    xx = rx <= a_X**al
    rd = (s_E * phi * a_X**al + (s_E - s_n) * a_D**al) / (1 - s_n)
    rr = jnp.where(xx, rx, rd)
    feasible = (rr >= -1e-9 * a_D**al) & (rr <= a_D**al * (1 + 1e-12)) & ((phi < 1) | ~xx)
    a_R = jnp.clip(jnp.maximum(rr, 0.0), 0.0, a_D**al) ** (1 / al)
    code = jnp.where(xx, 0, 1)
    ok = _valid_pareto(phi, s_E, sigma, rho, f, f_I) & feasible
    return _relocation_finish(costs, phi, s_E, s_n, f, f_I, a_D, a_X, a_R, n_w, code, ((1 - s_E) / s_E) ** (1 / beta),
                              True, ok, jnp.zeros((), jnp.int32), False)


# ==========================================================================================
# §4  Small-nation welfare (eq. 25-26, Results 6-7)


class Welfare(eqx.Module):
    """Small-nation welfare with and without relocation (§4).

    ``m_bar_star_reloc`` and ``m_bar_star_no_reloc``: ``m̄*`` of the relocation equilibrium
    (:func:`general_case` with the given ``s_n``; ``s_n = s_E`` is §3.2.1) and of the HFT equilibrium
    (:func:`entry_then_relocation`), each computed from its market definition (15)/(7);
    ``ratio``: their ratio (eq. 26, derived); ``paper_ratio``: eq. (26) as the paper derives it from
    its (22) (:func:`paper_welfare_ratio`); ``utility_gap``: ``U*_reloc − U*_no_reloc =
    μ/(σ−1) · log ratio`` (from ``U* = E − μ + μ ln(μ m̄*^{1/(σ−1)})``); ``a_D_reloc`` and
    ``a_D_no_reloc`` (eq. 25); ``ok``: both equilibria solved and interior (``φ ≤ φ^S``).
    """

    m_bar_star_reloc: jax.Array
    m_bar_star_no_reloc: jax.Array
    ratio: jax.Array
    paper_ratio: jax.Array
    utility_gap: jax.Array
    a_D_reloc: jax.Array
    a_D_no_reloc: jax.Array
    ok: jax.Array


def paper_welfare_ratio(phi, s_n, s_E, sigma, rho):
    """Eq. (26) as the paper derives it from its (22): ``(1 + β(s_n/s_E − 1)/(1+φ^β))^{1/β}``
    (the printed extra division by ``1+φ^β`` removed: with it the ratio would not be 1 at
    ``s_n = s_E``, as the text says it is). Exceeds 1 iff ``s_n > s_E`` — the paper's Result 7. It
    rests on (22)'s dependence of ``a_D`` on ``s_n``, which the free-entry condition (8) rules out:
    the welfare ratio of the model is 1 (:func:`small_nation_welfare`)."""
    beta = rho / (sigma - 1)
    return (1 + beta * (s_n / s_E - 1) / (1 + phi**beta)) ** (1 / beta)


def small_nation_welfare(phi, s_E, sigma, rho, f, f_I, s_n=None, *, mu=1.0, throw: bool = True) -> Welfare:
    """§4: the small nation's ``m̄*`` with relocation (ownership share ``s_n``, default ``s_E``)
    and without (§3.1), for ``φ`` up to the sustain point. Both solve ``a_D^{1−σ} B* = f`` with the
    same ``a_D`` (free entry with ``B = B*``), so ``m̄* = a_D^{1−σ}(1−s_E)/f`` rises with ``φ``
    (Result 6) and the ratio (26) is 1 (Result 7 does not follow; see the docs' errata)."""
    s_n = s_E if s_n is None else s_n
    rel = general_case(phi, s_n, s_E, sigma, rho, f, f_I, throw=throw)
    hft = entry_then_relocation(phi, s_E, sigma, rho, f, f_I, throw=throw)
    ratio = rel.m_bar_star / hft.m_bar_star
    sigma = jnp.asarray(sigma, ratio.dtype)
    ok = (rel.result._value == optx.RESULTS.successful._value) & (hft.result._value == optx.RESULTS.successful._value) & (hft.phase_code == 3)
    return Welfare(
        m_bar_star_reloc=rel.m_bar_star, m_bar_star_no_reloc=hft.m_bar_star, ratio=ratio,
        paper_ratio=paper_welfare_ratio(phi, s_n, s_E, sigma, rho),
        utility_gap=mu / (sigma - 1) * jnp.log(ratio), a_D_reloc=rel.a_D, a_D_no_reloc=hft.a_D,
        ok=ok,
    )


# ==========================================================================================
# §5.1.1 (appendix)  quadratic adjustment costs and the order of relocation (eq. 27-31)


class Transition(eqx.Module):
    """The relocation process of the appendix (before entry/exit, XX phase), on a grid of
    relocated ranges ``a' ∈ [0, a_R]`` (Southern firms with ``a ≤ a'`` have moved).

    ``a_prime``; ``B``/``B_star`` (each market's demand given the firms' locations and the export
    cut-offs ``φ a^{1−σ} B = f`` of Southern and ``φ a^{1−σ} B* = f`` of Northern firms);
    ``marginal_gain``: eq. (13) × δσ for the marginal mover ``a'``; ``flow``: the migration flow
    ``ẋ = v[a']/γ`` that equates gain and adjustment cost (eq. 27); ``a_R``: the end of the process,
    where ``B = B*`` (eq. 28, 30).
    """

    a_prime: jax.Array
    B: jax.Array
    B_star: jax.Array
    marginal_gain: jax.Array
    flow: jax.Array
    a_R: jax.Array


def relocation_transition(phi, s_E, sigma, rho, f, f_I, *, gamma=1.0, points: int = 33) -> Transition:
    """Appendix §5.1.1 under Pareto costs: the gain of the marginal mover along the relocation
    process, for ``0 < φ ≤ φ^P`` (XX phase). The gain ``v[a'] = a'^{1−σ}(1−φ)(B − B*)/(δσ)`` is
    largest for the most efficient firms and falls as the relocated range ``a'`` expands (relocation
    raises competition in the North and lowers it in the South), reaching zero at ``a_R`` of (30):
    firms move in order of efficiency, most efficient first. Eq. (31), the export cut-off condition
    at the end of the process, is eq. (17) (printed with ``((β−1) f_I f)`` for ``((β−1) f_I/f)``)."""
    _check_pareto(phi, s_E, sigma, rho, f, f_I)
    if _concrete(phi, s_E) and not (0 < float(phi) <= float((1 - s_E) / s_E)):
        fail("phi", phi, "0 < φ ≤ φ^P = (1 − s_E)/s_E (the appendix describes XX migration)")
    dt = _dtype(phi, s_E, sigma, rho, f, f_I)
    phi, s_E, sigma, rho, f, f_I, gamma = (jnp.asarray(x, dt) for x in (phi, s_E, sigma, rho, f, f_I, gamma))
    return _relocation_transition(phi, s_E, sigma, rho, f, f_I, gamma, points)


@eqx.filter_jit
def _relocation_transition(phi, s_E, sigma, rho, f, f_I, gamma, points):
    dt = phi.dtype
    end = _relocation_pareto_short(phi, s_E, sigma, rho, f, f_I, False)
    costs = _ParetoCosts(rho, sigma)
    a_D, n_w = end.a_D, end.n_w
    grid = end.a_R * jnp.linspace(0.02, 1.0, points, dtype=dt)

    def one(ap):
        # North market: Northern firms, relocated Southern firms [0, a'] untaxed, Southern exporters (a', a_XS]
        B, _, _, _ = _market_demand_root(costs, s_E * n_w, (1 - s_E) * n_w, a_D, n_w, phi, f, s_E,
                                         relocated=((1 - s_E) * n_w, ap))
        Bs = _south_demand_transition(costs, s_E, n_w, a_D, ap, phi, f)
        return B, Bs

    B, Bs = jax.vmap(one)(grid)
    gain = grid ** (1 - sigma) * (1 - phi) * (B - Bs)
    return Transition(a_prime=grid, B=B, B_star=Bs, marginal_gain=gain, flow=gain / gamma, a_R=end.a_R)


def _south_demand_transition(costs, s_E, n_w, a_D, ap, phi, f):
    """South market while ``[0, a']`` has moved: Southern firms on ``(a', a_D]`` sell at home;
    Northern-located exporters (Northern-born ``a ≤ a_XN`` and relocated ``a ≤ min(a', a_XN)``) with
    ``φ a_XN^{1−σ} B* = f``. Newton in ``log B*``."""
    sigma = costs.sigma
    GD = costs.G(a_D)

    def fn(y, args):
        B = jnp.exp(y)
        a_XN = (phi * B / f) ** (1 / (sigma - 1))
        m = n_w / GD * ((1 - s_E) * (costs.M(a_D) - costs.M(ap)) + phi * (s_E * costs.M(a_XN)
                                                                        + (1 - s_E) * costs.M(jnp.minimum(ap, a_XN))))
        return y + jnp.log(m) - jnp.log(1 - s_E)

    y0 = jnp.log((1 - s_E) * GD / ((1 - s_E) * n_w * costs.M(a_D)))
    rs = sel.root_solve(fn, y0, None, max_steps=64, throw=False)
    return jnp.exp(rs.value)
