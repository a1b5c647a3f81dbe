"""A finding's evidence opens onto a small table of named, formatted figures, never raw JSON."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from diagnostics.store import Store
from diagnostics.views.common import evidence_table
from tests.synthetic import FINDING, fill_store

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def test_evidence_is_a_table_of_formatted_figures():
    table = evidence_table({"epoch_end_rss_bytes": [300 * MiB, 301 * MiB], "source": "measured",
                            "iterate_images_per_second": 812.5, "closer_to": None,
                            "split": {"heap_bytes": 2 * MiB}})  # fmt: skip
    rows = dict(zip(table["figure"], table["value"], strict=True))
    assert rows["epoch end RSS"] == "300.0 MiB, 301.0 MiB"
    assert rows["iterate images/s"] == "812 img/s"
    assert rows["source"] == "measured" and rows["closer to"] == "–"
    assert rows["split"] == "heap: 2.0 MiB"


def test_the_run_page_shows_evidence_as_a_table_not_json(home):
    fill_store(Store(home), str(REPO / "sample_data"), runs=1)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/run.py")
    at.run()
    assert not at.exception
    expander = next(e for e in at.expander if e.label.startswith("Evidence"))
    assert not expander.json
    shown = expander.dataframe[0].value
    assert list(shown["value"]) == ["300.0 MiB"] and FINDING["evidence"]


def test_the_report_shows_evidence_as_a_table_and_options_by_label(home):
    from diagnostics.report import render_html

    store = Store(home)
    ids = fill_store(store, str(REPO / "sample_data"), runs=1)
    page = render_html(store, ids)
    assert "<th>figure</th>" in page and "300.0 MiB" in page
    assert "epoch1_growth_bytes" not in page  # no raw JSON key
    assert "Use Cache = file or a smaller Image size (px)." in page and "--cache" not in page
