"""python -m bench [--quick | --smoke] [--json OUT] [--docs FILE | --no-docs] [--only SECTION ...]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import report, suite
from diagnostics.errors import DiagnosticsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="fewer repeats and a smaller grid (< 10 min, 2 cores)"
    )
    mode.add_argument(
        "--smoke", action="store_true", help="minimal sizes: checks the harness runs, numbers mean little"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--docs",
        type=Path,
        default=suite.REPO / "docs" / "BENCHMARKS.md",
        help="Markdown file whose results block is refreshed (default docs/BENCHMARKS.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave the docs alone")
    parser.add_argument("--dataset", type=Path, help="image folder (default sample_data/)")
    parser.add_argument(
        "--home", type=Path, help="store for the benchmark's trials (default: a fresh temp dir)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (trial store, snippet, mprof data)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[name for name, _ in suite.SECTIONS],
        help="run only these sections (debugging)",
    )
    args = parser.parse_args(argv)
    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    try:
        result = suite.run_all(profile, dataset=args.dataset, home=args.home, only=args.only, keep=args.keep)
    except DiagnosticsError as exc:  # a bad --dataset or --home: the message names it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        suite.write_json(result, args.json)
    # Only a complete quick or full run may replace the table the docs show.
    if not args.no_docs and profile != "smoke" and not args.only:
        report.refresh_docs(result, args.docs)
    print(report.results_markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
