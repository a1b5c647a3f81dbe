"""Analysis on real TensorFlow trials over sample_data (issue 4's "done when")."""

from __future__ import annotations

import pytest

from diagnostics.config import TrialConfig
from diagnostics.runner import run_trial
from diagnostics.store import Store

pytestmark = pytest.mark.tf

MiB = 1024**2


def trial(sample_data_dir, **options):
    store = Store()
    run_id = run_trial(TrialConfig(dataset=str(sample_data_dir), **options), store)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run.get("error")
    return run


def finding_ids(run):
    return {f["id"] for f in run["findings"]}


def test_memory_cache_overhead_matches_the_model(diag_home, sample_data_dir):
    run = trial(sample_data_dir, loader="keras_directory", cache="memory", epochs=3, image_size=(128, 128))
    summary = run["summary"]
    modelled = summary["memory_model"]["cache"]
    overhead = summary["peak_rss_bytes"] - summary["baseline_rss_bytes"]
    assert overhead == summary["measured_overhead_bytes"]
    assert 0.65 * modelled <= overhead <= 1.60 * modelled, (overhead / MiB, modelled / MiB)
    assert "cache_size" in finding_ids(run)


def test_keep_decoded_grows_and_a_plain_run_does_not(diag_home, sample_data_dir):
    growing = trial(sample_data_dir, loader="eager_loop", keep_decoded=True, epochs=4, image_size=(128, 128))
    assert "memory_growth" in finding_ids(growing), growing["summary"]["leak"]
    assert growing["summary"]["leak_bytes_per_epoch"] > 16 * MiB

    flat = trial(sample_data_dir, loader="keras_directory", epochs=4, image_size=(64, 64))
    assert "memory_growth" not in finding_ids(flat), flat["summary"]["leak"]
    assert flat["summary"]["leak_bytes_per_epoch"] is not None


def test_generator_fit_shows_the_memory_patch_line_as_known(diag_home, sample_data_dir):
    run = trial(
        sample_data_dir,
        loader="pil_generator",
        via_tf_data=True,
        mode="fit",
        epochs=1,
        steps=3,
        image_size=(64, 64),
    )
    patch = [g for g in run["log_groups"] if g.get("catalogue_id") == "generator_memory_patch"]
    assert patch and patch[0]["known"] and patch[0]["count"] >= 1
