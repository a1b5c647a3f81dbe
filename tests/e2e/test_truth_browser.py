"""Issue 18 item 1 in headless Chromium: a run stored with a 0-byte sample of its exiting worker
(what samplers before the fix wrote) never draws its memory down to 0, on Run or on Compare.

Its own Streamlit server on a store filled through the Store API (no worker runs). Screenshots:
screenshots/truth-run.png and truth-compare.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from diagnostics.store import Store
from tests.e2e.conftest import REPO, streamlit_server
from tests.synthetic import fill_store

pytestmark = pytest.mark.browser

# The y values of every "RSS" trace of the first plotly chart on the page that has one.
RSS_VALUES = """() => {
  for (const plot of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    const traces = (plot._fullData || []).filter(t => t.name && (t.name.startsWith('RSS total') || t.name.startsWith('#')));
    if (traces.length) return traces.map(t => Array.from(t.y).filter(v => v !== null));
  }
  return null;
}"""


@pytest.fixture(scope="module")
def run_ids(tmp_path_factory):
    home = tmp_path_factory.mktemp("diag_home")
    store = Store(home)
    ids = fill_store(store, str(REPO / "sample_data"), runs=2)
    last = store.samples(ids[0])["t"].max()
    # The old sampler's last sample: read while the kernel freed the exiting worker's memory.
    store.add_samples(
        ids[0], [{"t": last + 0.02, "rss_bytes": 0, "main_rss_bytes": 0, "processes": {4242: 0}}]
    )
    return home, ids


@pytest.fixture(scope="module")
def server(run_ids):
    yield from streamlit_server(run_ids[0])


def _rss_values(page):
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    page.wait_for_function(f"({RSS_VALUES})() !== null")
    return page.evaluate(RSS_VALUES)


def test_the_run_chart_of_a_run_stored_with_a_zero_sample_never_goes_to_zero(page, server, run_ids, shot):
    page.goto(f"{server}/?run={run_ids[1][0]}")
    expect(page.get_by_text("RSS total").first).to_be_visible()
    (values,) = _rss_values(page)
    assert len(values) > 100
    assert min(values) > 300, f"the Run chart's RSS total goes down to {min(values):.1f} MiB"
    shot(page, "truth-run")


def test_compare_of_that_run_never_goes_to_zero(page, server, run_ids, shot):
    first, second = run_ids[1]
    page.goto(f"{server}/compare?run={first}&run={second}")
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
    curves = _rss_values(page)
    assert len(curves) == 2
    assert all(min(values) > 300 for values in curves), [min(v) for v in curves]
    shot(page, "truth-compare")
