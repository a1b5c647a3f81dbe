"""Does ImageDataGenerator leak file handles? The generator as usually written and with an
explicit close and ``gc.collect()``; the verdict reads the open file descriptors at each epoch end
(start, max, growth per epoch) and says where they rise every epoch.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _epoch_series,
    _has_finding,
    _not_measured,
    _ok,
    _summary,
)

__all__ = ["trials", "verdict"]


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    base = TrialConfig(
        dataset=dataset,
        loader="image_data_generator",
        rescale=1 / 255,  # as the Keras examples write it
        epochs=4,  # three epoch-to-epoch steps: enough to call a rise "every epoch"
        steps=6,
        image_size=(64, 64),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("ImageDataGenerator as usually written", base),
        ("with explicit close and gc.collect()", base.replace(close_and_collect=True)),
    ]


def _fd_numbers(trial: dict[str, Any]) -> dict[str, Any]:
    ends = [v for v in _epoch_series(trial, "fds_end") if v is not None]
    fds = _summary(trial).get("fds") or {}
    growth = ends[-1] - ends[0] if len(ends) >= 2 else None
    rising = len(ends) >= 3 and all(b > a for a, b in zip(ends, ends[1:], strict=False))
    return {
        "fds_at_epoch_end": ends,
        "fds_start": fds.get("start"),
        "fds_max": fds.get("max"),
        "fds_end": fds.get("end"),
        "growth_over_epochs": growth,
        "per_epoch": growth / (len(ends) - 1) if growth is not None else None,
        "rises_every_epoch": rising or _has_finding(trial, "fd_growth") is not None,
    }


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    numbers = {t["label"]: _fd_numbers(t) for t in trials}
    metric = {"trials": numbers}
    measured = [t for t in trials if _ok(t) and numbers[t["label"]]["fds_at_epoch_end"]]
    if not measured:
        return Verdict("No trial has file-descriptor counts per epoch." + _not_measured(trials), metric)
    parts = []
    for trial in measured:
        n = numbers[trial["label"]]
        series = ", ".join(str(v) for v in n["fds_at_epoch_end"])
        trend = (
            "rising every epoch"
            if n["rises_every_epoch"]
            else (
                "flat"
                if not n["growth_over_epochs"]
                else f"{n['growth_over_epochs']:+d} overall, not every epoch"
            )
        )
        parts.append(
            f"'{trial['label']}': open FDs at each epoch end {series} (start {n['fds_start']}, "
            f"max {n['fds_max']}): {trend}"
        )
    leaking = [t["label"] for t in measured if numbers[t["label"]]["rises_every_epoch"]]
    if not leaking:
        answer = "No: file descriptors did not rise from epoch to epoch in any trial here."
    elif len(leaking) == len(measured):
        answer = "Yes, and the explicit close does not stop it: descriptors rise every epoch in both."
    else:
        answer = f"Yes for {', '.join(repr(name) for name in leaking)}: descriptors rise every epoch there."
    # Better: the least growth; on a tie the plain code (no extra code needed).
    better = min(
        (trials.index(t) for t in measured),
        key=lambda i: (
            numbers[trials[i]["label"]]["growth_over_epochs"] or 0,
            numbers[trials[i]["label"]]["fds_max"] or 0,
            i,
        ),
    )
    return Verdict(answer + " " + "; ".join(parts) + "." + _not_measured(trials), metric, better)
