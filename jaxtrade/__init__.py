"""jaxtrade: batch solvers for heterogeneous-firm models of trade and offshoring, in JAX.

The package has three floors (``docs/architecture.md``):

- ``jaxtrade.engine``: solvers that know no paper: cost and productivity ``distributions``, firms'
  counter-based random numbers (``rng``), the firm's sequential-production problem (``production``),
  the Monte Carlo of firms (``simulate``), heterogeneous-firm ``selection`` and its ``quadrature``,
  input ``validation``.
- ``jaxtrade.models``: one module per paper section, each reading like it: the sequential-production
  general equilibrium, the decomposition of the gains from trade and endogenous wages (Tyazhelnikov
  2016), Melitz-type equilibria (Melitz & Redding 2014; Baldwin & Robert-Nicoud 2004), and the
  models added since.
- The faces: ``jaxtrade.calibration`` and the ``jaxtrade`` command line (``jaxtrade.cli``).

This module is the public surface only: every name here is re-exported from the floor that owns it.
"""

import sys as _sys

from . import calibration as calibration
from .calibration.data import load_sales as load_sales
from .calibration.data import synthetic_sales as synthetic_sales
from .engine import distributions as distributions
from .engine.production import ChainSolution as ChainSolution
from .engine.production import Tree as Tree
from .engine.production import brute_force_chain as brute_force_chain
from .engine.production import brute_force_tree as brute_force_tree
from .engine.production import evaluate_path as evaluate_path
from .engine.production import evaluate_tree_path as evaluate_tree_path
from .engine.production import solve_chain as solve_chain
from .engine.production import solve_tree as solve_tree
from .engine.rng import FIRM_BLOCK as FIRM_BLOCK
from .engine.rng import firm_uniforms as firm_uniforms
from .engine.simulate import SequentialModel as SequentialModel
from .engine.simulate import SimulationResult as SimulationResult
from .engine.simulate import SimulationSummary as SimulationSummary
from .engine.simulate import simulate as simulate
from .engine.validation import JaxtradeInputError as JaxtradeInputError
from .models.decomposition import Decomposition as Decomposition
from .models.decomposition import decompose as decompose
from .models.decomposition import decompose_costs as decompose_costs
from .models.sequential_ge import Equilibrium as Equilibrium
from .models.sequential_ge import QuasiLinearCES as QuasiLinearCES
from .models.sequential_ge import aggregate_cost as aggregate_cost
from .models.sequential_ge import free_entry_closed_form as free_entry_closed_form
from .models.sequential_ge import price_and_variety_shares as price_and_variety_shares
from .models.sequential_ge import solve_free_entry as solve_free_entry
from .models.sequential_ge import welfare_elasticity as welfare_elasticity
from .models.wages import WageEquilibrium as WageEquilibrium
from .models.wages import labour_demand as labour_demand
from .models.wages import solve_wages as solve_wages

# The models, one public namespace each (``from jaxtrade import melitz``). A new model adds one line here.
from .models import melitz as melitz
from .models import table1 as table1
from .models import baldwin_okubo as baldwin_okubo
from .models import innovation as innovation
from .models import multiproduct as multiproduct
from .models import wage_inequality as wage_inequality
from .models import melitz_ottaviano as melitz_ottaviano
from .models import factor_abundance as factor_abundance
from .models import baldwin_robert_nicoud as baldwin_robert_nicoud
from .models import offshoring as offshoring
from .models import market_penetration as market_penetration

# The public namespaces are importable by their short names too (``import jaxtrade.melitz``,
# ``from jaxtrade.distributions import Pareto``), as they were before the floors existed.
for _name, _module in list(globals().items()):
    if isinstance(_module, type(_sys)) and _module.__name__.startswith((f"{__name__}.engine.", f"{__name__}.models.")):
        _sys.modules.setdefault(f"{__name__}.{_name}", _module)
del _name, _module

__version__ = "0.1.0"
