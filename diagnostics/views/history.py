"""The History page's table: the filters and list_runs() rows with memory in MiB and the
option columns that differ."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from diagnostics.config import dashboard_text
from diagnostics.units import mib

__all__ = ["HISTORY_COLUMNS", "differing_options", "filter_runs", "history_table", "runs_text"]

HISTORY_COLUMNS = [
    "id",
    "created",
    "status",
    "dataset_path",
    "loader",
    "mode",
    "peak_mib",
    "baseline_mib",
    "images_per_second",
    "leak_mib_per_epoch",
    "sweep_id",
    "error",
]


def filter_runs(
    runs: pd.DataFrame, statuses: Sequence[str] = (), loaders: Sequence[str] = (), text: str = ""
) -> pd.DataFrame:
    """Rows of list_runs() matching the History filters; an empty filter keeps everything."""
    if statuses:
        runs = runs[runs["status"].isin(statuses)]
    if loaders:
        runs = runs[runs["loader"].isin(loaders)]
    if text:
        runs = runs[runs["dataset_path"].fillna("").str.contains(text, case=False, regex=False)]
    return runs


def history_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The History table: list_runs() rows with memory in MiB, in HISTORY_COLUMNS order, plus
    (after ``mode``) the option columns whose values differ between the rows shown."""
    table = runs.assign(
        peak_mib=runs["peak_rss_bytes"].map(mib),
        baseline_mib=runs["baseline_rss_bytes"].map(mib),
        leak_mib_per_epoch=runs["leak_bytes_per_epoch"].map(mib),
        error=runs["error"].map(lambda e: dashboard_text(e) if isinstance(e, str) else e),
    )
    options = [c for c in differing_options(runs) if c in table.columns]
    at = HISTORY_COLUMNS.index("mode") + 1
    return table[[*HISTORY_COLUMNS[:at], *options, *HISTORY_COLUMNS[at:]]]


def differing_options(runs: pd.DataFrame) -> list[str]:
    """Option columns of list_runs() that do not hold one value in every row."""
    from diagnostics.store import OPTION_COLUMNS

    return [c for c in OPTION_COLUMNS if c in runs.columns and runs[c].astype(str).nunique() > 1]


def runs_text(count: int) -> str:
    """'1 run', '3 runs': the buttons and captions that count the selection."""
    return f"{count:,} run{'' if count == 1 else 's'}"
