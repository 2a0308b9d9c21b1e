"""Integrals over a productivity distribution above a cut-off.

Every heterogeneous-firm model needs tail integrals ``∫_{φ*}^∞ h(φ) dG(φ)``: the survival
probability ``1 − G(φ*)``, the partial moment ``∫_{φ*} φ^{σ−1} dG`` (Melitz & Redding 001 eq. 9) and
``J(φ*) = ∫_{φ*} [(φ/φ*)^{σ−1} − 1] dG`` (001 eq. 5). This module computes them for any
:class:`~jaxtrade.distributions.AbstractDistribution` with one rule.

The rule
--------
Substitute the *log-survival* variable ``w = −log(1 − G(φ))`` (so ``dG = e^{−w} dw`` and the mass
sits where the nodes are, whatever the distribution's location or scale)::

    ∫_{φ*}^∞ h(φ) dG(φ) = e^{−w*} ∫_0^∞ h(φ(w* + d)) e^{−d} dd,    w* = −log(1 − G(φ*)),

with ``φ(w) = G^{−1}(1 − e^{−w})`` the inverse survival function, and integrate over
``d ∈ (0, ∞)`` with the exp-sinh (double-exponential) rule ``d = exp(π/2 · sinh t)``,
``t = t_lo + j·h`` (Takahasi & Mori 1974). Double-exponential rules converge exponentially in
the number of nodes also for integrands with end-point singularities, which is what the lower
tail of a log-normal looks like in ``w`` when the cut-off sits far below the mode. A truncated
(bounded) support needs no special case: ``φ(w) → upper`` as ``w → ∞``.

Accuracy (float64, default rule ``h = 1/32``, ``t ∈ [−4, 2.4]``: 205 nodes; checked in ``tests/test_quadrature.py``):
relative error ≤ 1e-13 against the Pareto closed forms of 001 footnote 26 for ``k − (σ−1)``
down to 0.05 (the integrand then decays like ``e^{−0.05·d/k}``), and ≤ 1e-13 against
``scipy.integrate.quad`` for log-normal, Fréchet, truncated Pareto and generalised gamma
distributions across cut-offs from the 1e-6 to the 1 − 1e-9 quantile. The tail beyond
``d_max = exp(π/2 · sinh 2.4) ≈ 3300`` (a fraction ``e^{−3300 (1 − (σ−1)/k)}`` of the
Pareto integrand) is dropped, as is the piece below ``d_min = exp(π/2 · sinh(−4)) ≈ 2e-19``.

Inverse survival functions are methods of the distribution (``log_survival``,
``log_inverse_survival``; :class:`~jaxtrade.engine.distributions.AbstractDistribution`): Pareto,
truncated Pareto, Fréchet and log-normal override them with closed forms that stay accurate deep in
the upper tail (``w`` up to several hundred). Any other distribution on an unbounded support (the
generalised gamma, a user's subclass) is integrated by the *density rule* (:func:`_density_rule`):
tanh-sinh in ``w`` up to the ``1 − e^{−8}`` quantile, where ``icdf(1 − e^{−w})`` is accurate, and
exp-sinh in ``log φ`` over the density above it, so power-law tails of any index ``b > s`` are
integrated to ~1e-15 (tested down to ``b = s + 0.1`` against the log-logistic's incomplete-beta
closed forms). The log-normal, whose inverse survival function costs a ``Φ^{−1}`` at every node
(about 60 ns in float64 on a CPU, most of an equilibrium's time), is integrated over its density in
``log φ`` instead (:func:`_gaussian_rule`: a Gaussian of known location and width, split at the peak
of the integrand into tanh-sinh and exp-sinh pieces; 318 nodes of a few exponentials each). Against
``scipy.integrate.quad`` over μ ∈ [−1, 1], σ_φ ∈ [0.1, 3], σ − 1 ∈ [0.5, 5] (σ_φ(σ − 1) ≤ 10) and
cut-offs at quantiles 1e-9 … 1 − 1e-9 its worst relative error is 8e-15 (the inverse-survival rule:
8e-10); an equilibrium solves 2.5-3.9× faster (``benchmarks/melitz.py``, loaded CPU). A generic
distribution on a bounded support keeps the inverse-survival rule with the
``icdf`` fallback (nodes with ``e^{−w} < 64·eps`` dropped). :func:`tail_integral_with_error` returns
an error estimate with every integral; a divergent tail gives an infinite estimate.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import distributions as dists

__all__ = [
    "TailRule",
    "log_survival",
    "log_inverse_survival",
    "tail_integral",
    "tail_integral_with_error",
    "tail_nodes",
    "segment_nodes",
    "uses_density_rule",
    "uses_gaussian_rule",
    "survival",
    "partial_moment",
    "J",
    "J_error",
    "selection_integrals_with_error",
    "selection_integrals",
]


class TailRule(eqx.Module):
    """Exp-sinh rule on ``(0, ∞)``: nodes ``d_j = exp(π/2 sinh t_j)``, ``t_j = t_lo + j h``.

    ``∫_0^∞ F(d) dd ≈ Σ_j weights_j F(d_j)``. Nodes and weights are NumPy constants
    (static: building a rule never traces).
    """

    h: float = eqx.field(static=True, default=1.0 / 32.0)
    t_lo: float = eqx.field(static=True, default=-4.0)
    t_hi: float = eqx.field(static=True, default=2.4)

    def nodes_weights(self, dtype):
        n = int(round((self.t_hi - self.t_lo) / self.h)) + 1
        t = self.t_lo + self.h * np.arange(n, dtype=np.float64)
        u = 0.5 * math.pi * np.sinh(t)
        d = np.exp(u)
        w = self.h * 0.5 * math.pi * np.cosh(t) * d
        return jnp.asarray(d, dtype=dtype), jnp.asarray(w, dtype=dtype)


DEFAULT_RULE = TailRule()


def _dtype_of(x):
    x = jnp.asarray(x)
    return x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.result_type(float)


def _overrides(dist, method: str) -> bool:
    return getattr(type(dist), method, None) is not getattr(dists.AbstractDistribution, method)


def uses_density_rule(dist) -> bool:
    """True when :func:`tail_integral` integrates ``dist``'s density in ``log φ`` (static).

    That is the rule for a distribution without an exact inverse survival function
    (``exact_tail`` False and no ``log_inverse_survival``/``log_isf`` of its own) on an unbounded
    support: ``icdf(1 − e^{−w})`` cannot resolve a heavy upper tail, the density can."""
    if getattr(dist, "exact_tail", False) or hasattr(dist, "log_isf") or _overrides(dist, "log_inverse_survival"):
        return False
    try:
        upper = dist.support[1]
        return bool(np.all(np.isinf(np.asarray(upper))))
    except Exception:  # noqa: BLE001  (a traced bound: keep the inverse-survival rule)
        return False


def log_survival(dist, x):
    """``log(1 − G(x))``: ``dist.log_survival`` (closed forms for the built-in families); for a
    distribution using the generic fallback, accurate in the upper tail by integrating its density
    (:func:`uses_density_rule`) where ``G(x) > 1/2``."""
    x = jnp.asarray(x)
    if _overrides(dist, "log_survival") or not uses_density_rule(dist):
        return dist.log_survival(x)
    cdf = dist.cdf(x)
    upper = cdf > 0.5
    xs = jnp.where(upper, x, jnp.asarray(dist.icdf(0.75), x.dtype))
    tail, _ = _density_rule(dist, xs, lambda lp, d: jnp.exp(-d), DEFAULT_RULE)
    return jnp.where(upper, jnp.log(tail), jnp.log1p(-jnp.where(upper, 0.0, cdf)))


def log_inverse_survival(dist, w):
    """``(log φ, valid)`` with ``log(1 − G(φ)) = −w`` (``w ≥ 0``): ``dist.log_inverse_survival``.

    ``valid`` is False at nodes that cannot be resolved in the working precision (``e^{−w}``
    underflows, or, for the generic fallback, falls below 64·eps); the caller drops them.
    """
    return dist.log_inverse_survival(jnp.asarray(w))


def _rule_sums(vals, wts):
    """The rule's sum and its error estimate from the rule at twice the step on every other node:
    ``Δ = |I_h − I_{2h}|`` bounds the error of ``I_{2h}``; a double-exponential rule doubles its
    correct digits when the step halves, so the error of ``I_h`` is estimated as ``Δ·min(1, Δ/|I_h|)``."""
    full = jnp.sum(vals * wts, axis=-1)
    half = 2.0 * jnp.sum(vals[..., ::2] * wts[..., ::2], axis=-1)
    delta = jnp.abs(full - half)
    mag = jnp.abs(full)
    rounding = 16.0 * jnp.finfo(vals.dtype).eps * jnp.sum(jnp.abs(vals * wts), axis=-1)
    return full, delta * jnp.minimum(1.0, delta / jnp.where(mag > 0, mag, 1.0)) + rounding


def _remainder(vals, nodes, valid):
    """Beyond the last resolved node: ``|f_last| / r`` with ``r`` the decay rate of the integrand
    between the last two resolved nodes (an exponential tail in the rule's variable); ``inf`` when
    the integrand does not decay there (a divergent tail)."""
    n = vals.shape[-1]
    idx = jnp.arange(n)
    valid = jnp.broadcast_to(valid, vals.shape)
    last = jnp.max(jnp.where(valid, idx, 1), axis=-1)
    prev = jnp.maximum(last - 1, 0)

    def take(a, i):
        return jnp.take_along_axis(jnp.broadcast_to(a, vals.shape), i[..., None], axis=-1)[..., 0]

    f1, f0 = jnp.abs(take(vals, last)), jnp.abs(take(vals, prev))
    x1, x0 = take(nodes, last), take(nodes, prev)
    tiny = jnp.finfo(vals.dtype).tiny
    rate = (jnp.log(jnp.maximum(f0, tiny)) - jnp.log(jnp.maximum(f1, tiny))) / jnp.maximum(x1 - x0, tiny)
    rem = jnp.where(rate > 0, f1 / jnp.where(rate > 0, rate, 1.0), jnp.inf)
    return jnp.where(f1 == 0, 0.0, rem)


def _survival_rule(dist, cutoff, integrand, rule):
    """The exp-sinh rule in ``w = −log(1 − G)`` (inverse survival); returns (value, error)."""
    cutoff = jnp.asarray(cutoff)
    dtype = _dtype_of(cutoff)
    d, wts = rule.nodes_weights(dtype)
    lw0 = log_survival(dist, cutoff)  # = −w*
    finite = jnp.isfinite(lw0)
    w0 = jnp.where(finite, -lw0, 0.0)
    lead = (1,) * w0.ndim
    d = jnp.reshape(d, lead + (-1,))
    wts = jnp.reshape(wts, lead + (-1,))
    w = w0[..., None] + d
    logphi, valid = log_inverse_survival(dist, w)
    dd = jnp.broadcast_to(d, w.shape)
    vals = integrand(jnp.where(valid, logphi, logphi[..., :1]), dd)
    vals = jnp.where(valid, vals, 0.0)
    total, err = _rule_sums(vals, wts)
    err = err + _remainder(vals, d, valid)
    scale = jnp.exp(-w0)
    return jnp.where(finite, total * scale, 0.0), jnp.where(finite, err * scale, 0.0)


#: Split point of the density rule: below the ``1 − e^{−8}`` quantile the inverse survival
#: ``icdf(1 − e^{−w})`` is exact to ~1e-12, above it the density is integrated in ``log φ``.
_W_SPLIT = 8.0
_TANH_SINH_T = 3.0
_TANH_SINH_H = 1.0 / 16.0


def _tanh_sinh(dtype, t_max=_TANH_SINH_T, h=_TANH_SINH_H):
    """Tanh-sinh nodes and weights on (−1, 1) (an odd count: every other node is the 2h rule); the
    rule drops the mass beyond ``|t| = t_max``, a fraction ``~e^{−π sinh t_max}`` of an end point's."""
    n = int(round(2 * t_max / h)) + 1
    t = -t_max + h * np.arange(n, dtype=np.float64)
    u = 0.5 * math.pi * np.sinh(t)
    x = np.tanh(u)
    w = h * 0.5 * math.pi * np.cosh(t) / np.cosh(u) ** 2
    return jnp.asarray(x, dtype), jnp.asarray(w, dtype), jnp.asarray(1.0 / (np.exp(2 * u) + 1.0), dtype)


def _density_rule(dist, cutoff, integrand, rule):
    """The rule for a distribution with only generic tail methods on an unbounded support.

    Two pieces, split at ``φ_m``, the ``1 − e^{−8}`` quantile:

    * below ``φ_m``: the tanh-sinh rule in ``w = −log(1 − G)`` on ``[w*, 8]`` with
      ``φ(w) = icdf(1 − e^{−w})`` (accurate there: ``e^{−w} ≥ 3e-4``; the nodes follow the mass);
    * above ``max(φ*, φ_m)``: the exp-sinh rule in ``t = log φ − log a`` over the density,
      ``∫_a^∞ h(φ) g(φ) dφ = ∫_0^∞ h(φ) φ g(φ) dt``. A power-law tail ``1 − G ~ φ^{−b}`` makes the
      integrand of ``J`` decay like ``e^{−(b−s) t}``: exponentially in ``t`` whatever ``b − s > 0``.
      The integrand receives ``d = c − log(φ g(φ))`` (``c`` a normalising constant) so that ``h e^{−d}``
      stays in range; nodes where ``φ`` overflows are dropped (their remainder is in the error).

    Returns (value, error)."""
    cutoff = jnp.asarray(cutoff)
    dtype = _dtype_of(cutoff)
    # -- the body, in w
    lphi_m = jnp.log(dist.icdf(jnp.asarray(-math.expm1(-_W_SPLIT), dtype)))
    cdf = dist.cdf(cutoff)
    body = jnp.log(cutoff) < lphi_m
    w0 = jnp.where(body, -jnp.log1p(-jnp.where(body, cdf, 0.0)), _W_SPLIT)
    w0 = jnp.minimum(w0, _W_SPLIT)
    xi, om, _ = _tanh_sinh(dtype)
    xi = jnp.reshape(xi, (1,) * w0.ndim + (-1,))
    om = jnp.reshape(om, (1,) * w0.ndim + (-1,))
    half = 0.5 * (_W_SPLIT - w0)[..., None]
    dA = half * (1.0 + xi)  # w − w*
    wA = half * om
    lpA = jnp.log(dist.icdf(-jnp.expm1(-(w0[..., None] + dA))))
    valsA = integrand(lpA, dA)
    valsA = jnp.where(jnp.isfinite(valsA), valsA, 0.0)
    sumA, errA = _rule_sums(valsA, wA)
    # icdf(1 − e^{−w}) sees 1 − u with a relative rounding error up to eps/2 · e^{w}
    errA = errA + jnp.sum(jnp.abs(valsA * wA) * (0.5 * jnp.finfo(dtype).eps) * jnp.exp(w0[..., None] + dA), axis=-1)
    scaleA = jnp.exp(-w0)
    # -- the tail, in log φ
    d, wts = rule.nodes_weights(dtype)
    lower = jnp.asarray(dist.support[0], dtype)
    la = jnp.maximum(jnp.log(jnp.maximum(cutoff, lower)), lphi_m)
    lead = (1,) * la.ndim
    d = jnp.reshape(d, lead + (-1,))
    wts = jnp.reshape(wts, lead + (-1,))
    lp = la[..., None] + d
    valid = lp < math.log(float(jnp.finfo(dtype).max)) - 2.0
    lps = jnp.where(valid, lp, la[..., None])
    dens = dist.log_pdf(jnp.exp(lps)) + lps  # log(φ g(φ))
    ok = valid & jnp.isfinite(dens)
    c = jax.lax.stop_gradient(jnp.max(jnp.where(ok, dens, -jnp.inf), axis=-1, keepdims=True))
    c = jnp.where(jnp.isfinite(c), c, 0.0)
    dd = jnp.where(ok, c - dens, jnp.inf)
    vals = jnp.where(ok, integrand(lps, dd), 0.0)
    total, err = _rule_sums(vals, wts)
    err = err + _remainder(vals, d, valid)
    scale = jnp.exp(c[..., 0])
    value = sumA * scaleA + total * scale
    return value, errA * scaleA + err * scale


def uses_gaussian_rule(dist) -> bool:
    """True when :func:`tail_integral` integrates ``dist`` by :func:`_gaussian_rule` (static): a family
    whose ``log_gaussian()`` gives ``(mu, sigma)`` of ``log X`` (the log-normal, whose inverse survival
    function needs ``Φ^{−1}`` at every node, about ten times the cost of its density, while its density
    in ``log φ`` is a Gaussian of known location and scale)."""
    method = getattr(dist, "log_gaussian", None)
    return callable(method) and method() is not None


#: Step of the log-normal rule below the peak: tanh-sinh ``h = 1/16`` on ``|t| ≤ 3.5`` (113 nodes); above
#: the peak the caller's exp-sinh rule (default ``h = 1/32``, 205 nodes). Coarser steps lose digits:
#: ``h = 1/8`` below (resp. ``1/16`` above) gave a worst relative error of 4e-7 (resp. 2e-13) over
#: μ ∈ [−1, 1], σ_φ ∈ [0.1, 3], σ − 1 ∈ [0.5, 5] and cut-offs at quantiles 1e-9 … 1 − 1e-9.
_GAUSS_H_A = 1.0 / 16.0


def _gaussian_rule(dist, cutoff, integrand, rule, growth=0.0):
    """The rule for the log-normal: its density in ``z = log φ`` (a Gaussian), in units of its scale.

    With ``z = z* + σ x`` (``z* = log φ*``, ``x ≥ 0``), ``∫_{φ*}^∞ h dG = ∫_0^∞ h(e^z) n((z − μ)/σ) dx``
    (``n`` the standard normal density). An integrand growing like ``φ^g`` (``growth``: ``g = σ − 1``
    for ``J`` and the partial moment) turns ``n`` into a Gaussian of unit width centred at
    ``p = (μ − z*)/σ + g σ``; the rule splits ``[0, ∞)`` there (``p⁺ = max(p, 0)``):

    * ``[0, p⁺]``: tanh-sinh (nodes cluster at both ends: at the cut-off and at the peak);
    * ``[p⁺, ∞)``: the exp-sinh rule ``x = p⁺ + exp(π/2 sinh t)`` (the Gaussian decays from the peak).

    Both are double-exponential rules with the mass inside their unit length scale, so the accuracy
    does not depend on where the cut-off lies; every node costs a few exponentials (no ``Φ^{−1}``, which the
    inverse-survival rule evaluates at every node). ``p`` places the nodes and is not differentiated;
    any ``growth`` gives a correct rule, the right one the most accurate. Returns (value, error)."""
    cutoff = jnp.asarray(cutoff)
    dtype = _dtype_of(cutoff)
    mu, sd = dist.log_gaussian()
    mu, sd = jnp.asarray(mu, dtype), jnp.asarray(sd, dtype)
    lc = jnp.log(cutoff)
    shape = jnp.broadcast_shapes(jnp.shape(lc), jnp.shape(mu), jnp.shape(sd))
    lc, mu, sd = (jnp.broadcast_to(v, shape) for v in (lc, mu, sd))
    peak = jax.lax.stop_gradient(jnp.maximum((mu - lc) / sd + growth * sd, 0.0))
    lead = (1,) * len(shape)
    xi, om, _ = _tanh_sinh(dtype, 3.5, _GAUSS_H_A)  # the peak end carries mass: drop only e^{−52}
    xe, we = rule.nodes_weights(dtype)
    xi, om, xe, we = (jnp.reshape(v, lead + (-1,)) for v in (xi, om, xe, we))
    half = 0.5 * peak[..., None]
    xA, wA = half * (1.0 + xi), half * om
    xB = peak[..., None] + xe

    def logdens(x):
        lp = lc[..., None] + sd[..., None] * x
        zz = (lp - mu[..., None]) / sd[..., None]
        return lp, -0.5 * zz * zz  # log n(·) + log √(2π)

    lpA, dA = logdens(xA)
    lpB, dB = logdens(xB)
    c = jax.lax.stop_gradient(jnp.maximum(jnp.max(dA, axis=-1), jnp.max(dB, axis=-1)))[..., None]
    vA = integrand(lpA, c - dA)
    vB = integrand(lpB, c - dB)
    vA = jnp.where(jnp.isfinite(vA), vA, 0.0)
    vB = jnp.where(jnp.isfinite(vB), vB, 0.0)
    sA, eA = _rule_sums(vA, wA)
    sB, eB = _rule_sums(vB, we)
    eB = eB + _remainder(vB, xe, jnp.ones(vB.shape, bool))
    scale = jnp.exp(c[..., 0]) / math.sqrt(2.0 * math.pi)
    return (sA + sB) * scale, (eA + eB) * scale


def tail_integral_with_error(dist, cutoff, integrand, *, rule: TailRule = DEFAULT_RULE, growth=0.0):
    """:func:`tail_integral` with an absolute error estimate: ``(value, error)``.

    ``error = Δ·min(1, Δ/|I|)`` with ``Δ = |I_h − I_{2h}|`` (the rule against itself at twice the
    step, on the same nodes; the double-exponential rule doubles its digits as the step halves)
    plus the remainder beyond the last resolved node (``|f| / decay rate`` there; ``inf`` when the
    integrand does not decay: a divergent tail such as ``E[φ^s] = ∞``). ``growth`` (a hint: the
    integrand grows like ``φ^growth``) places the nodes of the log-normal rule (:func:`_gaussian_rule`);
    the other rules ignore it."""
    if uses_gaussian_rule(dist):
        return _gaussian_rule(dist, cutoff, integrand, rule, growth)
    if uses_density_rule(dist):
        return _density_rule(dist, cutoff, integrand, rule)
    return _survival_rule(dist, cutoff, integrand, rule)


def tail_integral(dist, cutoff, integrand, *, rule: TailRule = DEFAULT_RULE, growth=0.0):
    """``∫_{φ ≥ cutoff} h(φ) dG(φ)`` by the exp-sinh rule (see the module docstring).

    ``integrand(log_phi, d)`` must return ``h(φ) · e^{−d}`` (``d`` a per-node log-weight offset:
    ``w − w*`` in the inverse-survival rule, ``c − log(φ g(φ))`` in the density rule; passing it in
    lets the integrand combine it in log space and never overflow); arrays have shape
    ``cutoff.shape + (nodes,)``. Returns ``cutoff.shape``. A cut-off at or beyond the top of a
    bounded support gives 0.
    """
    return tail_integral_with_error(dist, cutoff, integrand, rule=rule, growth=growth)[0]


def survival(dist, cutoff):
    """``1 − G(φ*)`` (from :func:`log_survival`)."""
    return jnp.exp(log_survival(dist, cutoff))


def partial_moment(dist, cutoff, s, *, rule: TailRule = DEFAULT_RULE):
    """``∫_{φ*}^∞ φ^s dG(φ)`` (the integral in 001 eq. 9 with s = σ − 1)."""
    cutoff = jnp.asarray(cutoff)
    lc = jnp.log(cutoff)[..., None]
    rel = tail_integral(dist, cutoff, lambda lp, d: jnp.exp(s * (lp - lc) - d), rule=rule, growth=s)
    return rel * cutoff**s


def J(dist, cutoff, s, *, rule: TailRule = DEFAULT_RULE):
    """``J(φ*) = ∫_{φ*}^∞ [(φ/φ*)^s − 1] dG(φ)`` (001 eq. 5), computed with ``expm1``.

    The derivative in the cut-off is the analytic Leibniz rule
    ``dJ/dφ* = −(s/φ*) ∫_{φ*} (φ/φ*)^s dG = −(s/φ*)(J + 1 − G(φ*))`` (the integrand vanishes at
    φ*), so Jacobians of free-entry systems in the cut-offs cost no extra quadrature; derivatives
    in ``s`` and the distribution's parameters go through the rule. (First derivatives only are
    exact in the cut-off: the analytic term is linearised at the evaluation point.)
    """
    cutoff = jnp.asarray(cutoff)
    c0 = jax.lax.stop_gradient(cutoff)
    j0 = _J(dist, c0, s, rule)
    s0 = survival(dist, c0)
    return j0 - s * (j0 + s0) / c0 * (cutoff - c0)


def _J(dist, cutoff, s, rule):
    return _J_with_error(dist, cutoff, s, rule)[0]


def _J_with_error(dist, cutoff, s, rule):
    lc = jnp.log(cutoff)[..., None]

    def integrand(lp, d):
        x = s * (lp - lc)
        small = x < 1.0
        # expm1 near the cut-off (relative accuracy), log-space product in the far tail
        near = jnp.expm1(jnp.where(small, x, 0.0)) * jnp.exp(-d)
        far = jnp.exp(jnp.where(small, 1.0, x) - d) - jnp.exp(-d)
        return jnp.where(small, near, far)

    return tail_integral_with_error(dist, cutoff, integrand, rule=rule, growth=s)


def selection_integrals_with_error(dist, cutoff, s, *, rule: TailRule = DEFAULT_RULE):
    """``(survival, J, error of J)`` in one pass of the rule (``J`` with the derivative of :func:`J`;
    the error estimate not differentiated)."""
    cutoff = jnp.asarray(cutoff)
    c0 = jax.lax.stop_gradient(cutoff)
    j0, err = _J_with_error(dist, c0, s, rule)
    s0 = survival(dist, c0)
    jv = j0 - s * (j0 + s0) / c0 * (cutoff - c0)
    return survival(dist, cutoff), jv, jax.lax.stop_gradient(err)


def J_error(dist, cutoff, s, *, rule: TailRule = DEFAULT_RULE):
    """Absolute error estimate of :func:`J` (see :func:`tail_integral_with_error`; not differentiated)."""
    sg = jax.lax.stop_gradient
    return sg(_J_with_error(sg(dist), sg(jnp.asarray(cutoff)), sg(s), rule)[1])


def selection_integrals(dist, cutoff, s, *, rule: TailRule = DEFAULT_RULE):
    """``(survival, J)`` at ``cutoff``: everything a selection model needs.

    ``∫_{φ*} (φ/φ*)^s dG = J + survival``; the partial moment is ``(J + survival) φ*^s``.
    """
    return survival(dist, cutoff), J(dist, cutoff, s, rule=rule)


def tail_nodes(dist, cutoff, rule: TailRule = DEFAULT_RULE):
    """Nodes ``log φ_j`` and weights ``ω_j`` with ``∫_{φ ≥ cutoff} h dG ≈ Σ_j ω_j h(φ_j)`` (the
    exp-sinh rule of :func:`tail_integral`, exposed so that several integrands share one set of nodes,
    e.g. when the integrand is itself an integral)."""
    d, wts = rule.nodes_weights(jnp.result_type(cutoff))
    lw0 = log_survival(dist, cutoff)
    finite = jnp.isfinite(lw0)
    w0 = jnp.where(finite, -lw0, 0.0)
    logphi, valid = log_inverse_survival(dist, w0 + d)
    omega = jnp.where(valid & finite, wts * jnp.exp(-d - w0), 0.0)
    return jnp.where(valid, logphi, logphi[:1]), omega


def segment_nodes(dist, a, b, n: int = 48):
    """``n`` Gauss-Legendre nodes ``log φ_j`` and weights for ``∫_a^b h dG`` in ``w = −log(1 − G)``: with
    :func:`tail_nodes`, a tail integral split at a kink of ``h`` (accurate where ``h`` is smooth)."""
    x, wt = np.polynomial.legendre.leggauss(n)
    wa, wb = -log_survival(dist, a), -log_survival(dist, b)
    half = 0.5 * (wb - wa)
    w = wa + half * (jnp.asarray(x) + 1.0)
    logphi, valid = log_inverse_survival(dist, w)
    omega = jnp.where(valid, half * jnp.asarray(wt) * jnp.exp(-w), 0.0)
    return jnp.where(valid, logphi, jnp.log(a)), omega
