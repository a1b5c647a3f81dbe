"""``python -m diagnostics loaders``: each loader with its description and the options it takes
(a loader whose library is missing is listed as not available, with the reason).
"""

from __future__ import annotations

import argparse

from diagnostics.cli._common import EXIT_OK
from diagnostics.config import cli_name
from diagnostics.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("loaders", help="list the loaders and their options")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.loaders import LOADER_NAMES, get_loader

    for name in LOADER_NAMES:
        try:
            loader = get_loader(name)
        except (ImportError, ConfigError) as exc:
            print(f"{name:<22} (not available: {exc})")
            continue
        options = ", ".join(cli_name(o) for o in sorted(loader.options)) or "common options only"
        print(f"{name:<22} {loader.description}")
        print(f"{'':<22} options: {options}")
    return EXIT_OK
