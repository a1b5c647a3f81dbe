"""?run= naming no run (not a number, too big, or not stored) says "No such run", never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from diagnostics.store import Store
from tests.synthetic import fill_store

REPO = Path(__file__).resolve().parents[2]


def page_with(page: str, runs: list[str]) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["run"] = runs
    at.switch_page(page).run()
    return at


def shown_text(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.warning, *at.error, *at.markdown, *at.caption])


@pytest.mark.parametrize("asked", ["abc", "1e99", "99999999999999999999", "-3", "4242"])
def test_the_run_page_says_no_such_run_and_shows_the_newest(home, asked):
    fill_store(Store(home), str(REPO / "sample_data"))
    at = page_with("pages/run.py", [asked])
    assert not at.exception, [e.message for e in at.exception]
    assert f"No such run: {asked}" in shown_text(at).replace("\\", "")
    assert "ValueError" not in shown_text(at) and "Traceback" not in shown_text(at)
    assert "Leak verdict" in [m.label for m in at.metric]  # the newest run, as without ?run=


@pytest.mark.parametrize("asked", ["abc", "1e99", "4242"])
def test_the_compare_page_says_no_such_run_and_compares_the_rest(home, asked):
    fill_store(Store(home), str(REPO / "sample_data"))
    at = page_with("pages/compare.py", [asked])
    assert not at.exception, [e.message for e in at.exception]
    assert f"No such run: {asked}" in shown_text(at).replace("\\", "")
    assert len(at.multiselect(key="cmp_runs").value) == 2  # the default pair
