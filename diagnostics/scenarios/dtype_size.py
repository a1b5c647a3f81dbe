"""Does float16 or a smaller image size cut memory? float16 casts, a float16 PyDataset and
smaller images against float32; a saving counts only when the overhead (peak - baseline) drops by
more than a floor and a share of the float32 overhead.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    SAVING_FLOOR_BYTES,
    SAVING_FRACTION,
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _has_finding,
    _mib,
    _not_measured,
    _ok,
    _overhead,
    _per_trial,
    _summary,
    _throughput,
)

__all__ = ["trials", "verdict"]


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    base = TrialConfig(
        dataset=dataset,
        loader="keras_directory",
        epochs=2,
        steps=8,
        batch_size=32,
        image_size=(128, 128),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("float32 (default)", base),
        ("float16 cast", base.replace(dtype="float16")),
        ("float16 in a PyDataset", base.replace(loader="keras_pydataset", dtype="float16")),
        ("smaller images (64x64)", base.replace(image_size=(64, 64))),
    ]


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    reference = trials[0]
    ref_overhead, ref_peak = _overhead(reference), _summary(reference).get("peak_rss_bytes")
    metric: dict[str, Any] = {
        "trials": _per_trial(
            trials,
            peak_rss_bytes=lambda t: _summary(t).get("peak_rss_bytes"),
            overhead_bytes=_overhead,
            images_per_second=_throughput,
        )
    }
    if not _ok(reference) or ref_overhead is None:
        return Verdict(
            "Without the float32 run there is nothing to compare against." + _not_measured(trials), metric
        )
    needed = max(SAVING_FLOOR_BYTES, SAVING_FRACTION * ref_overhead)
    metric["saving_needed_bytes"] = needed
    parts, saved = [], []
    for index, trial in enumerate(trials[1:], start=1):
        if not _ok(trial):
            continue
        overhead, peak = _overhead(trial), _summary(trial).get("peak_rss_bytes")
        overhead_delta = overhead - ref_overhead if overhead is not None else None
        peak_delta = peak - ref_peak if peak is not None and ref_peak is not None else None
        did_save = overhead_delta is not None and -overhead_delta > needed
        metric["trials"][trial["label"]].update(
            overhead_delta_bytes=overhead_delta, peak_delta_bytes=peak_delta, saved_memory=did_save
        )
        note = " (a cast after a float32 decode)" if _has_finding(trial, "dtype_no_saving") else ""
        parts.append(
            f"'{trial['label']}'{note}: overhead {_mib(overhead)} ({_mib(overhead_delta, signed=True)}), "
            f"peak {_mib(peak)} ({_mib(peak_delta, signed=True)}): "
            + ("saved" if did_save else "no real saving")
        )
        if did_save:
            saved.append(index)
    head = (
        f"Against float32 (overhead {_mib(ref_overhead)} above baseline, peak {_mib(ref_peak)}), a saving "
        f"counts when the overhead drops by more than {_mib(needed)}. "
    )
    if saved:
        answer = "What actually saved memory: " + ", ".join(repr(trials[i]["label"]) for i in saved) + ". "
        better = min(saved, key=lambda i: _overhead(trials[i]))
    else:
        answer = "None of them saved memory measurably here. "
        better = 0
    return Verdict(head + answer + "; ".join(parts) + "." + _not_measured(trials), metric, better)
