"""``python -m diagnostics``: scan, loaders, run, sweep, scenario, report.

Thin: one module per command parses its arguments, calls the library and prints. Exit codes:
0 completed, 2 bad input (the message names the folder, file or option; no traceback), 3 the trial
failed, was killed, timed out or was cancelled (its summary is still printed and stored).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from diagnostics.cli import loaders, report, run, scan, scenario, sweep
from diagnostics.cli._common import EXIT_BAD_INPUT, EXIT_TRIAL_FAILED
from diagnostics.errors import ConfigError, DatasetError, DiagnosticsError, StoreError, TrialCancelled

__all__ = ["build_parser", "main"]

_COMMANDS = (scan, loaders, run, sweep, scenario, report)  # in the order `--help` lists them
_TRIAL_COMMANDS = frozenset({"run", "sweep", "scenario"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diagnostics",
        description="Measure a TensorFlow input pipeline's memory and throughput on your image folder.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with the option named
    # Only where a trial runs: the handlers store a cancelled run (a scan keeps Ctrl-C's default).
    if args.command in _TRIAL_COMMANDS and threading.current_thread() is threading.main_thread():
        from diagnostics.signals import install_stop_signals

        install_stop_signals()  # SIGTERM cancels and stores the run like Ctrl-C
    try:
        return args.func(args)
    except (ConfigError, DatasetError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrialCancelled:  # a stop signal ended a sweep's or scenario's trial (stored cancelled)
        print("interrupted", file=sys.stderr)
        return 130
    except DiagnosticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TRIAL_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
