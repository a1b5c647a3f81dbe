"""Synthetic store frames shaped like the Store contract (docs/INTERNALS.md), for chart tests."""

from __future__ import annotations

import math

import pandas as pd

MIB = 1024 * 1024


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


def fill_store(store, dataset: str, *, runs: int = 2, status: str = "completed") -> list[int]:
    """Insert finished runs through the Store API (no runner, no worker) and return their ids."""
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
            summary=summary_for(samples, events),
            findings=[FINDING] if i % 2 == 0 else [],
            log_groups=[LOG_GROUP],
            snippet="import tensorflow as tf\nprint('pipeline')\n",
        )
        ids.append(run_id)
    return ids
