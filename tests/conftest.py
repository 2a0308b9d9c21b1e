"""Test configuration: precision and shape discipline are set here, never on library import."""

import jax

jax.config.update("jax_enable_x64", True)  # float64 for derivative and reference checks
jax.config.update("jax_numpy_rank_promotion", "raise")  # catch broadcasting bugs in batched code

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=40, deadline=None)
settings.load_profile("ci")
