"""Sweep: grid expansion, time estimate, Pareto front, recommendation, run_sweep against fakes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from diagnostics import loaders, prepare, runner, snippet, sweep  # noqa: F401 (see fake_loaders)
from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError

MiB = 1024**2

# Stand-ins with the option sets the real loaders declare, so these tests do not depend on
# TensorFlow-side loader modules; validate() itself is tested with the config.
FAKE_LOADERS = {
    "keras_directory": SimpleNamespace(
        name="keras_directory", options=frozenset({"cache", "prefetch", "dtype", "shuffle", "seed"})
    ),
    "eager_loop": SimpleNamespace(name="eager_loop", options=frozenset({"keep_decoded", "dtype"})),
}


@pytest.fixture(autouse=True)
def fake_loaders(monkeypatch):
    # prepare and snippet bind get_loader when first imported: they are imported above, before any
    # patch, or a module first imported during a test here would keep the fake for the session.
    def get_loader(name):
        if name not in FAKE_LOADERS:
            raise ConfigError(f"unknown loader {name!r}")
        return FAKE_LOADERS[name]

    monkeypatch.setattr(loaders, "get_loader", get_loader)


BASE = TrialConfig(dataset="sample_data", loader="keras_directory", epochs=2)


def test_default_grid_is_eight_configs():
    configs = sweep.expand(BASE, sweep.DEFAULT_GRID)
    assert len(configs) == 8
    assert {(c.batch_size, c.cache, c.prefetch) for c in configs} == {
        (b, c, p) for b in (32, 64) for c in ("none", "memory") for p in ("none", "auto")
    }
    assert all(c.loader == "keras_directory" and c.epochs == 2 for c in configs)


def test_invalid_combinations_are_reported_not_dropped():
    grid = {"loader": ["keras_directory", "eager_loop"], "prefetch": ["none", "auto"]}
    with pytest.raises(
        ConfigError, match="1 sweep combination.*--prefetch does not apply to loader eager_loop"
    ):
        sweep.expand(BASE, grid)
    invalid: list = []
    configs = sweep.expand(BASE, grid, invalid=invalid)
    assert len(configs) == 3
    assert invalid == [
        {
            "options": {"loader": "eager_loop", "prefetch": "auto"},
            "error": "--prefetch does not apply to loader eager_loop",
        }
    ]


def test_unknown_option_and_empty_values_are_refused():
    with pytest.raises(ConfigError, match="'colour'"):
        sweep.expand(BASE, {"colour": ["red"]})
    with pytest.raises(ConfigError, match="non-empty"):
        sweep.expand(BASE, {"batch_size": []})


class FakeStore:
    def __init__(self, runs=()):
        self._runs = {r["id"]: r for r in runs}
        self.sweeps = {}

    def runs(self, statuses=None):
        return [r for r in self._runs.values() if statuses is None or r["status"] in statuses]

    def get_run(self, run_id):
        return self._runs[run_id]

    def create_sweep(self, name, grid, base_config):
        sweep_id = len(self.sweeps) + 1
        self.sweeps[sweep_id] = {
            "id": sweep_id,
            "name": name,
            "grid": grid,
            "base_config": base_config.to_dict(),
            "status": "created",
            "summary": None,
        }
        return sweep_id

    def update_sweep(self, sweep_id, **columns):
        self.sweeps[sweep_id].update(columns)

    def get_sweep(self, sweep_id):
        ids = [i for i, r in self._runs.items() if r.get("sweep_id") == sweep_id]
        return {**self.sweeps[sweep_id], "run_ids": sorted(ids)}


def test_estimate_uses_history_when_there_is_some():
    configs = sweep.expand(BASE, {"batch_size": [32, 64]})
    assert sweep.estimate_seconds(configs) == 2 * (
        sweep.TRIAL_FIXED_SECONDS + 2 * sweep.EPOCH_DEFAULT_SECONDS
    )
    past = {
        "id": 1,
        "status": "completed",
        "config": BASE.replace(batch_size=32).to_dict(),
        "summary": {"duration_seconds": 4.0},
    }
    other = {
        "id": 2,
        "status": "completed",
        "config": BASE.replace(batch_size=128, epochs=4).to_dict(),
        "summary": {"duration_seconds": 12.0},
    }
    seconds = sweep.estimate_seconds(configs, FakeStore([past, other]))
    # batch 32: exact match, 4 s. batch 64: no exact match; same loader and mode ran at 2 and 3 s per
    # epoch (median 2.5) x 2 epochs.
    assert seconds == pytest.approx(2 * sweep.TRIAL_FIXED_SECONDS + 4.0 + 5.0)


def row(run_id, rate, peak_mib, status="completed"):
    return {
        "id": run_id,
        "run_id": run_id,
        "status": status,
        "images_per_second": rate,
        "peak_rss_bytes": peak_mib * MiB,
    }


def test_pareto_front_minimises_peak_and_maximises_rate():
    points = [row(1, 100, 800), row(2, 200, 900), row(3, 150, 1000), row(4, 250, 1200), row(5, 90, 850)]
    assert [p["id"] for p in sweep.pareto_front(points)] == [1, 2, 4]


def test_recommend_is_fastest_within_budget():
    rows = [row(1, 100, 800), row(2, 200, 900), row(3, 300, 2000)]
    pick = sweep.recommend(rows, 1000 * MiB)
    assert pick["id"] == 2
    assert (
        "200.0 images/s" in pick["reason"]
        and "1 completed config(s) peaked above the budget" in pick["reason"]
    )
    assert sweep.recommend(rows, 4000 * MiB)["id"] == 3


def test_recommend_prefers_lowest_peak_within_five_percent():
    rows = [row(1, 300, 1500), row(2, 290, 900), row(3, 280, 700)]  # 290 within 5% of 300, 280 is not
    pick = sweep.recommend(rows, 4000 * MiB)
    assert pick["id"] == 2
    assert "lowest peak" in pick["reason"] and "600.0 MiB less" in pick["reason"]
    assert pick["candidates"] == [1, 2]


def test_recommend_ignores_failed_runs_and_returns_none_when_nothing_fits():
    rows = [row(1, 500, 500, status="killed_budget"), row(2, 100, 900)]
    assert sweep.recommend(rows, 4000 * MiB)["id"] == 2
    assert sweep.recommend(rows, 100 * MiB) is None
    steady = [{**row(1, 100, 800), "steady_images_per_second": 400}, row(2, 300, 800)]
    assert sweep.recommend(steady, 4000 * MiB)["id"] == 1  # steady rate wins over the all-epoch rate


def test_run_sweep_runs_each_config_and_stores_the_recommendation(monkeypatch):
    store = FakeStore()
    calls = []

    def fake_run_trial(config, store_, *, allowed_roots=None, sweep_id=None):
        run_id = len(calls) + 1
        calls.append(config)
        rate = 100.0 * config.batch_size / 32 + (50 if config.cache == "memory" else 0)
        store_._runs[run_id] = {
            "id": run_id,
            "status": "completed",
            "sweep_id": sweep_id,
            "config": config.to_dict(),
            "summary": {
                "peak_rss_bytes": (700 + (300 if config.cache == "memory" else 0)) * MiB,
                "images_per_second": rate,
                "steady_images_per_second": rate,
                "epochs": [{"index": i, "images": int(2 * rate), "seconds": 2.0} for i in range(3)],
                "duration_seconds": 3.0,
            },
            "findings": [],
            "snippet": f"# snippet {run_id}",
        }
        return run_id

    import diagnostics.runner

    monkeypatch.setattr(diagnostics.runner, "run_trial", fake_run_trial)
    progress = []
    sweep_id = sweep.run_sweep(
        store,
        BASE.replace(memory_budget_bytes=4096 * MiB),
        {"batch_size": [32, 64], "cache": ["none", "memory"]},
        "t",
        on_progress=lambda done, total, run_id: progress.append((done, total, run_id)),
    )
    assert len(calls) == 4 and progress[-1] == (4, 4, 4)
    stored = store.sweeps[sweep_id]
    assert stored["status"] == "completed"
    result = sweep.sweep_result(store, sweep_id)
    assert len(result["rows"]) == 4
    best = result["recommendation"]
    assert best["config"]["batch_size"] == 64 and best["config"]["cache"] == "memory"  # 250 images/s
    assert best["snippet"] == f"# snippet {best['run_id']}"
    assert stored["summary"]["recommended_run_id"] == best["run_id"]
    assert result["rows"][0]["options"] == {"batch_size": 32, "cache": "none"}


# -- issue 13 item 7: no recommendation from a timing under the minimum ----------------------------


def timed_row(run_id, epoch_seconds, peak_mib, images=242):
    """A sweep row as sweep_result builds it, from per-epoch timings (the first is warm-up)."""
    from diagnostics import throughput

    epochs = [{"index": i, "images": images, "seconds": s} for i, s in enumerate(epoch_seconds)]
    rate = throughput.measure(epochs)
    return {
        **row(run_id, rate["images_per_second"], peak_mib),
        "steady_images_per_second": rate["images_per_second"],
        "throughput": rate,
    }


def test_recommendation_never_rests_on_a_timing_under_the_minimum():
    # Run 2 is "100,833 images/s": one 2.4 ms cached epoch. Runs 1 and 3 timed seconds.
    rows = [
        timed_row(1, [2.0, 1.0, 1.1], 800),
        timed_row(2, [1.0, 0.0024], 900),
        timed_row(3, [2.0, 1.5, 1.6], 700),
    ]
    pick = sweep.recommend(rows, 4000 * MiB)
    assert pick["id"] != 2
    assert "run #2" in pick["reason"] and "too short" in pick["reason"]
    assert 2 not in [r["id"] for r in sweep.pareto_front(rows)]  # nor does it shape the front


def test_recommendation_is_refused_when_no_timing_is_stable():
    rows = [timed_row(1, [1.0, 0.0024], 900), timed_row(2, [1.0, 0.003], 700)]
    assert sweep.recommend(rows, 4000 * MiB) is None
    reason = sweep.refusal(rows, 4000 * MiB)
    assert "run #1" in reason and "run #2" in reason and "1 s" in reason


def test_overlapping_ranges_are_no_measurable_difference():
    # 220-250 and 230-260 img/s overlap: the lower peak is picked and the reason says why.
    rows = [timed_row(1, [2.0, 1.1, 0.968], 900), timed_row(2, [2.0, 1.052, 0.931], 1500)]
    pick = sweep.recommend(rows, 4000 * MiB)
    assert pick["id"] == 1  # slower median (235 vs 245 img/s), but not measurably: lower peak wins
    assert "no measurable difference" in pick["reason"]


def test_run_sweep_reruns_a_too_short_trial_with_more_epochs(monkeypatch):
    """Autorange: a trial whose epochs after the first last under the minimum runs again with
    the epochs that reach it (when that is few enough), like timeit's autorange."""
    store = FakeStore()
    calls = []

    def fake_run_trial(config, store_, *, allowed_roots=None, sweep_id=None):
        run_id = len(calls) + 1
        calls.append(config)
        epochs = [{"index": i, "images": 200, "seconds": 0.4} for i in range(config.epochs)]
        store_._runs[run_id] = {
            "id": run_id,
            "status": "completed",
            "sweep_id": sweep_id,
            "config": config.to_dict(),
            "summary": {"peak_rss_bytes": 700 * MiB, "epochs": epochs, "duration_seconds": 1.0},
            "findings": [],
            "snippet": "",
        }
        return run_id

    import diagnostics.runner

    monkeypatch.setattr(diagnostics.runner, "run_trial", fake_run_trial)
    sweep_id = sweep.run_sweep(
        store, BASE.replace(epochs=2, memory_budget_bytes=4096 * MiB), {"batch_size": [32]}, "t"
    )
    # 1 steady epoch of 0.4 s is too short; 3 of them reach 1 s, twice that (6, so 7 epochs) with margin.
    assert [c.epochs for c in calls] == [2, 7]
    result = sweep.sweep_result(store, sweep_id)
    assert result["recommendation"]["run_id"] == 2
    assert store.sweeps[sweep_id]["summary"]["autoranged"] == [{"run_id": 1, "rerun_id": 2, "epochs": 7}]
