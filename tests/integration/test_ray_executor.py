"""The ray executor on a real Ray cluster on this machine: a head and two worker nodes.

``ray.cluster_utils.Cluster`` starts real raylets: the head offers no trial slot, each worker node
one (``diagnostics_trial: 1``), as docs/RAY.md sets up a real cluster. Trials are real TensorFlow
workers on sample_data (a trial is a few seconds); the cancel and driver-death tests use
the FakeWorker, which speaks the same protocol without TensorFlow, because what they check is how
processes end, not what a trial measures. The whole module takes about a minute and a half on
2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

ray = pytest.importorskip("ray", reason="ray is a dev requirement (requirements-dev.txt)")

from ray.cluster_utils import Cluster  # noqa: E402

from diagnostics import cli  # noqa: E402
from diagnostics.config import TrialConfig  # noqa: E402
from diagnostics.executors import get_executor  # noqa: E402
from diagnostics.executors.ray import DATASET_MAP_ENV, SLOT_RESOURCE  # noqa: E402
from diagnostics.export import run_json  # noqa: E402
from diagnostics.recover import recover_interrupted  # noqa: E402
from diagnostics.store import Store  # noqa: E402
from diagnostics.sweep import run_sweep  # noqa: E402
from tests.processes import gone, wait_for  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.tf]

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"
# Small real trials: whole sample_data epochs (550 images at 128x128, about a second each here), so
# the throughput is usually stable at once (sweep.autorange reruns the others: the tests count them).
TRIAL = ["--loader", "tfdata_map_batch", "--epochs", "3"]


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {SLOT_RESOURCE: 0}})
    nodes = [cluster.add_node(num_cpus=1, resources={SLOT_RESOURCE: 1}) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()


def _config(sample_data_dir: Path, **options) -> TrialConfig:
    return TrialConfig(dataset=str(sample_data_dir), loader="tfdata_map_batch", **options)


def test_a_sweep_on_two_nodes_lands_in_the_central_store_as_the_json_says(
    cluster, diag_home, sample_data_dir, tmp_path
):
    out = tmp_path / "sweep.json"
    argv = ["sweep", str(sample_data_dir), *TRIAL, "--grid", "batch_size=16,32", "prefetch=none,auto"]
    code = cli.main([*argv, "--executor", "ray", "--ray-address", cluster[0].address, "--json", str(out)])
    assert code == 0
    document = json.loads(out.read_text())
    store = Store(diag_home)
    summary = document["sweep"]["summary"]
    assert summary["executor"] == "ray" and summary["trials"] == 4 and not summary["errors"]
    reruns = {a["run_id"] for a in summary["autoranged"]}
    assert len(document["runs"]) == 4 + len(reruns)  # a too-short trial is run again, counted here
    final = [r for r in document["runs"] if r["run_id"] not in reruns]
    assert len(final) == 4
    nodes = set()
    for doc in document["runs"]:
        run_id = doc["run_id"]
        run = store.get_run(run_id)
        assert run["status"] == doc["status"] == "completed", run["error"]
        assert json.loads(json.dumps(run_json(store, run_id), default=str)) == doc  # what the store holds
        counts = store.counts(run_id)
        assert counts["samples"] == doc["summary"]["samples"] > 10
        events = store.events(run_id)
        kinds = list(events["kind"])
        assert kinds[0] == "ready" and kinds[-1] == "done"
        assert kinds.count("epoch_end") == len(doc["summary"]["epochs"]) == run["config"]["epochs"]
        done = events[events["kind"] == "done"]["data"].iloc[0]
        assert doc["summary"]["peak_rss_bytes"] == done["vmhwm_bytes"]  # VmHWM read on the node
        assert counts["logs"] > 0 and counts["composition"] > 0
        host = run["host"]
        assert host["ray"]["hostname"] == host["hostname"] and host["ray"]["node_id"]
        assert run["versions"]["tensorflow"]  # the node's versions, from its worker's ready event
        assert 0 <= host["ray"]["task_to_spawn_seconds"] < 10
        nodes.add(host["ray"]["node_id"])
    assert nodes == {node.node_id for node in cluster[1]}  # the runs name both worker nodes


def test_a_dataset_missing_on_one_node_fails_that_trial_only(
    cluster, diag_home, sample_data_dir, monkeypatch
):
    _, nodes = cluster
    elsewhere = "/nonexistent/diag-ray-test/sample_data"
    monkeypatch.setenv(DATASET_MAP_ENV, json.dumps({nodes[1].node_id: {str(sample_data_dir): elsewhere}}))
    store = Store(diag_home)
    grid = {"batch_size": [16, 32]}  # two trials, two free slots: one lands on each node
    sweep_id = run_sweep(
        store, _config(sample_data_dir, epochs=2), grid, "missing", executor=get_executor("ray")
    )
    runs = [store.get_run(r) for r in store.get_sweep(sweep_id)["run_ids"]]
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(failed) == 1, [(r["status"], r["error"]) for r in runs]
    error = failed[0]["error"]
    assert nodes[1].node_id[:12] in error and elsewhere in error and "missing" in error
    assert failed[0]["host"]["ray"]["node_id"] == nodes[1].node_id
    others = [r for r in runs if r["status"] != "failed"]
    assert others and all(r["status"] == "completed" for r in others)
    assert all(r["host"]["ray"]["node_id"] == nodes[0].node_id for r in others)


def test_the_sweep_page_offers_the_cluster_with_its_trial_slots(
    cluster, diag_home, sample_data_dir, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DIAG_RAY_ADDRESS", cluster[0].address)
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(sample_data_dir))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/sweep.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    radio = at.radio(key="sweep_executor")
    assert radio.value == "local"  # offered, not imposed
    assert "2 trial slot(s)" in radio.format_func("ray")


def test_cancel_reaches_the_worker_on_the_node_and_a_trial_waiting_for_one(
    cluster, diag_home, sample_data_dir, monkeypatch
):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "30")
    store = Store(diag_home)
    progress = []
    thread = threading.Thread(
        target=run_sweep,
        args=(store, _config(sample_data_dir, epochs=2), {"batch_size": [16, 32, 64]}, "c"),
        kwargs={"executor": get_executor("ray"), "on_progress": lambda *a: progress.append(a)},
        daemon=True,
    )
    thread.start()
    running = wait_for(
        lambda: (r := [r for r in store.runs(["running"]) if r.get("t_ready")]) and len(r) == 2 and r,
        60,
        "two remote workers",
    )
    (waiting,) = store.runs(["queued"])  # two slots: the third waits for a node
    store.request_cancel(waiting["id"])
    wait_for(lambda: store.get_run(waiting["id"])["status"] == "cancelled", 10, "the waiting trial's cancel")
    assert store.get_run(waiting["id"])["error"] == "cancelled while waiting for a node"
    for run in running:
        store.request_cancel(run["id"])
    thread.join(30)
    assert not thread.is_alive() and len(progress) == 3
    for run in running:
        run = store.get_run(run["id"])
        assert run["status"] == "cancelled" and run["error"] == "cancelled on request"
        assert gone(run["worker_pid"])  # the node's runner killed it (the nodes are on this machine)


def test_a_scenario_runs_through_the_cluster_too(cluster, diag_home, sample_data_dir, monkeypatch):
    from diagnostics import scenarios

    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.1")
    store = Store(diag_home)
    seen = []
    result = scenarios.run_scenario(
        "log_lines", str(sample_data_dir), store, on_progress=seen.append, executor=get_executor("ray")
    )
    assert result["statuses"] == ["completed", "completed"] and result["labels"][1].startswith(
        "Python generator"
    )
    assert [store.get_run(r)["config"]["loader"] for r in result["run_ids"]] == [
        "keras_directory",
        "pil_generator",
    ]
    assert "a scripted warning" in result["verdict"]  # judged from the relayed logs
    assert {store.get_run(r)["host"]["ray"]["node_id"] for r in result["run_ids"]} == {
        n.node_id for n in cluster[1]
    }
    assert [p["done"] for p in seen if p["run_id"] is None] == [0, 0]  # both started before either ended
    assert sorted(p["run_id"] for p in seen if p["run_id"]) == sorted(result["run_ids"])


def test_a_node_that_dies_mid_trial_interrupts_its_run_and_the_sweep_goes_on(
    cluster, diag_home, sample_data_dir
):
    local_cluster, nodes = cluster
    store = Store(diag_home)
    outcome = {}

    def sweep() -> None:
        grid = {"batch_size": [16, 32, 64]}
        outcome["sweep_id"] = run_sweep(
            store, _config(sample_data_dir, epochs=4), grid, "die", executor=get_executor("ray")
        )

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    victim = wait_for(
        lambda: next(
            (r for r in store.runs(["running"]) if r.get("t_ready") and (r["host"] or {}).get("ray")), None
        ),
        90,
        "a remote trial past its ready event",
    )
    node = next(n for n in nodes if n.node_id == victim["host"]["ray"]["node_id"])
    local_cluster.remove_node(node)
    thread.join(150)
    assert not thread.is_alive()
    runs = {r: store.get_run(r) for r in store.get_sweep(outcome["sweep_id"])["run_ids"]}
    dead = runs.pop(victim["id"])
    assert dead["status"] == "interrupted", dead["error"]
    assert node.node_id[:12] in dead["error"] and "died or left the Ray cluster" in dead["error"]
    assert gone(dead["worker_pid"])  # the worker died with its node
    assert len(runs) >= 2 and all(r["status"] == "completed" for r in runs.values()), [
        (r["status"], r["error"]) for r in runs.values()
    ]
    nodes.remove(node)
    nodes.append(local_cluster.add_node(num_cpus=1, resources={SLOT_RESOURCE: 1}))


DRIVER = """
import sys
from diagnostics.config import TrialConfig
from diagnostics.executors import get_executor
from diagnostics.store import Store
from diagnostics.sweep import run_sweep
config = TrialConfig(dataset=sys.argv[2], epochs=2)
run_sweep(Store(), config, {"batch_size": [16, 32]}, "orphans", executor=get_executor("ray", sys.argv[1]))
"""


def test_the_driver_dying_leaves_no_worker_alive_on_any_node(cluster, diag_home, sample_data_dir):
    env = {**os.environ, "DIAG_TEST_WORKER": str(FAKE), "FAKE_EPOCH_SECONDS": "60", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, cluster[0].address, str(sample_data_dir)], env=env, cwd=REPO
    )
    store = Store(diag_home)
    try:
        pids = wait_for(
            lambda: (
                (p := [r["worker_pid"] for r in store.runs(["running"]) if r.get("t_ready")])
                and len(p) == 2
                and p
            ),
            90,
            "both remote workers",
        )
        tasks = [psutil.Process(pid).ppid() for pid in pids]  # the Ray worker processes running the tasks
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    killed = time.monotonic()
    wait_for(lambda: all(gone(pid) for pid in pids), 30, "the remote workers to die with the driver")
    print(f"workers gone {time.monotonic() - killed:.2f} s after the driver's SIGKILL")
    # Ray ended the tasks' processes (the job is gone) and the workers died with them
    # (PR_SET_PDEATHSIG), not the relay giving up (that takes ~5 s of failed sends).
    assert all(gone(pid) for pid in tasks)
    assert sorted(recover_interrupted(store)) == sorted(store.get_sweep(1)["run_ids"])
