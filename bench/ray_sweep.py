"""python -m bench.ray_sweep [--configs N] [--json OUT]: a sweep on a 2-node local Ray cluster vs local.

Builds a Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head with no trial slot and
two worker nodes with ``diagnostics_trial: 1`` each, as docs/RAY.md sets one up), then runs the
same N configs (default 8: ``sweep.DEFAULT_GRID`` on sample_data) through the ray executor and
through the local one, in that order, each on a fresh store, and prints:

- the wall-time ratio local / ray (above 1: the cluster was faster);
- Ray's per-trial overhead: task submitted (the driver submits when a node is free) -> task
  started on its node, and task started -> worker spawned (the dataset check and the node-local
  store before the runner spawns the worker); from the timestamps each run records in ``host.ray``;
- the median images/s and peak of the two runs of each config, because two trials side by side on
  one box compete for its cores: on a real cluster each node is its own machine.

No autorange reruns (``Executor.run`` directly): both sides run exactly the same trials.
Not part of ``python -m bench`` (it needs ray and starts a cluster); ray is a dev requirement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _configs(dataset: Path, count: int):
    from diagnostics.config import TrialConfig
    from diagnostics.sweep import DEFAULT_GRID, expand

    configs = expand(TrialConfig(dataset=str(dataset), epochs=3), DEFAULT_GRID)
    while len(configs) < count:  # more than the default grid: the same configs again
        configs += configs[: count - len(configs)]
    return configs[:count]


def _timed(executor, configs, home: Path) -> tuple[float, list[dict]]:
    from diagnostics.store import Store

    store = Store(home)
    started = time.monotonic()
    results = executor.run(store, configs)
    wall = time.monotonic() - started
    return wall, [store.get_run(r.run_id) for r in results if r.run_id is not None]


def _rate(run: dict) -> float | None:
    from diagnostics import throughput

    return throughput.images_per_second(run.get("summary") or {})


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ray_sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=8, help="trials per side (default 8)")
    parser.add_argument("--dataset", type=Path, default=REPO / "sample_data")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    import ray
    from ray.cluster_utils import Cluster

    from diagnostics.executors import get_executor
    from diagnostics.executors.ray import SLOT_RESOURCE

    configs = _configs(args.dataset.resolve(), args.configs)
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    cluster_started = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {SLOT_RESOURCE: 0}})
    for _ in range(2):
        cluster.add_node(num_cpus=1, resources={SLOT_RESOURCE: 1})
    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    cluster_seconds = time.monotonic() - cluster_started
    try:
        ray_wall, ray_runs = _timed(get_executor("ray"), configs, work / "ray")
    finally:
        ray.shutdown()
        cluster.shutdown()
    local_wall, local_runs = _timed(get_executor("local"), configs, work / "local")

    hosts = [r["host"]["ray"] for r in ray_runs]
    to_spawn = [h["task_to_spawn_seconds"] for h in hosts if h.get("task_to_spawn_seconds") is not None]
    queued = [h["task_started"] - h["submitted"] for h in hosts]
    result = {
        "configs": len(configs),
        "cpu_count": os.cpu_count(),
        "cluster_start_seconds": cluster_seconds,
        "ray_wall_seconds": ray_wall,
        "local_wall_seconds": local_wall,
        "local_over_ray": local_wall / ray_wall,
        "ray_statuses": [r["status"] for r in ray_runs],
        "local_statuses": [r["status"] for r in local_runs],
        "nodes_used": len({h["node_id"] for h in hosts}),
        "task_to_spawn_seconds": {"median": _median(to_spawn), "max": max(to_spawn, default=None)},
        "submit_to_task_seconds": {"median": _median(queued), "max": max(queued, default=None)},
        "images_per_second_median": {
            "ray": _median([_rate(r) for r in ray_runs]),
            "local": _median([_rate(r) for r in local_runs]),
        },
        "peak_rss_bytes_median": {
            "ray": _median([(r["summary"] or {}).get("peak_rss_bytes") for r in ray_runs]),
            "local": _median([(r["summary"] or {}).get("peak_rss_bytes") for r in local_runs]),
        },
    }
    rates = result["images_per_second_median"]
    peaks = result["peak_rss_bytes_median"]
    mib = 1024**2
    print(
        f"{len(configs)} configs on {os.cpu_count()} cores; cluster start {cluster_seconds:.1f} s (not counted)"
    )
    print(f"ray (2 nodes, one trial each): {ray_wall:6.1f} s  statuses {sorted(set(result['ray_statuses']))}")
    print(
        f"local, sequential:             {local_wall:6.1f} s  statuses {sorted(set(result['local_statuses']))}"
    )
    print(f"local / ray wall time:         {result['local_over_ray']:.2f}x")
    spawn, start = result["task_to_spawn_seconds"], result["submit_to_task_seconds"]
    print(
        f"per trial, Ray adds: submit -> task start median {start['median'] * 1000:.0f} ms (max "
        f"{start['max'] * 1000:.0f} ms: a node's first task starts its Ray worker process); task start "
        f"-> worker spawn median {spawn['median'] * 1000:.0f} ms (max {spawn['max'] * 1000:.0f} ms)"
    )
    print(
        f"median images/s: ray {rates['ray']:,.0f}, local {rates['local']:,.0f}; median peak: "
        f"ray {peaks['ray'] / mib:,.0f} MiB, local {peaks['local'] / mib:,.0f} MiB"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
