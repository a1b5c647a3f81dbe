"""Every dashboard page through Streamlit's AppTest: empty store, filled store, and the main flows.

No TensorFlow: runs are inserted through the Store API, or run by the FakeWorker
(``DIAG_TEST_WORKER``) that emits a scripted event stream.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from diagnostics.store import Store
from tests.synthetic import fill_store, store_probe_fixture

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
FAKE_WORKER = REPO / "tests" / "fakes" / "fake_worker.py"
PAGES = ["pages/run.py", "pages/compare.py", "pages/sweep.py", "pages/history.py", "pages/dataset.py"]


def app_at(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if page is not None:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    """Plotly figures on the page, decoded (AppTest has no typed element for them)."""
    out = []
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out.append(spec)
    return out


def decoded(values) -> list[float]:
    # Plotly JSON encodes number arrays as {"dtype": ..., "bdata": base64}.
    if isinstance(values, dict) and "bdata" in values:
        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_an_empty_store(home, page):
    at = app_at(page)
    assert at.title[0].value
    # The page ran inside app.py's navigation (the shared sidebar is there), not on its own.
    assert any("Store:" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_stored_runs(home, page):
    fill_store(Store(home), str(SAMPLE_DATA), runs=3)
    at = app_at(page)
    if page in ("pages/run.py", "pages/compare.py", "pages/dataset.py"):
        specs = figures(at)
        assert specs, f"{page} shows no figure"
        for spec in specs:
            assert spec["data"], f"{page}: a figure without traces"


def test_run_page_shows_the_latest_run_with_results(home):
    ids = fill_store(Store(home), str(SAMPLE_DATA), runs=2)
    at = app_at("pages/run.py")
    assert any(f"Run #{ids[-1]}" in m.value for m in at.markdown)
    memory = next(
        s
        for s in figures(at)
        if s["layout"].get("yaxis", {}).get("title", {}).get("text", "").startswith("memory")
    )
    total = next(t for t in memory["data"] if t["name"] == "RSS total")
    assert max(decoded(total["y"])) > 500  # MiB
    labels = [m.label for m in at.metric]
    assert {"Peak RSS (VmHWM)", "Overhead over baseline", "Throughput", "Leak verdict"} <= set(labels)
    assert at.code and "import tensorflow" in at.code[0].value


def test_compare_page_shows_config_differences(home):
    ids = fill_store(Store(home), str(SAMPLE_DATA), runs=2)
    at = app_at("pages/compare.py")
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted(ids)
    names = [s["layout"]["title"]["text"] for s in figures(at)]
    assert "Memory, aligned at ready" in names and "Throughput per epoch" in names
    diff = next(d.value for d in at.dataframe if "option" in d.value.columns)
    assert "batch_size" in set(diff["option"])  # 32 vs 64: the differing row is shown


def test_history_delete_with_confirmation(home):
    store = Store(home)
    ids = fill_store(store, str(SAMPLE_DATA), runs=2)
    at = app_at("pages/history.py")
    at.multiselect(key="hist_selected").set_value([ids[1]]).run()
    at.button(key="hist_delete").click().run()
    assert not at.exception
    at.button(key="hist_confirm_delete").click().run()
    assert not at.exception
    assert sorted(store.list_runs()["id"]) == [ids[0]]


def test_run_flow_with_the_fake_worker(home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    at = app_at("pages/run.py")
    at.number_input(key="run_epochs").set_value(3)
    # The FakeWorker's scripted pipeline has an in-memory cache: the run asks for one, so the
    # snippet's .cache() line makes it the run's own stage (not one Keras added).
    at.selectbox(key="run_keras_directory_cache").set_value("memory")
    at.button(key="run_start").click().run()
    assert not at.exception, [e.message for e in at.exception]
    store = Store(home)
    run_id = int(store.list_runs()["id"].iloc[0])
    deadline = time.monotonic() + 60
    while store.get_run(run_id)["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.get_run(run_id)["status"] == "completed"
    at.run()
    assert not at.exception
    assert any(f"Run #{run_id}" in m.value for m in at.markdown)
    assert "Leak verdict" in [m.label for m in at.metric]
    # The FakeWorker's scripted probe events reach the X-ray through the runner, store and analysis.
    names = [t["name"] for t in _attribution_figure(at)["data"] if t.get("stackgroup")]
    assert "in-memory cache" in names and names[-1] == "unattributed"
    stages = next(d.value for d in at.dataframe if "your code" in d.value.columns)
    assert {"in-memory cache", "parallel map in flight"} <= set(stages["stage"])


def test_sweep_flow_with_the_fake_worker(home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    # Epochs long enough for a stable throughput: a recommendation never rests on less (issue 13).
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "1.1")
    at = app_at("pages/sweep.py")
    at.multiselect(key="sweep_grid_batch_size").set_value([16, 32]).run()
    assert any("2 trial(s)" in i.value for i in at.info)
    at.button(key="sweep_start").click().run()
    assert not at.exception, [e.message for e in at.exception]
    store = Store(home)
    sweep_id = int(store.list_sweeps()["id"].iloc[0])
    deadline = time.monotonic() + 90
    while store.get_sweep(sweep_id)["status"] in ("created", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert store.get_sweep(sweep_id)["status"] == "completed"
    at.run()
    assert not at.exception
    pareto = next(s for s in figures(at) if s["layout"]["title"]["text"] == "Peak memory vs throughput")
    assert any(t["name"] == "Pareto front" for t in pareto["data"])
    assert any("Recommended" in s.value for s in at.success)


def _attribution_figure(at: AppTest) -> dict:
    return next(
        s
        for s in figures(at)
        if s["layout"].get("title", {}).get("text", "").startswith("Memory above baseline, by component")
    )


def test_run_page_shows_attribution_stages_and_the_bound_sentence(home):
    fill_store(Store(home), str(SAMPLE_DATA), runs=1)
    at = app_at("pages/run.py")
    assert not at.exception
    stacked = [t for t in _attribution_figure(at)["data"] if t.get("stackgroup")]
    assert stacked[-1]["name"] == "unattributed"
    tables = {tuple(d.value.columns)[:2]: d.value for d in at.dataframe}
    attribution = tables[("component", "kind")]
    assert list(attribution["component"])[:2] == ["in-memory cache", "shuffle buffer (299 images)"]
    assert list(attribution["component"])[-1] == "unattributed"
    stages = tables[("stage", "buffered now (MiB)")]
    assert "dataset = dataset.shuffle(300)" in set(stages["your code"])
    assert list(stages["elements now / peak"]) == ["4", "550", "250 / 299", "2"]  # as in the code
    assert any("**parallel map in flight**" in m.value for m in at.markdown)
    assert any("5% of it is unattributed" in c.value for c in at.caption)


def test_run_page_says_when_there_was_no_tfdata(home):
    store = Store(home)
    (run_id,) = fill_store(store, str(SAMPLE_DATA), runs=1)
    store.update_run(run_id, summary={**store.get_run(run_id)["summary"], "pipeline": None})
    at = app_at("pages/run.py")
    assert any("Stage attribution needs tf.data" in i.value for i in at.info)
    stacked = [t for t in _attribution_figure(at)["data"] if t.get("stackgroup")]
    assert "unattributed" in [t["name"] for t in stacked]


def test_compare_page_shows_attribution_side_by_side(home):
    ids = fill_store(Store(home), str(SAMPLE_DATA), runs=2)
    at = app_at("pages/compare.py")
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted(ids)
    spec = next(
        s
        for s in figures(at)
        if s["layout"].get("title", {}).get("text", "").startswith("Memory above baseline at each")
    )
    bars = {t["name"]: t for t in spec["data"] if t["type"] == "bar"}
    assert {"in-memory cache", "unattributed"} <= set(bars)
    assert len(bars["unattributed"]["y"]) == 2  # one bar per run
    top = next(t.value for t in at.table if "top components" in t.value.columns)
    assert all(text.endswith("unattributed 16.0 MiB (5%)") for text in top["top components"])


@pytest.mark.parametrize("status", ["running", "completed"])
def test_run_page_stacks_a_real_trials_components_live_and_finished(home, status):
    # A captured real cache + shuffle trial (PROBE's fixture): the views go through the real
    # analysis.attribution_frame on the store's pipeline/composition tables.
    run_id = store_probe_fixture(Store(home), "cache_shuffle", status=status)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["run"] = str(run_id)
    at.switch_page("pages/run.py").run()
    assert not at.exception, [e.message for e in at.exception]
    spec = _attribution_figure(at)
    stacked = [t for t in spec["data"] if t.get("stackgroup")]
    names = [t["name"] for t in stacked]
    assert "in-memory cache" in names and names[-1] == "unattributed"
    assert any(t["name"].startswith("RSS over baseline") for t in spec["data"])
    autotune = [
        s for s in figures(at) if s["layout"].get("title", {}).get("text") == "AUTOTUNE's choices over time"
    ]
    assert autotune and any(t["name"].endswith(": buffer_size") for t in autotune[0]["data"])
    if status == "completed":
        stages = next(d.value for d in at.dataframe if "your code" in d.value.columns)
        assert "dataset = dataset.cache()" in set(stages["your code"])
        components = next(d.value for d in at.dataframe if "component" in d.value.columns)
        assert list(components["component"])[-1] == "unattributed"


def test_history_labels_the_selection_fully_and_counts_in_words(home):
    """Issue 18: the selection showed only '#11' and the buttons said '(1 runs)'."""
    store = Store(home)
    ids = fill_store(store, str(SAMPLE_DATA), runs=2)
    at = app_at("pages/history.py")
    at.multiselect(key="hist_selected").set_value([ids[1]]).run()
    assert not at.exception, [e.message for e in at.exception]
    picker = at.multiselect(key="hist_selected")
    shown = [o for o in picker.options if o.startswith(f"#{ids[1]} ")]
    assert shown and shown[0].startswith(f"#{ids[1]} keras_directory · sample_data · completed"), (
        picker.options
    )
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export CSV (1 run)" in labels and "Export JSON (1 run)" in labels, labels
    assert not any("(1 runs)" in label for label in labels)
    at.multiselect(key="hist_selected").set_value(ids).run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export CSV (2 runs)" in labels, labels
