"""The ``summary`` of the --json contract from a run's samples and events."""

from __future__ import annotations

import math
from typing import Any

from diagnostics import throughput
from diagnostics.analysis._util import _column, _events_of, _int, _num, _sample_at

# -- summary ---------------------------------------------------------------------------------------


def summarise(run: dict[str, Any], samples: Any, events: Any) -> dict[str, Any]:
    """The ``summary`` of the --json contract, from whatever part of the run exists."""
    missing: list[str] = []
    ready = (_events_of(events, "ready") or [None])[0]
    done = (_events_of(events, "done") or [None])[-1]
    epoch_ends = _events_of(events, "epoch_end")
    gcs = _events_of(events, "gc")
    gpu_events = _events_of(events, "gpu_memory")

    rss = _column(samples, "rss_bytes")
    main_rss = _column(samples, "main_rss_bytes")
    vmhwm = _column(samples, "vmhwm_bytes")
    fds = _column(samples, "fds")

    if ready is not None and _num(ready.get("rss_bytes")) is not None:
        baseline = _num(ready["rss_bytes"])
    else:
        # The first sample of a worker still importing is no baseline (it can be 200 KiB).
        missing.append("ready event: the worker stopped before ready, so there is no baseline")
        baseline = None
    t_ready = ready.get("t") if ready else _num(run.get("t_ready"))

    if done is not None and _num(done.get("vmhwm_bytes")) is not None:
        peak, peak_source = _num(done["vmhwm_bytes"]), "VmHWM at exit"
    elif vmhwm:
        peak, peak_source = max(vmhwm), "max sampled VmHWM (no done event)"
        missing.append("done event (peak from sampled VmHWM)")
    elif main_rss or rss:
        peak, peak_source = max(main_rss or rss), "max sampled RSS (no VmHWM)"
        missing.append("done event and VmHWM samples (peak from sampled RSS)")
    else:
        peak, peak_source = None, "no data"
        missing.append("peak: no samples")
    if done is not None and _num(done.get("rss_bytes")) is not None:
        final = _num(done["rss_bytes"])
    else:
        final = (main_rss or rss or [None])[-1]

    gc_by_epoch: dict[int, dict[str, Any]] = {}
    collections = [0, 0, 0]
    pause_seconds = 0.0
    for event in gcs:
        counts = list(event.get("collections") or [])[:3]
        for i, count in enumerate(counts):
            collections[i] += int(_num(count) or 0)
        pause = _num(event.get("pause_seconds")) or 0.0
        pause_seconds += pause
        if event.get("epoch") is not None:
            gc_by_epoch[int(event["epoch"])] = {"collections": counts, "pause_seconds": pause}

    epochs = []
    for event in epoch_ends:
        index = int(_num(event.get("epoch")) or len(epochs))
        images = int(_num(event.get("images")) or 0)
        seconds = _num(event.get("seconds"))
        row: dict[str, Any] = {
            "index": index,
            "images": images,
            "seconds": seconds,
            "images_per_second": (images / seconds) if seconds else None,
            "rss_end_bytes": _int(event.get("rss_bytes"))
            or _int(_sample_at(samples, event.get("t"), "main_rss_bytes")),
            "tree_rss_end_bytes": _int(_sample_at(samples, event.get("t"), "rss_bytes")),
            "fds_end": _int(_sample_at(samples, event.get("t"), "fds")),
        }
        for key in ("loss", "accuracy", "gpu_current_bytes", "gpu_peak_bytes"):
            if event.get(key) is not None:
                row[key] = event[key]
        if index in gc_by_epoch:
            row["gc_pause_seconds"] = gc_by_epoch[index]["pause_seconds"]
        epochs.append(row)

    rate = throughput.measure(epochs)

    times = _column(samples, "t") + [
        e["t"] for e in (_events_of(events, "epoch_start") + epoch_ends) if e.get("t")
    ]
    start = t_ready if t_ready is not None else (min(times) if times else None)
    end = done["t"] if done else (max(times) if times else None)
    if not epochs:
        missing.append("epoch_end events: no epoch finished")
    if done is None:
        missing.append("done event: the worker did not finish normally")

    gpu_peaks = [_num(e.get("gpu_peak_bytes")) for e in epoch_ends] + [
        _num(e.get("peak_bytes")) for e in gpu_events
    ]
    gpu_peaks = [g for g in gpu_peaks if g is not None]

    return {
        "status": run.get("status"),
        "baseline_rss_bytes": _int(baseline),
        "peak_rss_bytes": _int(peak),
        "peak_source": peak_source,
        "peak_tree_rss_bytes": _int(max(rss)) if rss else None,
        "final_rss_bytes": _int(final),
        "measured_overhead_bytes": _int(peak - baseline)
        if peak is not None and baseline is not None
        else None,
        # One figure for every view (diagnostics/throughput.py); the steady_ name stays for readers
        # of older summaries.
        "images_per_second": rate["images_per_second"],
        "steady_images_per_second": rate["images_per_second"],
        "throughput": rate,
        "leak_bytes_per_epoch": None,
        "fds": {
            "start": _int(fds[0]) if fds else None,
            "max": _int(max(fds)) if fds else None,
            "end": _int(fds[-1]) if fds else None,
        },
        "gc": {"collections": collections, "pause_seconds": pause_seconds},
        "samples": 0 if samples is None else int(len(samples)),
        "duration_seconds": (end - start) if start is not None and end is not None else None,
        "t_ready": t_ready,
        "epochs": epochs,
        "gpu_peak_bytes": _int(max(gpu_peaks)) if gpu_peaks else None,
        "missing": missing,
    }


def _last_epoch_jitter(samples: Any, events: Any) -> float | None:
    """Std of the main process RSS sampled during the last finished epoch."""
    starts = _events_of(events, "epoch_start")
    ends = _events_of(events, "epoch_end")
    if not starts or not ends or samples is None or len(samples) == 0 or "main_rss_bytes" not in samples:
        return None
    t0 = (
        starts[-1]["t"]
        if starts[-1]["t"] <= ends[-1]["t"]
        else (starts[-2]["t"] if len(starts) > 1 else None)
    )
    if t0 is None:
        return None
    window = samples[(samples["t"] >= t0) & (samples["t"] <= ends[-1]["t"])]
    values = [v for v in (_num(x) for x in window["main_rss_bytes"].tolist()) if v is not None]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _model_total(model: dict[str, int]) -> int:
    # decoded_element is one image inside the batch, not memory of its own.
    return sum(v for k, v in model.items() if k != "decoded_element")


def _children_peak(samples: Any) -> int | None:
    """Largest summed RSS of the worker's child processes (PyDataset workers) in any sample."""
    if samples is None or len(samples) == 0 or "processes" not in samples:
        return None
    if "main_rss_bytes" in samples and "rss_bytes" in samples:
        diffs = [
            (_num(t) or 0) - (_num(m) or 0)
            for t, m in zip(samples["rss_bytes"].tolist(), samples["main_rss_bytes"].tolist(), strict=False)
        ]
        best = max(diffs) if diffs else 0
        return int(best) if best > 0 else None
    return None
