"""``python -m diagnostics report RUN_ID... --html OUT``: write a self-contained HTML report of
stored runs (a missing run or an unwritable file exits 2 naming it).

Like every command it recovers the store first, so a run whose runner was killed reads
interrupted, not running. A store it cannot write (a read-only mount) is read without writing: the
report shows the same honest state (``recover.ended_runs``) and says it was not recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from diagnostics.cli._common import EXIT_OK, open_store
from diagnostics.errors import ConfigError, StoreBusy, StoreError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="write a self-contained HTML report")
    parser.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    parser.add_argument("--html", required=True, metavar="OUT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.report import render_html

    store = _open_for_reading()
    for run_id in args.run_ids:
        store.get_run(run_id)  # StoreError naming the missing run
    html = render_html(store, list(args.run_ids))
    try:
        Path(args.html).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--html: cannot write {args.html}: {exc.strerror}") from None
    store.close()
    print(f"report of run(s) {', '.join(map(str, args.run_ids))} written to {args.html}")
    return EXIT_OK


def _open_for_reading():
    """The store, recovered (``open_store``); read-only when it cannot be written."""
    from diagnostics.home import diag_home
    from diagnostics.store import Store

    try:
        return open_store()
    except StoreBusy:
        raise
    except StoreError:
        home = diag_home(None).resolve()
        if all(os.access(p, os.W_OK) for p in (home, home / "runs.sqlite") if p.exists()):
            raise  # writable, so something else is wrong: say that
    store = Store(read_only=True)
    print(
        f"note: store {store.path} is read-only: runs whose process died are reported as "
        "interrupted, without recording it",
        file=sys.stderr,
    )
    return store
