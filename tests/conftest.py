"""Test configuration: precision and shape discipline are set here, never on library import."""

import jax

jax.config.update("jax_enable_x64", True)  # float64 for derivative and reference checks
jax.config.update("jax_numpy_rank_promotion", "raise")  # catch broadcasting bugs in batched code

from hypothesis import settings  # noqa: E402

# The default suite is reproducible: the same examples on every run (a red CI is a real regression, not
# a new random draw). Exploration with fresh random examples, many more of them:
#     pytest --hypothesis-profile=explore
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=400, deadline=None)
settings.load_profile("ci")
