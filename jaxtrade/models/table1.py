"""Table 1 of Tyazhelnikov (004) §5.3 and its readings: the one copy, in one vocabulary.

Table 1 reports, for 2000 and 2007, σ = 4, ζ = 0.5, the Pareto ``shape`` and ``scale`` of the per-stage
draws, the unbundling cost τ and the relative wage w of China, for N = 10 stages and two countries
(country 0 = the rest of the world, country 1 = China). The paper does not say how to read them, so a
reading has two parts, spelled the same everywhere (``jaxtrade decompose``, ``jaxtrade calibrate``, the
experiments):

- ``draws_are``: ``"cost"`` (the stage cost is ``a ~ Pareto(shape, scale)``, ``a ≥ scale``) or
  ``"productivity"`` (the productivity ``z ~ Pareto(shape, scale)`` and the cost ``a = 1/z``).
- ``wage_reading``: ``"china"`` (§5.3's ``F_C = w F_W``: China's production costs are ``w`` times the rest
  of the world's, wages ``(1, w)``), ``"china-inverse"`` (wages ``(1, 1/w)``) or ``"none"`` (wages
  ``(1, 1)``). Putting ``w`` on the rest of the world instead, wages ``(w, 1)``, is the ``china`` reading
  with the countries relabelled: the draws are i.i.d. across countries and ``T`` is symmetric, so the
  distribution of MC is the same and it is not a separate reading.

``T`` is 1 off the diagonal (additive unbundling costs ``τ T``, eq. 1) unless a model says otherwise.
"""

from __future__ import annotations

import numpy as np

from ..engine.distributions import Pareto
from ..engine.simulate import SequentialModel
from ..engine.validation import fail

__all__ = [
    "TABLE_1",
    "PAPER_FRAGMENTATION_SHARE",
    "DRAW_READINGS",
    "WAGE_READINGS",
    "wages",
    "table1_model",
]

#: Tyazhelnikov (004) Table 1, both periods (σ and ζ are common; N = 10 stages).
TABLE_1 = {
    2000: dict(sigma=4.0, zeta=0.5, shape=0.42, scale=0.13, tau=0.49, wage=1.18),
    2007: dict(sigma=4.0, zeta=0.5, shape=0.43, scale=0.18, tau=0.45, wage=1.16),
}
#: The fragmentation share of the gains from trade that §5.3 reports (24.6%).
PAPER_FRAGMENTATION_SHARE = 0.246
DRAW_READINGS = ("cost", "productivity")
WAGE_READINGS = ("china", "china-inverse", "none")


def check_reading(draws_are: str, wage_reading: str) -> None:
    """Raise a clear error unless ``(draws_are, wage_reading)`` is a documented reading."""
    if draws_are not in DRAW_READINGS:
        fail("draws_are", draws_are, f"one of {DRAW_READINGS}")
    if wage_reading not in WAGE_READINGS:
        fail("wage_reading", wage_reading, f"one of {WAGE_READINGS}")


def wages(wage, wage_reading: str = "china"):
    """The wages ``(w_0, w_1)`` of the rest of the world and China under ``wage_reading``.

    Works on floats and on traced arrays (calibration differentiates through it)."""
    if wage_reading not in WAGE_READINGS:
        fail("wage_reading", wage_reading, f"one of {WAGE_READINGS}")
    if wage_reading == "china":
        return (1.0, wage)
    if wage_reading == "china-inverse":
        return (1.0, 1.0 / wage)
    return (1.0, 1.0)


def table1_model(*, shape, scale, tau, wage, stages: int = 10, draws_are: str = "cost", wage_reading: str = "china",
                 trade_costs=None, value_dependent: bool = False, distribution=None, tree=None) -> SequentialModel:
    """The two-country :class:`jaxtrade.SequentialModel` of 004 §5.3 under a reading of Table 1.

    ``distribution`` replaces the Pareto law of the draws (any scale family of
    :mod:`jaxtrade.distributions`); ``shape`` and ``scale`` are then ignored. ``tree`` (a
    :class:`jaxtrade.Tree` with ``stages`` nodes) replaces the chain; ``value_dependent`` makes the
    unbundling costs ad valorem (eq. 7-9)."""
    check_reading(draws_are, wage_reading)
    dist = Pareto(float(shape), float(scale)) if distribution is None else distribution
    T = 1.0 - np.eye(2) if trade_costs is None else np.asarray(trade_costs, dtype=np.float64)
    return SequentialModel(int(stages), T, float(tau), dist, draws_are=draws_are,
                           wages=np.asarray(wages(float(wage), wage_reading)), value_dependent=value_dependent, tree=tree)
