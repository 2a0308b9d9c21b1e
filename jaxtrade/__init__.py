"""jaxtrade: batch solvers for heterogeneous-firm models of trade and offshoring, in JAX."""

from . import distributions as distributions
from ._validation import JaxtradeInputError as JaxtradeInputError

__version__ = "0.1.0"
from ._production import (
    ChainSolution as ChainSolution,
    Tree as Tree,
    brute_force_chain as brute_force_chain,
    brute_force_tree as brute_force_tree,
    evaluate_path as evaluate_path,
    evaluate_tree_path as evaluate_tree_path,
    solve_chain as solve_chain,
    solve_tree as solve_tree,
)
