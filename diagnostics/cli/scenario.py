"""``python -m diagnostics scenario [NAME DIR]``: list the classic questions, or answer one with its
measured before/after trials (each trial's summary, then the verdict); exit 3 if a trial did not
complete.
"""

from __future__ import annotations

import argparse

from diagnostics.cli._common import (
    EXIT_OK,
    EXIT_TRIAL_FAILED,
    add_executor_options,
    executor_from_args,
    open_store,
    write_json,
)
from diagnostics.cli._summary import print_run_summary
from diagnostics.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("scenario", help="answer a classic question with a measured before/after")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("name", nargs="?")
    parser.add_argument("dataset", nargs="?", metavar="DIR")
    parser.add_argument("--json", metavar="OUT")
    add_executor_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics import scenarios

    if args.list or not args.name:
        for item in scenarios.list_scenarios():
            if isinstance(item, str):
                print(item)
            else:
                get = item.get if isinstance(item, dict) else lambda k, d=None, i=item: getattr(i, k, d)
                print(f"{get('name'):<16} {get('title') or get('question') or get('description') or ''}")
        return EXIT_OK
    if not args.dataset:
        raise ConfigError(
            f"scenario {args.name}: give the dataset folder, e.g. `scenario {args.name} sample_data`"
        )
    store = open_store()
    executor = executor_from_args(args)
    result = scenarios.run_scenario(args.name, args.dataset, store, executor=executor)
    run_ids = list((result or {}).get("run_ids") or []) if isinstance(result, dict) else []
    for run_id in run_ids:
        print_run_summary(store, run_id)
    if isinstance(result, dict):
        for key in ("verdict", "answer", "conclusion"):
            if result.get(key):
                print(f"{key}: {result[key]}")
    if args.json:
        write_json(args.json, result)
    failed = [r for r in run_ids if store.get_run(r)["status"] != "completed"]
    return EXIT_TRIAL_FAILED if failed else EXIT_OK
