"""diagnostics.views.common: run labels and pickers, findings (split from test_ui.py)."""

from __future__ import annotations

import pandas as pd

from diagnostics import views


def test_run_choices_label_and_status_filter():
    runs = pd.DataFrame(
        [
            {
                "id": 2,
                "loader": "tf_data",
                "dataset_path": "/d/flowers",
                "status": "completed",
                "created": "t2",
            },
            {"id": 1, "loader": "keras", "dataset_path": "/d/cats", "status": "running", "created": "t1"},
        ]
    )
    assert views.common.run_choices(runs) == {
        2: "#2 tf_data · flowers · completed · t2",
        1: "#1 keras · cats · running · t1",
    }
    assert list(views.common.run_choices(runs, ("completed",))) == [2]


def test_finding_markdown_adds_advice_when_there_is_some():
    finding = {"id": "cache_growth", "title": "Cache grows", "detail": "+355 MiB in epoch 1"}
    assert views.common.finding_markdown(finding) == "**Cache grows**  \n+355 MiB in epoch 1"
    assert views.common.finding_markdown({**finding, "advice": "cache to a file"}).endswith(
        "  \n→ cache to a file"
    )


def test_config_diff_marks_the_options_that_differ():
    diff = views.common.config_diff({"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}})
    assert diff.iloc[0].to_dict() == {"option": "y", "a": "2", "b": "3", "differs": True}
    assert not diff.iloc[1]["differs"]
