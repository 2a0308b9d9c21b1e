"""The paper's two-period pipeline (Tyazhelnikov 004 §5.3 steps 5-8): calibrate two periods, then the
counterfactual ``(θ_0, τ_1, w_0)`` and the decomposition of the change in ``M̃C`` into the direct effect
(paths fixed) and fragmentation (paths re-optimised), with standard errors.

**Why a normalisation is needed.** One period's sales identify ``ρ_t = τ_t / c_t`` (additive unbundling
costs), where ``c_t`` = :meth:`CalibrationModel.cost_scale` of the period's scale, and not ``τ_t`` itself
(eq. S1 is invariant to the common cost scale; docs/calibration.md). The counterfactual puts ``τ_1`` into
period 0's model, so it needs ``τ_1`` in period-0 cost units, ``τ_1 = ρ_1 c_1``: a statement of how the
cost scale moved between the periods. Each candidate (:data:`NORMALISATIONS`) is such a statement; the
pipeline computes every one, so the consequence of the choice is on the table (like the readings of
Table 1). With value-dependent (iceberg) unbundling costs ``τ_t`` is identified directly and only
``"identified"`` applies.

Standard errors: a parametric bootstrap over the two periods' estimates, ``φ_t ~ N(φ̂_t, V̂_t)`` with
``V̂_t`` each calibration's sandwich covariance (data and simulation noise), each draw decomposed with
fresh firms (so the Monte Carlo noise of the decomposition is included): the standard deviation and the
2.5/97.5 percentiles over the draws. Where a period's covariance is not finite in the coordinates the
counterfactual uses (shape, ρ, w: a weakly identified direction, docs/calibration.md), the quadratic
approximation behind the draws says nothing, and no standard error is reported (``None`` with the reason).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
from scipy import integrate

from ..engine.validation import fail
from ..models.decomposition import decompose
from .parameters import from_unconstrained
from .pipeline import to_sequential_model

__all__ = ["NORMALISATIONS", "TwoPeriodResult", "two_period", "unit_cost_location"]

#: The candidate statements that make ``τ_1`` comparable with period 0's costs, and what each assumes.
NORMALISATIONS = {
    "equal_scales": "c_1 = c_0: the cost scale did not move; only the dispersion (shape) of the draws and tau changed",
    "equal_median_cost": "c_1 med(a~ | shape_1) = c_0 med(a~ | shape_0): the median stage cost did not move",
    "equal_mean_cost": "c_1 E(a~ | shape_1) = c_0 E(a~ | shape_0): the mean stage cost did not move (needs a finite mean)",
    "stated": "c_t from each period's stated scale normalisation (e.g. Table 1's scales): only as good as those statements",
    "identified": "value-dependent (iceberg) unbundling costs: tau_t is identified in each period, no normalisation",
}

#: Above this share of bootstrap draws without a finite counterfactual no standard error is reported.
_MAX_UNDEFINED = 0.1


def unit_cost_location(model, shape, kind: str) -> float:
    """``med`` or ``E`` of a stage's cost draw ``ã`` at unit scale (``c = 1``): ``ã = 1/z̃`` with
    ``z̃ ~ F(shape, 1)`` for productivity draws, ``ã ~ F(shape, 1)`` for cost draws. ``kind``:
    ``"median"`` or ``"mean"`` (``inf`` where it does not exist; the mean of ``1/z̃`` by quadrature of
    the quantile function)."""
    if kind not in ("median", "mean"):
        fail("kind", kind, "kind must be 'median' or 'mean'")
    d = model.distribution(shape, 1.0)  # in the caller's precision (float64 where the script enables x64)
    prod = model.draws_are == "productivity"
    if kind == "median":
        q = float(_icdf(d, 0.5))
        return 1.0 / q if prod else q
    if not prod:
        m = float(d.mean())
        return m if np.isfinite(m) else math.inf
    val, err = integrate.quad(lambda u: 1.0 / float(_icdf(d, u)), 0.0, 1.0, limit=400, epsrel=1e-10)  # E[1/z̃] = ∫ 1/F⁻¹(u) du
    return val if np.isfinite(val) and err < 1e-6 * max(abs(val), 1.0) else math.inf


@jax.jit
def _icdf(d, u):
    """``d.icdf(u)``, compiled once per family (the distribution is an argument, not a closure)."""
    return d.icdf(u)


def _tau1_in_period0_units(name, phi0, phi1, result_0, result_1) -> tuple[float, float]:
    """``(τ_0, τ_1)`` in period-0 cost units under normalisation ``name`` (``c_0`` is period 0's stated scale)."""
    m0, m1 = result_0.model, result_1.model
    c0 = m0.cost_scale(result_0.scale_normalisation)
    rho0, rho1 = math.exp(float(phi0[1])), math.exp(float(phi1[1]))
    if name == "identified":
        return rho0, rho1
    tau0 = rho0 * c0
    if name == "equal_scales":
        c1 = c0
    elif name == "stated":
        c1 = m1.cost_scale(result_1.scale_normalisation)
    else:
        kind = "median" if name == "equal_median_cost" else "mean"
        l0 = unit_cost_location(m0, math.exp(float(phi0[0])), kind)
        l1 = unit_cost_location(m1, math.exp(float(phi1[0])), kind)
        if not (np.isfinite(l0) and np.isfinite(l1) and l0 > 0 and l1 > 0):
            return tau0, math.nan
        c1 = c0 * l0 / l1
    tau1 = rho1 * c1
    return tau0, (tau1 if np.isfinite(tau1) and tau1 > 0 else math.nan)


@dataclasses.dataclass
class TwoPeriodResult:
    """Both calibrations and, per normalisation, the counterfactual ``τ_1``, the decomposition and its
    standard errors. ``rows`` is a list of dicts (one per normalisation); ``to_json()`` adds both periods'
    estimates (the calibrate CLI's shape) and the settings."""

    results: tuple
    rows: list
    settings: dict

    def to_json(self) -> dict:
        return {
            "periods": [r.to_json() for r in self.results],
            "counterfactual": {"statement": "(theta_0, tau_1, w_0): period 0's draws and wage with period 1's unbundling cost "
                                            "(004 section 5.3 step 6); decomposition of d ln MC-tilde into the direct effect "
                                            "(paths fixed) and fragmentation (paths re-optimised), steps 7-8",
                               "normalisations": self.rows, **self.settings},
        }

    def table(self) -> str:
        lines = [f"{'normalisation':<18} {'tau_0':>9} {'tau_1':>9} {'d ln MC':>16} {'fragmentation':>22} {'direct':>9}  note"]
        for r in self.rows:
            if r["tau_1"] is None:
                lines.append(f"{r['name']:<18} {r['tau_0']:>9.4g} {'-':>9}  {r['note']}")
                continue
            se = r["std_errors"]

            def f(k, pct=False):
                v, s = r[k], se.get(k)
                scale = 100.0 if pct else 1.0
                txt = f"{scale * v:.4g}" if v is not None else "-"
                return txt + (f" ({scale * s:.2g})" if s is not None else " (-)")

            lines.append(f"{r['name']:<18} {r['tau_0']:>9.4g} {r['tau_1']:>9.4g} {f('total_log_change'):>16} "
                         f"{f('fragmentation_share', True) + '%':>22} {100 * r['direct_share']:>8.1f}%  {r['note']}")
        return "\n".join(lines)


def _check_comparable(result_0, result_1):
    m0, m1 = result_0.model, result_1.model
    for k in ("n_stages", "sigma", "draws", "draws_are", "wage_reading", "value_dependent", "trade_costs",
              "truncation_ratio", "gamma_index"):
        if getattr(m0, k) != getattr(m1, k):
            fail("result_1", f"{k}={getattr(m1, k)!r}", f"both periods need the same model ({k}={getattr(m0, k)!r} in period 0)")


def _covariance_ok(result, coords):
    """Whether the draws ``N(φ̂, V̂)`` mean anything for the coordinates ``coords`` the counterfactual uses:
    ``V̂`` finite there and no standard error unbounded (zero or negative curvature along a direction they
    load on, where :func:`~jaxtrade.calibration.inference.inference` inverts only the positive curvature)."""
    inf = result.inference
    if inf is None:
        return False, "no inference (calibrated with with_inference=False)"
    free = [c for c in coords if c in inf.free]  # coordinates held fixed (a known wage) have no variance
    cov = np.asarray(inf.covariance, dtype=np.float64)[np.ix_(free, free)]
    se = np.asarray(inf.std_errors_phi, dtype=np.float64)[free]
    if not (np.all(np.isfinite(cov)) and np.all(np.isfinite(se))):
        names = [("shape", "rho", "w")[c] for c, v in zip(free, se) if not np.isfinite(v)]
        return False, f"unbounded standard errors of {names or '(shape, rho, w)'}: a weakly identified direction"
    return True, ""


def two_period(result_0, result_1, *, normalisations=None, n_firms: int = 400_000, draws: int = 30, seed: int = 0,
               chunk_size: int | None = None, progress=None) -> TwoPeriodResult:
    """Counterfactual ``(θ_0, τ_1, w_0)`` and its decomposition for two calibrated periods (004 §5.3 steps 6-8).

    ``result_0``, ``result_1``: :class:`~jaxtrade.calibration.CalibrationResult` of the same model.
    ``normalisations``: names from :data:`NORMALISATIONS` (default: every one that applies: ``"identified"``
    with value-dependent costs, the others otherwise). ``n_firms``: firms per decomposition (drawn from
    ``seed``; the bootstrap draw ``i`` uses ``seed + 1 + i``). ``draws``: parametric-bootstrap draws
    (0: no standard errors). ``progress``: a callable ``progress(done, total)`` (the CLI's bar).
    """
    _check_comparable(result_0, result_1)
    model = result_0.model
    if normalisations is None:
        normalisations = ("identified",) if model.value_dependent else ("equal_scales", "equal_median_cost", "equal_mean_cost", "stated")
    for name in normalisations:
        if name not in NORMALISATIONS:
            fail("normalisations", name, f"each must be one of {tuple(NORMALISATIONS)}")
        if (name == "identified") != bool(model.value_dependent):
            fail("normalisations", name, "'identified' is the only normalisation with value-dependent costs, and applies only to them")
    n_firms, draws = int(n_firms), int(draws)
    if n_firms < 2:
        fail("n_firms", n_firms, "n_firms >= 2")
    if draws < 0 or draws == 1:
        fail("draws", draws, "draws = 0 (no standard errors) or >= 2")
    scale0 = result_0.scale_normalisation
    phi0, phi1 = np.asarray(result_0.phi, np.float64), np.asarray(result_1.phi, np.float64)
    # period 0 enters through (shape, ρ, w); period 1 through ρ and, for the cost-location statements, its shape
    ok = [_covariance_ok(result_0, (0, 1, 2)), _covariance_ok(result_1, (0, 1))]
    boot = draws >= 2 and ok[0][0] and ok[1][0]
    why_not = None if boot else ("draws = 0" if draws < 2 else "; ".join(f"period {t}: {m}" for t, (g, m) in enumerate(ok) if not g))
    rng = np.random.default_rng(seed)
    boot_phis = ([(rng.multivariate_normal(phi0, result_0.inference.covariance), rng.multivariate_normal(phi1, result_1.inference.covariance))
                  for _ in range(draws)] if boot else [])
    total = len(normalisations) * (1 + len(boot_phis))
    done = 0

    def one(name, p0, p1, s):
        tau0, tau1 = _tau1_in_period0_units(name, p0, p1, result_0, result_1)
        if not np.isfinite(tau1):
            return tau0, tau1, None
        params0 = from_unconstrained(p0, model, scale0)
        if not np.isfinite(float(params0.tau)) or float(params0.tau) <= 0:
            return tau0, tau1, None
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            d = decompose(to_sequential_model(params0, model), tau1, n_firms=n_firms, seed=s, sigma=model.sigma, chunk_size=chunk_size)
        if not all(np.isfinite(float(getattr(d, k))) for k in ("total_log_change", "direct_log_change")):
            return tau0, tau1, None  # an extreme draw (costs or tau over/underflow the float32 Monte Carlo)
        return tau0, tau1, d

    rows = []
    for name in normalisations:
        tau0, tau1, d = one(name, phi0, phi1, seed)
        done += 1
        if progress is not None:
            progress(done, total)
        row = {"name": name, "assumes": NORMALISATIONS[name], "tau_0": tau0}
        if d is None:
            why = ("the mean stage cost is infinite at one period's shape" if name == "equal_mean_cost" and not np.isfinite(tau1)
                   else f"tau_1 = {tau1:.6g} gives no finite decomposition")
            row.update(tau_1=None, note=f"not defined: {why}", std_errors={}, ci95=None)
            rows.append(row)
            continue
        keys = ("total_log_change", "direct_log_change", "fragmentation_share", "direct_share", "share_switching")
        row.update(tau_1=tau1, **{k: float(getattr(d, k)) for k in keys})
        row["monte_carlo_std_errors"] = {k: float(getattr(d, k + "_se")) for k in ("total_log_change", "direct_log_change", "fragmentation_share")}
        rose = tau1 >= tau0
        row["tau_rose"] = bool(rose)
        row["note"] = ("tau_1 >= tau_0: trade costs ROSE under this normalisation, so re-optimising paths dampens the rise and the "
                       "fragmentation share 1 - direct/total is negative; not the paper's decomposition of a fall" if rose else "")
        samples = []
        for i, (b0, b1) in enumerate(boot_phis):
            _, t1b, db = one(name, b0, b1, seed + 1 + i)
            done += 1
            if progress is not None:
                progress(done, total)
            sample = None if db is None else [float(t1b)] + [float(getattr(db, k)) for k in keys[:3]]
            if sample is not None and all(np.isfinite(sample)):  # a share is undefined where the total change is 0
                samples.append(sample)
        undefined = len(boot_phis) - len(samples)
        if boot and undefined > _MAX_UNDEFINED * len(boot_phis):
            row.update(std_errors={}, ci95=None, bootstrap_draws=len(samples), bootstrap_draws_undefined=undefined,
                       std_errors_note=(f"{undefined} of {len(boot_phis)} draws from N(phi, V) give no finite counterfactual: the "
                                        "quadratic approximation behind the draws fails (a nearly flat direction); no standard error"))
        elif boot and len(samples) >= 2:
            a = np.asarray(samples)
            names = ("tau_1",) + keys[:3]
            row["std_errors"] = {k: float(np.std(a[:, j], ddof=1)) for j, k in enumerate(names)}
            row["ci95"] = {k: [float(v) for v in np.percentile(a[:, j], [2.5, 97.5])] for j, k in enumerate(names)}
            row["bootstrap_draws"] = len(samples)
            row["bootstrap_draws_undefined"] = undefined  # draws whose tau_1, decomposition or shares are not finite
        else:
            row["std_errors"] = {}
            row["ci95"] = None
            row["std_errors_note"] = why_not or "fewer than two bootstrap draws defined"
        rows.append(row)
    settings = {"n_firms": n_firms, "draws": draws, "seed": seed, "scale_0": scale0,
                "std_errors_method": "parametric bootstrap over both periods' sandwich covariances, fresh firms per draw" if boot else None,
                "std_errors_note": why_not}
    return TwoPeriodResult(results=(result_0, result_1), rows=rows, settings=settings)
