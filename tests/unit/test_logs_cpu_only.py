"""CUDA's "failed call to cuInit" on a machine where TensorFlow found no GPU is expected there, and
the log table says so instead of showing an error (issue 18, smaller items)."""

from __future__ import annotations

import pandas as pd

from diagnostics.analysis import analyze
from diagnostics.logs import group_logs
from diagnostics.views.run import log_group_rows

CUINIT = (
    "E0000 00:00:1795300961.417630    6727 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
)
LOGS = pd.DataFrame([{"t": 1.0, "stream": "stderr", "line": CUINIT}])


def test_cuinit_is_expected_where_tensorflow_listed_no_gpu():
    [group] = group_logs(LOGS, [], gpus=[])
    [row] = log_group_rows([group])
    assert row["level"] == "expected here (logged as error)"
    assert "no GPU" in row["explanation"]


def test_cuinit_stays_an_error_on_a_gpu_machine_or_when_unknown():
    for gpus in (["/physical_device:GPU:0"], None):
        [row] = log_group_rows(group_logs(LOGS, [], gpus=gpus))
        assert row["level"] == "error"


def test_analysis_reads_the_gpus_the_worker_listed():
    run = {"config": {"loader": "keras_directory"}, "versions": {"gpus": []}}
    empty = pd.DataFrame(columns=["t", "kind", "data"])
    samples = pd.DataFrame(columns=["t", "rss_bytes", "main_rss_bytes", "processes", "fds", "threads",
                                    "cpu_percent", "vmhwm_bytes"])  # fmt: skip
    [group] = analyze(run, samples, empty, LOGS, None)["log_groups"]
    assert group["expected"]
