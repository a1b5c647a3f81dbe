"""Issue 13 items 10 and 11 on the Run page (AppTest, FakeWorker; no TensorFlow)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from diagnostics.store import Store
from tests.app.test_pages_smoke import app_at

REPO = Path(__file__).resolve().parents[2]
FAKE_WORKER = REPO / "tests" / "fakes" / "fake_worker.py"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [("run_epochs", -3, "Epochs"), ("batch_size", 0, "Batch size"), ("run_h", 100000, "Image height")],
)
def test_invalid_numbers_refuse_the_run_and_name_the_field(home, monkeypatch, key, value, field):  # noqa: F811
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    at = app_at("pages/run.py")
    widget = next(w for w in at.number_input if w.key.endswith(key.removeprefix("run_")))
    widget.set_value(value).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.button(key="run_start").disabled  # the run is refused, not started with a default
    assert Store(home).list_runs().empty
    assert any(field in e.value and str(value) in e.value for e in at.error), [e.value for e in at.error]


def _flat(node) -> list:
    """Elements of an AppTest block in page order."""
    children = getattr(node, "children", None)
    if not children:
        return [node]
    out = []
    for key in sorted(children):
        out += _flat(children[key])
    return out


def test_a_bad_path_is_reported_next_to_the_path_field(home):  # noqa: F811
    at = app_at("pages/run.py")
    at.selectbox(key="run_choice").set_value("Other folder…").run()
    at.text_input(key="run_path").set_value("/etc").run()
    assert not at.exception
    order = [(e.type, getattr(e, "label", None) or getattr(e, "value", "")) for e in _flat(at.expander[0])]
    path_at = next(i for i, (kind, label) in enumerate(order) if kind == "text_input")
    loader_at = next(i for i, (kind, label) in enumerate(order) if label == "Loader")
    errors = [i for i, (kind, text) in enumerate(order) if kind == "error" and "/etc" in str(text)]
    assert errors and path_at < errors[0] < loader_at, order
    assert at.button(key="run_start").disabled


def test_the_setup_expander_stays_closed_after_a_run_ends(home, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.1")
    at = app_at("pages/run.py")
    assert at.expander[0].proto.expanded  # a fresh session starts with the set-up open
    at.button(key="run_start").click().run()
    store = Store(home)
    run_id = int(store.list_runs()["id"].iloc[0])
    deadline = time.monotonic() + 60
    while store.get_run(run_id)["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    assert not at.exception
    assert store.get_run(run_id)["status"] == "completed"
    # The results, not the form, are what the user waits for: the set-up must not re-open.
    assert not at.expander[0].proto.expanded
