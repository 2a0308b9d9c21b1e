"""What every subcommand shares: the float64 scope, the one set of parsers, the error wrapper.

Every subcommand module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``args -> int``; :func:`jaxtrade.cli.main` dispatches to it through :func:`guarded`, so a
bad input anywhere in the library (a :class:`jaxtrade.JaxtradeInputError`) ends the command with its
message and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from ..engine import distributions
from ..engine.validation import JaxtradeInputError, fail

__all__ = [
    "float64_scope",
    "guarded",
    "count",
    "parse_floats",
    "parse_overrides",
    "parse_matrix",
    "parse_distribution",
    "parse_tree",
    "distribution_from_config",
    "save_figure",
]


def float64_scope(float64: bool):
    """Float64 for one command's computation (``jax.enable_x64`` as a context manager), restored
    afterwards: the library never flips ``jax_enable_x64`` globally, on import or otherwise."""
    import jax

    return jax.enable_x64(True) if float64 else contextlib.nullcontext()


def guarded(command: str, func, args) -> int:
    """Runs ``func(args)``; input errors and interrupts become a one-line message and an exit status."""
    try:
        return int(func(args) or 0)
    except JaxtradeInputError as err:
        print(f"jaxtrade {command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxtrade {command}: interrupted", file=sys.stderr)
        return 130


def count(text: str) -> int:
    """An integer count that may use underscores (``1_000_000``): argparse ``type=``."""
    return int(str(text).replace("_", ""))


def parse_overrides(items, example: str = "tau=1.5") -> dict[str, float]:
    """``--set KEY=NUMBER`` options (repeated) → ``{KEY: NUMBER}``; ``example`` goes into the error."""
    out = {}
    for item in items or []:
        k, eq, v = str(item).partition("=")
        try:
            if not eq:
                raise ValueError
            out[k.strip()] = float(v)
        except ValueError:
            fail("--set", item, f"KEY=NUMBER, e.g. {example}")
    return out


def parse_floats(text: str, what: str) -> list[float]:
    """``"1,1.18"`` → ``[1.0, 1.18]``; ``what`` names the option in the error."""
    try:
        out = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        fail(what, text, "a comma-separated list of numbers")
    if not out:
        fail(what, text, "at least one number")
    return out


def parse_matrix(text: str, what: str) -> np.ndarray:
    """``"4,4,4;10,2,5"`` → a 2-D float64 array (rows separated by ``;``)."""
    rows = [parse_floats(r, what) for r in str(text).split(";") if r.strip()]
    if not rows or len({len(r) for r in rows}) != 1:
        fail(what, text, "rows separated by ';' with the same number of comma-separated entries, e.g. '4,4,4;10,2,5'")
    return np.asarray(rows, dtype=np.float64)


def parse_tree(text: str, what: str = "--tree"):
    """``"3,3,4,4,-1"`` (each node's parent; -1 for the root) → :class:`jaxtrade.Tree`."""
    from ..engine.production import Tree

    try:
        parent = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        fail(what, text, "comma-separated parent indices, one per node, -1 for the root (e.g. 3,3,4,4,-1)")
    try:
        return Tree(parent)
    except JaxtradeInputError as err:
        fail(what, text, _condition(err))


def parse_distribution(spec: str, what: str = "--draws"):
    """``"pareto:shape=0.42,scale=0.13"`` → ``jaxtrade.distributions.Pareto(0.42, 0.13)``.

    The family names and parameter names are those of :data:`jaxtrade.distributions.FAMILIES`
    (the same spellings as in config files, :func:`distribution_from_config`)."""
    name, _, rest = str(spec).strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq:
            fail(what, spec, f"parameters as name=value, e.g. {name}:" + ",".join(f"{n}=<number>" for n in _names(name, what, spec)))
        try:
            params[k.strip()] = float(v)
        except ValueError:
            fail(what, spec, f"{k.strip()} must be a number")
    try:
        return distributions.by_name(name, **params)
    except JaxtradeInputError as err:
        fail(what, spec, _condition(err))


def _condition(err: JaxtradeInputError) -> str:
    return err.condition or str(err)


def _names(name, what, spec):
    try:
        return distributions.parameter_names(name)
    except JaxtradeInputError as err:
        fail(what, spec, _condition(err))


def distribution_from_config(cfg: dict, what: str = "distribution"):
    """A config table ``{family = "lognormal", mu = 0.0, sigma = 1.0}`` → the distribution."""
    if not isinstance(cfg, dict):
        fail(what, cfg, "a table with `family` and the family's parameters")
    params = {k: float(v) for k, v in cfg.items() if k != "family"}
    try:
        return distributions.by_name(cfg.get("family", "pareto"), **params)
    except JaxtradeInputError as err:
        fail(what, cfg, _condition(err))


def save_figure(fig, path, dpi: int = 120) -> None:
    """Writes a matplotlib figure to ``path`` atomically (a temporary file, then a rename: an
    interrupted run never leaves a half-written PNG) and closes it."""
    import matplotlib.pyplot as plt

    tmp = str(path) + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
