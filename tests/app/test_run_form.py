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
    ("key", "value", "field", "allowed"),
    [
        ("run_epochs", -3, "Epochs", "enter 1 to 100000"),
        ("batch_size", 0, "Batch size", "enter 1 to 65536"),
        ("run_h", 100000, "Image height (px)", "enter 8 to 4096"),
        ("run_budget", 10, "Memory budget (MiB)", "enter 64 to 1048576"),
        ("run_budget", 0, "Memory budget (MiB)", "enter 64 to 1048576"),  # was "empty": 80% of RAM
        ("run_timeout", 0, "Timeout (s)", "enter 1 or more"),
    ],
)
def test_invalid_numbers_refuse_the_run_and_name_the_field(home, monkeypatch, key, value, field, allowed):  # noqa: F811
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    at = app_at("pages/run.py")
    widget = next(w for w in at.number_input if w.key.endswith(key.removeprefix("run_")))
    # Typed and Run pressed at once (the field commits on blur): one rerun gets both.
    widget.set_value(value)
    at.button(key="run_start").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert Store(home).list_runs().empty
    assert at.button(key="run_start").disabled  # the run is refused, not started with a default
    message = f"{field}: {value} is not allowed; {allowed}."
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize(
    ("key", "value", "field", "allowed"),
    [
        ("sweep_epochs", -3, "Epochs per trial", "enter 1 to 100000"),
        ("sweep_steps", 0, "Steps per epoch", "enter 1 to 100000"),
        ("sweep_size", 100000, "Image size (px, square)", "enter 8 to 4096"),
        ("sweep_budget", 10, "Memory budget (MiB)", "enter 64 to 1048576"),
        ("sweep_timeout", -1, "Timeout (s)", "enter 1 or more"),
    ],
)
def test_invalid_numbers_refuse_the_sweep_next_to_its_button(home, monkeypatch, key, value, field, allowed):  # noqa: F811
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    at = app_at("pages/sweep.py")
    at.multiselect(key="sweep_grid_batch_size").set_value([16, 32]).run()
    assert not at.button(key="sweep_start").disabled  # a valid grid: only the number stops it
    at.number_input(key=key).set_value(value)
    at.button(key="sweep_start").click().run()  # typed and pressed at once: one rerun gets both
    assert not at.exception, [e.message for e in at.exception]
    store = Store(home)
    assert store.list_sweeps().empty and store.list_runs().empty
    assert at.button(key="sweep_start").disabled
    message = f"{field}: {value} is not allowed; {allowed}."
    order = [(e.type, getattr(e, "key", None), str(getattr(e, "value", ""))) for e in _flat(at.tabs[0])]
    button_at = next(i for i, (_, widget_key, _) in enumerate(order) if widget_key == "sweep_start")
    assert order[button_at - 1][0] == "error" and message in order[button_at - 1][2], order


def test_an_invalid_size_on_the_dataset_page_is_named_not_replaced(home):  # noqa: F811
    at = app_at("pages/dataset.py")
    at.number_input(key="ds_h").set_value(100000).run()
    assert not at.exception, [e.message for e in at.exception]
    message = "Image height (px): 100000 is not allowed; enter 8 to 4096."
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    decoded = next(m for m in at.metric if m.label == "Decoded, whole folder")
    assert decoded.value == "—"  # not the size of a 4096 px image nobody typed


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
