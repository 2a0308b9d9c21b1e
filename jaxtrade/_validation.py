"""Input validation: every public entry point checks its arguments and names the violated condition.

Checks on *values* run only on concrete inputs (NumPy arrays, Python numbers, committed JAX
arrays outside a trace). Under ``jit``/``vmap`` the values are tracers and only shapes are
checked, so validation never adds a pass over the data to a compiled hot path.
"""

from __future__ import annotations

import jax
import numpy as np


class JaxtradeInputError(ValueError):
    """A user-supplied argument violates a documented condition."""


def is_concrete(x) -> bool:
    """True when ``x`` holds values we can inspect now (not a tracer)."""
    return not isinstance(x, jax.core.Tracer)


def _describe(x) -> str:
    a = np.asarray(x)
    if a.size <= 6:
        return np.array2string(a, precision=6, separator=", ")
    return f"array of shape {a.shape}"


def fail(name: str, value, condition: str) -> None:
    """Raises ``JaxtradeInputError`` naming the argument, its value and the violated condition."""
    raise JaxtradeInputError(f"argument `{name}` = {_describe(value)} violates: {condition}")


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
