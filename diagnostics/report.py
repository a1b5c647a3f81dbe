"""Self-contained HTML report of one run or a comparison of several (works offline).

plotly.js is inlined once in the head, every figure is a div drawing from it, and everything
else is plain HTML and CSS, so the file can be mailed or attached to a ticket and opened anywhere.

Example:
    >>> html = render_html(Store(), [12])        # one run
    >>> html = render_html(Store(), [12, 13])    # a comparison
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from diagnostics import charts, outcome, throughput, views
from diagnostics.config import dashboard_text
from diagnostics.errors import StoreError
from diagnostics.queries import live_run
from diagnostics.units import format_bytes, format_rate, format_seconds

__all__ = ["render_html", "render_scenario_html"]

CSS = """
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 24px 32px; color: #111827; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 36px;
     border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; } h3 { font-size: 16px; }
.meta { color: #6b7280; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f9fafb; } tr.differs td { background: #fef3c7; font-weight: 600; }
.metrics { display: flex; gap: 16px; flex-wrap: wrap; margin: 12px 0; }
.metric { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 180px; }
.metric .label { color: #6b7280; font-size: 12px; } .metric .value { font-size: 22px; font-weight: 600; }
.finding { border-left: 4px solid #3b82f6; background: #eff6ff; padding: 8px 12px; margin: 8px 0; }
.finding.warning { border-color: #f59e0b; background: #fffbeb; }
.finding.critical { border-color: #dc2626; background: #fef2f2; }
.finding .advice { color: #374151; margin-top: 4px; }
details { margin: 4px 0 8px; font-size: 12px; } pre { background: #f3f4f6; padding: 12px; overflow-x: auto;
      font-size: 12px; border-radius: 6px; }
.columns { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
.error { color: #991b1b; background: #fef2f2; padding: 8px 12px; border-radius: 6px; }
"""


def render_html(store: Any, run_ids: list[int]) -> str:
    """The report of ``run_ids`` (one: a run report; two or more: a comparison, then each run)."""
    if not run_ids:
        raise StoreError("a report needs at least one run id")
    runs = [live_run(store, int(run_id)) for run_id in run_ids]  # a dead runner's run: interrupted
    title = (
        f"Run {views.common.run_label(runs[0])}"  # the label starts with the run's id
        if len(runs) == 1
        else "Comparison of runs " + ", ".join(f"#{r['id']}" for r in runs)
    )
    body = [f"<h1>{_e(title)}</h1>", f"<p class='meta'>Training Memory Diagnostics report, {_e(_now())}</p>"]
    if len(runs) > 1:
        body.append(_comparison(store, runs))
    for run in runs:
        body.append(_run_section(store, run, heading=len(runs) > 1))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )


def render_scenario_html(store: Any, result: dict[str, Any]) -> str:
    """``render_html`` of a scenario's runs (``scenarios.run_scenario``'s result) with the question
    and verdict at the top."""
    page = render_html(store, list(result["run_ids"]))
    rows = "".join(
        f"<tr><td>#{run_id}</td><td>{html.escape(label)}</td><td>{html.escape(str(status))}</td></tr>"
        for run_id, label, status in zip(
            result["run_ids"],
            result["labels"],
            result.get("statuses") or [""] * len(result["run_ids"]),
            strict=False,
        )
    )
    better = (
        f"<p><b>Better pipeline:</b> {html.escape(str(result['better_label']))} (run #{result['better_run_id']})</p>"
        if result.get("better_run_id") is not None
        else ""
    )
    section = (
        f"<section class='scenario'><h2>Scenario {html.escape(result['scenario'])}: "
        f"{_code_spans(result['question'])}</h2><p><b>Verdict:</b> {html.escape(result['verdict'])}</p>{better}"
        f"<table><tr><th>run</th><th>trial</th><th>status</th></tr>{rows}</table></section>"
    )
    marker = page.find("</h1>")
    if marker < 0:
        marker = page.find("<body>") + len("<body>") - len("</h1>")
    cut = marker + len("</h1>")
    return page[:cut] + section + page[cut:]


def _code_spans(text: str) -> str:
    """Escaped text with its Markdown code spans (`cache()`) as <code>, never raw backticks."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(str(text)))


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _figure(fig: Any) -> str:
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False})


def _metrics(run: dict[str, Any]) -> str:
    summary = run.get("summary") or {}
    peak, baseline = summary.get("peak_rss_bytes"), summary.get("baseline_rss_bytes")
    overhead = summary.get("measured_overhead_bytes")
    if overhead is None and peak is not None and baseline is not None:
        overhead = peak - baseline
    slope = summary.get("leak_bytes_per_epoch")
    items = [
        ("Peak RSS (VmHWM)", format_bytes(peak)),
        ("Baseline (RSS at ready)", format_bytes(baseline)),
        ("Overhead over baseline", format_bytes(overhead, signed=True)),
        ("Throughput", format_rate(throughput.images_per_second(summary))),
        (
            "Leak slope",
            "n/a (< 3 epochs)" if slope is None else format_bytes(slope, signed=True) + "/epoch",
        ),
        ("Duration", format_seconds(summary.get("duration_seconds"))),
    ]
    return _metric_tiles(items)


def _metric_tiles(items: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<div class='metric'><div class='label'>{_e(k)}</div><div class='value'>{_e(v)}</div></div>"
        for k, v in items
    )
    return f"<div class='metrics'>{cells}</div>"


def _findings(findings: list[dict[str, Any]] | None) -> str:
    items = views.common.sorted_findings(findings)
    if not items:
        return "<p>No findings: nothing in this run needs attention.</p>"
    out = []
    for f in items:
        evidence = (
            f"<details><summary>evidence</summary>{_table(views.common.evidence_table(f['evidence']).to_dict('records'))}</details>"
            if f.get("evidence")
            else ""
        )
        # Options by the dashboard's labels, as on the pages this report mirrors (outcome_text too).
        advice = f"<div class='advice'>→ {_e(dashboard_text(f['advice']))}</div>" if f.get("advice") else ""
        title = dashboard_text(f.get("title", f.get("id")))
        out.append(
            f"<div class='finding {_e(f.get('severity', 'info'))}'><b>{_e(title)}</b>"
            f" <span class='meta'>[{_e(f.get('id'))}, {_e(f.get('severity', 'info'))}]</span>"
            f"<div>{_e(dashboard_text(f.get('detail', '')))}</div>{advice}{evidence}</div>"
        )
    return "".join(out)


def _table(rows: list[dict[str, Any]], highlight: list[bool] | None = None) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_e(k)}</th>" for k in rows[0])
    lines = []
    for i, row in enumerate(rows):
        cls = " class='differs'" if highlight and highlight[i] else ""
        lines.append(f"<tr{cls}>" + "".join(f"<td>{_e(v)}</td>" for v in row.values()) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _run_section(store: Any, run: dict[str, Any], *, heading: bool) -> str:
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    parts = []
    if heading:
        parts.append(f"<h2>Run {_e(views.common.run_label(run))}</h2>")
    parts.append(
        f"<p class='meta'>Status <b>{_e(run['status'])}</b> · dataset {_e(run.get('dataset_path'))} · "
        f"created {_e(run.get('created'))}</p>"
    )
    ended = outcome.outcome_text(run)
    if ended:
        parts.append("<div class='error'>" + _e(ended.replace("**", "")).replace("\n", "<br>") + "</div>")
        parts.append(_metric_tiles([(label, value) for label, value, _ in outcome.measured_metrics(run)]))
    else:
        if run.get("error"):
            parts.append(f"<p class='error'>{_e(run['error'])}</p>")
        parts.append(_metrics(run))
    samples, events = store.samples(run["id"]), store.events(run["id"])
    fig = charts.memory_throughput_figure(
        samples,
        events,
        t_ready=run.get("t_ready"),
        baseline_bytes=summary.get("baseline_rss_bytes"),
        budget_bytes=run.get("memory_budget_bytes")
        or config.get("memory_budget_bytes")
        or summary.get("memory_budget_bytes"),
        peak_bytes=summary.get("peak_rss_bytes"),
    )
    parts.append(_figure(fig))
    if outcome.completed(run):
        parts.append(_xray(store, run, samples, events))
    if outcome.completed(run) or run.get("findings"):
        parts.append("<h3>Findings</h3>" + _findings(run.get("findings")))
    if summary.get("memory_model") and outcome.completed(run):
        parts.append(
            _figure(
                charts.memory_model_figure(summary["memory_model"], summary.get("measured_overhead_bytes"))
            )
        )
    epochs = views.compare.epochs_frame({"run": summary})
    if not epochs.empty:
        parts.append("<h3>Epochs</h3>")
        parts.append(
            _table(
                [
                    {
                        "epoch": r.epoch,
                        "images": r.images,
                        "seconds": f"{r.seconds:.2f}" if r.seconds is not None else "–",
                        "images/s": format_rate(r.images_per_second),
                        "RSS at end": format_bytes(r.rss_end_bytes),
                    }
                    for r in epochs.itertuples()
                ]
            )
        )
    groups = run.get("log_groups") or []
    if groups:
        parts.append("<h3>Log lines</h3>")
        parts.append(_table(views.run.log_group_rows(groups)))
    parts.append(
        "<h3>Configuration</h3>"
        + _table([{"option": k, "value": views.common.format_value(v)} for k, v in config.items()])
    )
    caption = outcome.snippet_caption(run)
    if run.get("snippet") and caption:
        note = "" if outcome.completed(run) else f"<p class='meta'>{_e(caption)}</p>"
        parts.append(f"<h3>The measured pipeline as code</h3>{note}<pre>{_e(run['snippet'])}</pre>")
    return "\n".join(parts)


def _comparison(store: Any, runs: list[dict[str, Any]]) -> str:
    labels = views.common.run_labels(runs)
    colours = {labels[r["id"]]: charts.run_colour(r["id"]) for r in runs}
    parts = ["<h2>Side by side</h2>"]
    rows = []
    for run in runs:
        row = views.compare.compare_row(run, labels[run["id"]])
        row["findings"] = ", ".join(f.get("id", "?") for f in run.get("findings") or []) or "none"
        rows.append(row)
    parts.append(_table(rows))
    memory = {labels[r["id"]]: (store.samples(r["id"]), r.get("t_ready")) for r in runs}
    parts.append(_figure(charts.compare_memory_figure(memory, colours=colours)))
    epochs = views.compare.epochs_frame({labels[r["id"]]: r.get("summary") for r in runs})
    parts.append(_figure(charts.compare_throughput_figure(epochs, colours=colours)))
    attributions = {labels[r["id"]]: (r.get("summary") or {}).get("attribution") for r in runs}
    parts.append(_figure(charts.compare_attribution_figure(attributions)))
    parts.append(
        _table(
            [{"run": k, "top components": views.xray.top_components_text(a)} for k, a in attributions.items()]
        )
    )
    diff = views.common.config_diff({labels[r["id"]]: r.get("config") or {} for r in runs})
    parts.append("<h3>Configuration (differences highlighted)</h3>")
    parts.append(_table(diff.drop(columns="differs").to_dict("records"), highlight=diff["differs"].tolist()))
    columns = "".join(
        f"<div><h3>{_e(labels[r['id']])}</h3>{_findings(r.get('findings'))}</div>" for r in runs
    )
    parts.append(f"<h3>Findings</h3><div class='columns'>{columns}</div>")
    return "\n".join(parts)


def _xray(store: Any, run: dict[str, Any], samples: Any, events: Any) -> str:
    """Where the memory is: the stacked attribution, its table at the peak, stages, AUTOTUNE."""
    summary = run.get("summary") or {}
    attribution, autotune = views.xray.xray_frames(store, run, samples, events)
    figure = charts.attribution_figure(
        attribution,
        samples,
        events,
        t_ready=run.get("t_ready"),
        baseline_bytes=views.run.memory_figure_marks(run, events)["baseline_bytes"],
    )
    parts = ["<h3>Where the memory is</h3>", _figure(figure)]
    parts.append(f"<p>{_e(views.xray.attribution_caption(summary.get('attribution')))}</p>")
    parts.append(_table(views.xray.attribution_rows(summary.get("attribution"))))
    parts.append("<h3>Pipeline stages</h3>")
    # The sentence marks the stage in Markdown bold; the report shows it in HTML bold.
    parts.append(
        "<p>" + re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", _e(views.xray.bound_sentence(summary))) + "</p>"
    )
    rows = views.xray.stage_rows(summary.get("pipeline"))
    for row in rows:
        for column in ("buffered now (MiB)", "buffered peak (MiB)"):
            row[column] = "–" if row[column] is None else f"{row[column]:,.1f}"
    parts.append(_table(rows))
    if not autotune.empty:
        parts.append(
            _figure(
                charts.autotune_figure(
                    autotune, events, t_ready=run.get("t_ready"), x_range=figure.layout.xaxis.range
                )
            )
        )
    return "\n".join(parts)
