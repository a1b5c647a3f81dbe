"""``python -m diagnostics run DIR [options]``: run one trial, print its summary, optionally write
the ``--json`` document; exit 0 if it completed, 3 if it failed, was killed, timed out or was
cancelled (the run is stored either way).
"""

from __future__ import annotations

import argparse

from diagnostics.cli._common import (
    add_trial_options,
    allowed_roots,
    config_from_args,
    exit_for_status,
    open_store,
    write_json,
)
from diagnostics.cli._summary import print_run_summary
from diagnostics.errors import TrialCancelled

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run one trial")
    add_trial_options(parser)
    parser.add_argument("--json", metavar="OUT", help="write the result as JSON (- for stdout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.export import run_json
    from diagnostics.runner import run_trial

    config = config_from_args(args)
    store = open_store()
    try:
        run_id = run_trial(config, store, allowed_roots=allowed_roots())
    except TrialCancelled as exc:  # Ctrl-C or SIGTERM: the run is stored; say how it ended
        run_id = exc.run_id
        if run_id is None:
            raise
    print_run_summary(store, run_id)
    if args.json:
        write_json(args.json, run_json(store, run_id))
    return exit_for_status(store.get_run(run_id)["status"])
