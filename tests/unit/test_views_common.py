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


def _compared(ids_configs):
    return [
        {"id": i, "loader": "keras_directory", "config": {"loader": "keras_directory", **c}}
        for i, c in ids_configs
    ]


def test_compare_labels_name_every_option_that_differs():
    runs = _compared(
        [
            (1, {"cache": "none", "shuffle": False, "epochs": 3}),
            (2, {"cache": "memory", "shuffle": True, "epochs": 3}),
        ]
    )
    labels = views.common.run_labels(runs)
    assert labels == {
        1: "#1 keras_directory · cache=none, shuffle=False",
        2: "#2 keras_directory · cache=memory, shuffle=True",
    }


def test_a_run_keeps_its_colour_whatever_else_is_compared():
    from diagnostics import charts
    from tests.synthetic import run_frames

    samples, _ = run_frames()
    runs = {i: {"cache": c} for i, c in ((1, "none"), (2, "memory"), (3, "file"))}

    def colour_of_run_2(picked):
        labels = views.common.run_labels(_compared([(i, runs[i]) for i in picked]))
        fig = charts.compare_memory_figure(
            {labels[i]: (samples, 100.0) for i in picked},
            colours={labels[i]: charts.run_colour(i) for i in picked},
        )
        return next(t.line.color for t in fig.data if t.name.startswith("#2 "))

    assert colour_of_run_2([1, 2]) == colour_of_run_2([2, 3]) == colour_of_run_2([3, 2, 1])
