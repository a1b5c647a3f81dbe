"""Why does RAM climb every epoch in fit? Two prefetch settings and a loop that keeps references;
the verdict reads each run's leak slope of epoch-end RSS against its noise band and threshold and
says which climb.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _epoch_series,
    _has_finding,
    _mib,
    _not_measured,
    _ok,
    _summary,
)

__all__ = ["trials", "verdict"]


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    # 4 epochs: the leak slope is fitted over epochs 2..4, three points and a noise band. 8 steps of
    # 32 at 128x128 keep ~48 MiB of decoded float32 per epoch in the kept-references loop, well
    # above the 16 MiB/epoch threshold, so a real reference leak shows.
    base = TrialConfig(
        dataset=dataset,
        loader="keras_directory",
        mode="fit",
        epochs=4,
        steps=8,
        batch_size=32,
        image_size=(128, 128),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("prefetch(AUTOTUNE)", base.replace(prefetch="auto")),
        ("prefetch(2)", base.replace(prefetch=2)),
        ("loop that keeps references", base.replace(loader="eager_loop", keep_decoded=True)),
    ]


def _leak_numbers(trial: dict[str, Any]) -> dict[str, Any]:
    leak = _summary(trial).get("leak") or {}
    return {
        "leak_bytes_per_epoch": _summary(trial).get("leak_bytes_per_epoch", leak.get("leak_bytes_per_epoch")),
        "noise_band_bytes_per_epoch": leak.get("noise_band_bytes_per_epoch"),
        "threshold_bytes_per_epoch": leak.get("threshold_bytes_per_epoch"),
        "growing": bool(leak.get("growing")) or _has_finding(trial, "memory_growth") is not None,
        "reason": leak.get("reason"),
        "epoch_end_rss_bytes": _epoch_series(trial, "rss_end_bytes"),
        "peak_rss_bytes": _summary(trial).get("peak_rss_bytes"),
    }


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    numbers = {t["label"]: _leak_numbers(t) for t in trials}
    metric = {"trials": numbers}
    judged = [t for t in trials if _ok(t) and numbers[t["label"]]["leak_bytes_per_epoch"] is not None]
    if not judged:
        return Verdict(
            "No trial has a leak slope (it needs 3 or more finished epochs)." + _not_measured(trials), metric
        )
    parts = []
    for trial in judged:
        n = numbers[trial["label"]]
        rss = ", ".join(_mib(v).replace(" MiB", "") for v in n["epoch_end_rss_bytes"] if v is not None)
        parts.append(
            f"'{trial['label']}' {_mib(n['leak_bytes_per_epoch'], signed=True)}/epoch "
            f"(noise band ±{_mib(n['noise_band_bytes_per_epoch'])}, threshold {_mib(n['threshold_bytes_per_epoch'])}; "
            f"epoch-end RSS {rss} MiB; peak {_mib(n['peak_rss_bytes'])}): "
            + ("grows" if n["growing"] else "no leak")
        )
    growing = [t["label"] for t in judged if numbers[t["label"]]["growing"]]
    steady = [t["label"] for t in judged if not numbers[t["label"]]["growing"]]
    not_growing = "stay under the leak threshold or inside their noise band"
    if growing and steady:
        answer = f"Only {', '.join(repr(g) for g in growing)} climbs every epoch; {', '.join(repr(s) for s in steady)} {not_growing}"
        # The catalogue's last trial is the one that keeps references, the others only change prefetch.
        if [trials.index(t) for t in judged if numbers[t["label"]]["growing"]] == [len(trials) - 1]:
            answer += ", so the climb comes from the kept references, not from prefetching"
        answer += "."
    elif growing:
        answer = "RAM climbs every epoch in all of them."
    else:
        answer = f"No trial here climbs every epoch: all {not_growing}."
    pool = [trials.index(t) for t in judged if not numbers[t["label"]]["growing"]] or [
        trials.index(t) for t in judged
    ]
    better = min(
        pool,
        key=lambda i: (
            numbers[trials[i]["label"]]["peak_rss_bytes"] or float("inf")
            if not numbers[trials[i]["label"]]["growing"]
            else numbers[trials[i]["label"]]["leak_bytes_per_epoch"]
        ),
    )
    return Verdict(answer + " " + "; ".join(parts) + "." + _not_measured(trials), metric, better)
