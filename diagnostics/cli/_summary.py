"""The lines a trial command prints for each stored run: memory, throughput, epochs, where the
memory went at the peak, findings, skipped files and the error (``run``, ``sweep`` and
``scenario`` print one block per run).
"""

from __future__ import annotations

import sys
from typing import Any

from diagnostics import throughput

__all__ = ["TOP_COMPONENTS", "print_run_summary", "xray_lines"]

TOP_COMPONENTS = 5


def print_run_summary(store, run_id: int, out=None) -> None:
    from diagnostics.units import format_bytes, format_rate, format_seconds

    out = out or sys.stdout  # looked up at call time (tests and redirects replace sys.stdout)

    run = store.get_run(run_id)
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    scan = run.get("scan") or {}

    def line(label: str, text: str) -> None:
        print(f"  {label:<12} {text}", file=out)

    print(f"run {run_id}: {run['status']}  ({config.get('loader')}, {config.get('mode')})", file=out)
    line("dataset", f"{run.get('dataset_path')} ({scan.get('num_images', '?')} images)")
    baseline, peak = summary.get("baseline_rss_bytes"), summary.get("peak_rss_bytes")
    if baseline is None:
        line("baseline", "none: the worker stopped before ready (imports unfinished)")
    else:
        line("baseline", f"{format_bytes(baseline)} RSS at ready (after imports)")
    peak_text = f"{format_bytes(peak)} ({summary.get('peak_source', 'VmHWM')})"
    if summary.get("peak_tree_rss_bytes"):
        peak_text += f"; process tree up to {format_bytes(summary['peak_tree_rss_bytes'])}"
    line("peak", peak_text)
    if baseline is not None and peak is not None:
        line("overhead", f"{format_bytes(peak - baseline)} over baseline")
    rate = throughput.of_summary(summary)
    note = throughput.spread_note(rate)
    line("images/s", format_rate(rate["images_per_second"]) + (f" ({note})" if note else ""))
    for epoch in summary.get("epochs") or []:
        text = (
            f"{epoch.get('images')} images in {format_seconds(epoch.get('seconds'))}, "
            f"{format_rate(epoch.get('images_per_second'))}, RSS {format_bytes(epoch.get('rss_end_bytes'))}"
        )
        if epoch.get("loss") is not None:  # fit mode
            text += f", loss {epoch['loss']:.4f}"
        if epoch.get("accuracy") is not None:
            text += f", accuracy {epoch['accuracy']:.3f}"
        line(f"epoch {epoch.get('index')}", text)
    if summary.get("leak_bytes_per_epoch") is not None:
        line("leak", f"{format_bytes(summary['leak_bytes_per_epoch'], signed=True)} per epoch")
    if summary.get("duration_seconds") is not None:
        line("duration", format_seconds(summary["duration_seconds"]))
    if summary.get("samples") is not None:
        line("samples", str(summary["samples"]))
    for label, text in xray_lines(summary):
        line(label, text)
    for finding in run.get("findings") or []:
        line("finding", f"[{finding.get('severity')}] {finding.get('title')}")
        if finding.get("advice"):  # the CLI names options by their flags, as typed
            line("", f"-> {finding['advice']}")
    steps_default = (config.get("extra") or {}).get("steps_default")
    if steps_default:
        line("steps", steps_default.get("text", ""))
    from diagnostics.views.run import skipped_text  # here: `scan` must not import pandas

    skipped = skipped_text(run, markdown=False)
    if skipped:
        line("skipped", skipped)
    if run.get("error"):
        first, *rest = str(run["error"]).splitlines()
        line("error", first)
        for extra in rest:
            print(f"  {'':<12} {extra}", file=out)
    line("stored in", f"{store.path} (run {run_id})")


def xray_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines: the largest attributed parts at the peak, the remainder, the bottleneck."""
    from diagnostics.units import format_bytes, format_rate

    out: list[tuple[str, str]] = []
    attribution = summary.get("attribution")
    if attribution:
        overhead = attribution.get("overhead_bytes") or 0

        def share(value: float) -> str:
            return f"{100 * value / overhead:.0f}%" if overhead > 0 else "–"

        parts = sorted(attribution.get("components") or [], key=lambda c: -(c.get("bytes") or 0))
        shown = [c for c in parts if c.get("bytes")][:TOP_COMPONENTS]
        out.append(("where", f"{format_bytes(overhead)} over baseline at the peak snapshot:"))
        for part in shown:
            out.append(("", f"{format_bytes(part['bytes']):>10}  {share(part['bytes']):>4}  {part['name']}"))
        rest = attribution.get("unattributed_bytes") or 0
        out.append(("", f"{format_bytes(rest):>10}  {share(rest):>4}  unattributed"))
        if attribution.get("note"):
            out.append(("", str(attribution["note"])))
    pipeline = summary.get("pipeline")
    if pipeline and pipeline.get("bottleneck"):
        neck = pipeline["bottleneck"]
        out.append(
            ("bottleneck", f"{neck.get('stage')}: {format_rate(neck.get('images_per_second'))} on its own")
        )
    if pipeline and (pipeline.get("bound") or {}).get("kind"):
        out.append(("bound", f"{pipeline['bound']['kind']}-bound: {pipeline['bound'].get('detail')}"))
    return out
