"""jaxtrade: batch solvers for heterogeneous-firm models of trade and offshoring, in JAX."""

from . import distributions as distributions
from ._validation import JaxtradeInputError as JaxtradeInputError

__version__ = "0.1.0"
