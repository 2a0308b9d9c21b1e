"""Calibration by simulated maximum likelihood (Tyazhelnikov 004, Section 5).

The paper (§5.2-5.4) chooses the parameters of the cost distribution (``shape``, ``scale``), the
unbundling cost ``τ`` and the relative wage ``w`` so that the distribution of firms' simulated
domestic sales matches the data, by the Kullback-Leibler divergence (KLD, main specification) or
the Kolmogorov-Smirnov (KS) and Cramér-von Mises (CM) distances (robustness), after trimming the
largest 5% of firms in both samples. This package makes that calibration differentiable. Its modules,
one job each (docs/calibration.md):

- :mod:`~jaxtrade.calibration.parameters`: the model, its reading of Table 1 and the identified
  reparameterisation ``φ = (log shape, log τ/cost_scale, log w, log f_s)``;
- :mod:`~jaxtrade.calibration.simulation`: the firms (the engine's counter-based draws, the firms
  :func:`jaxtrade.simulate` sees), their marginal costs and sales (eq. S1);
- :mod:`~jaxtrade.calibration.objective`: densities on a grid, the soft quantile, the objectives;
- :mod:`~jaxtrade.calibration.optimise`: optimistix solvers (trust-region Newton as an optimistix
  descent and search), one loop, checkpoints;
- :mod:`~jaxtrade.calibration.inference`: Hessians, standard errors, identification;
- :mod:`~jaxtrade.calibration.pipeline`: :func:`calibrate`, its JSON, and the bridge to the decomposition;
- :mod:`~jaxtrade.calibration.data`: the sales loader and the bundled synthetic data.
"""

from .data import SYNTHETIC_YEARS as SYNTHETIC_YEARS
from .data import FirmData as FirmData
from .data import load_firms as load_firms
from .data import load_sales as load_sales
from .data import save_sales as save_sales
from .data import synthetic_metadata as synthetic_metadata
from .data import synthetic_sales as synthetic_sales
from .inference import Inference as Inference
from .inference import fd_hessian as fd_hessian
from .inference import hessian as hessian
from .inference import identification_report as identification_report
from .inference import inference as inference
from .objective import OBJECTIVES as OBJECTIVES
from .objective import DataSummary as DataSummary
from .objective import Problem as Problem
from .objective import exact_statistics as exact_statistics
from .objective import make_problem as make_problem
from .objective import moment_start as moment_start
from .objective import objective as objective
from .objective import prepare_data as prepare_data
from . import smm as smm
from .objective import silverman_bandwidth as silverman_bandwidth
from .objective import soft_quantile as soft_quantile
from .optimise import OPTIMIZERS as OPTIMIZERS
from .optimise import RESULTS as RESULTS
from .optimise import OptimisationResult as OptimisationResult
from .optimise import TrustRegionNewton as TrustRegionNewton
from .optimise import minimise as minimise
from .parameters import DRAWS_AS_ALIASES as DRAWS_AS_ALIASES
from .parameters import FAMILIES as FAMILIES
from .parameters import FAMILY_ALIASES as FAMILY_ALIASES
from .parameters import FULL as FULL
from .parameters import IDENTIFIED as IDENTIFIED
from .parameters import WAGE_READING_ALIASES as WAGE_READING_ALIASES
from .parameters import CalibrationModel as CalibrationModel
from .parameters import Parameters as Parameters
from .parameters import canonical_family as canonical_family
from .parameters import canonicalise as canonicalise
from .parameters import coordinates as coordinates
from .parameters import from_unconstrained as from_unconstrained
from .parameters import full_coordinates as full_coordinates
from .parameters import identified_from_full as identified_from_full
from .parameters import to_unconstrained as to_unconstrained
from .pipeline import TABLE1 as TABLE1
from .pipeline import CalibrationResult as CalibrationResult
from .pipeline import calibrate as calibrate
from .pipeline import DEFAULT_START_FACTORS as DEFAULT_START_FACTORS
from .pipeline import default_start as default_start
from .pipeline import default_starts as default_starts
from .pipeline import counterfactual_tau as counterfactual_tau
from .pipeline import fitted_and_data_log_sales as fitted_and_data_log_sales
from .pipeline import to_sequential_model as to_sequential_model
from .two_period import two_period as two_period
from .simulation import common_uniforms as common_uniforms
from .simulation import standard_log_draws as standard_log_draws
from .simulation import simulate_marginal_costs as simulate_marginal_costs
from .simulation import OFFSHORE_TEMPERATURE as OFFSHORE_TEMPERATURE
from .simulation import offshore_temperature as offshore_temperature
from .simulation import simulate_offshores as simulate_offshores
from .simulation import simulate_sales as simulate_sales

__all__ = [
    "smm",
    "CalibrationModel",
    "Parameters",
    "DataSummary",
    "Problem",
    "OptimisationResult",
    "TrustRegionNewton",
    "RESULTS",
    "Inference",
    "CalibrationResult",
    "TABLE1",
    "FAMILIES",
    "FAMILY_ALIASES",
    "canonical_family",
    "IDENTIFIED",
    "FULL",
    "DRAWS_AS_ALIASES",
    "WAGE_READING_ALIASES",
    "SYNTHETIC_YEARS",
    "fd_hessian",
    "hessian",
    "soft_quantile",
    "silverman_bandwidth",
    "FirmData",
    "load_firms",
    "load_sales",
    "save_sales",
    "synthetic_sales",
    "synthetic_metadata",
    "common_uniforms",
    "standard_log_draws",
    "simulate_marginal_costs",
    "OFFSHORE_TEMPERATURE",
    "offshore_temperature",
    "simulate_offshores",
    "simulate_sales",
    "prepare_data",
    "make_problem",
    "objective",
    "exact_statistics",
    "to_unconstrained",
    "from_unconstrained",
    "full_coordinates",
    "identified_from_full",
    "canonicalise",
    "coordinates",
    "default_start",
    "default_starts",
    "DEFAULT_START_FACTORS",
    "moment_start",
    "minimise",
    "inference",
    "identification_report",
    "calibrate",
    "fitted_and_data_log_sales",
    "to_sequential_model",
    "two_period",
    "counterfactual_tau",
    "OBJECTIVES",
    "OPTIMIZERS",
]
