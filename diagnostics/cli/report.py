"""``python -m diagnostics report RUN_ID... --html OUT``: write a self-contained HTML report of
stored runs (a missing run or an unwritable file exits 2 naming it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diagnostics.cli._common import EXIT_OK
from diagnostics.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="write a self-contained HTML report")
    parser.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    parser.add_argument("--html", required=True, metavar="OUT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.report import render_html
    from diagnostics.store import Store

    store = Store()
    for run_id in args.run_ids:
        store.get_run(run_id)  # StoreError naming the missing run
    html = render_html(store, list(args.run_ids))
    try:
        Path(args.html).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--html: cannot write {args.html}: {exc.strerror}") from None
    print(f"report of run(s) {', '.join(map(str, args.run_ids))} written to {args.html}")
    return EXIT_OK
