"""The ``jaxtrade`` command line: the parser and the dispatch.

Subcommands: ``run`` (the main job), ``solve`` (one firm's problem), and one per model or face
(``simulate``, ``decompose``, ``calibrate``, ``melitz``, ...). Each lives in its own module of this
package, with ``register(subparsers)`` adding its parser and setting ``func``; what they share
(precision scope, parsers, error wrapper) is :mod:`jaxtrade.cli.common`. Subcommand modules import
the library and ``common``, never this module, so there is no import cycle.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .common import float64_scope as float64_scope
from .common import guarded

__all__ = ["main", "build_parser", "float64_scope"]

# Subcommand modules that add their parser with `register(subparsers)`, in the order of `--help`.
_FACES = (
    "run",
    "solve",
    "simulate",
    "decompose",
    "calibrate",
    "melitz",
    "offshoring",
    "melitz_ottaviano",
    "innovation",
    "multiproduct",
    "wage_inequality",
    "factor_abundance",
    "baldwin_okubo",
    "market_penetration",
    # a new model's subcommand module: one line here
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxtrade", description="Heterogeneous-firm models of trade and offshoring in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _FACES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    """``jaxtrade ...``: parses ``argv`` (default ``sys.argv[1:]``) and runs the subcommand."""
    args = build_parser().parse_args(argv)
    return guarded(args.command, args.func, args)


if __name__ == "__main__":
    sys.exit(main())
