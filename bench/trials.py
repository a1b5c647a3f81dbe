"""One trial through the real runner, reduced to the numbers the benchmark compares.

The benchmark drives the product exactly as the CLI does (``runner.run_trial`` into a ``Store``),
then reads back what the store holds: the ``--json`` summary, the worker's ``done`` event (its
VmHWM) and the samples.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.export import run_json
from diagnostics.store import Store

__all__ = ["BenchError", "Trial", "median_epoch_images_per_second", "read", "run", "steady_images_per_second"]


class BenchError(RuntimeError):
    """A measurement could not be taken (a trial failed, a tool is missing); the message says which."""


@dataclass(frozen=True)
class Trial:
    run_id: int
    config: TrialConfig
    sampled: bool
    wall_seconds: float  # run_trial call to return: queue, spawn, trial, analysis, store
    runner_cpu_seconds: float | None  # CPU the runner side (sampler, readers, store) used meanwhile
    fixed_seconds: float | None  # worker spawn until its `ready` event (imports included)
    steady_images_per_second: float | None  # the product's figure: steady images / steady seconds
    median_epoch_images_per_second: float | None  # robust to one disturbed epoch; for paired ratios
    images_per_second: float | None
    baseline_rss_bytes: int | None  # RSS at `ready`
    peak_rss_bytes: int | None  # what the product reports
    vmhwm_bytes: int | None  # the worker's own VmHWM from its `done` event
    sampled_max_rss_bytes: int | None  # highest main-process RSS sampled until `done`
    last_sampled_vmhwm_bytes: int | None  # VmHWM of the last sample, after `done` (teardown)
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


def median_epoch_images_per_second(epochs: list[dict[str, Any]]) -> float | None:
    """Median of the per-epoch rates of all epochs but the first.

    Used where two configs or two modes are compared pair by pair on a shared box: one epoch
    slowed by someone else's burst moves a median far less than a total.
    """
    usable = epochs[1:] if len(epochs) > 1 else epochs
    rates = [int(e.get("images") or 0) / float(e["seconds"]) for e in usable if e.get("seconds")]
    return statistics.median(rates) if rates else None


def run(config: TrialConfig, store: Store, *, sample: bool = True) -> Trial:
    """Run one trial; BenchError unless it completed."""
    from diagnostics import runner

    started = time.monotonic()
    cpu_started = time.process_time()  # this process, all threads: what running the trial costs here
    if sample:
        run_id = runner.run_trial(config, store)
    else:
        run_id = runner.run_trial(config, store, sample=False)
    wall_seconds = time.monotonic() - started
    cpu_seconds = time.process_time() - cpu_started
    return read(
        run_id, config, store, wall_seconds=wall_seconds, sampled=sample, runner_cpu_seconds=cpu_seconds
    )


def read(
    run_id: int,
    config: TrialConfig,
    store: Store,
    *,
    wall_seconds: float,
    sampled: bool = True,
    runner_cpu_seconds: float | None = None,
) -> Trial:
    """The numbers of a stored trial; BenchError unless it completed."""
    doc = run_json(store, run_id)
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
    # The worker reads VmHWM for `done` just before it exits; interpreter teardown after that still
    # touches memory, so samples taken after `done` belong to teardown, not to the pipeline.
    during = samples[samples["t"] <= done.iloc[-1]["t"]] if len(done) else samples
    sampled_max = int(during["main_rss_bytes"].max()) if len(during) else None
    last_vmhwm = samples["vmhwm_bytes"].dropna()
    fixed = None
    if run_row.get("t_started") is not None and run_row.get("t_ready") is not None:
        fixed = float(run_row["t_ready"]) - float(run_row["t_started"])
    return Trial(
        run_id=run_id,
        config=config,
        sampled=sampled,
        wall_seconds=wall_seconds,
        runner_cpu_seconds=runner_cpu_seconds,
        fixed_seconds=fixed,
        # The product's own figure (what the recommender ranks by), else the same rule recomputed.
        steady_images_per_second=summary.get("steady_images_per_second")
        or steady_images_per_second(summary.get("epochs") or []),
        median_epoch_images_per_second=median_epoch_images_per_second(summary.get("epochs") or []),
        images_per_second=summary.get("images_per_second"),
        baseline_rss_bytes=summary.get("baseline_rss_bytes"),
        peak_rss_bytes=summary.get("peak_rss_bytes"),
        vmhwm_bytes=vmhwm,
        sampled_max_rss_bytes=sampled_max,
        last_sampled_vmhwm_bytes=int(last_vmhwm.iloc[-1]) if len(last_vmhwm) else None,
        samples=len(samples),
    )
