"""User-defined distributions shared by the tests: families a user might write, with only the generic
methods of ``AbstractDistribution`` (no exact tail overrides), so the tests exercise the generic paths."""

import jax
import jax.numpy as jnp

from jaxtrade import distributions as D


class LogLogistic(D.AbstractDistribution):
    """A user distribution with only the generic tail methods: survival 1/(1 + (x/a)^b), tail index b."""

    a: jax.Array
    b: jax.Array

    def cdf(self, x):
        x = jnp.asarray(x)
        xs = jnp.where(x > 0, x, 1.0)
        return jnp.where(x > 0, 1.0 / (1.0 + (xs / self.a) ** (-self.b)), 0.0)

    def log_pdf(self, x):
        x = jnp.asarray(x)
        z = jnp.log(jnp.where(x > 0, x, 1.0) / self.a)
        lp = jnp.log(self.b / self.a) + (self.b - 1.0) * z - 2.0 * jnp.logaddexp(0.0, self.b * z)
        return jnp.where(x > 0, lp, -jnp.inf)

    def icdf(self, u):
        u = jnp.asarray(u)
        return self.a * (u / (1.0 - u)) ** (1.0 / self.b)

    @property
    def support(self):
        return (0.0, jnp.inf)

    def mean(self):
        return jnp.inf

    def variance(self):
        return jnp.inf
