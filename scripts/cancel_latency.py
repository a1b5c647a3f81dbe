"""Measure the time from a Cancel request to the run's end in the store (issue 13 item 11).

    python scripts/cancel_latency.py [--fake] [--repeats N] [--dataset DIR]

Starts a long trial in a background thread (as the dashboard does), waits until its second epoch
is running, requests the cancel the way the Cancel button does (``store.request_cancel``), and
times three moments: the runner noticing (worker killed: its pid gone), the row leaving
queued/running (what the dashboard's one-second refresh then shows), and the thread's end.
``--fake`` uses the FakeWorker (no TensorFlow). Real trials need the heavy lock:
``flock /tmp/heavy.lock python scripts/cancel_latency.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diagnostics.config import TrialConfig  # noqa: E402
from diagnostics.runner import join_background, start_trial_in_background  # noqa: E402
from diagnostics.store import Store  # noqa: E402


def _alive(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def one(store: Store, config: TrialConfig) -> dict[str, float]:
    run_id = start_trial_in_background(config, store)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for epoch 2: the pipeline is busy, as when users cancel
        events = store.events(run_id)
        if len(events) and (events["kind"] == "epoch_start").sum() >= 2:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"run {run_id} never reached epoch 2: {store.get_run(run_id)['error']}")
    pid = store.get_run(run_id)["worker_pid"]
    asked = time.monotonic()
    store.request_cancel(run_id)
    killed = ended = None
    while ended is None:
        now = time.monotonic()
        if killed is None and not _alive(pid):
            killed = now - asked
        if store.get_run(run_id)["status"] not in ("queued", "running"):
            ended = now - asked
        time.sleep(0.01)
    join_background(run_id, timeout=60)
    joined = time.monotonic() - asked
    status = store.get_run(run_id)["status"]
    assert status == "cancelled", status
    return {"worker_gone": killed if killed is not None else ended, "run_ended": ended, "thread_done": joined}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", action="store_true", help="the FakeWorker instead of TensorFlow")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", default=str(REPO / "sample_data"))
    args = parser.parse_args()
    if args.fake:
        os.environ["DIAG_TEST_WORKER"] = str(REPO / "tests" / "fakes" / "fake_worker.py")
        os.environ["FAKE_EPOCH_SECONDS"] = "30"
    home = tempfile.mkdtemp(prefix="cancel-latency-")
    store = Store(home)
    # Many epochs over the whole folder: still running whenever the cancel comes.
    config = TrialConfig(dataset=args.dataset, epochs=50, image_size=(64, 64))
    results = [one(store, config) for _ in range(args.repeats)]
    for key in ("worker_gone", "run_ended", "thread_done"):
        values = [r[key] for r in results]
        print(
            f"{key:12s} median {statistics.median(values):.2f} s  min {min(values):.2f} s  "
            f"max {max(values):.2f} s  (n={len(values)}, {'FakeWorker' if args.fake else 'TensorFlow worker'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
