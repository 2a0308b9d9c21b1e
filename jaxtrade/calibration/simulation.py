"""The calibration's firms: the engine's counter-based draws, their marginal costs and sales (004 §5.3, eq. S1).

Firm ``j`` of seed ``s`` draws the uniforms :func:`jaxtrade.firm_uniforms` gives it (Philox, the firms
:func:`jaxtrade.simulate` sees at the same seed, bit for bit), ``a = icdf(u; θ)`` (cost draws) or
``a = 1/icdf(u; θ)`` (productivity draws), and solves the chain problem (eq. 1-2,
:func:`jaxtrade.solve_chain`, whose gradient follows the envelope theorem). With the uniforms held fixed
(common random numbers) every sales statistic is a differentiable function of ``φ``.

Sales. With CES demand and mark-up pricing (eq. 11-12, §4.4) and free entry ``E[r]/σ = f_s``,

    r(MC) = σ f_s · (MC / M̃C)^{1-σ},   M̃C = (E[MC^{1-σ}])^{1/(1-σ)}            (S1)

so the cost scale cancels and only ``φ`` enters (:mod:`jaxtrade.calibration.parameters`).

Offshoring status (issue 16 item 3, docs/calibration.md "Identification from offshoring status"). Firm
``j`` offshores when its optimal chain (eq. 1-2) places at least one stage outside the home country 0:
``o_j = 1{MC^A_j < MC^H_j}`` with ``MC^H_j = w_0 Σ_i a_{i0}`` the all-home path's cost and ``MC^A_j``
the cheapest path that uses another country at least once (``MC_j = min(MC^H_j, MC^A_j)``). Both come
from one children-first recursion over the nodes (a chain is the tree of :meth:`jaxtrade.Tree.chain`)
with, per node, the all-home value and the values "somewhere abroad in this subtree" per location
(:func:`_home_and_abroad_costs`; any number of countries, chains and trees, issue 16 item 6). The calibration uses the smooth status
``õ_j = sigmoid((log MC^H_j − log MC^A_j)/κ)`` (:func:`_log_sales_and_offshoring`): the signed log
margin ``Δ_j`` crosses 0 exactly where the hard status switches, so the share ``E[õ]`` differs from
``P(o = 1)`` by ``O(κ²)`` (symmetric kernel) and its derivative comes from the firms within a few ``κ``
of switching.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..engine.distributions import gammaincinv
from ..engine.production import Tree, solve_chain, solve_tree
from ..engine.rng import firm_uniforms
from ..engine.validation import fail
from .parameters import CalibrationModel, Parameters, to_unconstrained

__all__ = ["common_uniforms", "standard_log_draws", "simulate_marginal_costs", "simulate_sales", "simulate_offshores", "OFFSHORE_TEMPERATURE",
           "offshore_temperature"]

#: ``κ`` of the smooth offshoring status up to 6,000 simulated firms (in log cost: a 1% cost margin).
OFFSHORE_TEMPERATURE = 0.01


def offshore_temperature(n_sim: int) -> float:
    """The default ``κ`` for ``n_sim`` simulated firms: ``min(0.01, 0.01 · (6000 / n_sim)^{1/5})``.

    The smooth status biases the offshoring share by ``O(κ²)`` and its derivative rests on the ``O(κ · n_sim)``
    firms within a few ``κ`` of switching, the bias-variance trade-off of a kernel estimate of the margin's
    density at 0, whose rate is ``n^{-1/5}``. Anchored where it was measured (docs/calibration.md): 0.01 recovers
    the small test's 6,000 firms (0.003 is too rough there) and gives 0.0036 at 1M firms, where κ = 0.01 left ρ
    +6.6% off and κ = 0.003 recovered every parameter within 2.3%."""
    if not (isinstance(n_sim, (int, np.integer)) and n_sim >= 1):
        fail("n_sim", n_sim, "n_sim must be a positive integer")
    return min(OFFSHORE_TEMPERATURE, OFFSHORE_TEMPERATURE * (6000.0 / float(n_sim)) ** 0.2)


def common_uniforms(seed: int, n_firms: int, n_stages: int, n_countries: int = 2, dtype=jnp.float32, uniform_bits: int = 16):
    """The fixed uniforms ``(n_firms, n_stages, n_countries)`` of firms ``0 … n_firms − 1`` at ``seed``.

    They are :func:`jaxtrade.firm_uniforms` (the firms :func:`jaxtrade.simulate` draws at this seed,
    ``dtype`` and ``uniform_bits``): in ``(0, 1)``, never 0 or 1."""
    if not (isinstance(n_firms, int) and n_firms >= 2):
        fail("n_firms", n_firms, "n_firms must be an integer >= 2")
    return firm_uniforms(n_firms, n_stages, n_countries, seed=seed, dtype=dtype, uniform_bits=uniform_bits)


#: Bound on |log| of a unit-scale draw and of ``ρ`` and ``w`` (``e^40 ≈ 2.4e17``): a stage cost ``w·a`` and
#: a link cost ``ρ T`` then lie in ``[e^-80, e^80]`` and a chain of ``N`` of them below ``N · e^80``, inside
#: float32's normal range ``[e^-87.3, e^88.7]``, so ``MC`` is never 0 or ∞ and its logarithm is finite.
LOG_BOUND = 40.0


#: Families whose log unit draw is a fixed function of ``u`` divided (or, ``"lognormal"``, multiplied) by the shape.
_SHAPE_SEPARABLE = ("pareto", "frechet", "lognormal", "generalized_gamma")


def standard_log_draws(uniforms, model: CalibrationModel):
    """``ζ(u)`` with ``log icdf(u; shape, 1) = ζ / shape`` (Pareto ``−log1p(−u)``, Fréchet ``−log(−log u)``,
    generalised gamma ``log P^{-1}(α, u)``) or ``ζ · shape`` (log-normal ``Φ^{-1}(u)``): the part of each draw that
    does not depend on the parameters, computed once per problem instead of at every evaluation (it was 60% of
    an objective at 1M firms). ``None`` for the truncated Pareto, whose draw is not separable in the shape."""
    if model.draws not in _SHAPE_SEPARABLE:
        return None
    u = jax.lax.stop_gradient(uniforms)
    one = jnp.zeros((), u.dtype)  # log shape 0: shape 1, so the log draw is ζ itself
    return jax.lax.stop_gradient(_log_unit_draw(model, one, u))


def _log_unit_draw(model: CalibrationModel, log_shape, u, standard=None):
    """``log icdf(u; shape, 1)`` of ``model.draws`` in closed form, finite for every ``u`` in (0, 1) and every shape.

    Pareto ``−log1p(−u)/k``; truncated Pareto ``−log1p(−u c)/k``, ``c = 1 − R^{−k}`` (``R`` the
    truncation ratio); Fréchet ``−log(−log u)/k``; log-normal (σ = shape) ``σ Φ^{-1}(u)``; generalised gamma
    ``log P^{-1}(α, u)/p`` (α = ``gamma_index`` fixed, so the gamma quantile does not depend on the
    parameters). Computing the draw in logs keeps its derivative finite where the draw itself under- or
    overflows (with ``shape = 0.05`` the Pareto productivity of ``u = 1 − 2^-17`` is ``2^340``: its
    reciprocal was 0 and the derivative ``0 · ∞``, the NaN gradient of issue 16). ``standard``: the
    precomputed ``ζ(u)`` of :func:`standard_log_draws` (then ``u`` is not read)."""
    name = model.draws
    shape = jnp.exp(log_shape)
    if standard is not None:  # ζ(u) of standard_log_draws
        return standard * shape if name == "lognormal" else standard / shape
    if name == "pareto":
        return -jnp.log1p(-u) / shape
    if name == "truncated_pareto":
        mass = -jnp.expm1(-shape * np.log(model.truncation_ratio))
        return -jnp.log1p(-u * mass) / shape
    if name == "frechet":
        return -jnp.log(-jnp.log(u)) / shape
    if name == "lognormal":
        return shape * jax.scipy.special.ndtri(u)
    if name == "generalized_gamma":
        g = jax.lax.stop_gradient(gammaincinv(jnp.asarray(model.gamma_index, u.dtype), u))
        return jnp.log(jnp.maximum(g, jnp.finfo(u.dtype).tiny)) / shape
    return jnp.log(model.distribution(shape, jnp.ones((), u.dtype)).icdf(u))


def _unit_costs(log_shape, uniforms, model: CalibrationModel, standard=None):
    """Draws at unit cost scale: ``icdf(u; shape, 1)`` (costs) or its reciprocal (productivities), from
    their logs (:func:`_log_unit_draw`), bounded to ``[e^-40, e^40]`` (:data:`LOG_BOUND`)."""
    dtype = uniforms.dtype
    log_z = _log_unit_draw(model, jnp.clip(log_shape, -LOG_BOUND, LOG_BOUND).astype(dtype), uniforms, standard).astype(dtype)
    log_a = log_z if model.draws_are == "cost" else -log_z
    return jnp.exp(jnp.clip(log_a, -LOG_BOUND, LOG_BOUND))


def _exp_bounded(x, dtype):
    return jnp.exp(jnp.clip(x, -LOG_BOUND, LOG_BOUND)).astype(dtype)


def _wages(phi, model: CalibrationModel, dtype):
    """Wages ``(1, w_1, …, w_{M−1})`` on the countries' production costs at ``φ`` (each under the wage reading;
    ``w_1`` is ``φ[2]``, ``w_k`` for ``k ≥ 2`` is ``φ[k + 2]``)."""
    index = [2] + [k + 2 for k in range(2, model.n_countries)]
    foreign = [model.wage_multiplier(_exp_bounded(phi[i], dtype)) for i in index]
    return jnp.stack([jnp.ones((), dtype), *[jnp.asarray(w, dtype) for w in foreign]])


def _check_uniforms(uniforms, model: CalibrationModel):
    want = (model.n_stages, model.n_countries)
    if uniforms.ndim != 3 or tuple(uniforms.shape[1:]) != want:
        fail("uniforms", uniforms.shape, f"the calibration model needs uniforms of shape (firms, n_stages, n_countries) = (firms, {want[0]}, {want[1]})")


def _stage_costs_and_links(phi, uniforms, model: CalibrationModel, standard=None):
    """Unit-scale draws ``a`` (F, N, M), the wages ``(1, w_1, …)`` and the link price ``ρ`` (``standard``: the
    uniforms' :func:`standard_log_draws`, or ``None`` to compute the draws from the uniforms)."""
    _check_uniforms(uniforms, model)
    dtype = uniforms.dtype
    a = _unit_costs(phi[0], uniforms, model, standard)
    return a, _wages(phi, model, dtype), _exp_bounded(phi[1], dtype)


def _home_and_abroad_costs(phi, uniforms, model: CalibrationModel, standard=None):
    """``(MC^H, MC^A)``: the all-home cost and the cheapest cost of a chain or tree using another country at least once.

    Children-first over the nodes of the model's tree (the chain: :meth:`jaxtrade.Tree.chain`), with
    ``c_{nk} = w_k a_{nk}``, link prices ``ℓ_{jk} = ρ T_{jk}`` and ``x ⊕ ℓ`` = ``x + ℓ`` (additive) or
    ``x (1 + ℓ)`` (ad valorem, eq. 7-8). Per node ``n``:

    - ``H_n = c_{n0} + Σ_c H_c ⊕ ℓ_{00}`` (the subtree all at home);
    - ``V_n(k) = c_{nk} + Σ_c min_j V_c(j) ⊕ ℓ_{jk}`` for ``k ≠ 0`` (node abroad: every assignment below counts);
    - ``A_n(0) = c_{n0} + min_{c*} [B_{c*} + Σ_{c ≠ c*} min(H_c ⊕ ℓ_{00}, B_c)]`` with
      ``B_c = min(A_c(0) ⊕ ℓ_{00}, min_{j≠0} V_c(j) ⊕ ℓ_{j0})`` (node at home, some part abroad; a leaf
      has no ``A``), and ``V_n(0) = min(H_n, A_n(0))``.

    ``MC^H = H_root``, ``MC^A = min(A_root(0), min_{k≠0} V_root(k))``; ``min(MC^H, MC^A)`` is
    :func:`jaxtrade.solve_chain` / :func:`jaxtrade.solve_tree`'s ``MC`` (tests check both against
    enumeration). For two countries and a chain these are the three states "home so far", "home after a
    stage abroad" (``A(0)``) and "abroad" (``V(1)``). Differentiable (envelope: ``jnp.minimum`` passes the
    derivative of the cheaper branch)."""
    a, wages, rho = _stage_costs_and_links(phi, uniforms, model, standard)
    m = model.n_countries
    c = a * wages[None, None, :]
    T = np.asarray(model.T, dtype=np.float64)
    tree = model.tree if model.tree is not None else Tree.chain(model.n_stages)

    def link(x, j, k):
        if T[j, k] == 0:
            return x  # no link cost (the diagonal): no operation, so the chain's gradient is the one of the 3-state recursion
        ell = rho * float(T[j, k])
        return x * (1 + ell) if model.value_dependent else x + ell

    def minimum(xs):
        out = xs[0]
        for x in xs[1:]:
            out = jnp.minimum(out, x)
        return out

    home, at_home_some_abroad, value = {}, {}, {}
    for n in tree.order:
        kids = tree.children[n]
        own = [c[:, n, k] for k in range(m)]
        h = own[0]
        for ch in kids:
            h = h + link(home[ch], 0, 0)
        v = {k: own[k] for k in range(1, m)}
        for ch in kids:
            for k in range(1, m):
                v[k] = v[k] + minimum([link(value[ch][j], j, k) for j in range(m)])
        a0 = None
        if kids:
            b = {}
            for ch in kids:
                opts = [link(value[ch][j], j, 0) for j in range(1, m)]
                if at_home_some_abroad[ch] is not None:
                    opts.append(link(at_home_some_abroad[ch], 0, 0))
                b[ch] = minimum(opts)
            best = {ch: jnp.minimum(link(home[ch], 0, 0), b[ch]) for ch in kids}
            cands = []
            for star in kids:
                tot = b[star]
                for ch in kids:
                    if ch != star:
                        tot = tot + best[ch]
                cands.append(tot)
            a0 = own[0] + minimum(cands)
        v[0] = h if a0 is None else jnp.minimum(h, a0)
        home[n], at_home_some_abroad[n], value[n] = h, a0, v
        for ch in kids:
            del home[ch], at_home_some_abroad[ch], value[ch]
    r = tree.root
    abroad = minimum([value[r][k] for k in range(1, m)] + ([at_home_some_abroad[r]] if at_home_some_abroad[r] is not None else []))
    return home[r], abroad


def _log_sales_and_offshoring(phi, uniforms, model: CalibrationModel, kappa, standard=None):
    """Log sales (S1) and the smooth offshoring status ``sigmoid((log MC^H − log MC^A)/κ)`` of each firm."""
    home, abroad = _home_and_abroad_costs(phi, uniforms, model, standard)
    log_h, log_a = jnp.log(home), jnp.log(abroad)
    return _log_sales_from_log_mc(phi, jnp.minimum(log_h, log_a), model), jax.nn.sigmoid((log_h - log_a) / kappa)


def _marginal_costs(phi, uniforms, model: CalibrationModel, standard=None):
    """``MC_j`` at unit cost scale for identified ``φ`` (eq. 1-2 via solve_chain, or eq. 5-9 via solve_tree);
    wages ``(1, w, w_2, …)``."""
    a, wages, rho = _stage_costs_and_links(phi, uniforms, model, standard)
    return _solve(a, wages, rho, model).cost


def _solve(a, wages, rho, model: CalibrationModel):
    """:func:`jaxtrade.solve_chain` (or :func:`jaxtrade.solve_tree` with the model's tree) at unit cost scale."""
    T = jnp.asarray(model.T, a.dtype)
    if model.tree is not None:
        return solve_tree(a, model.tree, T, rho, wages=wages, value_dependent=model.value_dependent)
    return solve_chain(a, T, rho, wages=wages, value_dependent=model.value_dependent)


_marginal_costs_jit = eqx.filter_jit(_marginal_costs)


def simulate_marginal_costs(params: Parameters, model: CalibrationModel, uniforms):
    """Firms' marginal costs ``MC(A, τ)`` at the natural parameters (with the cost scale)."""
    phi = to_unconstrained(params, model)
    scale = model.cost_scale(params.scale)
    return scale * _marginal_costs_jit(phi.astype(uniforms.dtype), uniforms, model)


def _log_sales(phi, uniforms, model: CalibrationModel, standard=None):
    """Log sales (S1) of the simulated firms; the cost scale cancels."""
    return _log_sales_from_log_mc(phi, jnp.log(_marginal_costs(phi, uniforms, model, standard)), model)


def _log_sales_from_log_mc(phi, log_mc, model: CalibrationModel):
    """Log sales (S1): ``log(σ f_s) + (1 − σ)(log MC − log M̃C)``, ``M̃C`` the power mean over these firms."""
    s1 = 1.0 - model.sigma
    z = s1 * log_mc
    log_power_mean = jax.scipy.special.logsumexp(z) - jnp.log(jnp.asarray(z.shape[0], z.dtype))
    return jnp.log(model.sigma) + phi[3] + z - log_power_mean


_log_sales_jit = eqx.filter_jit(_log_sales)


def simulate_sales(params: Parameters, model: CalibrationModel, n_firms: int, seed: int, *, power_mean_firms=None, power_mean_seed=None,
                   uniform_bits: int = 16):
    """Simulated domestic sales of ``n_firms`` firms (eq. S1), float64 NumPy.

    ``M̃C`` (the population power mean that free entry puts in the level of sales) is computed on
    a separate simulation of ``power_mean_firms`` firms (default: the same firms).
    """
    phi = to_unconstrained(params, model)
    u = common_uniforms(seed, n_firms, model.n_stages, model.n_countries, uniform_bits=uniform_bits)
    log_mc = np.log(np.asarray(_marginal_costs_jit(phi, u, model), dtype=np.float64))
    if power_mean_firms is None:
        pm_log_mc = log_mc
    else:
        pm_seed = seed + 1 if power_mean_seed is None else power_mean_seed
        u_pm = common_uniforms(pm_seed, power_mean_firms, model.n_stages, model.n_countries, uniform_bits=uniform_bits)
        pm_log_mc = np.log(np.asarray(_marginal_costs_jit(phi, u_pm, model), dtype=np.float64))
    s1 = 1.0 - model.sigma
    zp = s1 * pm_log_mc
    log_pm = np.logaddexp.reduce(zp) - np.log(zp.size)
    return np.exp(np.log(model.sigma * params.sunk_cost) + s1 * log_mc - log_pm)


def _offshores_hard(phi, uniforms, model: CalibrationModel):
    """``1{the optimal path of eq. 1-2 uses a country other than 0}`` from :func:`jaxtrade.solve_chain`'s path."""
    a, wages, rho = _stage_costs_and_links(phi, uniforms, model)
    sol = _solve(a, wages, rho, model)
    return jnp.any(sol.path.reshape(sol.path.shape[0], -1) != 0, axis=-1)


_offshores_hard_jit = eqx.filter_jit(_offshores_hard)


def simulate_offshores(params: Parameters, model: CalibrationModel, n_firms: int, seed: int, *, uniform_bits: int = 16) -> np.ndarray:
    """Offshoring status (0/1, int8) of the firms :func:`simulate_sales` draws at ``seed``: 1 when the firm's
    optimal chain (eq. 1-2, :func:`jaxtrade.solve_chain`'s path) makes at least one stage outside country 0."""
    phi = to_unconstrained(params, model)
    u = common_uniforms(seed, n_firms, model.n_stages, model.n_countries, uniform_bits=uniform_bits)
    return np.asarray(_offshores_hard_jit(phi, u, model)).astype(np.int8)
