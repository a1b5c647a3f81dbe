"""Scenarios: the classic input-pipeline memory questions, each answered by a measured before/after.

A scenario is a question people actually ask, two or more labelled trial configs (the way people
write it, and the fix), the metric that answers it, and a verdict function that builds its
sentence from the measured results of those trials: every number in a verdict comes from the runs
just made, none is written in advance.

    list_scenarios() / get_scenario(name)     the catalogue
    run_scenario(name, dataset, store)        runs the trials through an executor (local: one
                                              after another via ``runner.run_trial``); the result
    start_job / read_job / list_jobs          the same in a background thread, its progress in a
    job_progress                              JSON file under ``$DIAG_HOME/scenarios/`` so a
                                              reloaded page (or a second browser) shows it
    report_html(store, result)                the comparison report with the verdict on top

A verdict function gets the trials as stored (``trial_record``: label, run_id, status, error,
config, summary, findings, log_groups, gc_events, epoch_window) and a ``context`` (``available_ram_bytes``) and
returns a ``Verdict``: the sentence, the numbers it quotes (``metric``) and the index of the better
pipeline (``None`` where the question has no "better", as for log lines).
"""

from __future__ import annotations

import html
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagnostics import throughput
from diagnostics.config import TrialConfig, validate
from diagnostics.errors import ConfigError, DiagnosticsError
from diagnostics.process import process_create_time

__all__ = [
    "COINCIDENCE_SECONDS",
    "SCENARIOS",
    "Scenario",
    "Verdict",
    "get_scenario",
    "job_progress",
    "list_jobs",
    "list_scenarios",
    "read_job",
    "report_html",
    "run_scenario",
    "start_job",
    "trial_record",
]

MiB = 1024**2
# A log line "coincides" with a garbage collection when it is printed within this many seconds of
# one: tighter than an epoch, looser than the sampler's 20 ms period and the pipe's latency.
COINCIDENCE_SECONDS = 0.050
# A smaller dtype or image size "saved memory" only when the overhead (peak - baseline) drops by
# more than this floor and this share of the float32 overhead: smaller differences are RSS noise.
SAVING_FLOOR_BYTES = 8 * MiB
SAVING_FRACTION = 0.10
# Every trial gets a time limit so one stuck trial cannot hold a scenario (and the queue) forever.
TRIAL_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Verdict:
    text: str
    metric: dict[str, Any] = field(default_factory=dict)
    better: int | None = None  # index into the trials; None: no pipeline is "better"


@dataclass(frozen=True)
class Scenario:
    """One question with its trials and the verdict that answers it from measured results.

    Example:
        >>> get_scenario("decode_order").trials("sample_data")[0][0]
        'Python loop (eager)'
    """

    name: str
    question: str
    metric: str  # what answers the question, in words
    trials: Callable[[str], list[tuple[str, TrialConfig]]]  # dataset path -> labelled configs
    verdict: Callable[[list[dict[str, Any]], dict[str, Any]], Verdict]
    # The verdict compares throughputs: a trial too short for a stable one runs again with more
    # epochs (sweep.autorange). Memory-only questions keep their fixed trials.
    autorange: bool = False

    def configs(self, dataset: str) -> list[tuple[str, TrialConfig]]:
        """The labelled configs, each validated; ConfigError names the scenario and the trial."""
        out = []
        for label, config in self.trials(str(dataset)):
            try:
                validate(config)
            except ConfigError as exc:
                raise ConfigError(f"scenario {self.name}, trial '{label}': {exc}") from None
            out.append((label, config))
        return out


# -- formatting helpers ----------------------------------------------------------------------------


def _mib(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    text = f"{value / MiB:{'+' if signed else ''},.1f} MiB"
    return text


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} images/s"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _ok(trial: dict[str, Any]) -> bool:
    return trial.get("status") == "completed" and bool(trial.get("summary"))


def _summary(trial: dict[str, Any]) -> dict[str, Any]:
    return trial.get("summary") or {}


def _throughput(trial: dict[str, Any]) -> float | None:
    return throughput.images_per_second(_summary(trial))


def _speed(trial: dict[str, Any]) -> dict[str, Any]:
    return throughput.of_summary(_summary(trial))


def _versus(trial: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``throughput.compare`` of two trials, its reason naming the trial whose timing fails."""
    result = dict(throughput.compare(_speed(trial), _speed(other)))
    for name, item in (("first", trial), ("second", other)):
        result["reason"] = result["reason"].replace(f"the {name} timing", f"the timing of '{item['label']}'")
    return result


def _overhead(trial: dict[str, Any]) -> float | None:
    summary = _summary(trial)
    if summary.get("measured_overhead_bytes") is not None:
        return summary["measured_overhead_bytes"]
    peak, baseline = summary.get("peak_rss_bytes"), summary.get("baseline_rss_bytes")
    return peak - baseline if peak is not None and baseline is not None else None


def _epoch_series(trial: dict[str, Any], key: str) -> list[Any]:
    return [epoch.get(key) for epoch in _summary(trial).get("epochs") or []]


def _has_finding(trial: dict[str, Any], finding_id: str) -> dict[str, Any] | None:
    return next((f for f in trial.get("findings") or [] if f.get("id") == finding_id), None)


def _not_measured(trials: list[dict[str, Any]]) -> str:
    """A sentence naming the trials that did not complete (their numbers are missing)."""
    bad = [t for t in trials if not _ok(t)]
    if not bad:
        return ""
    parts = []
    for trial in bad:
        reason = f": {trial['error']}" if trial.get("error") else ""
        parts.append(f"'{trial['label']}' ended {trial.get('status') or 'without a result'}{reason}")
    return " Not measured: " + "; ".join(parts) + "."


def _per_trial(trials: list[dict[str, Any]], **getters: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    return {t["label"]: {name: get(t) for name, get in getters.items()} for t in trials}


# -- cache -----------------------------------------------------------------------------------------


def _cache_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    # The whole folder (no steps): a cache only pays off, and only reaches its full size, when
    # every image is read; 128x128 float32 makes it large enough to stand above RSS noise.
    base = TrialConfig(
        dataset=dataset,
        loader="keras_directory",
        epochs=3,
        image_size=(128, 128),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("no cache", base),
        ("cache() in memory", base.replace(cache="memory")),
        ("cache(filename) on disk", base.replace(cache="file")),
    ]


def _cache_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    plain, memory, file_ = trials[0], trials[1], trials[2]
    model = _summary(memory).get("memory_model") or {}
    modelled = model.get("cache")
    cache_measured = (
        _overhead(memory) - _overhead(plain)
        if _overhead(memory) is not None and _overhead(plain) is not None
        else None
    )
    baseline = _summary(memory).get("baseline_rss_bytes")
    rss_ends = _epoch_series(memory, "rss_end_bytes")
    epoch1_growth = rss_ends[0] - baseline if rss_ends and rss_ends[0] is not None and baseline else None
    later_growth = (
        rss_ends[-1] - rss_ends[0] if len(rss_ends) >= 2 and None not in (rss_ends[0], rss_ends[-1]) else None
    )
    memory_vs_plain, file_vs_plain = _versus(memory, plain), _versus(file_, plain)
    speedup_memory, speedup_file = memory_vs_plain["ratio"], file_vs_plain["ratio"]
    file_cost = (
        _overhead(file_) - _overhead(plain)
        if _overhead(file_) is not None and _overhead(plain) is not None
        else None
    )
    projection = _summary(memory).get("projection") or {}
    projected = projection.get("cache_bytes") if projection.get("cache_bytes") is not None else modelled
    exceeds = _has_finding(memory, "cache_exceeds_ram")
    available = (exceeds or {}).get("evidence", {}).get("available_ram_bytes") or context.get(
        "available_ram_bytes"
    )
    fits = None if projected is None or not available else projected <= 0.5 * available
    metric = {
        "modelled_cache_bytes": modelled,
        "measured_cache_bytes": cache_measured,
        "epoch1_growth_bytes": epoch1_growth,
        "growth_after_epoch1_bytes": later_growth,
        "steady_speedup_memory": speedup_memory,
        "steady_speedup_file": speedup_file,
        "speedup_memory_measurable": memory_vs_plain["measurable"],
        "speedup_file_measurable": file_vs_plain["measurable"],
        "file_cache_cost_bytes": file_cost,
        "projected_cache_bytes": projected,
        "full_dataset_images": projection.get("full_dataset_images"),
        "available_ram_bytes": available,
        "fits_in_ram": fits,
        "trials": _per_trial(
            trials,
            overhead_bytes=_overhead,
            steady_images_per_second=_throughput,
            throughput_stable=lambda t: _speed(t)["stable"],
            peak_rss_bytes=lambda t: _summary(t).get("peak_rss_bytes"),
        ),
    }
    if not _ok(memory) or not _ok(plain):
        return Verdict(
            "The in-memory cache cannot be judged without both the plain and the cached run."
            + _not_measured(trials),
            metric,
            None,
        )
    grows_on = (_summary(memory).get("leak") or {}).get("growing") or _has_finding(memory, "memory_growth")
    if cache_measured is not None and cache_measured < SAVING_FLOOR_BYTES:
        answer = "Hardly"
    elif grows_on:
        answer = "Yes, and it keeps growing after epoch 1"
    else:
        answer = "Yes, once"
    text = (
        f"{answer}: the memory cache cost {_mib(cache_measured)} of peak over the run without cache "
        f"({_mib(_overhead(memory))} vs {_mib(_overhead(plain))} above baseline), against "
        f"{_mib(modelled)} modelled (the decoded images)"
    )
    if epoch1_growth is not None and later_growth is not None:
        text += (
            f"; RSS rose {_mib(epoch1_growth)} by the end of epoch 1, then {_mib(later_growth, signed=True)}"
            f" over the next {len(rss_ends) - 1} epoch(s)"
        )
    if memory_vs_plain["measurable"]:
        text += (
            f". After epoch 1 it ran {_x(speedup_memory)} as fast as without cache "
            f"({_rate(_throughput(memory))} vs {_rate(_throughput(plain))}, steady medians)"
        )
    else:
        text += f". Its speed against no cache is not judged: {memory_vs_plain['reason']}"
    if _ok(file_) and file_vs_plain["measurable"]:
        text += (
            f"; the file cache ran {_x(speedup_file)} ({_rate(_throughput(file_))}) for "
            f"{_mib(file_cost, signed=True)} of peak"
        )
    elif _ok(file_):
        text += (
            f"; the file cache cost {_mib(file_cost, signed=True)} of peak, its speed not judged: "
            f"{file_vs_plain['reason']}"
        )
    text += f". For all {projection.get('full_dataset_images', '?')} images the cache needs {_mib(projected)}"
    if fits is None:
        text += " (available RAM unknown)."
    elif fits:
        text += f": it fits in RAM (under half of the {_mib(available)} available)."
    else:
        text += f": more than half of the {_mib(available)} available, so use the file cache."
    # Better: the faster cache that fits, when it beats no cache by more than the 5% noise.
    # A timing too short to trust names no better pipeline at all.
    better, best_speedup = 0, 1.0
    if not all(_speed(t)["stable"] for t in trials if _ok(t)):
        better = None
    for index, versus, allowed in ((1, memory_vs_plain, fits is not False), (2, file_vs_plain, True)):
        speedup = versus["ratio"]
        if allowed and _ok(trials[index]) and versus["measurable"] and speedup > best_speedup:
            better, best_speedup = index, speedup
    return Verdict(text + _not_measured(trials), metric, better)


# -- decode order ----------------------------------------------------------------------------------


def _decode_order_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
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


def _decode_order_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
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


# -- file handles ----------------------------------------------------------------------------------


def _file_handles_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
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


def _file_handles_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
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


# -- RAM growth in fit -----------------------------------------------------------------------------


def _fit_growth_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
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


def _fit_growth_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
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


# -- dtype and image size --------------------------------------------------------------------------


def _dtype_size_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
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


def _dtype_size_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
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


# -- repeated log lines ----------------------------------------------------------------------------


def _log_lines_trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    # fit mode: what people run when they see these lines (Keras' epoch iterator adds its own).
    base = TrialConfig(
        dataset=dataset,
        mode="fit",
        epochs=3,  # a line printed once per epoch shows as a repeat
        steps=4,
        image_size=(64, 64),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("tf.data (image_dataset_from_directory)", base.replace(loader="keras_directory")),
        ("Python generator via from_generator", base.replace(loader="pil_generator", via_tf_data=True)),
    ]


def _gc_times(trial: dict[str, Any]) -> tuple[list[float], bool]:
    """GC times of a run and whether they are per collection (``times`` in the event) or per epoch."""
    times: list[float] = []
    per_collection = False
    for event in trial.get("gc_events") or []:
        if event.get("times"):
            per_collection = True
            times.extend(float(t) for t in event["times"])
        elif event.get("t") is not None:
            times.append(float(event["t"]))
    return sorted(times), per_collection


def coincident(times: list[float], gc_times: list[float], window: float = COINCIDENCE_SECONDS) -> int:
    """How many of ``times`` lie within ``window`` seconds of some GC time."""
    return sum(1 for t in times if any(abs(t - g) <= window for g in gc_times))


def covered_fraction(
    gc_times: list[float], start: float, end: float, window: float = COINCIDENCE_SECONDS
) -> float:
    """Share of [start, end] within ``window`` of a GC time: the chance a random line "coincides"."""
    if end <= start or not gc_times:
        return 0.0
    covered, reach = 0.0, start
    for g in sorted(gc_times):
        lo, hi = max(g - window, reach), min(g + window, end)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return min(covered / (end - start), 1.0)


def _run_span(trial: dict[str, Any], times: list[float]) -> tuple[float, float] | None:
    """The epochs' time window: collections are recorded only there (start-up is discarded)."""
    window = trial.get("epoch_window")
    if window and window[1] > window[0]:
        return float(window[0]), float(window[1])
    return (min(times), max(times)) if len(times) >= 2 else None


def _log_lines_verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    granularity = set()
    for trial in trials:
        gc_times, per_collection = _gc_times(trial)
        if gc_times:
            granularity.add("collection" if per_collection else "epoch")
        all_times = gc_times + [
            float(t)
            for g in trial.get("log_groups") or []
            for t in (g.get("times") or [])[int(g.get("before_epochs") or 0) :]
        ]
        span = _run_span(trial, all_times)
        chance = covered_fraction(gc_times, *span) if span else 0.0
        for group in trial.get("log_groups") or []:
            key = (group.get("template"), group.get("source"))
            entry = merged.setdefault(
                key,
                {
                    "template": group.get("template"),
                    "source": group.get("source"),
                    "known": bool(group.get("known")),
                    "benign": group.get("benign"),
                    "reference": group.get("reference"),
                    "count": 0,
                    "during_epochs": 0,
                    "near_gc": 0,
                    "near_gc_by_chance": 0.0,
                    "runs": [],
                    "per_epoch": {},
                },
            )
            # Times are in print order; the first `before_epochs` came before epoch 1 (start-up), when
            # the worker records no collections, so only the later ones are set against GC.
            times = [float(t) for t in group.get("times") or []][int(group.get("before_epochs") or 0) :]
            entry["count"] += int(group.get("count") or 0)
            entry["during_epochs"] += len(times)
            entry["near_gc"] += coincident(times, gc_times)
            entry["near_gc_by_chance"] += chance * len(times)
            entry["runs"].append(trial["label"])
            entry["per_epoch"][trial["label"]] = list(group.get("per_epoch") or [])
    groups = sorted(merged.values(), key=lambda g: (-g["during_epochs"], -g["count"], str(g["template"])))
    repeating = [g for g in groups if g["during_epochs"] >= 2]
    startup = [g for g in groups if g["count"] >= 2 and not g["during_epochs"]]
    metric = {
        "coincidence_seconds": COINCIDENCE_SECONDS,
        "gc_times": sorted(granularity) or None,
        "groups": groups,
        "repeated_during_epochs": len(repeating),
        "repeated_at_startup": len(startup),
        "known": sum(1 for g in groups if g["known"]),
        "unknown": sum(1 for g in groups if not g["known"]),
    }
    if not any(_ok(t) for t in trials):
        return Verdict("No run finished, so there are no logs to triage." + _not_measured(trials), metric)
    if not groups:
        return Verdict("These runs printed no log lines at all." + _not_measured(trials), metric)
    ms = f"{COINCIDENCE_SECONDS * 1000:.0f} ms"

    def what(g: dict[str, Any]) -> str:
        return (
            f"known ({g['source']}{', benign' if g['benign'] else ''})"
            if g["known"]
            else "no verified source"
        )

    def describe(g: dict[str, Any]) -> str:
        per_epoch = "; ".join(
            f"{', '.join(map(str, v))} per epoch in '{k}'" for k, v in g["per_epoch"].items() if v
        )
        return (
            f"'{_short(g['template'])}' x{g['during_epochs']}"
            + (f" ({per_epoch})" if per_epoch else "")
            + f": {what(g)}; {g['near_gc']} of {g['during_epochs']} within {ms} of a GC event"
        )

    text = (
        f"{len(groups)} log templates in {sum(1 for t in trials if t.get('log_groups'))} run(s): "
        f"{metric['known']} known, {metric['unknown']} with no verified source. "
    )
    if startup:
        text += (
            f"{len(startup)} repeat only at start-up, before epoch 1 (once or twice per process): "
            + ", ".join(f"'{_short(g['template'], 50)}' x{g['count']} ({what(g)})" for g in startup[:4])
            + (f" and {len(startup) - 4} more" if len(startup) > 4 else "")
            + ". "
        )
    if not repeating:
        return Verdict(text + "No line repeats during the epochs." + _not_measured(trials), metric, None)
    shown = repeating[:5]
    text += "Repeated during the epochs: " + "; ".join(describe(g) for g in shown)
    if len(repeating) > len(shown):
        text += f"; and {len(repeating) - len(shown)} more"
    text += ". "
    near = sum(g["near_gc"] for g in repeating)
    timed = sum(g["during_epochs"] for g in repeating)
    expected = sum(g["near_gc_by_chance"] for g in repeating)
    metric.update(repeated_near_gc=near, repeated_timed=timed, repeated_near_gc_by_chance=expected)
    if not granularity:
        text += "No GC events were recorded, so timing against collections cannot be judged."
        return Verdict(text + _not_measured(trials), metric, None)
    # "Coincide" must beat chance: with frequent collections any line is near one.
    if near == 0:
        answer = "do not coincide with garbage collections"
    elif near > 2 * expected and near >= 0.5 * timed:
        answer = "coincide with garbage collections"
    elif near > 2 * expected:
        answer = "partly coincide with garbage collections"
    else:
        answer = "coincide with garbage collections no more often than chance"
    text += (
        f"Their times {answer}: {near} of {timed} lines within {ms} of one, against {expected:.1f} expected "
        "by chance from how much of the run lies that close to a collection"
    )
    if granularity == {"epoch"}:
        text += (
            "; GC is reported once per epoch, just after the epoch ends, so a coincidence here means "
            "the line came at an epoch boundary, not that a collection printed it"
        )
    return Verdict(text + "." + _not_measured(trials), metric, None)


def _short(text: Any, limit: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the catalogue ---------------------------------------------------------------------------------

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "cache",
            "Does `cache()` make my RAM grow?",
            "cache bytes measured vs modelled, epoch-2 speed-up, projection for the full folder vs available RAM",
            _cache_trials,
            _cache_verdict,
            autorange=True,
        ),
        Scenario(
            "decode_order",
            "Decode in a Python loop, map then batch, or batch then map?",
            "steady images/s ratio and peak RSS difference",
            _decode_order_trials,
            _decode_order_verdict,
            autorange=True,
        ),
        Scenario(
            "file_handles",
            "Does ImageDataGenerator leak file handles?",
            "open file descriptors at each epoch end (start, max, growth per epoch)",
            _file_handles_trials,
            _file_handles_verdict,
        ),
        Scenario(
            "fit_growth",
            "Why does RAM climb every epoch in fit?",
            "leak slope of epoch-end RSS with its noise band and threshold",
            _fit_growth_trials,
            _fit_growth_verdict,
        ),
        Scenario(
            "dtype_size",
            "Does float16 or a smaller image size cut memory?",
            "peak and overhead (peak - baseline) deltas against float32",
            _dtype_size_trials,
            _dtype_size_verdict,
        ),
        Scenario(
            "log_lines",
            "What are these repeated log lines?",
            "log templates: known source or none, counts, times within 50 ms of GC events",
            _log_lines_trials,
            _log_lines_verdict,
        ),
    )
}


def list_scenarios() -> list[Scenario]:
    return list(SCENARIOS.values())


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None


# -- running ---------------------------------------------------------------------------------------


def trial_record(store: Any, run_id: int, label: str) -> dict[str, Any]:
    """A finished run as a verdict reads it."""
    run = store.get_run(run_id)
    events = store.events(run_id)
    gc_events, window = [], None
    if events is not None and len(events):
        for row in events[events["kind"] == "gc"].itertuples():
            gc_events.append({**(row.data or {}), "t": float(row.t)})
        starts = events[events["kind"] == "epoch_start"]["t"]
        ends = events[events["kind"].isin(["epoch_end", "gc"])]["t"]
        if len(starts) and len(ends):
            window = [float(starts.min()), float(ends.max())]
    return {
        "label": label,
        "run_id": run_id,
        "status": run.get("status"),
        "error": run.get("error"),
        "config": run.get("config") or {},
        "summary": run.get("summary") or {},
        "findings": run.get("findings") or [],
        "log_groups": run.get("log_groups") or [],
        "gc_events": gc_events,
        "epoch_window": window,
    }


def _available_ram_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # the verdict then says the RAM is unknown
        return None


def _prepare(
    name: str, dataset: str, allowed_roots: list | None
) -> tuple[Scenario, list[tuple[str, TrialConfig]]]:
    from diagnostics.dataset import resolve_dataset

    scenario = get_scenario(name)
    root = resolve_dataset(dataset, allowed_roots)
    return scenario, scenario.configs(str(root))


def run_scenario(
    name: str,
    dataset: str,
    store: Any = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    allowed_roots: list | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Run the scenario's trials through the executor and judge them; returns the result dict.

    Every config is validated and the dataset confined before the first trial starts.
    ``on_progress(info)`` gets ``{"done", "total", "label", "run_id", "run_ids"}`` before each trial
    (``run_id`` None) and after it; ``run_ids`` are the finished trials' runs in trial order.
    ``executor`` (``executors.get_executor``): local (default, one after another) or ray.
    """
    from diagnostics.executors import get_executor
    from diagnostics.store import Store
    from diagnostics.sweep import autorange

    store = store or Store()
    executor = executor if executor is not None else get_executor("local")
    scenario, configs = _prepare(name, dataset, allowed_roots)
    labels = [label for label, _ in configs]
    finished: dict[int, int] = {}

    def report(index: int, run_id: int | None) -> None:
        if on_progress is not None:
            run_ids = [finished[i] for i in sorted(finished)]
            info = {"done": len(finished), "total": len(configs), "label": labels[index]}
            on_progress({**info, "run_id": run_id, "run_ids": run_ids})

    def done(result: Any) -> None:
        if result.error is not None:
            raise ConfigError(result.error)  # the configs were validated: nothing else may fail alone
        finished[result.index] = result.run_id
        report(result.index, result.run_id)

    results = executor.run(
        store,
        [config for _, config in configs],
        allowed_roots=allowed_roots,
        rerun=(lambda run_id, config: autorange(store, run_id, config)) if scenario.autorange else None,
        on_start=lambda index: report(index, None),
        on_done=done,
    )
    return judge(store, scenario, [r.run_id for r in results], labels, dataset)


def judge(
    store: Any, scenario: Scenario, run_ids: list[int], labels: list[str], dataset: str = ""
) -> dict[str, Any]:
    """The result dict of finished runs (also used to re-judge stored runs)."""
    records = [trial_record(store, run_id, label) for run_id, label in zip(run_ids, labels, strict=True)]
    verdict = scenario.verdict(records, {"available_ram_bytes": _available_ram_bytes()})
    better = verdict.better
    return {
        "scenario": scenario.name,
        "question": scenario.question,
        "metric_name": scenario.metric,
        "dataset": dataset,
        "run_ids": list(run_ids),
        "labels": list(labels),
        "statuses": [r["status"] for r in records],
        "verdict": verdict.text,
        "metric": _jsonable(verdict.metric),
        "better_run_id": run_ids[better] if better is not None else None,
        "better_label": labels[better] if better is not None else None,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# -- background jobs for the dashboard -------------------------------------------------------------


def _jobs_dir(store: Any) -> Path:
    return Path(store.home) / "scenarios"


def _write_job(store: Any, job: dict[str, Any]) -> None:
    folder = _jobs_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job['id']}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(_jsonable(job)), encoding="utf-8")
    os.replace(temporary, path)  # readers never see half a file


def _owner_alive(job: dict[str, Any]) -> bool:
    """The liveness test of runs and sweeps (``runner.process_alive``) on the job's owner."""
    from diagnostics.runner import process_alive

    return process_alive(job.get("pid"), job.get("pid_create_time"))


def read_job(store: Any, job_id: str) -> dict[str, Any]:
    """A job as last written; a running job whose process is gone reads as ``interrupted``."""
    path = _jobs_dir(store) / f"{job_id}.json"
    try:
        job = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DiagnosticsError(f"no scenario run {job_id!r} in {_jobs_dir(store)}") from None
    if job.get("status") == "running" and not _owner_alive(job):
        job["status"] = "interrupted"
        job["error"] = job.get("error") or "the process running this scenario ended before it did"
    return job


def list_jobs(store: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Scenario jobs, newest first."""
    folder = _jobs_dir(store)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    jobs = []
    for path in paths:
        try:
            jobs.append(read_job(store, path.stem))
        except DiagnosticsError:
            continue
    return sorted(jobs, key=lambda j: j.get("started") or 0, reverse=True)


def start_job(name: str, dataset: str, store: Any, *, allowed_roots: list | None = None) -> str:
    """Validate now (raising bad input here), then run the scenario in a background thread.

    The thread lives to the end of the scenario: the runner spawns each worker from it, and the
    worker's PR_SET_PDEATHSIG is tied to the thread that spawned it.
    """
    scenario, configs = _prepare(name, dataset, allowed_roots)
    job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    job = {
        "id": job_id,
        "scenario": scenario.name,
        "question": scenario.question,
        "dataset": str(dataset),
        "labels": [label for label, _ in configs],
        "status": "running",
        "done": 0,
        "total": len(configs),
        "label": None,
        "run_ids": [],
        "run_id_floor": _max_run_id(store),
        "pid": os.getpid(),
        "pid_create_time": process_create_time(),
        "started": time.time(),
        "result": None,
        "error": None,
    }
    _write_job(store, job)
    thread = threading.Thread(
        target=_job_main, args=(store.home, job, allowed_roots), name=f"scenario-{job_id}", daemon=True
    )
    thread.start()
    return job_id


def _max_run_id(store: Any) -> int:
    frame = store.list_runs()
    return int(frame["id"].max()) if len(frame) else 0


def _job_main(home: Any, job: dict[str, Any], allowed_roots: list | None) -> None:
    from diagnostics.store import Store

    store = Store(home)  # this thread's own connection

    def progress(info: dict[str, Any]) -> None:
        job.update(done=info["done"], label=info["label"], run_ids=list(info["run_ids"]))
        if info["run_id"] is None:
            job["run_id_floor"] = _max_run_id(store)
        _write_job(store, job)

    try:
        job["result"] = run_scenario(
            job["scenario"], job["dataset"], store, progress, allowed_roots=allowed_roots
        )
        job["status"] = "completed"
    except DiagnosticsError as exc:
        job.update(status="failed", error=str(exc))
    except Exception as exc:  # shown on the page instead of dying silently in a thread
        job.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    job["finished"] = time.time()
    _write_job(store, job)


def job_progress(store: Any, job: dict[str, Any]) -> tuple[float, str, int | None]:
    """(fraction done, text, id of the trial running now) of a job, read from the store."""
    total = max(int(job.get("total") or 1), 1)
    done = int(job.get("done") or 0)
    if job.get("status") != "running":
        return done / total, f"{done} of {total} trials · {job.get('status')}", None
    live = _live_run(store, job)
    fraction, text = done / total, f"Trial {min(done + 1, total)} of {total}: {job.get('label') or '…'}"
    if live is not None:
        epochs = int((live.get("config") or {}).get("epochs") or 1)
        events = store.events(live["id"])
        ended = int((events["kind"] == "epoch_end").sum()) if len(events) else 0
        text += f" · run #{live['id']} {live['status']}, epoch {min(ended + 1, epochs)} of {epochs}"
        fraction += min(ended / epochs, 1.0) / total
    return min(fraction, 1.0), text, live["id"] if live else None


def _live_run(store: Any, job: dict[str, Any]) -> dict[str, Any] | None:
    # run_trial returns the id only when the trial ends; the trial running now is the newest active
    # run created after this job's floor for this process.
    floor = int(job.get("run_id_floor") or 0)
    mine = [
        r
        for r in store.active_runs()
        if int(r["id"]) > floor
        and r["id"] not in (job.get("run_ids") or [])
        and r.get("runner_pid") == job.get("pid")
    ]
    return max(mine, key=lambda r: r["id"]) if mine else None


# -- report ----------------------------------------------------------------------------------------


def report_html(store: Any, result: dict[str, Any]) -> str:
    """``report.render_html`` of the scenario's runs with the question and verdict at the top."""
    from diagnostics.report import render_html

    page = render_html(store, list(result["run_ids"]))
    rows = "".join(
        f"<tr><td>#{run_id}</td><td>{html.escape(label)}</td><td>{html.escape(str(status))}</td></tr>"
        for run_id, label, status in zip(
            result["run_ids"],
            result["labels"],
            result.get("statuses") or [""] * len(result["run_ids"]),
            strict=False,
        )
    )
    better = (
        f"<p><b>Better pipeline:</b> {html.escape(str(result['better_label']))} (run #{result['better_run_id']})</p>"
        if result.get("better_run_id") is not None
        else ""
    )
    section = (
        f"<section class='scenario'><h2>Scenario {html.escape(result['scenario'])}: "
        f"{html.escape(result['question'])}</h2><p><b>Verdict:</b> {html.escape(result['verdict'])}</p>{better}"
        f"<table><tr><th>run</th><th>trial</th><th>status</th></tr>{rows}</table></section>"
    )
    marker = page.find("</h1>")
    if marker < 0:
        marker = page.find("<body>") + len("<body>") - len("</h1>")
    cut = marker + len("</h1>")
    return page[:cut] + section + page[cut:]
