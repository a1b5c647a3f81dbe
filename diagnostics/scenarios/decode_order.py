"""Decode in a Python loop, map then batch, or batch then map? The three pipelines over the
whole folder; the verdict names the fastest by steady images/s (among those within noise of it, the
one with the lowest peak) and quotes every other trial's speed ratio and peak RSS difference.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _mib,
    _not_measured,
    _ok,
    _overhead,
    _per_trial,
    _rate,
    _speed,
    _summary,
    _throughput,
    _versus,
    _x,
)

__all__ = ["trials", "verdict"]


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    # The whole folder, 3 epochs: steady throughput (epoch 1 excluded: tracing, first reads) over
    # two epochs of real length, since an epoch of a few hundred images lasts only ~0.1 s.
    base = TrialConfig(
        dataset=dataset,
        epochs=3,
        batch_size=32,
        image_size=(128, 128),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("Python loop (eager)", base.replace(loader="eager_loop")),
        ("map then batch", base.replace(loader="tfdata_map_batch", num_parallel_calls="auto")),
        ("batch then map", base.replace(loader="tfdata_batch_map", num_parallel_calls="auto")),
    ]


def _fastest(trials: list[dict[str, Any]]) -> int | None:
    """The fastest completed trial; among those within 5% of it, the one with the lowest peak."""
    rated = [i for i, t in enumerate(trials) if _ok(t) and _throughput(t) and _speed(t)["stable"]]
    if not rated:
        return None
    best = max(rated, key=lambda i: _throughput(trials[i]))
    near = [i for i in rated if i == best or not _versus(trials[i], trials[best])["measurable"]]
    return min(near, key=lambda i: _summary(trials[i]).get("peak_rss_bytes") or float("inf"))


def _unstable(trials: list[dict[str, Any]]) -> str:
    bad = [t for t in trials if _ok(t) and not _speed(t)["stable"]]
    return "".join(f" '{t['label']}' timing too short: {_speed(t)['reason']}." for t in bad)


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    best = _fastest(trials)
    metric = {
        "trials": _per_trial(
            trials,
            images_per_second=_throughput,
            peak_rss_bytes=lambda t: _summary(t).get("peak_rss_bytes"),
            overhead_bytes=_overhead,
        )
    }
    if best is None:
        return Verdict(
            "No trial finished with a throughput long enough to compare."
            + _unstable(trials)
            + _not_measured(trials),
            metric,
        )
    winner = trials[best]
    rate, peak = _throughput(winner), _summary(winner).get("peak_rss_bytes")
    metric["fastest"] = winner["label"]
    others = []
    for trial in trials:
        if trial is winner or not _ok(trial):
            continue
        other_peak = _summary(trial).get("peak_rss_bytes")
        versus = _versus(winner, trial)
        ratio = versus["ratio"]
        metric["trials"][trial["label"]]["speed_ratio_of_fastest"] = ratio
        metric["trials"][trial["label"]]["measurable"] = versus["measurable"]
        if not _speed(trial)["stable"]:
            others.append(
                f"'{trial['label']}' not compared: {_speed(trial)['reason']} (too short to be stable)"
            )
            continue
        delta = _mib(other_peak - peak if other_peak is not None and peak is not None else None, signed=True)
        if versus["measurable"]:
            others.append(
                f"{_x(ratio)} '{trial['label']}' ({_rate(_throughput(trial))}, peak {_mib(other_peak)}, "
                f"{delta} against it)"
            )
        else:
            others.append(
                f"'{trial['label']}' ({_rate(_throughput(trial))}, peak {_mib(other_peak)}, "
                f"{delta} against it): {versus['reason']}"
            )
    text = (
        f"'{winner['label']}' was fastest: {_rate(rate)} (steady, epoch 1 excluded) at a peak of "
        f"{_mib(peak)}; that is " + ("; ".join(others) if others else "the only measured trial") + "."
    )
    return Verdict(text + _not_measured(trials), metric, best)
