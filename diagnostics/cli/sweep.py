"""``python -m diagnostics sweep DIR --grid KEY=V1,V2 ...``: run a grid of trials (here or on a Ray
cluster), print each trial's summary and the recommended run; exit 0 only if every trial completed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from diagnostics.cli._common import (
    EXIT_OK,
    EXIT_TRIAL_FAILED,
    OPTIONS,
    add_executor_options,
    add_trial_options,
    allowed_roots,
    config_from_args,
    executor_from_args,
    open_store,
    write_json,
)
from diagnostics.cli._summary import print_run_summary
from diagnostics.config import cli_name
from diagnostics.errors import ConfigError

__all__ = ["add_parser", "parse_grid", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="run a grid of trials and recommend a config")
    add_trial_options(parser)
    parser.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2")
    parser.add_argument("--name", help="a name for the sweep")
    parser.add_argument("--json", metavar="OUT")
    add_executor_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.export import run_json
    from diagnostics.sweep import run_sweep

    base = config_from_args(args)
    grid = parse_grid(args.grid)
    store = open_store()
    name = args.name or " x ".join(grid)
    executor = executor_from_args(args)
    result = run_sweep(store, base, grid, name, allowed_roots=allowed_roots(), executor=executor)
    sweep_id = result if isinstance(result, int) else (result or {}).get("sweep_id")
    sweep = store.get_sweep(sweep_id)
    statuses = []
    for run_id in sweep["run_ids"]:
        print_run_summary(store, run_id)
        statuses.append(store.get_run(run_id)["status"])
    recommended = (sweep.get("summary") or {}).get("recommended_run_id")
    if recommended is not None:
        print(f"recommended: run {recommended}")
    print(f"sweep {sweep_id}: {len(statuses)} trials, {statuses.count('completed')} completed")
    if args.json:
        document = {
            "sweep_id": sweep_id,
            "sweep": sweep,
            "result": result if isinstance(result, dict) else None,
            "runs": [run_json(store, r) for r in sweep["run_ids"]],
        }
        write_json(args.json, document)
    return EXIT_OK if statuses and all(s == "completed" for s in statuses) else EXIT_TRIAL_FAILED


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``--grid`` items (``batch-size=16,32``, flag or field names) -> {TrialConfig field: values}."""
    grid: dict[str, list[Any]] = {}
    by_flag = {cli_name(name).lstrip("-"): name for name in OPTIONS}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().lstrip("-")
        name = (
            key.replace("-", "_") if key.replace("-", "_") in OPTIONS or key == "loader" else by_flag.get(key)
        )
        if key in ("memory-budget", "memory_budget"):
            name = "memory_budget_bytes"
        if not sep or not values or name is None:
            raise ConfigError(
                f"--grid {item!r}: expected KEY=V1,V2 with KEY a trial option such as batch-size"
            )
        convert = str if name == "loader" else OPTIONS[name][1]
        try:
            grid[name] = [convert(v.strip()) for v in values.split(",") if v.strip()]
        except ValueError as exc:
            raise ConfigError(f"--grid {item!r}: {exc}") from None
    if not grid:
        raise ConfigError("--grid needs at least one KEY=V1,V2")
    return grid
