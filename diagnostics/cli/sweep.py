"""``python -m diagnostics sweep DIR --grid KEY=V1,V2 ...``: run a grid of trials (here or on a Ray
cluster), print each trial's summary and the recommended run; exit 0 only if every trial completed.

Before the first trial it prints the estimate; a sweep estimated past ``CONFIRM_ABOVE_SECONDS``
needs ``--yes`` (else exit 2 naming the estimate and the flag). A line per finished trial shows the
progress; on Ctrl-C (or SIGTERM) it says what was stored and how to see it (exit 130).
"""

from __future__ import annotations

import argparse
import sys
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
from diagnostics.errors import ConfigError, TrialCancelled

__all__ = ["CONFIRM_ABOVE_SECONDS", "add_parser", "parse_grid", "run"]

CONFIRM_ABOVE_SECONDS = 30 * 60  # a sweep estimated to take longer starts only with --yes
EXIT_INTERRUPTED = 130


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="run a grid of trials and recommend a config")
    add_trial_options(parser)
    parser.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2")
    parser.add_argument("--name", help="a name for the sweep")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument(
        "--yes",
        action="store_true",
        help=f"start a sweep estimated to take more than {CONFIRM_ABOVE_SECONDS // 60} min "
        "(without it such a sweep is refused, exit 2); the estimate is printed either way",
    )
    add_executor_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics.export import run_json
    from diagnostics.sweep import estimate_seconds, expand, run_sweep
    from diagnostics.units import format_seconds

    base = config_from_args(args)
    grid = parse_grid(args.grid)
    store = open_store()
    name = args.name or " x ".join(grid)
    executor = executor_from_args(args)
    invalid: list[dict[str, Any]] = []
    configs = expand(base, grid, invalid=invalid)
    seconds = estimate_seconds(configs, store)
    refused = f", {len(invalid)} combination(s) refused by their loader" if invalid else ""
    how = (
        "one after another"
        if executor.name == "local"
        else "one after another (the cluster runs several at once)"
    )
    print(f"sweep: {len(configs)} trials, estimated {format_seconds(seconds)} {how}{refused}")
    if seconds > CONFIRM_ABOVE_SECONDS and not args.yes:
        raise ConfigError(
            f"this sweep of {len(configs)} trials is estimated to take {format_seconds(seconds)}, "
            f"more than {CONFIRM_ABOVE_SECONDS // 60} min: add --yes to start it, or make the grid smaller"
        )
    sweep_id = store.create_sweep(name, grid, base)  # here, so a stop can say what it stored

    def progress(done: int, total: int, run_id: int | None) -> None:
        print(_trial_line(store, grid, done, total, run_id), flush=True)

    try:
        result = run_sweep(
            store,
            base,
            grid,
            name,
            progress,
            sweep_id=sweep_id,
            allowed_roots=allowed_roots(),
            executor=executor,
        )
    except (TrialCancelled, KeyboardInterrupt):  # Ctrl-C, SIGTERM: the runs so far are stored
        print(_stopped_text(store, sweep_id, len(configs)), file=sys.stderr)
        return EXIT_INTERRUPTED
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


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "x".join(map(str, value))
    return str(value)


def _trial_line(store, grid: dict[str, list[Any]], done: int, total: int, run_id: int | None) -> str:
    """'trial 3/12: cache=memory prefetch=auto: completed, 1,234 img/s, peak 812.0 MiB (run 7)'."""
    from diagnostics import throughput
    from diagnostics.units import format_mib, format_rate

    if run_id is None:  # refused before a run was stored (its ConfigError is in the sweep's errors)
        return f"trial {done}/{total}: not run (see the sweep's errors)"
    run = store.get_run(run_id)
    config = run.get("config") or {}
    summary = run.get("summary") or {}
    options = " ".join(f"{cli_name(k).lstrip('-')}={_value_text(config.get(k))}" for k in grid)
    rate = format_rate(throughput.images_per_second(summary))
    peak = format_mib(summary.get("peak_rss_bytes"))
    return f"trial {done}/{total}: {options}: {run['status']}, {rate}, peak {peak} (run {run_id})"


def _stopped_text(store, sweep_id: int, total: int) -> str:
    """What a stopped sweep left in the store, and the commands that show it."""
    runs = store.list_runs(sweep_id=sweep_id)
    completed = sorted(int(r) for r in runs[runs["status"] == "completed"]["id"])
    others = [
        f"run {int(r.id)} {r.status}" for r in runs.sort_values("id").itertuples() if r.status != "completed"
    ]
    text = (
        f"sweep {sweep_id} interrupted: {len(completed)} of {total} trials completed"
        + (f" ({', '.join(others)})" if others else "")
        + f"; stored in {store.path}."
    )
    if completed:
        ids = " ".join(map(str, completed))
        text += f"\nSee them: python -m diagnostics report {ids} --html sweep-{sweep_id}.html"
    return text + f"\nor on the dashboard's Sweep page (sweep {sweep_id}): streamlit run app.py"


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
