"""diagnostics.report: the self-contained HTML report of one run, a comparison, and a scenario.

On stores filled through the Store API (tests/synthetic.py): no runner, no worker, no TensorFlow.
The first two tests moved from tests/app/test_charts.py and tests/app/test_xray_views.py.
"""

from __future__ import annotations

import json
import re

import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs

from diagnostics import charts
from diagnostics.errors import StoreError
from diagnostics.report import render_html, render_scenario_html
from diagnostics.store import Store
from tests.synthetic import MIB, fill_store, run_frames

HOSTILE = "<script>alert('x')</script>"


def test_html_report_is_self_contained(tmp_path):
    store = Store(tmp_path)
    ids = fill_store(store, str(tmp_path))
    single = render_html(store, ids[:1])
    assert "<script src=" not in single and "Plotly" in single  # plotly.js inlined, nothing fetched
    assert "cache() holds the decoded dataset in RAM" in single
    assert "import tensorflow as tf" in single
    assert "<h3>Log lines</h3>" in single and "Local rendezvous is aborting" in single
    assert single.count('class="plotly-graph-div"') == 3  # live figure, attribution, memory model
    comparison = render_html(store, ids)
    assert "Comparison of runs" in comparison and "class='differs'" in comparison
    fig_json = pio.to_json(charts.memory_throughput_figure(store.samples(ids[0]), store.events(ids[0])))
    assert json.loads(fig_json)["data"]


def test_html_report_has_the_attribution_chart_table_and_stages(tmp_path):
    from diagnostics.report import render_html
    from diagnostics.store import Store
    from tests.synthetic import store_probe_fixture

    store = Store(tmp_path)
    one = store_probe_fixture(store, "cache_shuffle")
    two = store_probe_fixture(store, "autotune")
    html = render_html(store, [one])
    assert "<h3>Where the memory is</h3>" in html and "Memory above baseline, by component" in html
    assert "<td>in-memory cache</td>" in html and "<td>unattributed</td>" in html
    assert "<h3>Pipeline stages</h3>" in html and "<td>dataset = dataset.cache()</td>" in html
    assert "The slowest stage is <b>" in html
    comparison = render_html(store, [one, two])
    assert "Memory above baseline at each run's peak, by component" in comparison  # the figure's JSON
    assert "<th>top components</th>" in comparison


def _outside_plotly(page: str) -> str:
    """The page without the inlined plotly.js (a library bundle that names URLs in its own code)."""
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1  # inlined exactly once, in the head
    return page.replace(bundle, "")


def _ended_run(store, dataset: str, *, status: str, error: str, ready: bool, snippet: str = "x = 1\n") -> int:
    """A run that stopped part-way: one epoch of three, samples only when it got past ready."""
    run_id = store.create_run({"dataset": dataset, "loader": "keras_directory", "epochs": 3}, None)
    if ready:
        samples, events = run_frames(epochs=1)
        store.add_samples(run_id, samples.to_dict("records"))
        store.add_events(
            run_id, [{"t": e["t"], "kind": e["kind"], **e["data"]} for e in events.to_dict("records")]
        )
    summary = {
        "samples": 150 if ready else 3,
        "duration_seconds": 3.0,
        "peak_rss_bytes": 900 * MIB,
        "peak_source": "sampled VmHWM",
        "epochs": [{"index": 0, "images": 600, "seconds": 1.99}] if ready else [],
        "memory_model": {"cache": 300 * MIB},
    }
    store.update_run(
        run_id,
        status=status,
        error=error,
        t_ready=100.0 if ready else None,
        summary=summary,
        findings=[],
        snippet=snippet,
    )
    return run_id


def test_the_report_fetches_nothing(tmp_path):
    store = Store(tmp_path)
    ids = fill_store(store, str(tmp_path))
    for page in (render_html(store, ids[:1]), render_html(store, ids)):
        assert page.startswith("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
        rest = _outside_plotly(page)
        assert not re.search(r"https?://", rest)  # no CDN, no font, no image from the network
        assert not re.search(r"<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)=", rest)
        assert "<link" not in rest and "@import" not in rest
        assert page.rstrip().endswith("</body></html>")


def test_a_single_report_has_the_run_title_metrics_and_sections(tmp_path):
    store = Store(tmp_path)
    [run_id] = fill_store(store, str(tmp_path), runs=1)
    page = _outside_plotly(render_html(store, [run_id]))
    title = f"Run #{run_id} keras_directory · cache=memory"  # the id once, then the options changed
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page
    assert "Comparison of runs" not in page and "<h2>Side by side</h2>" not in page
    assert "Status <b>completed</b>" in page
    for label in ("Peak RSS (VmHWM)", "Baseline (RSS at ready)", "Overhead over baseline", "Leak slope"):
        assert f"<div class='label'>{label}</div>" in page
    assert "<div class='label'>Leak slope</div><div class='value'>0 B/epoch</div>" in page
    assert "<h3>Epochs</h3>" in page and "<th>images/s</th>" in page
    assert "<h3>Configuration</h3>" in page and "<td>batch_size</td><td>32</td>" in page
    # Completed: the code is shown without the "did not complete" note.
    assert "<h3>The measured pipeline as code</h3><pre>import tensorflow as tf" in page


def test_a_run_without_findings_says_so(tmp_path):
    store = Store(tmp_path)
    ids = fill_store(store, str(tmp_path))  # the second run has no findings
    page = render_html(store, [ids[1]])
    assert "<h3>Findings</h3><p>No findings: nothing in this run needs attention.</p>" in page
    assert "cache() holds the decoded dataset in RAM" not in page


def test_user_supplied_names_are_escaped(tmp_path):
    store = Store(tmp_path)
    dataset = str(tmp_path / f"flowers {HOSTILE}")
    run_id = store.create_run(
        {"dataset": dataset, "loader": f"loader{HOSTILE}", "epochs": 3, "note": HOSTILE}
    )
    store.update_run(
        run_id,
        status="failed",
        t_ready=100.0,
        error=f"cannot decode {HOSTILE}.jpg",
        summary={"epochs": []},
        findings=[
            {"id": "odd", "severity": "warning", "title": HOSTILE, "detail": HOSTILE, "advice": HOSTILE}
        ],
        log_groups=[{"template": HOSTILE, "count": 1, "level": "error", "source": HOSTILE}],
        snippet=f"print({HOSTILE!r})\n",
    )
    page = _outside_plotly(render_html(store, [run_id]))
    assert HOSTILE not in page and "<script>alert" not in page
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert f"<title>Run #{run_id} loader{escaped}</title>" in page
    assert f"dataset {tmp_path}/flowers {escaped} ·" in page
    assert f"cannot decode {escaped}.jpg" in page  # the outcome text of the failed run
    assert f"<b>{escaped}</b>" in page  # the finding's title
    assert f"<td>note</td><td>{escaped}</td>" in page
    assert f"<td>{escaped}</td>" in page  # the log group


def test_a_comparison_of_two_runs(tmp_path):
    store = Store(tmp_path)
    one, two = fill_store(store, str(tmp_path))
    page = render_html(store, [one, two])
    rest = _outside_plotly(page)
    assert f"<h1>Comparison of runs #{one}, #{two}</h1>" in rest
    assert "<h2>Side by side</h2>" in rest
    # One section per run, in the order asked for, after the comparison.
    side = rest.index("<h2>Side by side</h2>")
    first, second = rest.index(f"<h2>Run #{one} "), rest.index(f"<h2>Run #{two} ")
    assert f"#{one}: #{one}" not in rest and f"Run #{one} #{one}" not in rest  # the id said once
    assert side < first < second
    # The configuration table highlights exactly the options that differ (batch size, cache).
    table = rest[rest.index("<h3>Configuration (differences highlighted)</h3>") :]
    table = table[: table.index("</table>")]
    highlighted = re.findall(r"<tr class='differs'><td>([^<]+)</td>", table)
    assert sorted(highlighted) == ["batch_size", "cache"]
    assert "<tr><td>epochs</td><td>3</td><td>3</td></tr>" in table
    # The comparison figures plus each run's three (memory, attribution, memory model).
    assert page.count('class="plotly-graph-div"') == 3 + 2 * 3
    assert "<th>findings</th>" in rest and "<td>cache_size</td>" in rest and "<td>none</td>" in rest


def test_a_missing_run_id_is_a_clear_error(tmp_path):
    store = Store(tmp_path)
    [run_id] = fill_store(store, str(tmp_path), runs=1)
    with pytest.raises(StoreError, match=r"^no run 999 in store "):
        render_html(store, [999])
    with pytest.raises(StoreError, match=r"^no run 999 in store "):
        render_html(store, [run_id, 999])
    with pytest.raises(StoreError, match="a report needs at least one run id"):
        render_html(store, [])


def test_a_budget_kill_shows_its_outcome_and_what_was_measured_not_a_healthy_run(tmp_path):
    store = Store(tmp_path)
    run_id = _ended_run(
        store,
        str(tmp_path),
        status="killed_budget",
        error="tree RSS crossed the 800.0 MiB budget",
        ready=True,
    )
    page = _outside_plotly(render_html(store, [run_id]))
    assert (
        "<div class='error'>Killed: memory budget crossed: tree RSS crossed the 800.0 MiB budget<br><br>"
        "Measured before it stopped: 150 memory samples over 3.0 s; 1 of 3 epochs completed;"
    ) in page
    assert "**" not in page  # the Markdown bold of the outcome text is not left in the HTML
    assert "<div class='label'>Peak RSS until it stopped</div><div class='value'>900.0 MiB</div>" in page
    assert "<div class='label'>Epochs completed</div><div class='value'>1 of 3</div>" in page
    # Nothing that would read as a finished run: no overhead, no x-ray, no "no findings", no model.
    assert "Overhead over baseline" not in page and "Leak slope" not in page
    assert "<h3>Where the memory is</h3>" not in page and "<h3>Findings</h3>" not in page
    assert page.count('class="plotly-graph-div"') == 1  # only the memory figure
    # Its code is shown, saying it did not complete.
    assert (
        "<h3>The measured pipeline as code</h3><p class='meta'>The code of this trial. It did not "
        "complete (Killed: memory budget crossed); the worker was stopped part-way.</p><pre>x = 1"
    ) in page


def test_a_run_that_never_became_ready_shows_no_code(tmp_path):
    store = Store(tmp_path)
    run_id = _ended_run(
        store, str(tmp_path), status="failed", error="ImportError: no tensorflow", ready=False
    )
    page = _outside_plotly(render_html(store, [run_id]))
    assert "<div class='error'>Failed: ImportError: no tensorflow<br><br>" in page
    assert "The worker never reported ready (it stopped while importing TensorFlow and Keras)" in page
    assert "<div class='label'>Epochs completed</div><div class='value'>0 of 3</div>" in page
    assert "The measured pipeline as code" not in page and "x = 1" not in page
    assert "No memory samples yet" in page  # the memory figure says why it is empty


def test_a_scenario_report_puts_question_verdict_and_trials_under_the_title(tmp_path):
    store = Store(tmp_path)
    one, two = fill_store(store, str(tmp_path))
    result = {
        "scenario": "cache",
        "question": "Does cache() <really> pay?",
        "verdict": "cache() costs 300 MiB & saves 20% time",
        "run_ids": [one, two],
        "labels": ["with cache()", f"without {HOSTILE}"],
        "statuses": ["completed", "killed_budget"],
        "better_label": "with cache()",
        "better_run_id": one,
    }
    page = _outside_plotly(render_scenario_html(store, result))
    h1_end = page.index("</h1>") + len("</h1>")
    assert page[h1_end:].startswith(
        "<section class='scenario'><h2>Scenario cache: Does cache() &lt;really&gt; pay?</h2>"
        "<p><b>Verdict:</b> cache() costs 300 MiB &amp; saves 20% time</p>"
        f"<p><b>Better pipeline:</b> with cache() (run #{one})</p>"
    )
    assert f"<tr><td>#{one}</td><td>with cache()</td><td>completed</td></tr>" in page
    assert f"<tr><td>#{two}</td><td>without &lt;script&gt;" in page and HOSTILE not in page
    assert f"<h1>Comparison of runs #{one}, #{two}</h1>" in page  # the runs' report follows
    no_better = _outside_plotly(render_scenario_html(store, {**result, "better_run_id": None}))
    assert "Better pipeline" not in no_better


def test_a_scenario_heading_shows_code_spans_as_code_not_backticks(tmp_path):
    store = Store(tmp_path)
    one, two = fill_store(store, str(tmp_path))
    result = {
        "scenario": "cache",
        "question": "Does `cache()` make my RAM grow?",
        "verdict": "Yes, once.",
        "run_ids": [one, two],
        "labels": ["no cache", "cache() in memory"],
    }
    page = _outside_plotly(render_scenario_html(store, result))
    assert "<h2>Scenario cache: Does <code>cache()</code> make my RAM grow?</h2>" in page
    assert "`" not in page[: page.index("</section>")]
