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
