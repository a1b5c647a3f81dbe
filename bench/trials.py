"""One trial through the real runner, reduced to the numbers the benchmark compares.

The benchmark drives the product exactly as the CLI does (``runner.run_trial`` into a ``Store``),
then reads back what the store holds: the ``--json`` summary, the worker's ``done`` event (its
VmHWM) and the samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.store import Store

__all__ = ["BenchError", "Trial", "read", "run", "steady_images_per_second"]


class BenchError(RuntimeError):
    """A measurement could not be taken (a trial failed, a tool is missing); the message says which."""


@dataclass(frozen=True)
class Trial:
    run_id: int
    config: TrialConfig
    sampled: bool
    wall_seconds: float  # run_trial call to return: queue, spawn, trial, analysis, store
    fixed_seconds: float | None  # worker spawn until its `ready` event (imports included)
    steady_images_per_second: float | None
    images_per_second: float | None
    peak_rss_bytes: int | None  # what the product reports
    vmhwm_bytes: int | None  # the worker's own VmHWM from its `done` event
    sampled_max_rss_bytes: int | None  # highest main-process RSS among the samples
    samples: int


def steady_images_per_second(epochs: list[dict[str, Any]]) -> float | None:
    """Images/s over all epochs but the first (which warms up: caches fill, graphs trace).

    Summed images over summed seconds, not a mean of per-epoch rates, so short epochs do not weigh
    as much as long ones. With a single epoch, that epoch is all there is.
    """
    usable = epochs[1:] if len(epochs) > 1 else epochs
    seconds = sum(float(e.get("seconds") or 0.0) for e in usable)
    images = sum(int(e.get("images") or 0) for e in usable)
    return images / seconds if seconds > 0 else None


def run(config: TrialConfig, store: Store, *, sample: bool = True) -> Trial:
    """Run one trial; BenchError unless it completed."""
    from diagnostics import runner

    started = time.monotonic()
    if sample:
        run_id = runner.run_trial(config, store)
    else:
        run_id = runner.run_trial(config, store, sample=False)
    return read(run_id, config, store, wall_seconds=time.monotonic() - started, sampled=sample)


def read(
    run_id: int, config: TrialConfig, store: Store, *, wall_seconds: float, sampled: bool = True
) -> Trial:
    """The numbers of a stored trial; BenchError unless it completed."""
    doc = store.run_json(run_id)
    if doc["status"] != "completed":
        raise BenchError(
            f"trial {run_id} ({config.loader}, batch {config.batch_size}) ended {doc['status']}: "
            f"{doc.get('error') or 'no error recorded'}"
        )
    summary = doc["summary"]
    run_row = store.get_run(run_id)
    events = store.events(run_id)
    done = events[events["kind"] == "done"]
    vmhwm = int(done.iloc[-1]["data"]["vmhwm_bytes"]) if len(done) else None
    samples = store.samples(run_id)
    sampled_max = int(samples["main_rss_bytes"].max()) if len(samples) else None
    fixed = None
    if run_row.get("t_started") is not None and run_row.get("t_ready") is not None:
        fixed = float(run_row["t_ready"]) - float(run_row["t_started"])
    return Trial(
        run_id=run_id,
        config=config,
        sampled=sampled,
        wall_seconds=wall_seconds,
        fixed_seconds=fixed,
        steady_images_per_second=steady_images_per_second(summary.get("epochs") or []),
        images_per_second=summary.get("images_per_second"),
        peak_rss_bytes=summary.get("peak_rss_bytes"),
        vmhwm_bytes=vmhwm,
        sampled_max_rss_bytes=sampled_max,
        samples=len(samples),
    )
