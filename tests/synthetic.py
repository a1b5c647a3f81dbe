"""Synthetic store frames and runs shaped like the Store contract (docs/INTERNALS.md).

Fixture builders shared by the unit tests (charts, views, report, outcome, throughput) and the
AppTest pages: no runner, no worker, no TensorFlow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from diagnostics.config import TrialConfig

MIB = 1024 * 1024
SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


def run_frames(
    *,
    epochs: int = 3,
    seconds_per_epoch: float = 2.0,
    hz: float = 50.0,
    workers: int = 0,
    t_ready: float = 100.0,
):
    """(samples, events) of a fake run: RSS ramps in epoch 1 (a cache filling) then stays flat."""
    baseline = 560 * MIB
    samples = []
    t = t_ready - 1.0
    end = t_ready + epochs * seconds_per_epoch + 0.5
    while t <= end:
        since = t - t_ready
        fill = min(max(since, 0.0), seconds_per_epoch) / seconds_per_epoch
        main = baseline * (0.6 if since < 0 else 1.0) + 300 * MIB * fill + 4 * MIB * math.sin(t * 7)
        processes = {"4242": main}
        for i in range(workers):
            processes[str(5000 + i)] = 80 * MIB + 2 * MIB * math.sin(t + i)
        samples.append(
            {
                "t": t,
                "rss_bytes": sum(processes.values()),
                "main_rss_bytes": main,
                "processes": processes,
                "fds": 12,
                "threads": 20,
                "cpu_percent": 95.0,
                "vmhwm_bytes": None,
            }
        )
        t += 1.0 / hz
    events = [{"t": t_ready, "kind": "ready", "data": {"pid": 4242, "rss_bytes": baseline}}]
    images_per_epoch = 600
    for epoch in range(epochs):
        start = t_ready + epoch * seconds_per_epoch
        events.append({"t": start + 0.01, "kind": "epoch_start", "data": {"epoch": epoch}})
        for step in range(8):
            events.append(
                {
                    "t": start + (step + 1) * seconds_per_epoch / 8,
                    "kind": "step",
                    "data": {"epoch": epoch, "step": step, "images": (step + 1) * images_per_epoch // 8},
                }
            )
        events.append(
            {
                "t": start + seconds_per_epoch,
                "kind": "epoch_end",
                "data": {
                    "epoch": epoch,
                    "images": images_per_epoch,
                    "seconds": seconds_per_epoch - 0.01,
                    "rss_bytes": baseline + 300 * MIB,
                },
            }
        )
        events.append(
            {
                "t": start + seconds_per_epoch + 0.001,
                "kind": "gc",
                "data": {"epoch": epoch, "collections": [10, 1, 0], "pause_seconds": 0.002},
            }
        )
    return pd.DataFrame(samples), pd.DataFrame(events)


def summary_for(samples: pd.DataFrame, events: pd.DataFrame) -> dict:
    """A summary shaped like the --json contract, computed plainly from the synthetic frames."""
    ends = events[events["kind"] == "epoch_end"]
    epochs = [
        {
            "index": int(r.data["epoch"]),
            "images": int(r.data["images"]),
            "seconds": float(r.data["seconds"]),
            "images_per_second": r.data["images"] / r.data["seconds"],
            "rss_end_bytes": int(r.data["rss_bytes"]),
        }
        for r in ends.itertuples()
    ]
    baseline = int(events[events["kind"] == "ready"]["data"].iloc[0]["rss_bytes"])
    peak = int(samples["rss_bytes"].max())
    return {
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "peak_tree_rss_bytes": peak,
        "final_rss_bytes": int(samples["rss_bytes"].iloc[-1]),
        "images_per_second": sum(e["images"] for e in epochs) / sum(e["seconds"] for e in epochs),
        "leak_bytes_per_epoch": 0.0 if len(epochs) >= 3 else None,
        "fds": {"start": 12, "max": 12, "end": 12},
        "gc": {"collections": [30, 3, 0], "pause_seconds": 0.006},
        "samples": len(samples),
        "duration_seconds": float(samples["t"].iloc[-1] - samples["t"].iloc[0]),
        "epochs": epochs,
        "memory_model": {"cache": 300 * MIB, "batch": 6 * MIB, "prefetch": 0},
        "measured_overhead_bytes": peak - baseline,
    }


FINDING = {
    "id": "cache_size",
    "severity": "warning",
    "title": "cache() holds the decoded dataset in RAM",
    "detail": "RSS grew 300.0 MiB during epoch 1, modelled cache 300.0 MiB.",
    "advice": "Use --cache file or a smaller --image-size.",
    "evidence": {"epoch1_growth_bytes": 300 * MIB},
}
LOG_GROUP = {
    "template": "Local rendezvous is aborting with status: OUT_OF_RANGE: End of sequence",
    "count": 3,
    "level": "info",
    "source": "local_rendezvous.cc",
    "known": True,
    "benign": True,
    "explanation": "End of an iterator.",
    "per_epoch": [1, 1, 1],
    "times": [102.0, 104.0, 106.0],
}


def fill_store(
    store, dataset: str, *, runs: int = 2, status: str = "completed", xray: bool = True
) -> list[int]:
    """Insert finished runs through the Store API (no runner, no worker) and return their ids.

    ``xray``: the summaries carry issue 11's ``attribution`` and ``pipeline``.
    """
    ids = []
    for i in range(runs):
        config = {
            "dataset": dataset,
            "loader": "keras_directory",
            "mode": "iterate",
            "epochs": 3,
            "batch_size": 32 * (i + 1),
            "image_size": [128, 128],
            "cache": "memory" if i % 2 == 0 else "none",
        }
        scan = {"root": dataset, "num_images": 600, "classes": ["a", "b"], "counts": {"a": 300, "b": 300}}
        run_id = store.create_run(config, scan)
        samples, events = run_frames(workers=i)
        store.add_samples(run_id, samples.to_dict("records"))
        store.add_events(
            run_id, [{"t": e["t"], "kind": e["kind"], **e["data"]} for e in events.to_dict("records")]
        )
        store.add_logs(run_id, [{"t": 102.0, "stream": "stderr", "line": "hello from the worker"}])
        store.update_run(
            run_id,
            status=status,
            t_ready=100.0,
            summary={**summary_for(samples, events), **(xray_summary() if xray else {})},
            findings=[FINDING] if i % 2 == 0 else [],
            log_groups=[LOG_GROUP],
            snippet="import tensorflow as tf\nprint('pipeline')\n",
        )
        ids.append(run_id)
    return ids


def run_row(store, status: str, *, ready: bool = False) -> int:
    """A run of sample_data at ``status`` with this (live) process as its runner; ``ready``: past t_ready."""
    run_id = store.create_run(TrialConfig(dataset=str(SAMPLE_DATA)))  # this (live) process runs it
    store.update_run(run_id, status=status, t_ready=1.0 if ready else None)
    return run_id


# Pipeline X-ray (issue 11) ---------------------------------------------------------------------
PROBE_HZ = 4.0
CACHE = "in-memory cache"
SHUFFLE = "shuffle buffer (299 images)"
PREFETCH = "prefetch: 2 batches chosen by AUTOTUNE"


def _components(since: float, seconds_per_epoch: float) -> list[tuple[str, str, float]]:
    fill = min(max(since, 0.0), seconds_per_epoch) / seconds_per_epoch
    return [
        ("library code pages", "library", 12 * MIB * min(1.0, since / 0.5)),
        (CACHE, "tfdata_stage", 200 * MIB * fill),
        (SHUFFLE, "tfdata_stage", 58 * MIB * min(1.0, since / 0.3)),
        (PREFETCH, "tfdata_stage", 6 * MIB),
        ("allocator free", "allocator_free", 8 * MIB * fill),
    ]


def xray_frames(samples: pd.DataFrame, events: pd.DataFrame, *, seconds_per_epoch: float = 2.0):
    """(attribution_frame, autotune_frame) shaped like the analysis contract, for ``run_frames``.

    Snapshots at PROBE_HZ after ready; unattributed is the RSS overhead (sample nearest in time
    minus the ready RSS) less the named components, as the contract defines it.
    """
    ready = events[events["kind"] == "ready"].iloc[0]
    t_ready, baseline = float(ready["t"]), float(ready["data"]["rss_bytes"])
    rows, tunes = [], []
    t = t_ready + 1.0 / PROBE_HZ
    while t <= float(samples["t"].max()):
        nearest = samples.iloc[(samples["t"] - t).abs().argmin()]
        parts = _components(t - t_ready, seconds_per_epoch)
        rows += [{"t": t, "name": n, "kind": k, "bytes": b} for n, k, b in parts]
        rest = float(nearest["rss_bytes"]) - baseline - sum(b for _, _, b in parts)
        rows.append({"t": t, "name": "unattributed", "kind": "other", "bytes": rest})
        since = t - t_ready
        tunes.append(
            {"t": t, "stage": "ParallelMapV2", "parameter": "parallelism", "value": 1 + min(3, int(since))}
        )
        tunes.append(
            {"t": t, "stage": "Prefetch", "parameter": "buffer_size", "value": 2 if since > 1 else 1}
        )
        t += 1.0 / PROBE_HZ
    return pd.DataFrame(rows), pd.DataFrame(tunes)


def xray_summary() -> dict:
    """summary.attribution and summary.pipeline as issue 11 section 6 and the contract give them."""
    components = [
        {"name": CACHE, "kind": "tfdata_stage", "bytes": 200 * MIB, "detail": "MemoryCacheImpl"},
        {"name": SHUFFLE, "kind": "tfdata_stage", "bytes": 58 * MIB, "detail": "Shuffle"},
        {"name": "library code pages", "kind": "library", "bytes": 12 * MIB, "detail": "file-backed"},
        {"name": "allocator free", "kind": "allocator_free", "bytes": 8 * MIB, "detail": "mallinfo2"},
        {"name": PREFETCH, "kind": "tfdata_stage", "bytes": 6 * MIB, "detail": "Prefetch"},
    ]
    stage = dict(buffered_elements=0, autotune={}, code=None, images_per_second=None, parameters={})
    # Output first, as analysis.pipeline_summary lists them (map -> cache -> shuffle -> prefetch).
    stages = [
        {**stage, "name": "Prefetch", "label": PREFETCH, "peak_buffered_bytes": 6 * MIB,
         "buffered_bytes": 6 * MIB, "buffered_elements": 2, "time_share": 0.05, "autotune": {"buffer_size": 2}},
        {**stage, "name": "Shuffle", "label": SHUFFLE, "peak_buffered_bytes": 58 * MIB,
         "buffered_bytes": 49 * MIB, "buffered_elements": 250, "peak_buffered_elements": 299, "time_share": 0.05,
         "code": "dataset = dataset.shuffle(300)"},
        {**stage, "name": "MemoryCacheImpl", "label": CACHE, "peak_buffered_bytes": 200 * MIB,
         "buffered_bytes": 200 * MIB, "buffered_elements": 550, "time_share": 0.1,
         "code": "dataset = dataset.cache()"},
        {**stage, "name": "ParallelMapV2", "label": "parallel map in flight", "peak_buffered_bytes": 2 * MIB,
         "buffered_bytes": MIB, "buffered_elements": 4, "time_share": 0.8, "autotune": {"parallelism": 4},
         "images_per_second": 310.0, "code": "dataset = dataset.map(load, num_parallel_calls=AUTOTUNE)"},
    ]  # fmt: skip
    return {
        "attribution": {
            "at": "peak",
            "t": 102.0,
            "overhead_bytes": 300 * MIB,
            "unattributed_bytes": 16 * MIB,
            "components": components,
        },
        "pipeline": {
            "ram_budget_bytes": 4096 * MIB,
            "cpu_budget": 2,
            "bottleneck": {"stage": "parallel map in flight", "images_per_second": 310.0},
            "bound": {"kind": None, "detail": "iterate mode: no training step to compare with"},
            "stages": stages,
        },
    }


PROBE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "probe"


def store_probe_fixture(store, name: str = "cache_shuffle", *, status: str = "completed") -> int:
    """Store one captured real trial (tests/fixtures/probe/<name>.*) as the runner would.

    ``status="running"``: no summary yet, as the Run page sees a live run.
    """
    run = json.loads((PROBE_FIXTURES / f"{name}.run.json").read_text())
    events = [json.loads(line) for line in (PROBE_FIXTURES / f"{name}.events.jsonl").read_text().splitlines()]
    samples = [
        json.loads(line) for line in (PROBE_FIXTURES / f"{name}.samples.jsonl").read_text().splitlines()
    ]
    scan = {"root": run["config"]["dataset"], "num_images": run["num_images"], "classes": [], "counts": {}}
    run_id = store.create_run(run["config"], scan)
    store.add_samples(run_id, samples)
    store.add_events(run_id, [e for e in events if e["kind"] not in ("pipeline", "composition")])
    store.add_pipeline(run_id, [e for e in events if e["kind"] == "pipeline"])
    store.add_composition(run_id, [e for e in events if e["kind"] == "composition"])
    finished = {"summary": run["summary"]} if status != "running" else {}
    store.update_run(run_id, status=status, t_started=run["t_started"], t_ready=run["t_ready"], **finished)
    return run_id
