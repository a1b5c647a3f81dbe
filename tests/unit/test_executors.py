"""Executors without Ray: the local default is today's sequential runner, and nothing imports ray.

The local executor runs the FakeWorker (tests/fakes/fake_worker.py), a real subprocess without
TensorFlow. The ray module's pure helpers (dataset path mapping and check, address probing) are
tested here too; the executor itself is tested on a real cluster in
tests/integration/test_ray_executor.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics import cli
from diagnostics.config import TrialConfig
from diagnostics.dataset import list_folder
from diagnostics.errors import ConfigError
from diagnostics.executors import get_executor
from diagnostics.executors import ray as ray_executor
from diagnostics.executors.local import LocalExecutor
from diagnostics.store import Store
from diagnostics.sweep import run_sweep

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"


@pytest.fixture
def store(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.05")
    return Store(diag_home)


def test_local_is_the_default_and_unknown_names_are_refused():
    assert isinstance(get_executor(), LocalExecutor) and get_executor("local").name == "local"
    with pytest.raises(ConfigError, match="unknown executor 'slurm': choose one of local, ray"):
        get_executor("slurm")


def test_local_runs_one_trial_after_another_in_order_with_its_rerun_right_after(store, sample_data_dir):
    configs = [TrialConfig(dataset=str(sample_data_dir), epochs=2, batch_size=b) for b in (16, 32, 64)]
    seen = []

    def rerun(run_id, config):
        seen.append(("rerun?", run_id))
        return config.replace(epochs=3) if config.batch_size == 32 else None

    results = LocalExecutor().run(
        store,
        configs,
        sweep_id=None,
        rerun=rerun,
        on_start=lambda i: seen.append(("start", i)),
        on_done=lambda r: seen.append(("done", r.index, r.run_id)),
    )
    assert seen == [
        ("start", 0),
        ("rerun?", 1),
        ("done", 0, 1),
        ("start", 1),
        ("rerun?", 2),
        ("done", 1, 3),  # run 2 was too short: its rerun (run 3) ran at once and stands for it
        ("start", 2),
        ("rerun?", 4),
        ("done", 2, 4),
    ]
    assert [(r.run_id, r.first_run_id) for r in results] == [(1, None), (3, 2), (4, None)]
    assert results[1].rerun_config.epochs == 3 and store.get_run(3)["config"]["epochs"] == 3
    runs = store.runs()
    assert [r["status"] for r in runs] == ["completed"] * 4
    # Sequential: each run started after the previous one finished.
    assert all(a["finished"] <= b["started"] for a, b in zip(runs, runs[1:], strict=False))
    assert all("ray" not in (r["host"] or {}) for r in runs)


def test_a_config_error_is_that_trial_s_error_and_the_others_run(store, sample_data_dir):
    good = TrialConfig(dataset=str(sample_data_dir), epochs=2)
    bad = TrialConfig(dataset=str(sample_data_dir), epochs=2, loader="eager_loop", prefetch="auto")
    results = LocalExecutor().run(store, [bad, good])
    assert results[0].run_id is None and "prefetch" in results[0].error
    assert results[1].error is None and store.get_run(results[1].run_id)["status"] == "completed"


def test_run_sweep_uses_the_local_executor_by_default(store, sample_data_dir):
    sweep_id = run_sweep(
        store, TrialConfig(dataset=str(sample_data_dir), epochs=2), {"batch_size": [16, 32]}, "b"
    )
    sweep = store.get_sweep(sweep_id)
    assert sweep["summary"]["executor"] == "local" and sweep["status"] == "completed"
    assert len(sweep["run_ids"]) == 2 + len(sweep["summary"]["autoranged"])


def test_nothing_imports_ray_unless_the_ray_executor_is_used():
    code = (
        "import sys\n"
        "import diagnostics.cli, diagnostics.sweep, diagnostics.scenarios, diagnostics.executors.ray\n"
        "from diagnostics.executors import get_executor\n"
        "get_executor('local'); get_executor('ray', '127.0.0.1:1')\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_cli_refuses_a_ray_address_without_the_ray_executor_and_an_unreachable_cluster(
    diag_home, sample_data_dir, capsys
):
    argv = ["sweep", str(sample_data_dir), "--grid", "batch_size=16,32"]
    assert cli.main([*argv, "--ray-address", "127.0.0.1:1"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err
    assert cli.main([*argv, "--executor", "ray", "--ray-address", "127.0.0.1:1"]) == 2
    assert "the Ray cluster at 127.0.0.1:1 cannot be reached" in capsys.readouterr().err
    assert Store(diag_home).runs() == []  # nothing was queued


def test_the_dataset_path_map_applies_per_node_by_id_ip_or_host_name():
    node = {"node_id": "abc123", "node_ip": "10.0.0.7", "hostname": "gpu-7"}
    mapping = {"gpu-7": {"/data/images": "/mnt/share/images"}, "other": {"/data": "/x"}}
    assert ray_executor._node_path("/data/images/cats", mapping, node) == "/mnt/share/images/cats"
    assert ray_executor._node_path("/data/images", mapping, node) == "/mnt/share/images"
    assert ray_executor._node_path("/data/imagesX", mapping, node) == "/data/imagesX"  # not a prefix folder
    assert ray_executor._node_path("/data/images", {}, node) == "/data/images"


def test_dataset_map_env_must_be_json_of_maps(monkeypatch):
    monkeypatch.setenv(ray_executor.DATASET_MAP_ENV, "{not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        ray_executor._dataset_map()
    monkeypatch.setenv(ray_executor.DATASET_MAP_ENV, json.dumps({"node": "/path"}))
    with pytest.raises(ConfigError, match="must look like"):
        ray_executor._dataset_map()


def test_the_node_s_dataset_check_names_the_node_and_the_path(sample_data_dir, tmp_path):
    node = {"node_id": "0123456789abcdef", "node_ip": "10.0.0.7", "hostname": "gpu-7"}
    fingerprint = list_folder(sample_data_dir).fingerprint
    same = str(sample_data_dir)
    assert ray_executor._dataset_problem(same, fingerprint, same, node) is None
    missing = ray_executor._dataset_problem(str(tmp_path / "gone"), fingerprint, same, node)
    assert missing.startswith("node gpu-7 (10.0.0.7, id 0123456789ab): dataset folder ")
    assert str(tmp_path / "gone") in missing and f"the driver's {same}" in missing and "is missing" in missing
    copy = tmp_path / "copy"
    (copy / "a").mkdir(parents=True)
    (copy / "a" / "x.png").write_bytes((sample_data_dir / "circles").iterdir().__next__().read_bytes())
    differs = ray_executor._dataset_problem(str(copy), fingerprint, same, node)
    assert "differs from the driver's: listing fingerprint" in differs and fingerprint[:12] in differs


def test_reachable_probes_the_port_before_ray_is_imported():
    assert ray_executor.reachable("127.0.0.1:1", timeout=0.5) is False
    assert ray_executor.reachable("auto") is True  # nothing to probe: ray.init tells


def test_a_run_s_host_can_be_replaced_by_the_node_s(diag_home, sample_data_dir):
    from diagnostics.host import host_info

    store = Store(diag_home)
    run_id = store.create_run(TrialConfig(dataset=str(sample_data_dir)))
    assert store.get_run(run_id)["host"] == host_info()  # the creating process's machine
    node = {**host_info(), "hostname": "gpu-7", "ray": {"node_id": "abc", "task_to_spawn_seconds": 0.03}}
    store.update_run(run_id, host=node)
    assert store.get_run(run_id)["host"] == node
