"""Within-industry wage inequality and trade (Melitz & Redding 001, §10; Helpman, Itskhoki & Redding 2010).

Reduced form (001 §10): among producers, productivity φ is Pareto with shape ``k`` above the
zero-profit cut-off φ_d; employment and wages are power functions with an export premium,

    l(φ) = Υ(φ)^{ψ_l} l_d (φ/φ_d)^{ζ_l},     w(φ) = Υ(φ)^{ψ_w} w_d (φ/φ_d)^{ζ_w},

``Υ(φ) = Υ_x > 1`` for φ ≥ φ_x and 1 below. With ``ρ = φ_x/φ_d``, ``a = k − ζ_l > 0`` (finite
employment), the wage Pareto shape ``ζ_g = (k − ζ_l)/ζ_w``, the least-productive exporter's wage
``w_x = Υ_x^{ψ_w} ρ^{ζ_w}`` and the top domestic wage ``m = ρ^{ζ_w}`` (units of w_d), the
distribution of wages across workers is (derived in ``docs/wage_inequality.md``)

    G_w(w) = S_{l,d} (1 − w^{−ζ_g}) / (1 − m^{−ζ_g})            1 ≤ w ≤ m
           = S_{l,d}                                            m ≤ w ≤ w_x
           = S_{l,d} + (1 − S_{l,d}) (1 − (w_x/w)^{ζ_g})        w ≥ w_x

with the employment share of domestic firms
``S_{l,d} = (1 − ρ^{−a}) / (1 − ρ^{−a} + Υ_x^{ψ_l} ρ^{−a})``. (001 prints the domestic piece's
denominator with w_x instead of m; then the pieces do not join: see the Errata.) Inequality
measures (variance of log wages, Gini, Theil) are closed forms of this mixture of a truncated and
an untruncated Pareto.

Structural model (HIR 2010, search and screening): :func:`hir_parameters` derives
``ζ_l, ζ_w, ψ_l, ψ_w, Υ_x`` and ``ρ`` from (β, γ, δ, the ability shape, τ, f_d, f_x), so that
openness enters through τ.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..engine.validation import fail, is_concrete

__all__ = [
    "WageDistribution",
    "wage_distribution",
    "HIRParameters",
    "hir_parameters",
    "inequality_against_tau",
]


class WageDistribution(eqx.Module):
    """The wage distribution across workers (001 §10), wages in units of w_d.

    ``cdf(w)`` (vectorised), ``employment_share_domestic`` S_{l,d}, ``variance_log_wage``,
    ``gini``, ``theil``, ``mean_wage``, ``wage_shape`` ζ_g, ``top_domestic_wage`` m,
    ``lowest_exporter_wage`` w_x.
    """

    wage_shape: jax.Array
    top_domestic_wage: jax.Array
    lowest_exporter_wage: jax.Array
    employment_share_domestic: jax.Array
    mean_wage: jax.Array
    variance_log_wage: jax.Array
    gini: jax.Array
    theil: jax.Array

    def cdf(self, w):
        """``G_w(w)`` (w in units of w_d)."""
        w = jnp.asarray(w, jnp.result_type(self.wage_shape))
        th, m, wx, Sd = self.wage_shape, self.top_domestic_wage, self.lowest_exporter_wage, self.employment_share_domestic
        ws = jnp.maximum(w, 1.0)
        denom = -jnp.expm1(-th * jnp.log(m))  # 1 − m^{−ζ_g}
        dom = Sd * (-jnp.expm1(-th * jnp.log(jnp.minimum(ws, m)))) / jnp.where(denom > 0, denom, 1.0)
        dom = jnp.where(denom > 0, dom, 0.0)
        exp_ = (1.0 - Sd) * (-jnp.expm1(-th * (jnp.log(jnp.maximum(ws, wx)) - jnp.log(wx))))
        out = jnp.where(ws <= m, dom, Sd + exp_)
        return jnp.where(w < 1.0, 0.0, out)


def _check(k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, rho):
    vals = (k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, rho)
    if not all(is_concrete(v) for v in vals):
        return
    k, zl, zw, pl, pw, ux, r = (np.asarray(v, float) for v in vals)
    if not np.all(np.isfinite(np.stack(np.broadcast_arrays(k, zl, zw, pl, pw, ux)))):
        fail("k", k, "finite k, ζ_l, ζ_w, ψ_l, ψ_w, Υ_x")
    if not np.all(zw > 0):
        fail("zeta_w", zeta_w, "ζ_w > 0 (wages rise with productivity, 001 §10 condition (a))")
    if not np.all(k > zl):
        fail("k", k, "k > ζ_l (employment l(φ) g(φ) integrable: finite employment)")
    if not np.all((k - zl) / zw > 1):
        fail("k", k, "(k − ζ_l)/ζ_w > 1 (the wage Pareto shape ζ_g must exceed 1 for a finite mean wage)")
    if not np.all(ux >= 1):
        fail("upsilon_x", upsilon_x, "Υ_x ≥ 1 (the revenue premium from exporting, 001 §10 condition (b))")
    if not np.all(pw >= 0):
        fail("psi_w", psi_w, "ψ_w ≥ 0 (exporting raises the wage paid at given productivity, 001 §10 condition (b))")
    if not np.all(r >= 1) or np.any(np.isnan(r)):
        fail("export_cutoff_ratio", rho, "φ_x/φ_d ≥ 1 (inf for the closed economy, 1 when every firm exports)")


def wage_distribution(*, k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, export_cutoff_ratio) -> WageDistribution:
    """The distribution of wages across workers and its inequality (001 §10), closed forms.

    ``k``: Pareto shape of productivity; ``export_cutoff_ratio`` ρ = φ_x/φ_d ≥ 1 (``inf``: closed
    economy; 1: every firm exports). Differentiable in every argument (for finite ρ > 1).
    """
    _check(k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, export_cutoff_ratio)
    dt = jnp.result_type(*[jnp.asarray(v) for v in (k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, export_cutoff_ratio)], float)
    k, zl, zw, pl, pw, ux, rho = (jnp.asarray(v, dt) for v in (k, zeta_l, zeta_w, psi_l, psi_w, upsilon_x, export_cutoff_ratio))
    return _wage_distribution(k, zl, zw, pl, pw, ux, rho)


def _wage_distribution(k, zl, zw, pl, pw, ux, rho):
    a = k - zl
    th = a / zw  # ζ_g
    b = th - 1.0
    closed = ~jnp.isfinite(rho)
    L = jnp.where(closed, 0.0, jnp.log(rho))  # log ρ
    lm = zw * L  # log m
    q = jnp.where(closed, 0.0, jnp.exp(-a * L))  # ρ^{−a} = m^{−ζ_g}
    Sd = (1.0 - q) / (1.0 - q + ux**pl * q)
    lwx = pw * jnp.log(ux) + lm
    wx = jnp.exp(lwx)
    m = jnp.exp(lm)
    one_q = jnp.where(closed, 1.0, -jnp.expm1(-a * L))  # 1 − q, accurate near ρ = 1
    has_dom = one_q > 0
    safe = jnp.where(has_dom, one_q, 1.0)
    # ---- log-wage moments: domestic ~ Exp(ζ_g) truncated at log m; exporters log w_x + Exp(ζ_g)
    T = lm
    e1 = jnp.where(has_dom, 1.0 / th - T * q / safe, 0.0)
    e2 = jnp.where(has_dom, 2.0 / th**2 - q * (T**2 + 2.0 * T / th) / safe, 0.0)
    x1 = lwx + 1.0 / th
    x2 = lwx**2 + 2.0 * lwx / th + 2.0 / th**2
    mean_l = Sd * e1 + (1.0 - Sd) * x1
    var_l = Sd * e2 + (1.0 - Sd) * x2 - mean_l**2
    # ---- mean wage
    mb = jnp.where(closed, 0.0, jnp.exp(-b * lm))  # m^{1−ζ_g}
    dom_mean = jnp.where(has_dom, th / b * (1.0 - mb) / safe, 0.0)
    mu = Sd * dom_mean + (1.0 - Sd) * wx * th / b
    # ---- Gini = 1 − (1/μ) ∫ (1 − G)^2 dw
    a1 = jnp.where(has_dom, Sd / safe, 0.0)
    a0 = 1.0 - a1
    m2 = jnp.where(closed, 0.0, jnp.exp(-(2.0 * th - 1.0) * lm))  # m^{1−2ζ_g}
    m_minus_1 = jnp.where(closed, 0.0, jnp.expm1(lm))
    piece_dom = a0**2 * m_minus_1 + 2.0 * a0 * a1 * (1.0 - mb) / b + a1**2 * (1.0 - m2) / (2.0 * th - 1.0)
    piece_dom = jnp.where(closed, 1.0 / (2.0 * th - 1.0), piece_dom)  # a0 = 0, a1 = 1 in the closed economy
    piece_gap = jnp.where(closed, 0.0, (1.0 - Sd) ** 2 * (wx - m))
    piece_top = jnp.where(closed, 0.0, (1.0 - Sd) ** 2 * wx / (2.0 * th - 1.0))
    gini = 1.0 - (1.0 + piece_dom + piece_gap + piece_top) / mu
    # ---- Theil = E[w ln w]/μ − ln μ
    dom_wlw = jnp.where(has_dom, th / safe * (1.0 / b**2 - mb * (lm / b + 1.0 / b**2)), 0.0)
    exp_wlw = wx * (th / b**2 + lwx * th / b)
    theil = (Sd * dom_wlw + (1.0 - Sd) * exp_wlw) / mu - jnp.log(mu)
    return WageDistribution(
        wage_shape=th,
        top_domestic_wage=jnp.where(closed, jnp.inf, m),
        lowest_exporter_wage=jnp.where(closed, jnp.inf, wx),
        employment_share_domestic=Sd,
        mean_wage=mu,
        variance_log_wage=var_l,
        gini=gini,
        theil=theil,
    )


# ------------------------------------------------------------------------------------------
# the structural model: Helpman, Itskhoki & Redding (2010)


class HIRParameters(eqx.Module):
    """Reduced-form parameters implied by HIR (2010): ``zeta_l``, ``zeta_w``, ``psi_l``, ``psi_w``,
    ``upsilon_x``, ``export_cutoff_ratio`` ρ (1 when every producer exports), ``big_gamma`` Γ,
    ``all_export`` (the export condition holds at φ_d: ρ clipped to 1)."""

    zeta_l: jax.Array
    zeta_w: jax.Array
    psi_l: jax.Array
    psi_w: jax.Array
    upsilon_x: jax.Array
    export_cutoff_ratio: jax.Array
    big_gamma: jax.Array
    all_export: jax.Array
    productivity_shape: jax.Array

    def wage_distribution(self) -> WageDistribution:
        return wage_distribution(
            k=self.productivity_shape,
            zeta_l=self.zeta_l,
            zeta_w=self.zeta_w,
            psi_l=self.psi_l,
            psi_w=self.psi_w,
            upsilon_x=self.upsilon_x,
            export_cutoff_ratio=self.export_cutoff_ratio,
        )


def hir_parameters(*, beta, gamma, delta, ability_shape, productivity_shape, tau, f_d, f_x, demand_ratio=1.0) -> HIRParameters:
    """HIR (2010): revenue ``r = Υ^{1−β} A y^β`` (``Υ = 1 + τ^{−β/(1−β)}(A*/A)^{1/(1−β)}`` for exporters),
    output ``y = θ h^γ ā``, worker ability Pareto(``ability_shape`` = k_a, 1), a firm samples n workers
    at cost b n and screens at ability a_c at cost c a_c^δ/δ, hires ``h = n a_c^{−k_a}`` with
    ``ā = k_a a_c/(k_a − 1)``; Stole-Zwiebel bargaining gives the wage bill ``βγ/(1+βγ) r``.
    The first-order conditions give ``b n = βγ r/(1+βγ)``, ``c a_c^δ = β(1−γk_a) r/(1+βγ)`` and, with
    ``Γ = 1 − βγ − β(1 − γk_a)/δ``,

        r ∝ Υ^{(1−β)/Γ} θ^{β/Γ},   h ∝ r^{1−k_a/δ},   w = b a_c^{k_a} ∝ r^{k_a/δ},

    so ``ζ_l = β(1−k_a/δ)/Γ``, ``ψ_l = (1−β)(1−k_a/δ)/Γ``, ``ζ_w = βk_a/(δΓ)``, ``ψ_w = (1−β)k_a/(δΓ)``.
    Profits are ``Γ r/(1+βγ) − f``, hence ``ρ^{β/Γ} = f_x / (f_d (Υ_x^{(1−β)/Γ} − 1))`` (clipped at 1).
    ``productivity_shape`` (the k of :func:`wage_distribution`) must exceed ``max(β/Γ, ζ_l)``.
    """
    vals = (beta, gamma, delta, ability_shape, productivity_shape, tau, f_d, f_x, demand_ratio)
    if all(is_concrete(v) for v in vals):
        be, ga, de, ka, z, t, fd, fx, ar = (np.asarray(v, float) for v in vals)
        if not (0 < be < 1):
            fail("beta", beta, "0 < β < 1 (revenue concave in output)")
        if not (0 < ga < 1):
            fail("gamma", gamma, "0 < γ < 1 (diminishing returns to workers)")
        if not ka > 1:
            fail("ability_shape", ability_shape, "ability Pareto shape k_a > 1")
        if not ga * ka < 1:
            fail("gamma", gamma, "γ k_a < 1 (screening raises output: y ∝ a_c^(1−γk_a); otherwise firms do not screen)")
        if not de > ka:
            fail("delta", delta, "δ > k_a (screening costs convex enough: employment rises with productivity)")
        G = 1 - be * ga - be * (1 - ga * ka) / de
        if not G > 0:
            fail("gamma", gamma, f"Γ = 1 − βγ − β(1 − γk_a)/δ > 0 (here Γ = {G})")
        zl = be * (1 - ka / de) / G
        if not z > max(be / G, zl):
            fail("productivity_shape", productivity_shape, f"productivity shape > max(β/Γ, ζ_l) = {max(be / G, zl)} (finite revenue and employment)")
        if not (np.isfinite(t) and t >= 1):
            fail("tau", tau, "τ ≥ 1 (iceberg trade cost), finite")
        for n_, v in (("f_d", fd), ("f_x", fx), ("demand_ratio", ar)):
            if not v > 0:
                fail(n_, v, f"{n_} > 0")
    dt = jnp.result_type(*[jnp.asarray(v) for v in vals], float)
    be, ga, de, ka, z, t, fd, fx, ar = (jnp.asarray(v, dt) for v in vals)
    G = 1.0 - be * ga - be * (1.0 - ga * ka) / de
    ux = 1.0 + t ** (-be / (1.0 - be)) * ar ** (1.0 / (1.0 - be))
    ratio = fx / (fd * (ux ** ((1.0 - be) / G) - 1.0))
    rho = jnp.maximum(ratio, 1.0) ** (G / be)
    return HIRParameters(
        zeta_l=be * (1.0 - ka / de) / G,
        zeta_w=be * ka / (de * G),
        psi_l=(1.0 - be) * (1.0 - ka / de) / G,
        psi_w=(1.0 - be) * ka / (de * G),
        upsilon_x=ux,
        export_cutoff_ratio=rho,
        big_gamma=G,
        all_export=ratio <= 1.0,
        productivity_shape=z,
    )


def inequality_against_tau(taus, **structural):
    """Inequality measures along a path of τ (HIR 2010 structural model); ``taus`` may include
    ``inf`` (the closed economy). Returns a dict of NumPy arrays."""
    out = {k: [] for k in ("tau", "export_cutoff_ratio", "employment_share_domestic", "variance_log_wage", "gini", "theil")}
    for t in np.asarray(taus, float):
        if np.isinf(t):
            p = hir_parameters(tau=1.0, **structural)
            wd = wage_distribution(
                k=p.productivity_shape, zeta_l=p.zeta_l, zeta_w=p.zeta_w, psi_l=p.psi_l, psi_w=p.psi_w,
                upsilon_x=p.upsilon_x, export_cutoff_ratio=np.inf,
            )
            rho = np.inf
        else:
            p = hir_parameters(tau=t, **structural)
            wd = p.wage_distribution()
            rho = float(p.export_cutoff_ratio)
        out["tau"].append(t)
        out["export_cutoff_ratio"].append(rho)
        for key in ("employment_share_domestic", "variance_log_wage", "gini", "theil"):
            out[key].append(float(getattr(wd, key)))
    return {k: np.asarray(v) for k, v in out.items()}
