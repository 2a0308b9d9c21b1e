"""The whole calibration of Tyazhelnikov (004) §5.3 steps 1-4, its JSON, and the bridge to the decomposition.

:func:`calibrate` builds the problem, minimises from one or several starts, reflects ``w`` to the branch
``w ≥ 1``, computes the inference and the exact statistics; :class:`CalibrationResult` gives the CLI's JSON
(``estimates[name].value``, ``.std_error``). :func:`to_sequential_model` and :func:`counterfactual_tau` take
an estimate to :func:`jaxtrade.decompose` (step 6).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ..engine.validation import fail
from ..engine.simulate import SequentialModel
from ..models.table1 import TABLE_1
from .inference import Inference, inference
from .objective import Problem, _sim_density, exact_statistics, make_problem, moment_start
from .optimise import OptimisationResult, minimise
from .parameters import CalibrationModel, Parameters, canonicalise, from_unconstrained, to_unconstrained

__all__ = ["TABLE1", "CalibrationResult", "calibrate", "default_start", "default_starts", "DEFAULT_START_FACTORS", "fitted_and_data_log_sales", "to_sequential_model", "counterfactual_tau"]

#: Table 1's calibrated parameters by year, read from the one copy :data:`jaxtrade.table1.TABLE_1`
#: (σ = 4, ζ = 0.5, N = 10 are the model's, not parameters here).
TABLE1 = {year: {k: row[k] for k in ("shape", "scale", "tau", "wage")} for year, row in TABLE_1.items()}


@dataclasses.dataclass
class CalibrationResult:
    """Estimates, diagnostics and the optimisation record; ``to_json()`` gives the CLI's JSON."""

    model: CalibrationModel
    params: Parameters
    phi: np.ndarray
    optimisation: OptimisationResult
    inference: Inference | None
    statistics: dict
    scale_normalisation: float
    starts: list
    fixed_wage: bool = False
    offshores: bool = False  # the data carried offshoring status (joint objective; no reflection)

    def estimates(self) -> dict:
        p = self.params
        se = self.inference.std_errors_phi if self.inference is not None else np.full(len(self.phi), np.nan)
        vd = self.model.value_dependent
        many = self.model.n_countries > 2

        def entry(value, s, identified=True, note=None):
            out = {"value": float(value), "std_error": (None if s is None or not np.isfinite(s) else float(s)), "identified": identified}
            if identified and s is not None and np.isinf(s):
                out["weakly_identified"] = True  # zero or negative curvature of the objective along a direction this parameter loads on
            if note:
                out["note"] = note
            return out

        if many:
            reflection = ("country 0 identified as home by the offshoring status; countries 1..M-1 ordered by wage (relabelling them "
                          "is observationally equivalent)" if self.offshores and self.model.exchangeable else
                          "identified with the offshoring status (no relabelling of countries)" if self.offshores else
                          "canonical labelling: country 0 the cheapest, countries 1..M-1 ordered by wage (relabelled countries are "
                          "observationally equivalent)" if self.model.exchangeable else "no relabelling (T not exchangeable)")
        else:
            reflection = ("identified with the offshoring status (no reflection: (w, rho) and (1/w, rho/w) predict different offshoring shares)"
                          if self.offshores else "canonical branch w >= 1 ((w, rho) and (1/w, rho/w) are observationally equivalent)")
        out = {
            "shape": entry(p.shape, p.shape * se[0]),
            "scale": entry(p.scale, None, False, "not identified: sales are invariant to the cost scale (eq. S1); held at the stated normalisation"),
            "tau": entry(p.tau, p.tau * se[1], True,
                         "identified directly (value-dependent trade costs)" if vd else
                         f"identified as tau/cost_scale = {p.tau / self.model.cost_scale(p.scale):.6g}; value and std_error conditional on scale = {p.scale:g}"),
            "wage": (dict(entry(p.wage, None, True, "held fixed at the known relative wage (fixed_wage)"), fixed=True) if self.fixed_wage else
                     entry(p.wage, p.wage * se[2], True, ("country 1's wage; " if many else "") + reflection)),
            "sunk_cost": self._sunk_cost_entry(entry, p.sunk_cost * se[3]),
        }
        for k, w in enumerate(p.extra_wages, start=2):
            out[f"wage_{k}"] = entry(w, w * se[2 + k], True, f"country {k}'s wage; {reflection}")
        return out

    def _sunk_cost_entry(self, entry, s):
        """f_s, with the tail index of MC^{1−σ} (:meth:`CalibrationModel.power_mean_tail_index`) reported and a
        ``warning`` where the power mean of free entry is infinite (index <= 1) or has infinite variance (<= 2)."""
        p = self.params
        out = entry(p.sunk_cost, s, True, "f_s, from the level of sales under free entry (given sigma)")
        tail = self.model.power_mean_tail_index(p.shape)
        if math.isfinite(tail):
            out["power_mean_tail_index"] = tail
        if tail <= 1:
            out["warning"] = (f"E[MC^(1-sigma)] is infinite at the estimated shape (tail index n_stages * shape / (sigma - 1) = {tail:.3g} "
                              "<= 1): the free-entry price index does not exist in the population, and f_s is relative to the sample "
                              "power mean of the simulated firms, which grows with their number (docs/calibration.md)")
        elif tail <= 2:
            out["warning"] = (f"MC^(1-sigma) has infinite variance at the estimated shape (tail index {tail:.3g} <= 2): f_s carries the "
                              "noise of the most productive simulated firms (docs/calibration.md)")
        return out

    def to_json(self) -> dict:
        inf = self.inference
        opt = self.optimisation
        return {
            "estimates": self.estimates(),
            "normalisation": {"scale": self.scale_normalisation},
            "identified": {
                "estimated": ["shape", "tau/cost_scale" if not self.model.value_dependent else "tau", "wage", "sunk_cost",
                              *[f"wage_{k}" for k in range(2, self.model.n_countries)]],
                "not_identified": ["scale"],
                "statement": ("The sales distribution (eq. S1) is invariant to the common cost scale; with additive trade costs only "
                              "tau/cost_scale is identified. shape, tau/cost_scale, w (branch w >= 1) and sigma*f_s are identified."
                              + (" The offshoring status breaks the wage reflection: w is estimated on both branches." if self.offshores else "")),
            },
            "data_used": {"sales": True, "offshores": self.offshores,
                          **({"offshore_share_data": self.statistics.get("offshore_share_data"),
                              "offshore_share_model": self.statistics.get("offshore_share_model"),
                              "offshore_temperature": self.statistics.get("offshore_temperature")} if self.offshores else {})},
            "model": {"n_stages": self.model.n_stages, "sigma": self.model.sigma, "draws": self.model.draws, "draws_are": self.model.draws_are,
                      "wage_reading": self.model.wage_reading, "value_dependent": self.model.value_dependent,
                      "n_countries": self.model.n_countries, "tree": None if self.model.tree is None else list(self.model.tree.parent),
                      **({"truncation_ratio": self.model.truncation_ratio} if self.model.draws == "truncated_pareto" else {}),
                      **({"gamma_index": self.model.gamma_index} if self.model.draws == "generalized_gamma" else {})},
            "objective": {"value": opt.value, **self.statistics},
            "optimisation": {"optimizer": opt.optimizer, "result": opt.status, "message": opt.message, "num_steps": opt.num_steps,
                             "grad_norm": opt.grad_norm if math.isfinite(opt.grad_norm) else None, "evaluations": opt.evaluations,
                             "seconds": opt.seconds, "starts": self.starts,
                             "history": [{k: v for k, v in h.items() if k != "phi"} for h in opt.history]},
            "diagnostics": None if inf is None else {
                "coordinates": [self.model.coordinates[i] for i in inf.free], "phi": self.phi.tolist(), "hessian": _finite_or_null(inf.hessian),
                "eigenvalues": _finite_or_null(inf.eigenvalues), "rank": inf.rank,
                "condition_number": inf.condition_number if math.isfinite(inf.condition_number) else None,
                "std_errors_phi": _finite_or_null(inf.std_errors_phi), "covariance_phi": _finite_or_null(inf.covariance),
                "std_errors_phi_data_only": _finite_or_null(np.sqrt(np.maximum(np.diag(inf.covariance_data), 0))),
                "std_errors_phi_simulation_only": _finite_or_null(np.sqrt(np.maximum(np.diag(inf.covariance_sim), 0))),
                "method": inf.method,
            },
        }


def _finite_or_null(a):
    """Nested lists of floats with every non-finite entry as ``None`` (JSON has no NaN or Infinity)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(a) if np.isfinite(a) else None
    return [_finite_or_null(x) for x in a]


def default_start(model: CalibrationModel, year: int = 2000) -> Parameters:
    """Table 1's values of ``year`` as a start; with ``M > 2`` countries the wages of countries ``2 … M − 1``
    are ``w · 1.25^(k−1)`` (distinct, so the start is off the symmetric ridge where relabelled countries tie)."""
    row = TABLE1[year]
    return Parameters(**row, sunk_cost=1.0, extra_wages=tuple(row["wage"] * 1.25 ** (k - 1) for k in range(2, model.n_countries)))


#: Factors on (shape, τ, w, w_2, …) of the extra starts of the default multi-start (:func:`default_starts`).
DEFAULT_START_FACTORS = (1.5, 0.5)


def default_starts(model: CalibrationModel, year: int = 2000) -> list[Parameters]:
    """The default multi-start: :func:`default_start` and the same point with ``(shape, τ, w, w_2, …)`` scaled by
    each of :data:`DEFAULT_START_FACTORS` (1.5× and 0.5×). The sales-only objective has far local minima along the
    ``(ρ, w)`` valley (docs/calibration.md, "Recovery": from 0.5× Newton stops in another valley at 1.16× the
    truth's objective, from 1.5× it converges next to the truth), and so does the joint objective with three
    countries (docs/calibration.md, "More countries and trees"); every run is reported (``starts`` in the result
    and ``optimisation.starts`` in the JSON)."""
    base = default_start(model, year)
    out = [base]
    for f in DEFAULT_START_FACTORS:
        out.append(Parameters(shape=base.shape * f, scale=base.scale, tau=base.tau * f, wage=base.wage * f, sunk_cost=base.sunk_cost,
                              extra_wages=tuple(w * f for w in base.extra_wages)))
    return out


def calibrate(sales, model: CalibrationModel, *, start: Parameters | list | None = None, scale: float = 1.0, kind: str = "kld",
              n_sim: int = 20_000, seed: int = 0, trim: float = 0.05, bandwidth=None, optimizer: str = "quasi_newton", max_steps: int = 200,
              bootstrap: int = 100, sim_replications: int = 8, with_inference: bool = True, checkpoint=None, checkpoint_every: int = 10,
              resume: bool = False, callback=None, problem: Problem | None = None, fixed_wage: float | None = None, grid_size: int | None = None,
              offshores=None, offshore_temperature: float | None = None, **minimise_kwargs) -> CalibrationResult:
    """Calibrates ``(shape, τ/scale, w, f_s)`` (and ``w_2 … w_{M−1}`` with ``model.n_countries = M > 2``) to
    firms' sales (Tyazhelnikov 004 §5.3 steps 1-4).

    ``start``: one or several :class:`Parameters` (multi-start: the best objective wins; each
    start's ``f_s`` is reset by :func:`moment_start`). Default: the multi-start :func:`default_starts` (Table 1
    (2000), and 1.5× and 0.5× of it); pass ``start=default_start(model)`` for one run.
    ``scale``: the normalisation at which the unidentified ``scale`` is held.
    ``grid_size``: the density grid's size (:func:`~jaxtrade.calibration.prepare_data`; default from the bandwidth).
    ``fixed_wage``: the relative wage ``w`` when it is known from wage data. It is then held fixed
    (no reflection to ``w ≥ 1``), which removes the weakest direction of the sales data
    (docs/calibration.md: the information bound on ``ρ`` falls from 8.5% to 6.8% at n = 200,000).
    ``offshores``: each firm's offshoring status (0/1, aligned with ``sales``; 1 when a stage is made outside
    country 0): the joint objective of (sales, status) (:mod:`jaxtrade.calibration.objective`), with the
    model's status smoothed at ``offshore_temperature`` (default: :func:`offshore_temperature` of ``n_sim``). The status identifies ``w`` on both sides of 1, so
    the estimate is not reflected (docs/calibration.md, "Identification from offshoring status").
    """
    if not (np.isfinite(scale) and scale > 0):
        fail("scale", scale, "the scale normalisation must be finite and > 0")
    fixed = None
    if fixed_wage is not None:
        if not (np.isfinite(fixed_wage) and fixed_wage > 0):
            fail("fixed_wage", fixed_wage, "a known relative wage must be finite and > 0")
        fixed = {2: float(np.log(fixed_wage))}
    if problem is None:
        problem = make_problem(sales, model, n_sim=n_sim, seed=seed, kind=kind, trim=trim, bandwidth=bandwidth, grid_size=grid_size,
                               offshores=offshores, offshore_temperature=offshore_temperature)
    elif offshores is not None:
        fail("offshores", "given", "give offshores to make_problem when passing a prepared problem")
    joint = problem.data.joint
    starts = default_starts(model) if start is None else list(start) if isinstance(start, (list, tuple)) else [start]
    best, records = None, []
    for i, s in enumerate(starts):
        phi0 = moment_start(to_unconstrained(s, model), problem)
        ck = None if checkpoint is None else (checkpoint if len(starts) == 1 else f"{checkpoint}.start{i}")
        res = minimise(problem, phi0, optimizer=optimizer, max_steps=max_steps, checkpoint=ck, checkpoint_every=checkpoint_every,
                       resume=resume and ck is not None and Path(ck).is_file(), callback=callback, fixed=fixed, **minimise_kwargs)
        records.append({"start": s.as_dict(), "objective": res.value, "result": res.status, "num_steps": res.num_steps})
        if res.status == "interrupted":
            best = res
            break
        if best is None or (math.isfinite(res.value) and res.value < best.value):
            best = res
    phi = canonicalise(best.phi, model, home_fixed=joint) if fixed is None else np.asarray(best.phi, np.float64)
    params = from_unconstrained(phi, model, scale)
    inf = None
    if with_inference and best.status != "interrupted":
        inf = inference(problem, phi, bootstrap=bootstrap, sim_replications=sim_replications, seed=seed + 1000, fixed=fixed)
    stats = exact_statistics(phi, problem)
    stats["kind"] = problem.kind
    stats["bandwidth"] = float(problem.data.bandwidth)
    stats["trim"] = problem.data.trim
    stats["n_data"] = problem.data.n
    stats["n_sim"] = int(problem.uniforms.shape[0])
    if joint:
        stats["offshore_temperature"] = problem.offshore_temperature
    return CalibrationResult(model=model, params=params, phi=phi, optimisation=best, inference=inf, statistics=stats,
                             scale_normalisation=float(scale), starts=records, fixed_wage=fixed is not None, offshores=joint)


def fitted_and_data_log_sales(result: CalibrationResult, problem: Problem):
    """Grid, data density and fitted simulated density (for plots)."""
    f = np.asarray(_sim_density(jnp.asarray(result.phi, jnp.float32), problem))
    g = np.asarray(problem.data.density)
    if g.ndim == 2:  # joint (sales, offshoring status): the marginal density of log sales
        f, g = f.sum(axis=0), g.sum(axis=0)
    return np.asarray(problem.data.grid), g, f



def to_sequential_model(params: Parameters, model: CalibrationModel):
    """The :class:`jaxtrade.SequentialModel` of these parameters (for :func:`jaxtrade.decompose`):
    wages ``(1, w_1, …, w_{M−1})`` under the model's wage reading (for two countries the model
    :func:`jaxtrade.table1.table1_model` builds), the model's ``T``, law of draws and tree."""
    wages = np.asarray([1.0, *[float(model.wage_multiplier(w)) for w in params.wages]])
    return SequentialModel(int(model.n_stages), model.T, float(params.tau), model.distribution(params.shape, params.scale),
                           draws_are=model.draws_are, wages=wages, value_dependent=model.value_dependent, tree=model.tree)


def counterfactual_tau(result_0: CalibrationResult, result_1: CalibrationResult, phi_1=None) -> float:
    """``τ_1`` in period-0 cost units (004 §5.3 step 6): ``ρ_1 · cost_scale(scale_1)``.

    Only ``ρ_t = τ_t / cost_scale_t`` is identified per period, so the counterfactual
    ``(θ_0, τ_1, w_0)`` rests on the stated scale normalisations of both periods.
    """
    model = result_1.model
    phi = result_1.phi if phi_1 is None else phi_1
    rho = math.exp(float(phi[1]))
    return rho if model.value_dependent else rho * model.cost_scale(result_1.scale_normalisation)
