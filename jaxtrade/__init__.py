"""jaxtrade: batch solvers for heterogeneous-firm models of trade and offshoring, in JAX.

Engines: the firm's sequential-production problem (`solve_chain`, `solve_tree`), cost and
productivity `distributions`, the Monte Carlo of firms (`simulate`), heterogeneous-firm selection
(behind `melitz`). Models: the sequential-production general equilibrium and the decomposition of
the gains from trade (Tyazhelnikov 2016), Melitz-type equilibria (`jaxtrade.melitz`). Faces:
`jaxtrade.calibration` and the `jaxtrade` command line.
"""

from . import calibration as calibration
from . import distributions as distributions
from . import melitz as melitz
from ._data import load_sales as load_sales
from ._data import synthetic_sales as synthetic_sales
from ._decompose import Decomposition as Decomposition
from ._decompose import decompose as decompose
from ._decompose import decompose_costs as decompose_costs
from ._equilibrium import Equilibrium as Equilibrium
from ._equilibrium import QuasiLinearCES as QuasiLinearCES
from ._equilibrium import aggregate_cost as aggregate_cost
from ._equilibrium import free_entry_closed_form as free_entry_closed_form
from ._equilibrium import price_and_variety_shares as price_and_variety_shares
from ._equilibrium import solve_free_entry as solve_free_entry
from ._equilibrium import welfare_elasticity as welfare_elasticity
from ._production import ChainSolution as ChainSolution
from ._production import Tree as Tree
from ._production import brute_force_chain as brute_force_chain
from ._production import brute_force_tree as brute_force_tree
from ._production import evaluate_path as evaluate_path
from ._production import evaluate_tree_path as evaluate_tree_path
from ._production import solve_chain as solve_chain
from ._production import solve_tree as solve_tree
from ._simulate import FIRM_BLOCK as FIRM_BLOCK
from ._simulate import SequentialModel as SequentialModel
from ._simulate import SimulationResult as SimulationResult
from ._simulate import SimulationSummary as SimulationSummary
from ._simulate import firm_uniforms as firm_uniforms
from ._simulate import simulate as simulate
from ._validation import JaxtradeInputError as JaxtradeInputError
from ._wages import WageEquilibrium as WageEquilibrium
from ._wages import labour_demand as labour_demand
from ._wages import solve_wages as solve_wages

__version__ = "0.1.0"
