"""What are these repeated log lines? A tf.data and a ``from_generator`` pipeline in fit; the
verdict merges their log templates (known source or none, counts) and sets the lines' times
against the garbage collections, beating chance before it says they coincide.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _not_measured,
    _ok,
)

__all__ = ["COINCIDENCE_SECONDS", "coincident", "covered_fraction", "trials", "verdict"]

# A log line "coincides" with a garbage collection when it is printed within this many seconds of
# one: tighter than an epoch, looser than the sampler's 20 ms period and the pipe's latency.
COINCIDENCE_SECONDS = 0.050


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
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


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
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
