"""Log parsing and grouping, on real stderr/stdout captured from TensorFlow 2.21 runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from diagnostics.logs import CATALOGUE, group_has, group_logs, parse_line, template_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def frame(name: str, stream: str = "stderr", t0: float = 0.0) -> pd.DataFrame:
    lines = (FIXTURES / f"{name}.{stream}.txt").read_text().splitlines()
    return pd.DataFrame({"t": [t0 + i for i in range(len(lines))], "stream": stream, "line": lines})


def by_id(groups):
    return {g["catalogue_id"]: g for g in groups if g["catalogue_id"]}


def test_glog_line_forms():
    new = parse_line("W0000 00:00:1795300964.1    6772 cache_dataset_ops.cc:912] The calling iterator")
    assert (new.kind, new.level, new.source, new.message) == (
        "glog",
        "warning",
        "cache_dataset_ops.cc",
        "The calling iterator",
    )
    old = parse_line(
        "2024-06-03 23:14:56.522118: I tensorflow/core/framework/local_rendezvous.cc:404] Local rendezvous "
        "is aborting with status: OUT_OF_RANGE: End of sequence"
    )
    assert (old.kind, old.level, old.source) == ("glog", "info", "local_rendezvous.cc")
    assert parse_line("E0000 00:00:1.5 1 cuda_platform.cc:52] failed").level == "error"


def test_python_warning_keeps_the_package_path():
    parsed = parse_line(
        "/home/u/.venv/lib/python3.11/site-packages/keras/src/trainers/epoch_iterator.py:74: UserWarning: hi 3"
    )
    assert parsed.kind == "python_warning"
    assert parsed.source == "keras/src/trainers/epoch_iterator.py"
    assert parsed.message == "UserWarning: hi 3"


def test_templates_normalise_numbers_paths_and_hex():
    assert (
        template_of("Found 550 files belonging to 5 classes.") == "Found <n> files belonging to <n> classes."
    )
    assert template_of("opened /data/x/img_12.png at 0x7f3a9c00") == "opened <path> at <hex>"
    assert (
        template_of("3/17 ━━━━━━━━━ 1s 12ms/step - loss: 0.25") == "<n>/<n> <bar> <n>s <n>ms/step - loss: <n>"
    )


def test_keras_directory_iterate_is_all_known_and_benign():
    groups = group_logs(frame("keras_directory_iterate"), epoch_starts=[5.0])
    assert groups and all(g["known"] and g["benign"] for g in groups)
    ids = by_id(groups)
    assert {"absl_preinit", "cpu_feature_guard", "onednn_on"} <= set(ids)
    # The "To enable the following instructions" line continues the cpu_feature_guard line.
    assert ids["cpu_feature_guard"]["count"] == 1
    assert not any(g["template"].startswith("To enable") for g in groups)
    assert ids["absl_preinit"]["count"] == 2  # printed twice in this capture, counted in one group


def test_cache_break_early_shows_the_partial_read_warning_per_epoch():
    df = frame("cache_break_early")
    second_epoch = float(df.index[df["line"].str.contains("cuInit")][0])  # after the imports finished
    groups = group_logs(df, epoch_starts=[0.0, second_epoch])
    partial = group_has(groups, "partial_cache")
    assert partial is not None
    assert partial["count"] == 2
    assert partial["level"] == "warning"
    assert partial["benign"] is False
    assert partial["source"] == "tensorflow/core/kernels/data/cache_dataset_ops.cc"
    assert len(partial["times"]) == 2 and sum(partial["per_epoch"]) + partial["before_epochs"] == 2
    assert groups[0] is partial  # not benign: listed first


def test_a_file_cache_read_to_the_end_still_logs_the_partial_read_warning():
    # The capture's stdout is the evidence the catalogue cites: the map ran 100 times in 3 epochs.
    stdout = (FIXTURES / "file_cache_full_read.stdout.txt").read_text().splitlines()
    assert stdout[-1] == "epoch 2: 100 elements, map calls so far 100"
    partial = group_has(group_logs(frame("file_cache_full_read")), "partial_cache")
    assert partial is not None and partial["count"] == 1
    assert "file cache" in partial["explanation"]


def test_generator_fit_shows_the_memory_patch_and_keras_warnings():
    groups = group_logs(frame("from_generator_fit"))
    ids = by_id(groups)
    patch = ids["generator_memory_patch"]
    assert patch["known"] and patch["benign"]
    assert patch["source"] == "tensorflow/core/kernels/data/generator_dataset_op.cc"
    assert "M_TRIM_THRESHOLD" in patch["explanation"]
    assert ids["keras_shuffle_ignored"]["source"] == "keras/src/trainers/data_adapters/__init__.py"
    assert ids["keras_ran_out_of_data"]["benign"] is False
    # The indented source echo under each Python warning is not a group of its own.
    assert not any(g["template"].startswith("self.") for g in groups)


def test_keras_stdout_progress_bars_group_into_one_template():
    groups = group_logs(frame("keras_directory_fit", "stdout"))
    ids = by_id(groups)
    assert ids["keras_progress"]["count"] == 4
    assert ids["keras_epoch"]["count"] == 2
    assert ids["keras_found_files"]["count"] == 1


def test_unknown_lines_are_never_explained():
    df = pd.DataFrame(
        {
            "t": [1.0, 2.0, 3.0],
            "stream": "stderr",
            "line": [
                "I0000 00:00:1795300964.1 6772 some_file.cc:1] Cleanup called...",
                "I0000 00:00:1795300965.1 6772 some_file.cc:1] Cleanup called...",
                "something else 42",
            ],
        }
    )
    groups = group_logs(df, epoch_starts=[0.0, 1.5])
    cleanup = next(g for g in groups if "Cleanup" in g["template"])
    assert cleanup["known"] is False
    assert cleanup["explanation"] is None
    assert cleanup["reference"] == "no verified source"
    assert cleanup["count"] == 2 and cleanup["per_epoch"] == [1, 1] and cleanup["times"] == [1.0, 2.0]


def test_end_of_sequence_only_matches_out_of_range():
    ok = "I0000 00:00:1.0 1 local_rendezvous.cc:407] Local rendezvous is aborting with status: OUT_OF_RANGE: End of sequence"
    bad = "I0000 00:00:2.0 1 local_rendezvous.cc:407] Local rendezvous is aborting with status: INVALID_ARGUMENT: label 7"
    groups = group_logs(pd.DataFrame({"t": [1.0, 2.0], "stream": "stderr", "line": [ok, bad]}))
    eos = group_has(groups, "end_of_sequence")
    assert eos["count"] == 1 and eos["benign"] is True
    assert any(not g["known"] and "INVALID_ARGUMENT" in g["template"] for g in groups)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.id)
def test_every_catalogue_entry_says_where_it_comes_from(entry):
    assert entry.source and entry.explanation and entry.reference
    assert isinstance(entry.benign, bool)


def test_empty_or_missing_logs():
    assert group_logs(None) == []
    assert group_logs(pd.DataFrame(columns=["t", "stream", "line"])) == []
