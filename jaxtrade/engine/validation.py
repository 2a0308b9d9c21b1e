"""Input validation: every public entry point checks its arguments and names the violated condition.

Checks on *values* run only on concrete inputs (NumPy arrays, Python numbers, committed JAX
arrays outside a trace). Under ``jit``/``vmap`` the values are tracers and only shapes are
checked, so validation never adds a pass over the data to a compiled hot path.
"""

from __future__ import annotations

import jax
import numpy as np


class JaxtradeInputError(ValueError):
    """A user-supplied argument violates a documented condition.

    ``name``, ``value`` and ``condition`` are kept as attributes (``None`` when raised directly), so
    a caller that validates on behalf of another argument can restate the condition under its own
    name (the CLI does: ``--draws`` rather than the inner ``family``)."""

    def __init__(self, message: str, *, name: str | None = None, value=None, condition: str | None = None):
        super().__init__(message)
        self.name, self.value, self.condition = name, value, condition


def is_concrete(x) -> bool:
    """True when ``x`` holds values we can inspect now (not a tracer)."""
    return not isinstance(x, jax.core.Tracer)


def _describe(x) -> str:
    try:
        a = np.asarray(x)
    except (ValueError, TypeError):  # ragged or opaque values: their repr, shortened
        r = repr(x)
        return r if len(r) <= 120 else r[:117] + "..."
    if a.size <= 6:
        return np.array2string(a, precision=6, separator=", ")
    return f"array of shape {a.shape}"


def float_dtype(*xs):
    """The floating dtype the arguments promote to (float64 under ``jax_enable_x64``, else float32)."""
    import jax.numpy as jnp

    return jnp.result_type(*[jnp.asarray(x) for x in xs], float)


def fail(name: str, value, condition: str) -> None:
    """Raises ``JaxtradeInputError`` naming the argument, its value and the violated condition."""
    raise JaxtradeInputError(f"argument `{name}` = {_describe(value)} violates: {condition}", name=name, value=value, condition=condition)


def check_positive_scalar(name: str, value, *, strict: bool = True) -> None:
    if not is_concrete(value):
        return
    a = np.asarray(value)
    if not np.all(np.isfinite(a)):
        fail(name, value, "must be finite")
    if strict and not np.all(a > 0):
        fail(name, value, f"{name} > 0")
    if not strict and not np.all(a >= 0):
        fail(name, value, f"{name} >= 0")
