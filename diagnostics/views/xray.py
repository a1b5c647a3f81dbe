"""Pipeline X-ray text and tables (issue 11): where the peak's memory is (attribution) and the
tf.data stages, for the Run, History and Compare pages and the HTML report."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from diagnostics import analysis, throughput
from diagnostics.units import MiB, format_bytes, format_rate, mib
from diagnostics.units import is_missing as _missing

__all__ = [
    "KIND_LABELS",
    "NO_TFDATA_NOTE",
    "attribution_caption",
    "attribution_components",
    "attribution_rows",
    "bound_sentence",
    "stage_rows",
    "top_components_text",
    "xray_frames",
]

KIND_LABELS = {
    "tfdata_stage": "tf.data stage",
    "model": "model weights",
    "optimizer": "optimizer state",
    "allocator_free": "allocator: freed, kept",
    "library": "library/code pages",
    "other": "other",
}


NO_TFDATA_NOTE = analysis.attribution.NO_TFDATA_NOTE  # one wording, the analysis' own


def _share(part: float | None, whole: float | None) -> str:
    if _missing(part) or _missing(whole) or not whole:
        return "–"
    return f"{100.0 * float(part) / float(whole):.0f}%"


def attribution_components(attribution: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The components, largest first, then "unattributed" always last (never dropped)."""
    if not attribution:
        return []
    named = [c for c in attribution.get("components") or [] if c.get("name") != "unattributed"]
    named.sort(key=lambda c: -float(c.get("bytes") or 0))
    rest = attribution.get("unattributed_bytes")
    if rest is None:
        rest = next(
            (c.get("bytes") for c in attribution.get("components") or [] if c.get("name") == "unattributed"),
            None,
        )
    return [
        *named,
        {
            "name": "unattributed",
            "kind": "other",
            "bytes": rest,
            # What the composition tells of the remainder (heap in use, memory outside malloc).
            "detail": (attribution.get("unattributed_split") or {}).get("detail")
            or "not explained by the parts above",
        },
    ]


def attribution_rows(attribution: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per component at the peak: component, kind, MiB, share of the overhead, source."""
    overhead = (attribution or {}).get("overhead_bytes")
    return [
        {
            "component": c.get("name"),
            "kind": KIND_LABELS.get(c.get("kind"), c.get("kind") or "other"),
            "MiB": None if _missing(c.get("bytes")) else round(float(c["bytes"]) / MiB, 1),
            "share of overhead": _share(c.get("bytes"), overhead),
            "how it was measured": c.get("detail") or "–",
        }
        for c in attribution_components(attribution)
    ]


def attribution_caption(attribution: Mapping[str, Any] | None) -> str:
    """What the table splits, and an unexplained or over-explained remainder said plainly."""
    if not attribution:
        return "No attribution for this run (it predates the probe, or no probe snapshot arrived)."
    overhead = attribution.get("overhead_bytes")
    rest = attribution_components(attribution)[-1]["bytes"]
    at = "the peak" if attribution.get("at", "peak") == "peak" else str(attribution.get("at"))
    text = f"Overhead over baseline at {at}: {format_bytes(overhead, signed=True)}."
    if attribution.get("note"):
        text += f" {_share(rest, overhead)} of it is unattributed."
    elif not _missing(rest) and float(rest) < 0:
        text += (
            f" The measured parts exceed it by {format_bytes(-float(rest))}: some of them are counted "
            "twice or were measured at another moment."
        )
    else:
        text += f" {_share(rest, overhead)} of it is unattributed."
    # The stage section says "needs tf.data" in its own box; the caption keeps the other notes.
    note = str(attribution.get("note") or "").replace(NO_TFDATA_NOTE, "").strip()
    return text + (f" {note}" if note else "")


def top_components_text(attribution: Mapping[str, Any] | None, n: int = 3) -> str:
    """'in-memory cache 200.0 MiB (67%), …; unattributed 16.0 MiB (5%)' for Compare and the report."""
    if not attribution:
        return "–"
    components = attribution_components(attribution)
    overhead = attribution.get("overhead_bytes")
    parts = [
        f"{c['name']} {format_bytes(c.get('bytes'))} ({_share(c.get('bytes'), overhead)})"
        for c in components[:-1][:n]
    ]
    rest = components[-1]
    return (
        ", ".join(parts)
        + f"; unattributed {format_bytes(rest.get('bytes'))} ({_share(rest.get('bytes'), overhead)})"
    )


def _autotune_text(values: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (values or {}).items()) or "–"


def _now_and_peak(now: Any, peak: Any) -> str:
    now_text = "–" if _missing(now) else f"{int(now):,}"
    return now_text if _missing(peak) else f"{now_text} / {int(peak):,}"


def stage_rows(pipeline: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The stage table: stage, your code, buffered MiB now/peak, elements, AUTOTUNE, share of time.

    "now" is the last snapshot (a shuffle buffer drains at the end of the data); "own rate" is the
    stage's images/s from its processing time, the figure the bottleneck is chosen by.
    """
    rows = []
    # The summary lists stages from the output back to the source; the table reads like the code.
    for stage in reversed((pipeline or {}).get("stages") or []):
        share = stage.get("time_share")
        rows.append(
            {
                "stage": stage.get("label") or stage.get("name"),
                "buffered now (MiB)": mib(stage.get("buffered_bytes")),
                "buffered peak (MiB)": mib(stage.get("peak_buffered_bytes")),
                "elements now / peak": _now_and_peak(
                    stage.get("buffered_elements"), stage.get("peak_buffered_elements")
                ),
                "own rate": format_rate(stage.get("images_per_second")),
                "AUTOTUNE": _autotune_text(stage.get("autotune")),
                "share of time": "–" if _missing(share) else f"{100.0 * float(share):.0f}%",
                # Last: code lines are long, the numbers stay in view.
                "your code": stage.get("code") or "–",
            }
        )
    return rows


def bound_sentence(summary: Mapping[str, Any] | None) -> str:
    """The bottleneck stage and, in fit mode, whether training waits for input or for compute."""
    pipeline = (summary or {}).get("pipeline")
    if not pipeline:
        return NO_TFDATA_NOTE
    sentences = []
    bottleneck = pipeline.get("bottleneck")
    if bottleneck and bottleneck.get("stage"):
        rate = bottleneck.get("images_per_second")
        measured = throughput.images_per_second(summary)
        bounds = analysis.pipeline.bounds_throughput(None if _missing(rate) else rate, measured)
        sentences.append(
            f"The slowest stage is **{bottleneck['stage']}**"
            + (f", at {format_rate(rate)} on its own" if not _missing(rate) else "")
            + (
                f". {analysis.pipeline.not_a_bound(measured)}."
                if bounds is False
                else ": it bounds the pipeline's throughput."
            )
        )
    bound = pipeline.get("bound") or {}
    if bound.get("kind") in ("input", "compute"):
        what = "input-bound" if bound["kind"] == "input" else "compute-bound"
        # The detail may end by naming the verdict again (": input-bound"); say it once.
        detail = re.sub(r"[:;,]?\s*(input|compute)-bound\.?$", "", str(bound.get("detail") or ""))
        sentences.append(f"Training is **{what}**" + (f": {detail}." if detail else "."))
    elif bound.get("detail"):
        sentences.append(bound["detail"][:1].upper() + bound["detail"][1:] + ".")
    if pipeline.get("note"):
        sentences.append(str(pipeline["note"]))
    return " ".join(sentences) or "No stage stands out as the bottleneck."


def xray_frames(store: Any, run: Mapping[str, Any], samples: pd.DataFrame, events: pd.DataFrame):
    """(attribution frame, AUTOTUNE frame) of a run, live or finished, from the store's probe tables.

    The one place the views reach the analysis' frame builders, so the Run page, History and the
    HTML report draw the same thing.
    """
    pipeline = store.pipeline(run["id"])
    composition = store.composition(run["id"])
    config = run.get("config") or {}
    return (
        analysis.attribution_frame(run, samples, events, pipeline, composition),
        # The snippet and batch size name the stages as the summary's table does.
        analysis.autotune_frame(pipeline, snippet=run.get("snippet"), batch_size=config.get("batch_size")),
    )
