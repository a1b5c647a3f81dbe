"""tf.data stages as the user wrote them, from the worker's ``pipeline`` snapshots.

A ``pipeline`` event is one live iterator's optimized pipeline (``IteratorGetModelProto``): nodes
with buffered bytes, processing time, element counts and the parameters AUTOTUNE tunes. Here each
node becomes a *stage*: identified across snapshots and iterators by its path from the root (node
ids differ per iterator; the path does not), named in the user's words ("shuffle buffer (299
images)", "in-memory cache"), and tied to the snippet line that created it.

Public: ``snapshots`` (frame -> parsed snapshots), ``stage_catalogue`` (the run's stages with labels
and code), ``pipeline_summary`` (``summary["pipeline"]``), ``autotune_frame``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from diagnostics.analysis._util import _num

__all__ = [
    "autotune_frame",
    "bounds_throughput",
    "not_a_bound",
    "pipeline_summary",
    "snapshots",
    "stage_catalogue",
]

# Nodes that pass their input's tensors on without making new ones: a buffer in such a stage
# downstream of an in-memory cache holds references to the cached tensors, not copies.
REFERENCE_NODES = {
    "Shuffle",
    "ShuffleAndRepeat",
    "Prefetch",
    "Take",
    "Skip",
    "Repeat",
    "Filter",
    "ParallelFilter",
    "Shard",
    "TakeWhile",
    "AssertCardinality",
    "AssertNext",
    "Options",
    "MaxIntraOpParallelism",
    "PrivateThreadPool",
    "Zip",
    "Concatenate",
    "MemoryCache",
    "Root",
}
CACHE_NODES = {"MemoryCacheImpl", "MemoryCache"}
BATCH_NODES = {"Batch", "PaddedBatch", "MapAndBatch", "ParallelBatch"}
MAP_NODES = {"Map", "ParallelMap", "MapAndBatch", "ParallelInterleave", "Interleave", "FlatMap"}
ASYNC_NODES = {"ParallelMap", "MapAndBatch", "ParallelBatch", "ParallelInterleave", "Prefetch"}

# Snippet call that creates each (normalized) node, in the order a chain is written.
_CODE_PATTERNS = {
    "MemoryCache": r"\.cache\(",
    "Cache": r"\.cache\(",
    "Shuffle": r"\.shuffle\(",
    "Prefetch": r"\.prefetch\(",
    "Map": r"\.map\(",
    "ParallelMap": r"\.map\(",
    "MapAndBatch": r"\.map\(",
    "Batch": r"\.batch\(",
    "PaddedBatch": r"\.padded_batch\(",
    "ParallelBatch": r"\.batch\(",
    "TensorSlice": r"from_tensor_slices\(",
    "Take": r"\.take\(",
    "Skip": r"\.skip\(",
    "Repeat": r"\.repeat\(",
    "Filter": r"\.filter\(",
    "FlatMap": r"from_generator\(|\.flat_map\(",
    "Generator": r"from_generator\(",
    "Interleave": r"\.interleave\(",
    "ParallelInterleave": r"\.interleave\(",
}
# A library call that builds the whole pipeline inside it, when no line names the stage itself.
_BUILDER_PATTERN = r"image_dataset_from_directory\(|from_generator\(|\bfit\("
# A builder whose stages come before the lines written after it: Keras' image_dataset_from_directory
# lists files (from_tensor_slices, zip), shuffles them, maps, batches and ends with its own
# prefetch(AUTOTUNE) (keras/src/utils/image_dataset_utils.py), whatever the run's Prefetch says.
_KERAS_BUILDER = r"image_dataset_from_directory\("
_KERAS_KINDS = {"TensorSlice", "Zip", "Map", "ParallelMap", "MapAndBatch", "Batch", "Shuffle", "Prefetch"}
KERAS_ORIGIN = "added by Keras, not by your options"
YOUR_CODE = "your code"
TFDATA_ORIGIN = "added by tf.data, not in your code"  # e.g. tf.data's inject_prefetch
# Stages an option of the run could have made: one some library made carries its origin in its
# label, so "prefetch: 4 batches chosen by AUTOTUNE" is never read as the Prefetch option's.
_OPTION_KINDS = {"Prefetch", "Shuffle", "ShuffleAndRepeat", "MemoryCacheImpl", "MemoryCache", "Cache"}


def normal_name(name: str) -> str:
    """ParallelMapV2 -> ParallelMap, BatchV2 -> Batch, ParallelInterleaveDatasetV4 -> ParallelInterleave."""
    return re.sub(r"(Dataset)?(V\d+)?$", "", str(name or "")) or str(name)


@dataclass
class StageObs:
    """One stage in one snapshot of one iterator."""

    key: tuple[str, ...]
    name: str  # the node name as reported (MemoryCacheImpl for a cache)
    buffered_bytes: int
    buffered_elements: int
    processing_time_ns: int
    num_elements: int
    parameters: dict[str, Any]
    tunable: list[str]
    batched: bool  # its elements are batches
    decoded_below: bool  # a map runs at or below it (its elements are decoded images, not paths)
    shares_cache: bool  # a reference stage downstream of an in-memory cache
    is_cache: bool
    filling: bool = False  # an in-memory cache still being written (its writer reads its input)
    # Read before the iterator's end (probe.merge_released): tf.data had freed it by the snapshot.
    released: bool = False
    age_s: float = 0.0


@dataclass
class Snapshot:
    t: float
    reason: str | None
    epoch: int | None
    iterator: int
    ram_budget_bytes: int | None
    cpu_budget: int | None
    stages: list[StageObs] = field(default_factory=list)


def _parse(data: dict[str, Any], t: float) -> Snapshot:
    nodes = {int(n["id"]): n for n in data.get("nodes") or [] if n.get("id") is not None}
    snap = Snapshot(
        t=t,
        reason=data.get("reason"),
        epoch=data.get("epoch"),
        iterator=int(_num(data.get("iterator")) or 0),
        ram_budget_bytes=data.get("ram_budget_bytes"),
        cpu_budget=data.get("cpu_budget"),
    )
    below: dict[int, tuple[bool, bool]] = {}

    def subtree(node_id: int, seen: frozenset) -> tuple[bool, bool]:
        # (a batch at or below, a map at or below)
        if node_id in below:
            return below[node_id]
        node = nodes.get(node_id)
        if node is None or node_id in seen:
            return (False, False)
        name = normal_name(node.get("name"))
        batched, mapped = name in BATCH_NODES, name in MAP_NODES
        if name == "MemoryCacheImpl" and not node.get("inputs"):
            mapped = True  # a filled cache hides what made its elements: decoded data, not names
        for child in node.get("inputs") or []:
            b, m = subtree(int(child), seen | {node_id})
            batched, mapped = batched or b, mapped or m
        below[node_id] = (batched, mapped)
        return below[node_id]

    def over_cache(node_id: int, seen: frozenset) -> bool:
        # Its input chain reaches an in-memory cache through reference stages only.
        node = nodes.get(node_id)
        if node is None or node_id in seen:
            return False
        for child in node.get("inputs") or []:
            child_node = nodes.get(int(child)) or {}
            name = normal_name(child_node.get("name"))
            if name in CACHE_NODES:
                return True
            if name in REFERENCE_NODES and over_cache(int(child), seen | {node_id}):
                return True
        return False

    def walk(node_id: int, path: tuple[str, ...], seen: frozenset) -> None:
        node = nodes.get(node_id)
        if node is None or node_id in seen:
            return
        raw_name = str(node.get("name") or "?")
        name = normal_name(raw_name)
        inputs = [int(i) for i in node.get("inputs") or []]
        if name == "Root":
            key = path
        elif name == "MemoryCacheImpl" and path and path[-1] == "MemoryCache":
            key = path  # the cache's writer and reader are one user stage: .cache()
        else:
            key = path + (name,)
        if name != "Root":
            batched, mapped = subtree(node_id, frozenset())
            snap.stages.append(
                StageObs(
                    key=key,
                    name=raw_name,
                    buffered_bytes=int(_num(node.get("buffered_bytes")) or 0),
                    buffered_elements=int(_num(node.get("buffered_elements")) or 0),
                    processing_time_ns=int(_num(node.get("processing_time_ns")) or 0),
                    num_elements=int(_num(node.get("num_elements")) or 0),
                    parameters=dict(node.get("parameters") or {}),
                    tunable=list(node.get("tunable") or []),
                    batched=batched,
                    decoded_below=mapped,
                    shares_cache=name in REFERENCE_NODES and over_cache(node_id, frozenset()),
                    is_cache=name in CACHE_NODES,
                    filling=name == "MemoryCacheImpl" and bool(inputs),
                    released=bool(node.get("released")),
                    age_s=float(_num(node.get("age_s")) or 0.0),
                )
            )
        for index, child in enumerate(inputs):
            child_path = key if len(inputs) == 1 else key + (f"[{index}]",)
            walk(child, child_path, seen | {node_id})

    root = _num(data.get("output"))
    if root is not None and int(root) in nodes:
        walk(int(root), (), frozenset())
    return snap


def snapshots(pipeline: Any) -> list[Snapshot]:
    """Parsed ``pipeline`` rows (DataFrame[t, data] or a list of dicts with ``t``), in time order."""
    rows = []
    if pipeline is None:
        return []
    if hasattr(pipeline, "itertuples"):
        if len(pipeline) == 0:
            return []
        rows = [(getattr(r, "t", None), getattr(r, "data", None)) for r in pipeline.itertuples(index=False)]
    else:
        rows = [(d.get("t"), d) for d in pipeline]
    out = [_parse(d, float(t)) for t, d in rows if isinstance(d, dict) and _num(t) is not None]
    out.sort(key=lambda s: (s.t, s.iterator))
    return out


# -- stages: labels and code -----------------------------------------------------------------------


@dataclass
class Stage:
    key: tuple[str, ...]
    name: str
    label: str = ""
    code: str | None = None
    peak_buffered_bytes: int = 0
    peak_buffered_elements: int = 0
    last: StageObs | None = None
    # per iterator: the largest cumulative counters seen (they only grow within an iterator)
    time_ns: dict[int, int] = field(default_factory=dict)
    elements: dict[int, int] = field(default_factory=dict)
    tuned: dict[str, list[float]] = field(default_factory=dict)  # parameter -> [min, max] seen
    origin: str = ""  # YOUR_CODE, KERAS_ORIGIN or TFDATA_ORIGIN; "" without a snippet to tell


def _unit(obs: StageObs) -> str:
    if obs.batched:
        return "batches"
    return "images" if obs.decoded_below else "elements"


def _label(stage: Stage, batch_size: int | None) -> str:
    obs = stage.last
    name = normal_name(stage.name)
    if obs is None:
        return name
    params, tunable = obs.parameters, set(obs.tunable)
    if obs.is_cache:
        return "in-memory cache"
    if name == "Cache":
        return "file cache"
    if name in ("Shuffle", "ShuffleAndRepeat"):
        what = _unit(obs)
        if what == "elements":
            what = "elements, before decoding"
        return f"shuffle buffer ({stage.peak_buffered_elements} {what})"
    if name == "Prefetch":
        size = params.get("buffer_size")
        low, high = stage.tuned.get("buffer_size", [size, size])
        # AUTOTUNE moves it (even to 0 at an epoch's end): the label names the largest it chose
        size_text = "?" if size is None else (f"up to {_plain(high)}" if low != high else _plain(size))
        chosen = " chosen by AUTOTUNE" if "buffer_size" in tunable else ""
        unit = _unit(obs)
        if size_text.split()[-1] == "1":
            unit = {"batches": "batch", "images": "image", "elements": "element"}[unit]
        return f"prefetch: {size_text} {unit}{chosen}"
    if name in ("ParallelMap", "MapAndBatch", "ParallelInterleave", "ParallelBatch"):
        words = {
            "ParallelMap": "parallel map",
            "MapAndBatch": "map and batch",
            "ParallelInterleave": "parallel interleave",
            "ParallelBatch": "parallel batch",
        }[name]
        return f"{words} in flight"
    simple = {
        "Map": "map",
        "Batch": "batch",
        "PaddedBatch": "padded batch",
        "TensorSlice": "file list (from_tensor_slices)",
        "Take": "take",
        "Skip": "skip",
        "Repeat": "repeat",
        "Filter": "filter",
        "FlatMap": "flat_map",
        "Generator": "from_generator",
    }
    return simple.get(name, name)


def _plain(value: Any) -> str:
    number = _num(value)
    if number is None:
        return str(value)
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _code_lines(snippet: str | None) -> list[str]:
    return [line.strip() for line in (snippet or "").splitlines()]


def _assign_code(stages: list[Stage], snippet: str | None) -> None:
    """The snippet line that created each stage (or the library call that built it), else None.

    A chain is written upstream first, so of several lines matching one kind of stage (two maps)
    the stage nearest the source takes the first line.
    """
    lines = _code_lines(snippet)
    if not lines:
        return
    builder = next((line for line in lines if re.search(_BUILDER_PATTERN, line)), None)
    by_kind: dict[str, list[Stage]] = {}
    for stage in stages:
        by_kind.setdefault(
            normal_name(stage.name if stage.last is None or not stage.last.is_cache else "MemoryCache"), []
        ).append(stage)
    keras = bool(builder and re.search(_KERAS_BUILDER, builder))
    for kind, group in by_kind.items():
        pattern = _CODE_PATTERNS.get(kind)
        matches = [line for line in lines if pattern and re.search(pattern, line)] if pattern else []
        # deeper path = nearer the source = written earlier
        group.sort(key=lambda s: -len(s.key))
        # A builder's own stages come before the lines written after it: the lines go to the
        # stages nearest the output, the deeper ones are the builder's.
        skip = len(group) - len(matches) if keras and len(group) > len(matches) else 0
        for index, stage in enumerate(group):
            if skip <= index < skip + len(matches):
                stage.code, stage.origin = matches[index - skip], YOUR_CODE
            else:
                stage.code = builder
                stage.origin = KERAS_ORIGIN if keras and kind in _KERAS_KINDS else TFDATA_ORIGIN


def _disambiguate(stages: list[Stage]) -> None:
    seen: dict[str, list[Stage]] = {}
    for stage in stages:
        seen.setdefault(stage.label, []).append(stage)
    for label, group in seen.items():
        if len(group) < 2 or len({stage.code for stage in group}) < len(group):
            continue  # the same code line: numbered below
        for stage in group:
            match = re.search(
                r"\.(?:map|interleave|flat_map|filter)\((?:lambda[^:]*:\s*\(?)?([A-Za-z_][\w.]*)",
                stage.code or "",
            )
            if match:
                stage.label = f"{label} ({match.group(1)})"
    # still equal (same code): number them from the source
    counts: dict[str, int] = {}
    for stage in sorted(stages, key=lambda s: -len(s.key)):
        counts[stage.label] = counts.get(stage.label, 0) + 1
        if counts[stage.label] > 1:
            stage.label = f"{stage.label} #{counts[stage.label]}"


def stage_catalogue(snaps: list[Snapshot], snippet: str | None, batch_size: int | None) -> dict[tuple, Stage]:
    """Every stage seen in the run, keyed by path, with a stable label and its code line."""
    stages: dict[tuple, Stage] = {}
    for snap in snaps:
        for obs in snap.stages:
            stage = stages.get(obs.key)
            if stage is None:
                stage = stages[obs.key] = Stage(key=obs.key, name=obs.name)
            if obs.is_cache:
                stage.name = "MemoryCacheImpl"
            if stage.last is not None:
                # a filled cache hides the stages below it in later epochs: keep what was seen
                obs.batched = obs.batched or stage.last.batched
                obs.decoded_below = obs.decoded_below or stage.last.decoded_below
            stage.last = obs
            stage.peak_buffered_bytes = max(stage.peak_buffered_bytes, obs.buffered_bytes)
            stage.peak_buffered_elements = max(stage.peak_buffered_elements, obs.buffered_elements)
            it = snap.iterator
            stage.time_ns[it] = max(stage.time_ns.get(it, 0), obs.processing_time_ns)
            stage.elements[it] = max(stage.elements.get(it, 0), obs.num_elements)
            for param in obs.tunable:
                value = _num(obs.parameters.get(param))
                if value is not None:
                    low, high = stage.tuned.get(param, [value, value])
                    stage.tuned[param] = [min(low, value), max(high, value)]
    # A cache's reader (MemoryCache) and writer (MemoryCacheImpl) share a key: one stage.
    ordered = sorted(stages.values(), key=lambda s: len(s.key))
    for stage in ordered:
        stage.label = _label(stage, batch_size)
    _assign_code(ordered, snippet)
    for stage in ordered:
        if stage.origin not in ("", YOUR_CODE) and normal_name(stage.name) in _OPTION_KINDS:
            stage.label = f"{stage.label} ({stage.origin})"
    _disambiguate(ordered)
    return stages


# -- summary["pipeline"] -----------------------------------------------------------------------------


def _images_per_element(stage: Stage, batch_size: int | None) -> float:
    return float(batch_size or 1) if stage.last is not None and stage.last.batched else 1.0


def _stage_rate(stage: Stage, batch_size: int | None) -> float | None:
    """The stage's own capacity in images/s: elements / self time x parallelism x images per element."""
    time_ns = sum(stage.time_ns.values())
    elements = sum(stage.elements.values())
    if time_ns <= 0 or elements <= 0 or stage.last is None:
        return None
    name = normal_name(stage.name)
    parallel = 1.0
    if name in ASYNC_NODES and name != "Prefetch":
        parallel = _num(stage.last.parameters.get("parallelism")) or 1.0
    return elements / (time_ns / 1e9) * max(parallel, 1.0) * _images_per_element(stage, batch_size)


def pipeline_summary(
    pipeline: Any,
    *,
    snippet: str | None,
    batch_size: int | None,
    mode: str | None,
    epochs: list[dict[str, Any]] | None = None,
    achieved_images_per_second: float | None = None,
    epoch_ends: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """``summary["pipeline"]`` (issue 11 §6 + XRAY_CONTRACT); None when no tf.data iterator existed."""
    snaps = snapshots(pipeline)
    if not snaps:
        return None
    catalogue = stage_catalogue(snaps, snippet, batch_size)
    total_ns = sum(sum(s.time_ns.values()) for s in catalogue.values())
    rows = []
    for stage in sorted(catalogue.values(), key=lambda s: len(s.key)):
        last = stage.last
        params = dict(last.parameters) if last else {}
        rows.append(
            {
                "name": stage.name,
                "label": stage.label,
                "code": stage.code,
                # your code, or the library that added it (Keras' builder, tf.data's optimizer)
                "origin": stage.origin or TFDATA_ORIGIN,
                "peak_buffered_bytes": stage.peak_buffered_bytes,
                "buffered_bytes": last.buffered_bytes if last else 0,
                "buffered_elements": last.buffered_elements if last else 0,
                "peak_buffered_elements": stage.peak_buffered_elements,
                "autotune": {p: params.get(p) for p in (last.tunable if last else [])},
                "parameters": params,
                "autotune_range": dict(stage.tuned),
                "time_share": (sum(stage.time_ns.values()) / total_ns) if total_ns else None,
                "processing_seconds": sum(stage.time_ns.values()) / 1e9,
                "elements": sum(stage.elements.values()),
                "images_per_second": _stage_rate(stage, batch_size),
                "shares_cache": bool(last and last.shares_cache),
                "path": list(stage.key),
            }
        )
    rated = [r for r in rows if r["images_per_second"] is not None]
    bottleneck = None
    if rated:
        slowest = min(rated, key=lambda r: r["images_per_second"])
        bottleneck = {
            "stage": slowest["label"],
            "images_per_second": slowest["images_per_second"],
            "code": slowest["code"],
            "detail": "the stage with the lowest own rate: elements / processing time x parallelism"
            + (f" x {batch_size} images per batch" if _is_batched(catalogue, slowest) else ""),
        }
    last_snap = snaps[-1]
    out: dict[str, Any] = {
        "ram_budget_bytes": last_snap.ram_budget_bytes,
        "cpu_budget": last_snap.cpu_budget,
        "bottleneck": bottleneck,
        "stages": rows,
        "iterators": len({s.iterator for s in snaps}),
        "snapshots": len(snaps),
        "note": None,
    }
    if mode == "fit":
        out["bound"] = fit_bound(epoch_ends or [], snaps, catalogue, achieved_images_per_second, bottleneck)
    return out


def bounds_throughput(
    stage_images_per_second: float | None, measured_images_per_second: float | None
) -> bool | None:
    """Whether a stage's own rate can bound the run's throughput: not when the run went faster.

    A stage's own rate is its elements over its processing time, measured while it overlapped the
    other stages on the same cores; a run that delivered more than it shows the figure is no ceiling.
    None when either rate is missing.
    """
    if not stage_images_per_second or not measured_images_per_second:
        return None
    return stage_images_per_second >= measured_images_per_second


def not_a_bound(measured_images_per_second: float) -> str:
    """What a stage's own rate below the run's measured rate is, said plainly."""
    return (
        f"The run delivered {measured_images_per_second:,.1f} images/s, more than that, so it is not a "
        "bound: it is the stage's own rate measured while it overlapped the other stages on the same "
        "cores"
    )


def _is_batched(catalogue: dict[tuple, Stage], row: dict[str, Any]) -> bool:
    stage = catalogue.get(tuple(row["path"]))
    return bool(stage and stage.last and stage.last.batched)


# Share of the epoch the training loop may wait for input before we call it input-bound.
INPUT_WAIT_BOUND_FRACTION = 0.3
# Root prefetch buffer mean fill (0..1) below which batches are taken as fast as they come.
PREFETCH_EMPTY_FRACTION = 0.25


def fit_bound(
    epoch_ends: list[dict[str, Any]],
    snaps: list[Snapshot],
    catalogue: dict[tuple, Stage],
    achieved_images_per_second: float | None,
    bottleneck: dict[str, Any] | None,
) -> dict[str, Any]:
    """Input- or compute-bound, from the best evidence there is, and which evidence that was."""
    waits = [(_num(e.get("input_wait_seconds")), _num(e.get("seconds"))) for e in epoch_ends]
    waits = [(w, s) for w, s in waits if w is not None and s]
    if waits:
        wait, total = sum(w for w, _ in waits), sum(s for _, s in waits)
        share = wait / total
        kind = "input" if share >= INPUT_WAIT_BOUND_FRACTION else "compute"
        return {
            "kind": kind,
            "evidence": "input_wait",
            "input_wait_share": share,
            "detail": f"training waited {wait:.2f} s of {total:.2f} s ({100 * share:.0f}%) for the next batch "
            f"(measured in the training loop): {kind}-bound",
        }
    # The prefetch at the root: full most of the time = the model consumes slower than the input
    # produces (compute-bound); mostly empty = every batch is taken as soon as it is ready.
    roots = [s for s in catalogue.values() if len(s.key) == 1 and normal_name(s.name) == "Prefetch"]
    if roots:
        key = roots[0].key
        fills = []
        for snap in snaps:
            if snap.reason != "tick":
                continue
            for obs in snap.stages:
                size = _num(obs.parameters.get("buffer_size"))
                if obs.key == key and size and size > 0:
                    fills.append(min(obs.buffered_elements / size, 1.0))
        if len(fills) >= 3:
            mean = sum(fills) / len(fills)
            kind = "input" if mean < PREFETCH_EMPTY_FRACTION else "compute"
            return {
                "kind": kind,
                "evidence": "prefetch_occupancy",
                "prefetch_fill": mean,
                "detail": f"the final prefetch buffer was {100 * mean:.0f}% full on average over {len(fills)} "
                "snapshots (a proxy: no input-wait time was measured): "
                + (
                    "batches were taken as soon as they were ready, so training waits for input"
                    if kind == "input"
                    else "batches were waiting for the model, so the model's step sets the pace"
                ),
            }
    capacity = (bottleneck or {}).get("images_per_second")
    if bounds_throughput(capacity, achieved_images_per_second):
        ratio = achieved_images_per_second / capacity
        kind = "input" if ratio >= 0.8 else "compute"
        return {
            "kind": kind,
            "evidence": "rate_vs_capacity",
            "ratio": ratio,
            "detail": f"training ran at {achieved_images_per_second:,.1f} images/s, {100 * ratio:.0f}% of the "
            f"pipeline's estimated capacity ({capacity:,.1f} images/s at its slowest stage; a proxy: no "
            f"input-wait time was measured): {kind}-bound",
        }
    return {"kind": None, "evidence": None, "detail": "not enough data to tell input- from compute-bound"}


def autotune_frame(pipeline: Any, snippet: str | None = None, batch_size: int | None = None) -> Any:
    """DataFrame[t, stage, parameter, value]: every tunable parameter's value at every snapshot."""
    import pandas as pd

    snaps = snapshots(pipeline)
    catalogue = stage_catalogue(snaps, snippet, batch_size) if snaps else {}
    rows = []
    for snap in snaps:
        for obs in snap.stages:
            for param in obs.tunable:
                value = _num(obs.parameters.get(param))
                if value is not None:
                    rows.append(
                        {"t": snap.t, "stage": catalogue[obs.key].label, "parameter": param, "value": value}
                    )
    return pd.DataFrame(rows, columns=["t", "stage", "parameter", "value"])
