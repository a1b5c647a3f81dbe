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
from tests.app.synthetic import fill_store

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
FAKE_WORKER = REPO / "tests" / "fakes" / "fake_worker.py"
PAGES = ["pages/run.py", "pages/compare.py", "pages/sweep.py", "pages/history.py", "pages/dataset.py"]


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch):
    """Run every AppTest run the way a warm server runs: through app.py's st.navigation.

    AppTest resets Streamlit's legacy ``pages/`` flag before each run, so each run would first take
    the legacy path that pages/_common.py redirects with a rerun, and that rerun drops button
    clicks. A real server clears the flag once, at its first st.navigation call; the browser test
    covers that first visit.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DIAG_HOME", str(home))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(SAMPLE_DATA))
    monkeypatch.chdir(REPO)
    return home


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
    diff = at.dataframe[1].value
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


def test_sweep_flow_with_the_fake_worker(home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
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
