"""Cost and productivity distributions.

Every distribution is an ``eqx.Module`` (a pytree: its parameters are traced arrays, so
``jax.grad`` flows through them) implementing :class:`AbstractDistribution`:

- ``cdf(x)``, ``log_pdf(x)``, ``icdf(u)`` — ``icdf`` is differentiable in the parameters, so
  draws ``x = icdf(u; θ)`` from fixed uniforms ``u`` are *reparameterised* (Tyazhelnikov 004
  §4.2 and §5: calibration differentiates the simulated distribution in θ);
- ``sample(key, shape, dtype)`` — ``icdf`` of uniforms;
- ``support`` — ``(lower, upper)``; ``mean()`` and ``variance()`` where they exist (``inf``
  otherwise).

Parameterisations are documented per class.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_positive_scalar

__all__ = ["AbstractDistribution", "Pareto"]


class AbstractDistribution(eqx.Module):
    """Interface of a univariate continuous distribution on (a subset of) the positive reals."""

    @abc.abstractmethod
    def cdf(self, x):
        """Cumulative distribution function G(x)."""

    @abc.abstractmethod
    def log_pdf(self, x):
        """Log density log g(x) (``-inf`` outside the support)."""

    @abc.abstractmethod
    def icdf(self, u):
        """Quantile function G^{-1}(u), u in (0, 1); differentiable in the parameters."""

    @property
    @abc.abstractmethod
    def support(self) -> tuple:
        """``(lower, upper)`` bounds of the support (``upper`` may be ``inf``)."""

    @abc.abstractmethod
    def mean(self):
        """E[X] (``inf`` where it does not exist)."""

    @abc.abstractmethod
    def variance(self):
        """Var[X] (``inf`` where it does not exist)."""

    def pdf(self, x):
        return jnp.exp(self.log_pdf(x))

    def sample(self, key, shape=(), dtype=jnp.float32):
        """Draws ``icdf(u)`` with ``u ~ U(0, 1)`` of the given shape and dtype."""
        tiny = jnp.finfo(dtype).tiny
        u = jax.random.uniform(key, shape, dtype=dtype, minval=tiny, maxval=1.0)
        return self.icdf(u).astype(dtype)


class Pareto(AbstractDistribution):
    """Pareto distribution: ``G(x) = 1 − (scale/x)^shape`` for ``x ≥ scale``.

    ``shape`` (k > 0) is the tail index, ``scale`` (x_m > 0) the lower bound.
    Mean ``k x_m/(k−1)`` for k > 1, variance ``k x_m²/((k−1)²(k−2))`` for k > 2.
    """

    shape: jax.Array
    scale: jax.Array

    def __init__(self, shape, scale):
        check_positive_scalar("shape", shape)
        check_positive_scalar("scale", scale)
        self.shape = jnp.asarray(shape)
        self.scale = jnp.asarray(scale)

    def cdf(self, x):
        x = jnp.asarray(x)
        return jnp.where(x >= self.scale, 1.0 - (self.scale / jnp.maximum(x, self.scale)) ** self.shape, 0.0)

    def log_pdf(self, x):
        x = jnp.asarray(x)
        xs = jnp.maximum(x, self.scale)
        lp = jnp.log(self.shape) + self.shape * jnp.log(self.scale) - (self.shape + 1.0) * jnp.log(xs)
        return jnp.where(x >= self.scale, lp, -jnp.inf)

    def icdf(self, u):
        return self.scale * (1.0 - jnp.asarray(u)) ** (-1.0 / self.shape)

    @property
    def support(self):
        return (self.scale, jnp.inf)

    def mean(self):
        k = self.shape
        return jnp.where(k > 1, k * self.scale / jnp.where(k > 1, k - 1.0, 1.0), jnp.inf)

    def variance(self):
        k = self.shape
        safe = jnp.where(k > 2, k, 3.0)
        return jnp.where(k > 2, safe * self.scale**2 / ((safe - 1.0) ** 2 * (safe - 2.0)), jnp.inf)
