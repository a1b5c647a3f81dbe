"""The Ray task that runs one trial on its node: check the dataset folder, then the same runner as a
local trial (``runner.run_prepared``) against a relaying store in a temporary DIAG_HOME, in the
driver's forwarded environment. Defined at this stable module path so Ray's workers import it by
name; it imports no TensorFlow (the runner's worker process does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import TrialCancelled
from diagnostics.executors.ray.node import _dataset_problem, _node_info, _node_path
from diagnostics.executors.ray.relay import _Relay, _RelayStore
from diagnostics.host import host_info

__all__: list[str] = []  # only Ray calls _trial_task (RayExecutor submits it)


@contextlib.contextmanager
def _trial_environment(forwarded: dict[str, str]) -> Iterator[None]:
    """The driver's forwarded variables, without Ray's OMP_NUM_THREADS=1 for its own workers (the
    trial must use the node's cores as a local trial does); restored afterwards (workers are reused)."""
    saved = dict(os.environ)
    if "OMP_NUM_THREADS" not in forwarded:
        os.environ.pop("OMP_NUM_THREADS", None)
    os.environ.update(forwarded)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _trial_task(spec: dict[str, Any], scan: dict[str, Any], mailbox: Any) -> dict[str, Any]:
    """One trial on this node; returns {status, error, node}. Everything else went by the relay."""
    task_started = time.monotonic()
    task_started_wall = time.time()
    from diagnostics.runner import run_prepared

    node = _node_info()
    relay = _Relay(mailbox, spec["run_id"])
    home = tempfile.mkdtemp(prefix="diag-ray-")
    outcome: dict[str, Any] = {"status": "failed", "error": None, "node": node}
    try:
        relay.start()
        path = _node_path(spec["dataset"], spec["dataset_map"], node)
        problem = _dataset_problem(path, spec["fingerprint"], spec["dataset"], node)
        timing = {"submitted": spec["submitted"], "task_started": task_started_wall}
        if problem is not None:
            relay.push("host", {**host_info(), "ray": {**node, **timing}})
            outcome.update(error=problem, dataset_problem=True)
            return outcome
        with _trial_environment(spec["env"]):
            store = _RelayStore(home, relay, node)
            config = TrialConfig.from_dict(spec["config"]).replace(dataset=path)
            local_id = store.create_run(config, spec["scan_summary"])
            local = store.get_run(local_id)
            host = {**(local.get("host") or {}), "ray": {**node, **timing}}
            relay.push("host", host)
            relay.push("update", {"versions": local.get("versions")})
            relay.on_cancel = lambda: store.request_cancel(local_id)
            if relay.cancel_requested:  # arrived before the run existed here: the runner ends it at once
                store.request_cancel(local_id)
            try:
                run_prepared(store, local_id, config, {**scan, "root": path})
            except (KeyboardInterrupt, TrialCancelled):
                pass  # ray.cancel, or the node stopping the task: the run is stored either way
            run = store.get_run(local_id)
            if run.get("t_started") is not None:
                timing["task_to_spawn_seconds"] = run["t_started"] - task_started
            relay.push("host", {**host, "ray": {**node, **timing}})
            outcome.update(status=run["status"], error=run.get("error"))
            return outcome
    finally:
        relay.close()
        shutil.rmtree(home, ignore_errors=True)
