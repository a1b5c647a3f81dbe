"""diagnostics.views.xray: the attribution table and caption, the stage table and the bound sentence.

No Streamlit, no TensorFlow: a summary shaped like issue 11 section 6 (tests/synthetic.py).
Moved from tests/app/test_xray_views.py; the figures are in test_charts_xray.py.
"""

from __future__ import annotations

from diagnostics import views
from tests.synthetic import CACHE, MIB, PREFETCH, SHUFFLE, xray_summary


def test_attribution_rows_always_end_with_unattributed():
    summary = xray_summary()
    rows = views.xray.attribution_rows(summary["attribution"])
    assert [r["component"] for r in rows][:2] == [CACHE, SHUFFLE]  # largest first
    assert rows[-1] == {
        "component": "unattributed",
        "kind": "other",
        "MiB": 16.0,
        "share of overhead": "5%",
        "how it was measured": "not explained by the parts above",
    }
    assert rows[1]["how it was measured"] == "Shuffle"
    split = {**summary["attribution"], "unattributed_split": {"detail": "malloc heap in use grew 20 MiB"}}
    assert views.xray.attribution_rows(split)[-1]["how it was measured"] == "malloc heap in use grew 20 MiB"
    assert rows[0]["kind"] == "tf.data stage" and rows[0]["share of overhead"] == "67%"
    # Components listing unattributed themselves: still one row, still last.
    listed = {**summary["attribution"], "unattributed_bytes": None}
    listed["components"] = [
        *listed["components"],
        {"name": "unattributed", "kind": "other", "bytes": 16 * MIB},
    ]
    assert [r["component"] for r in views.xray.attribution_rows(listed)].count("unattributed") == 1
    assert views.xray.attribution_rows(listed)[-1]["MiB"] == 16.0


def test_negative_unattributed_is_said_not_hidden():
    attribution = {**xray_summary()["attribution"], "unattributed_bytes": -10 * MIB}
    assert views.xray.attribution_rows(attribution)[-1]["MiB"] == -10.0
    assert "exceed it by 10.0 MiB" in views.xray.attribution_caption(attribution)
    assert "5% of it is unattributed" in views.xray.attribution_caption(xray_summary()["attribution"])


def test_top_components_text():
    text = views.xray.top_components_text(xray_summary()["attribution"], n=2)
    assert text == f"{CACHE} 200.0 MiB (67%), {SHUFFLE} 58.0 MiB (19%); unattributed 16.0 MiB (5%)"
    assert views.xray.top_components_text(None) == "–"


def test_stage_rows_and_bound_sentence():
    summary = xray_summary()
    rows = views.xray.stage_rows(summary["pipeline"])
    # Output first in the summary, source first (as in the code) in the table.
    assert [r["stage"] for r in rows] == ["parallel map in flight", CACHE, SHUFFLE, PREFETCH]
    shuffle = rows[2]
    assert shuffle["your code"] == "dataset = dataset.shuffle(300)"
    assert (shuffle["buffered now (MiB)"], shuffle["buffered peak (MiB)"]) == (49.0, 58.0)
    assert shuffle["elements now / peak"] == "250 / 299" and shuffle["share of time"] == "5%"
    assert rows[0]["own rate"] == "310 img/s"
    assert rows[0]["AUTOTUNE"] == "parallelism 4" and rows[1]["AUTOTUNE"] == "–"
    sentence = views.xray.bound_sentence(summary)
    assert "**parallel map in flight**, at 310 img/s on its own" in sentence
    fit = {
        "pipeline": {
            **summary["pipeline"],
            "bound": {
                "kind": "input",
                "detail": "training waited 1.20 s of 3.00 s (40%) for the next batch: input-bound",
            },
        }
    }
    assert (
        "Training is **input-bound**: training waited 1.20 s of 3.00 s (40%) for the next batch."
        in views.xray.bound_sentence(fit)
    )
    assert views.xray.bound_sentence({"pipeline": None}) == views.xray.NO_TFDATA_NOTE
    assert "needs tf.data" in views.xray.NO_TFDATA_NOTE


def test_the_caption_leaves_needs_tfdata_to_the_stage_section_and_keeps_other_notes():
    attribution = {
        **xray_summary()["attribution"],
        "note": "The peak fell between snapshots. " + views.xray.NO_TFDATA_NOTE,
    }
    caption = views.xray.attribution_caption(attribution)
    assert "needs tf.data" not in caption and "The peak fell between snapshots." in caption
    assert "needs tf.data" in views.xray.bound_sentence({"pipeline": None})
