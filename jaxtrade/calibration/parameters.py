"""The calibration model of Tyazhelnikov (004) §5.3, its parameters and their reparameterisation.

Sales (eq. S1, :mod:`jaxtrade.calibration.objective`) are invariant to the common cost scale and, with
two countries, to the wage reflection, so the calibration estimates the *identified* vector

    φ = (log shape, log ρ, log w, log f_s),   ρ = τ / cost_scale   (additive; ρ = τ if value-dependent)

and holds ``scale`` at a stated normalisation (docs/calibration.md, "Identification"). With ``M > 2``
countries (issue 16 item 6) the wages of countries ``2 … M − 1`` follow, ``φ = (…, log f_s, log w_2, …,
log w_{M−1})``, so the first four coordinates mean the same for every ``M`` (:meth:`CalibrationModel.coordinates`).

The reading of Table 1 is spelled as in :mod:`jaxtrade.models.table1` (one vocabulary for calibrate,
decompose and the experiments): ``draws_are`` in :data:`~jaxtrade.models.table1.DRAW_READINGS` and
``wage_reading`` in :data:`~jaxtrade.models.table1.WAGE_READINGS`, the wage on China = country 1.
The spellings of earlier releases are accepted as aliases (:data:`DRAWS_AS_ALIASES`,
:data:`WAGE_READING_ALIASES`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..engine import distributions as _distributions
from ..engine.production import Tree
from ..engine.validation import fail
from ..models.table1 import DRAW_READINGS, WAGE_READINGS

__all__ = [
    "CalibrationModel",
    "Parameters",
    "IDENTIFIED",
    "FULL",
    "FAMILIES",
    "FAMILY_ALIASES",
    "canonical_family",
    "distribution",
    "DRAWS_AS_ALIASES",
    "WAGE_READING_ALIASES",
    "to_unconstrained",
    "from_unconstrained",
    "full_coordinates",
    "identified_from_full",
    "canonicalise",
    "coordinates",
]

IDENTIFIED = ("log_shape", "log_rho", "log_wage", "log_sunk_cost")
FULL = ("log_shape", "log_scale", "log_tau", "log_wage", "log_sunk_cost")


def coordinates(n_countries: int = 2, full: bool = False) -> tuple[str, ...]:
    """Names of ``φ``'s coordinates (:data:`IDENTIFIED`, or :data:`FULL` with ``full``) with ``n_countries``
    countries: the wages of countries ``2 … M − 1`` (``log_wage_2`` …) after the first four (five)."""
    return (FULL if full else IDENTIFIED) + tuple(f"log_wage_{k}" for k in range(2, int(n_countries)))

#: Families of per-stage draws the calibration accepts (the registry :data:`jaxtrade.distributions.FAMILIES`,
#: Tyazhelnikov 004 §5.4), each read as a *scale family* in ``(shape, scale)``, ``X(shape, s) = s · X(shape, 1)``:
#:
#: - ``"pareto"``, ``"frechet"``: the registry's ``(shape, scale)`` directly;
#: - ``"truncated_pareto"``: ``shape`` k, ``scale`` = the lower bound, ``upper = truncation_ratio · scale``
#:   (:attr:`CalibrationModel.truncation_ratio`, fixed, default 100): a fixed ratio keeps it a scale family;
#: - ``"lognormal"``: scipy's convention, ``shape`` = σ of ``log X``, ``scale`` = exp(μ);
#: - ``"generalized_gamma"`` (alias ``"gengamma"``): ``p = shape``, ``d = gamma_index · shape``,
#:   ``scale`` = a, i.e. ``X = a · Γ^{1/shape}`` with ``Γ ~ Gamma(gamma_index)``. The second shape
#:   ``d/p = gamma_index`` (:attr:`CalibrationModel.gamma_index`, default 2) is held fixed, not calibrated:
#:   one-period sales pin down one tail parameter (``shape``) and a fixed ``d/p`` keeps the draws
#:   ``exp(log Γ / shape)`` of fixed ``Γ`` quantiles, differentiable and cheap (docs/calibration.md).
FAMILIES = ("pareto", "truncated_pareto", "frechet", "lognormal", "generalized_gamma")
#: Aliases the registry accepts (``"gengamma"``), read as the family they name.
FAMILY_ALIASES = dict(_distributions.ALIASES)

#: ``draws_as`` of earlier releases -> ``draws_are`` (:data:`jaxtrade.models.table1.DRAW_READINGS`).
DRAWS_AS_ALIASES = {"costs": "cost", "productivities": "productivity"}
#: ``wage_reading`` of earlier releases -> :data:`jaxtrade.models.table1.WAGE_READINGS`. "multiplies" put
#: ``w`` on country 0's costs, wages ``(w, 1)``; that is the ``"china"`` reading ``(1, w)`` with the
#: countries relabelled (i.i.d. draws, symmetric ``T``: the same distribution of sales).
WAGE_READING_ALIASES = {"multiplies": "china", "divides": "china-inverse"}


def canonical_family(name) -> str:
    """The calibration's name of family ``name`` (registry aliases resolved, case and spaces ignored)."""
    key = str(name).strip().lower()
    return FAMILY_ALIASES.get(key, key)


def check_family(name) -> None:
    if canonical_family(name) not in FAMILIES:
        alias = ", ".join(f"{a} (= {c})" for a, c in FAMILY_ALIASES.items())
        fail("draws", name, f"draws must name a family of jaxtrade.distributions: one of {FAMILIES} (alias {alias})")


def distribution(name: str, shape, scale, *, truncation_ratio: float = 100.0, gamma_index: float = 2.0):
    """The law of the draws of family ``name`` at ``(shape, scale)``, from the registry
    :func:`jaxtrade.distributions.by_name` (:data:`FAMILIES` gives each family's reading).

    ``scale`` is a pure scale in every family (``X(shape, s) = s · X(shape, 1)``), which is what the
    identification argument (sales invariant to the cost scale) needs: the log-normal is
    ``by_name("lognormal", mu=log scale, sigma=shape)``, the truncated Pareto has
    ``upper = truncation_ratio · scale``, the generalised gamma ``p = shape``, ``d = gamma_index · shape``.
    Works on traced values."""
    check_family(name)
    name = canonical_family(name)
    if name == "lognormal":
        return _distributions.by_name("lognormal", mu=jnp.log(scale), sigma=shape)
    if name == "truncated_pareto":
        return _distributions.by_name("truncated_pareto", shape=shape, scale=scale, upper=truncation_ratio * scale)
    if name == "generalized_gamma":
        return _distributions.by_name("generalized_gamma", scale=scale, d=gamma_index * shape, p=shape)
    return _distributions.by_name(name, shape=shape, scale=scale)


class CalibrationModel(eqx.Module):
    """The simplified two-country model of Tyazhelnikov (004) §5.3 and its reading of Table 1.

    Attributes:
        n_stages: ``N``, stages in the chain (the paper: 10).
        sigma: ``σ`` elasticity of substitution (the paper: 4). ``ζ`` does not enter the sales
            distribution once free entry fixes the level (eq. S1); it enters only welfare.
        draws: family of the per-stage draws (:data:`FAMILIES`; the registry's aliases are accepted).
        draws_are: ``"productivity"`` (default: the cost is ``a = 1/z`` with ``z ~ F(shape, scale)``) or
            ``"cost"`` (``a ~ F(shape, scale)``). Table 1 does not say; the text's remark that a
            higher shape lowers and a higher scale raises expected productivity fits the
            productivity reading of a Pareto draw (docs/calibration.md).
        wage_reading: ``"china"`` (default: China's (country 1's) production costs are ``w a``, the
            literal ``F_C = w F_W`` of §5.3, wages ``(1, w)``) or ``"china-inverse"`` (wages
            ``(1, 1/w)``). ``"none"`` (wages ``(1, 1)``) leaves nothing to estimate in ``w``: use
            ``calibrate(..., fixed_wage=1.0)``.
        value_dependent: ad-valorem (iceberg) unbundling costs (eq. 7-9) instead of additive.
        trade_costs: ``T`` (M, M), zero diagonal (default: 1 off the diagonal).
        n_countries: ``M`` (default 2): country 0 (home, wage 1) and countries ``1 … M − 1``, each with its
            own wage (``w`` = :attr:`Parameters.wage` on country 1, :attr:`Parameters.extra_wages` on
            ``2 … M − 1``; the ``wage_reading`` applies to each).
        tree: a :class:`jaxtrade.Tree` technology (004 §2.2) with ``n_stages`` nodes instead of the chain
            (default ``None``: the chain of eq. 1-2).
        truncation_ratio: ``upper / scale`` of the truncated Pareto (> 1, default 100; fixed, so that
            ``scale`` stays a pure scale). Ignored by the other families.
        gamma_index: ``d / p`` of the generalised gamma (> 0, default 2; fixed; 1 is the Weibull).
            Ignored by the other families.

    The keyword ``draws_as`` (``"costs"``/``"productivities"``) and the wage readings
    ``"multiplies"``/``"divides"`` of earlier releases are accepted as aliases
    (:data:`DRAWS_AS_ALIASES`, :data:`WAGE_READING_ALIASES`).
    """

    n_stages: int = eqx.field(static=True)
    sigma: float = eqx.field(static=True)
    draws: str = eqx.field(static=True)
    draws_are: str = eqx.field(static=True)
    wage_reading: str = eqx.field(static=True)
    value_dependent: bool = eqx.field(static=True)
    trade_costs: tuple | None = eqx.field(static=True)
    truncation_ratio: float = eqx.field(static=True)
    gamma_index: float = eqx.field(static=True)
    n_countries: int = eqx.field(static=True)
    tree: Tree | None = eqx.field(static=True)

    def __init__(self, n_stages: int, sigma: float, draws: str = "pareto", draws_are: str | None = None, wage_reading: str = "china",
                 value_dependent: bool = False, trade_costs=None, *, draws_as: str | None = None, truncation_ratio: float = 100.0,
                 gamma_index: float = 2.0, n_countries: int = 2, tree=None):
        if draws_as is not None:
            if draws_are is not None:
                fail("draws_as", draws_as, "give draws_are or its alias draws_as, not both")
            if draws_as not in DRAWS_AS_ALIASES:
                fail("draws_as", draws_as, f"draws_as (alias of draws_are) must be one of {tuple(DRAWS_AS_ALIASES)}")
            draws_are = DRAWS_AS_ALIASES[draws_as]
        draws_are = "productivity" if draws_are is None else draws_are
        wage_reading = WAGE_READING_ALIASES.get(wage_reading, wage_reading)
        self.n_stages = n_stages
        self.sigma = sigma
        self.draws = canonical_family(draws) if isinstance(draws, str) else draws
        self.truncation_ratio = float(truncation_ratio)
        self.gamma_index = float(gamma_index)
        self.draws_are = draws_are
        self.wage_reading = wage_reading
        self.value_dependent = bool(value_dependent)
        self.trade_costs = None if trade_costs is None else tuple(tuple(float(v) for v in row) for row in np.atleast_2d(np.asarray(trade_costs, dtype=np.float64)))
        self.n_countries = n_countries
        self.tree = tree

    def __check_init__(self):
        if not (isinstance(self.n_stages, int) and self.n_stages >= 2):
            fail("n_stages", self.n_stages, "n_stages must be an integer >= 2")
        if not (np.isfinite(self.sigma) and self.sigma > 1):
            fail("sigma", self.sigma, "sigma > 1 (CES demand, eq. 11)")
        check_family(self.draws)
        if not (np.isfinite(self.truncation_ratio) and self.truncation_ratio > 1):
            fail("truncation_ratio", self.truncation_ratio, "truncation_ratio = upper/scale of the truncated Pareto must be finite and > 1")
        if not (np.isfinite(self.gamma_index) and self.gamma_index > 0):
            fail("gamma_index", self.gamma_index, "gamma_index = d/p of the generalised gamma must be finite and > 0")
        if self.draws_are not in DRAW_READINGS:
            fail("draws_are", self.draws_are, f"draws_are must be one of {DRAW_READINGS} (aliases: draws_as={tuple(DRAWS_AS_ALIASES)})")
        if self.wage_reading == "none":
            fail("wage_reading", self.wage_reading, "with wages (1, 1) there is no wage to estimate: use wage_reading='china' and fixed_wage=1.0")
        if self.wage_reading not in WAGE_READINGS:
            fail("wage_reading", self.wage_reading, f"wage_reading must be one of {WAGE_READINGS[:2]} (aliases: {tuple(WAGE_READING_ALIASES)})")
        if not (isinstance(self.n_countries, int) and self.n_countries >= 2):
            fail("n_countries", self.n_countries, "n_countries must be an integer >= 2 (home country 0 and at least one other)")
        m = self.n_countries
        if self.trade_costs is not None:
            t = np.asarray(self.trade_costs)
            if t.shape != (m, m) or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(np.diag(t) != 0):
                fail("trade_costs", self.trade_costs, f"T must be ({m}, {m}) (n_countries = {m}), finite, >= 0, with a zero diagonal")
        if self.tree is not None:
            if not isinstance(self.tree, Tree):
                fail("tree", self.tree, "tree must be a jaxtrade.Tree (or None for the chain)")
            if self.tree.n_nodes != self.n_stages:
                fail("tree", self.tree.parent, f"the tree has {self.tree.n_nodes} nodes but n_stages = {self.n_stages}: one node per stage")

    @property
    def draws_as(self) -> str:
        """The earlier spelling of :attr:`draws_are` (``"costs"``/``"productivities"``)."""
        return {v: k for k, v in DRAWS_AS_ALIASES.items()}[self.draws_are]

    @property
    def T(self):
        if self.trade_costs is None:
            return 1.0 - np.eye(self.n_countries)
        return np.asarray(self.trade_costs, dtype=np.float64)

    @property
    def coordinates(self) -> tuple[str, ...]:
        """Names of ``φ``'s coordinates (:func:`coordinates`): :data:`IDENTIFIED`, then ``log_wage_k`` for ``k ≥ 2``."""
        return coordinates(self.n_countries)

    @property
    def exchangeable(self) -> bool:
        """Whether relabelling countries leaves the sales distribution unchanged: i.i.d. draws and a ``T`` that is
        the same on every off-diagonal entry (the default), which is what :func:`canonicalise` needs."""
        t = self.T
        off = t[~np.eye(self.n_countries, dtype=bool)]
        return bool(np.all(off == off[0]))

    def distribution(self, shape, scale):
        """The law of the draws at ``(shape, scale)`` (:func:`distribution` with this model's options)."""
        return distribution(self.draws, shape, scale, truncation_ratio=self.truncation_ratio, gamma_index=self.gamma_index)

    def power_mean_tail_index(self, shape) -> float:
        """Tail index of ``MC^{1−σ}`` across firms: ``n_stages · shape / (σ − 1)`` for Pareto and Fréchet
        productivity draws, ``inf`` for every other case (bounded or light-tailed costs).

        With productivities of tail index ``k`` the unit cost ``a = 1/z`` has ``P(a < x) ~ x^k`` near 0, and a
        firm's ``MC`` is small only when every node's cheapest cost is (``MC`` sums one cost per node), so
        ``P(MC < x) ~ x^{N k}`` and ``P(MC^{1−σ} > y) ~ y^{−N k/(σ−1)}``. Below 1 the power mean ``M̃C`` of
        free entry (eq. S1) is infinite and the level of sales, hence ``f_s``, is not estimable; below 2 it
        has infinite variance and ``f_s`` carries the noise of the most productive simulated firms."""
        if self.draws_are == "productivity" and self.draws in ("pareto", "frechet"):
            return float(self.n_stages) * float(shape) / (self.sigma - 1.0)
        return math.inf

    def cost_scale(self, scale):
        """The factor that multiplies all costs: ``scale`` (cost draws) or ``1/scale`` (productivity draws)."""
        return scale if self.draws_are == "cost" else 1.0 / scale

    def wage_multiplier(self, wage):
        """The factor on China's (country 1's) production costs: ``w`` or ``1/w``."""
        return wage if self.wage_reading == "china" else 1.0 / wage


class Parameters(eqx.Module):
    """Natural parameters: Table 1's ``shape``, ``scale``, ``tau``, ``wage`` and the sunk cost ``f_s``;
    ``extra_wages`` the wages of countries ``2 … M − 1`` when the model has ``M > 2`` countries."""

    shape: float
    scale: float
    tau: float
    wage: float
    sunk_cost: float = 1.0
    extra_wages: tuple = ()

    def __check_init__(self):
        if not isinstance(self.extra_wages, tuple):
            fail("extra_wages", self.extra_wages, "extra_wages must be a tuple of the wages of countries 2 ... M - 1")

    @property
    def wages(self) -> tuple:
        """The wages of countries ``1 … M − 1``: ``(wage, *extra_wages)``."""
        return (self.wage, *self.extra_wages)

    def as_dict(self):
        out = {k: float(getattr(self, k)) for k in ("shape", "scale", "tau", "wage", "sunk_cost")}
        out.update({f"wage_{k}": float(w) for k, w in enumerate(self.extra_wages, start=2)})
        return out


def _check_countries(params: Parameters, model: CalibrationModel):
    if len(params.extra_wages) != model.n_countries - 2:
        fail("extra_wages", params.extra_wages, f"the model has n_countries = {model.n_countries}: give the wages of countries 2 ... "
             f"{model.n_countries - 1} ({model.n_countries - 2} values)")


def to_unconstrained(params: Parameters, model: CalibrationModel):
    """Natural parameters -> identified unconstrained ``φ = (log shape, log ρ, log w, log f_s[, log w_2, …])``."""
    _check_countries(params, model)
    rho = params.tau if model.value_dependent else params.tau / model.cost_scale(params.scale)
    return jnp.log(jnp.asarray([params.shape, rho, params.wage, params.sunk_cost, *params.extra_wages], dtype=jnp.float32))


def from_unconstrained(phi, model: CalibrationModel, scale) -> Parameters:
    """``φ`` and the scale normalisation -> natural parameters (``τ = ρ · cost_scale``)."""
    p = np.exp(np.asarray(phi, dtype=np.float64))
    tau = p[1] if model.value_dependent else p[1] * model.cost_scale(scale)
    return Parameters(shape=float(p[0]), scale=float(scale), tau=float(tau), wage=float(p[2]), sunk_cost=float(p[3]),
                      extra_wages=tuple(float(x) for x in p[4:]))


def full_coordinates(params: Parameters):
    """``(log shape, log scale, log τ, log w, log f_s[, log w_2, …])`` (unidentified coordinates, for the rank check)."""
    return jnp.log(jnp.asarray([params.shape, params.scale, params.tau, params.wage, params.sunk_cost, *params.extra_wages], jnp.float32))


def identified_from_full(psi, model: CalibrationModel):
    """Maps full log coordinates to the identified ``φ`` (differentiable)."""
    log_cost_scale = psi[1] if model.draws_are == "cost" else -psi[1]
    log_rho = psi[2] if model.value_dependent else psi[2] - log_cost_scale
    return jnp.concatenate([jnp.stack([psi[0], log_rho, psi[3], psi[4]]), psi[5:]])


def canonicalise(phi, model: CalibrationModel, *, home_fixed: bool = False):
    """Maps ``φ`` to the observationally equivalent point with ``w ≥ 1``.

    With two countries and i.i.d. draws, an effective wage multiplier ``m`` on one country and
    ``ρ`` give the same sales distribution as ``(1/m, ρ/m)`` (``ρ`` unchanged when trade costs
    are value-dependent): relabel the countries and factor ``m`` out of all costs.

    With ``M > 2`` countries and exchangeable countries (:attr:`CalibrationModel.exchangeable`), every
    relabelling gives the same sales: the canonical point puts the cheapest country at 0 (multipliers
    ``m_k / min m ≥ 1``, ``ρ / min m``) and orders countries ``1 … M − 1`` by their multipliers. Without
    exchangeability ``φ`` is returned as it is.

    ``home_fixed`` (the data carry the offshoring status, which names country 0): country 0 keeps its label
    (no reflection) and only countries ``1 … M − 1``, still exchangeable, are ordered by their multipliers.
    """
    phi = np.asarray(phi, dtype=np.float64).copy()
    if home_fixed and model.n_countries == 2:
        return phi
    if model.n_countries > 2:
        if not model.exchangeable:
            return phi
        sign = 1.0 if model.wage_reading == "china" else -1.0
        log_m = np.concatenate([[0.0], sign * phi[2:3], sign * phi[4:]])  # log multipliers of countries 0 ... M - 1
        home = 0 if home_fixed else int(np.argmin(log_m))  # the country labelled 0 in the canonical point
        low = log_m[home]
        rest = np.sort(np.delete(log_m, home) - low)
        if not model.value_dependent:
            phi[1] = phi[1] - low
        phi[2], phi[4:] = sign * rest[0], sign * rest[1:]
        return phi
    if phi[2] >= 0:
        return phi
    log_m = phi[2] if model.wage_reading == "china" else -phi[2]
    if not model.value_dependent:
        phi[1] = phi[1] - log_m
    phi[2] = -phi[2]
    return phi
