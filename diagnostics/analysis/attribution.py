"""Where the overhead is: RSS over the post-import baseline split into measured, named parts.

At every ``composition`` snapshot (and so at the peak and at each epoch end) the overhead
``rss - baseline`` is split into:

- ``library``: file-backed (and shmem) pages touched since ready, i.e. code and data of libraries;
- ``tfdata_stage``: bytes each tf.data stage buffers, summed over the live iterators, counting each
  tensor once: a stage that passes tensors on without making new ones (shuffle, prefetch of
  unbatched elements, take...) downstream of an in-memory cache holds references to the cached
  tensors, so it is listed at 0 B with what it references in its detail; a dataset's cache is shared
  by its iterators (counted once) and outlives them (the last measured size stays counted after
  its iterator ended);
- ``model`` / ``optimizer``: summed shape x dtype size of the weights and optimizer variables;
- ``allocator_free``: free memory glibc malloc retains, grown since ready (mallinfo2 fordblks), and
  the free part of TensorFlow's CPU allocator pool (its regions are malloc's mmapped chunks: their
  growth minus what ``get_memory_info("CPU:0")`` reports in use);
- ``other``: tensors TensorFlow's CPU allocator has in use beyond the stages, model and optimizer
  (a lower bound: those may live in malloc's heap instead);
- and ``unattributed``: the remainder, overhead minus all of the above, never hidden.

Each part is bounded by the memory it lives in, so nothing is counted twice: stages, model,
optimizer and TensorFlow's parts together by the growth of malloc's heap (stages scaled down in
proportion, said in ``note``); malloc's free memory and TensorFlow's pool by the anonymous growth
the rest of the heap leaves (both can be partly not resident). The remainder can still be negative
when the RSS and the composition disagree; then ``note`` says so.
"""

from __future__ import annotations

from typing import Any

from diagnostics.analysis._util import MiB, _events_of, _mib, _num
from diagnostics.analysis.pipeline import Snapshot, Stage, StageObs, snapshots, stage_catalogue

__all__ = ["ATTRIBUTION_COLUMNS", "attribute", "attribution_frame", "compositions"]

ATTRIBUTION_COLUMNS = ["t", "name", "kind", "bytes"]
LIBRARY = "library code pages touched since ready"
ALLOCATOR_FREE = "free memory kept by malloc"
TF_POOL_FREE = "free memory kept by TensorFlow's CPU allocator pool"
TF_TENSORS = "other tensors in TensorFlow's CPU allocator"
# Parts that live in malloc's heap (in use + mmapped) beside the tf.data stages.
_IN_HEAP = ("model", "optimizer")
_IN_HEAP_NAMES = (TF_POOL_FREE, TF_TENSORS)
MODEL = "model weights"
OPTIMIZER = "optimizer state"
UNATTRIBUTED = "unattributed"
# Pipeline events are emitted just before the composition of the same snapshot; this slack only
# guards against clock rounding.
MATCH_SLACK_SECONDS = 0.01
PEAK_SLACK_BYTES = 1 << 20
PEAK_SLACK_FRACTION = 0.005
NO_TFDATA_NOTE = (
    "Stage attribution needs tf.data: this run made no tf.data iterator, so only process-level parts "
    "(library pages, the allocators' free memory, model and optimizer) are attributed."
)


def compositions(composition: Any) -> list[dict[str, Any]]:
    """``composition`` rows (DataFrame[t, data] or dicts with ``t``) as dicts with ``t``, in order."""
    if composition is None:
        return []
    if hasattr(composition, "itertuples"):
        rows = [
            {**(r.data if isinstance(r.data, dict) else {}), "t": _num(r.t)}
            for r in composition.itertuples(index=False)
        ]
    else:
        rows = [dict(r) for r in composition]
    rows = [r for r in rows if r.get("t") is not None and _num(r.get("rss_bytes")) is not None]
    rows.sort(key=lambda r: r["t"])
    return rows


def _delta(now: dict[str, Any], then: dict[str, Any] | None, *keys: str) -> int | None:
    if then is None:
        return None
    values_now = [_num(now.get(k)) for k in keys]
    values_then = [_num(then.get(k)) for k in keys]
    if any(v is None for v in values_now + values_then):
        return None
    return int(sum(values_now) - sum(values_then))


class _Attributor:
    """Walks the snapshots in time order, carrying each cache's last measured size forward."""

    def __init__(
        self,
        baseline_rss: float,
        baseline_composition: dict[str, Any] | None,
        snaps: list[Snapshot],
        catalogue: dict[tuple, Stage],
    ) -> None:
        self.baseline_rss = baseline_rss
        self.ready = baseline_composition
        self.snaps = snaps
        self.catalogue = catalogue
        # key -> (bytes, elements, t, still filling) as last measured
        self.cache_seen: dict[tuple, tuple[int, int, float, bool]] = {}
        self.epoch_ends: list[tuple[float, int]] = []  # (t, images) of each finished epoch
        self.batch_size: int | None = None
        self._cursor = 0
        self._previous_t = float("-inf")

    def _live(self, t: float) -> list[Snapshot]:
        """The pipeline snapshots emitted with this composition (after the previous one)."""
        out = []
        while self._cursor < len(self.snaps) and self.snaps[self._cursor].t <= t + MATCH_SLACK_SECONDS:
            snap = self.snaps[self._cursor]
            if snap.t > self._previous_t:
                out.append(snap)
            self._cursor += 1
        self._previous_t = t + MATCH_SLACK_SECONDS
        latest: dict[int, Snapshot] = {}
        for snap in out:
            latest[snap.iterator] = snap  # one snapshot per iterator: its latest
        return list(latest.values())

    def _stage_parts(self, live: list[Snapshot], t: float) -> list[dict[str, Any]]:
        per_key: dict[tuple, dict[int, int]] = {}  # key -> iterator -> buffered bytes
        shared: dict[tuple, dict[int, int]] = {}
        elements: dict[tuple, int] = {}
        filling: dict[tuple, bool] = {}
        for snap in live:
            for obs in snap.stages:
                if obs.released:
                    # Read shortly before its iterator ended; tf.data has freed it since, except a
                    # cache, which its dataset keeps: carried from the time it was read.
                    if obs.is_cache:
                        self._saw_cache(obs, t - obs.age_s)
                    continue
                if obs.is_cache:
                    filling[obs.key] = filling.get(obs.key, False) or obs.filling
                target = shared if (obs.shares_cache and not obs.is_cache) else per_key
                bucket = target.setdefault(obs.key, {})
                bucket[snap.iterator] = bucket.get(snap.iterator, 0) + obs.buffered_bytes
                elements[obs.key] = elements.get(obs.key, 0) + obs.buffered_elements
        parts = []
        for key, by_iterator in per_key.items():
            stage = self.catalogue.get(key)
            if stage is None:
                continue
            is_cache = bool(stage.last and stage.last.is_cache)
            if is_cache:
                # One dataset, one cache: its iterators read the same one.
                size = max(by_iterator.values())
                self.cache_seen[key] = (size, elements.get(key, 0), t, filling.get(key, False))
                detail = f"{stage.name}: {elements.get(key, 0)} elements buffered (measured now)"
            else:
                size = sum(by_iterator.values())
                detail = f"{stage.name}: {elements.get(key, 0)} elements buffered" + (
                    f" over {len(by_iterator)} live iterators" if len(by_iterator) > 1 else ""
                )
            if size or stage.peak_buffered_bytes:
                parts.append(_part(stage.label, "tfdata_stage", size, detail, stage=stage.name))
        for key, (size, count, seen_t, was_filling) in self.cache_seen.items():
            if key in per_key:
                continue
            stage = self.catalogue[key]
            detail = (
                f"{stage.name}: {count} elements, last measured {t - seen_t:.1f} s earlier; a dataset's "
                "in-memory cache outlives the iterator that filled it"
            )
            complete = self._completed_elements(seen_t, t, stage) if was_filling else None
            estimated = complete is not None and count and complete > count
            if estimated:
                # Seen part-filled, then its epoch ran to the end: the cache holds the whole epoch.
                detail = (
                    f"{stage.name}: measured {_mib(size)} for {count} elements while filling; the epoch "
                    f"then ran to its end, so it holds {complete} elements: estimated at the measured "
                    f"{_mib(size / count)} per element"
                )
                size = int(size / count * complete)
            parts.append(
                _part(
                    stage.label,
                    "tfdata_stage",
                    size,
                    detail,
                    stage=stage.name,
                    carried=True,
                    estimated=bool(estimated),
                )
            )
        for key, by_iterator in shared.items():
            stage = self.catalogue.get(key)
            if stage is None or key in per_key:
                continue
            parts.append(
                _part(
                    stage.label,
                    "tfdata_stage",
                    0,
                    f"{stage.name} holds {_mib(sum(by_iterator.values()))} ({elements.get(key, 0)} elements) "
                    "of references to the cached tensors, already counted in the in-memory cache",
                    stage=stage.name,
                    referenced_bytes=sum(by_iterator.values()),
                )
            )
        return parts

    def _saw_cache(self, obs: StageObs, seen_t: float) -> None:
        previous = self.cache_seen.get(obs.key)
        if previous is None or previous[2] <= seen_t:
            self.cache_seen[obs.key] = (obs.buffered_bytes, obs.buffered_elements, seen_t, obs.filling)

    def _completed_elements(self, seen_t: float, t: float, stage: Stage) -> int | None:
        """Elements a cache seen filling at seen_t holds once an epoch ended between then and t."""
        images = [n for end_t, n in self.epoch_ends if seen_t <= end_t <= t + MATCH_SLACK_SECONDS and n]
        if not images:
            return None
        if stage.last is not None and stage.last.batched and self.batch_size:
            return -(-images[0] // self.batch_size)
        return images[0]

    def at(self, comp: dict[str, Any]) -> dict[str, Any]:
        t = float(comp["t"])
        live = self._live(t)
        rss = float(comp["rss_bytes"])
        overhead = int(rss - self.baseline_rss)
        parts: list[dict[str, Any]] = []
        library = _delta(comp, self.ready, "file_bytes", "shmem_bytes")
        if library is not None:
            parts.append(
                _part(
                    LIBRARY,
                    "library",
                    library,
                    f"file-backed RSS {_mib(_num(comp.get('file_bytes')))} now, "
                    f"{_mib(_num((self.ready or {}).get('file_bytes')))} at ready"
                    + (" (pages were dropped since ready)" if library < 0 else ""),
                )
            )
        parts += self._stage_parts(live, t)
        for name, kind, key in ((MODEL, "model", "model_bytes"), (OPTIMIZER, "optimizer", "optimizer_bytes")):
            value = _num(comp.get(key))
            if value is not None:
                parts.append(_part(name, kind, int(value), "shape x dtype size of every variable, summed"))
        heap = _delta(comp, self.ready, "malloc_in_use_bytes", "malloc_mmap_bytes")
        tf_in_use = _delta(comp, self.ready, "tf_allocator_in_use_bytes")
        if tf_in_use is None and self.ready is not None:
            tf_in_use = _num(comp.get("tf_allocator_in_use_bytes"))
        tensors = _tf_tensors(parts, tf_in_use)
        pool = self._tf_pool_free(comp, tf_in_use)
        parts += [p for p in (tensors, pool) if p is not None]
        capped = _cap_to_heap(parts, heap)
        free = _delta(comp, self.ready, "malloc_free_bytes")
        if free is not None:
            detail = (
                f"glibc malloc holds {_mib(_num(comp.get('malloc_free_bytes')))} freed but not returned "
                f"(mallinfo2 fordblks), {_mib(_num(self.ready.get('malloc_free_bytes')))} at ready"
            )
            # Free chunks glibc already gave back to the kernel still count in fordblks: the part
            # that can be resident is at most the anonymous growth malloc's in-use heap leaves.
            anon = _delta(comp, self.ready, "anon_bytes")
            if anon is not None and heap is not None and free > anon - heap:
                detail += f"; counted at {_mib(max(anon - heap, 0))}, the most of it that can be resident"
                free = max(anon - heap, 0)
            parts.append(_part(ALLOCATOR_FREE, "allocator_free", free, detail))
        if pool is not None:
            self._resident_pool(comp, pool, tf_in_use, free)
        attributed = sum(p["bytes"] for p in parts)
        unattributed = overhead - attributed
        if pool is not None and unattributed < 0 and pool["bytes"] > 0:
            # The RSS is read apart from the composition: the pool's resident part gives way first.
            cut = min(pool["bytes"], -unattributed)
            pool.setdefault("reported_bytes", pool["bytes"])
            pool["bytes"] -= cut
            pool["detail"] += f"; {_mib(cut)} less, to stay within the RSS read beside it"
            unattributed += cut
        result: dict[str, Any] = {
            "t": t,
            "rss_bytes": int(rss),
            "overhead_bytes": overhead,
            "unattributed_bytes": unattributed,
            "components": sorted(parts, key=lambda p: -p["bytes"]),
            "unattributed_split": self._split(comp, parts, unattributed),
            "note": None,
        }
        if capped:
            result["note"] = capped
        if unattributed < 0:
            result["note"] = (
                f"The measured parts exceed the overhead by {_mib(-unattributed)}: some were measured a "
                "moment apart from the RSS, or share pages (e.g. malloc's free memory not all resident)."
            )
        if self.ready is None:
            result["note"] = (
                "No baseline composition at ready: library pages and malloc's free memory are not attributed."
            )
        if not live and not self.cache_seen:
            result["stages_note"] = "no live tf.data iterator at this moment"
        return result

    def _tf_pool_free(self, comp: dict[str, Any], in_use: float | None) -> dict[str, Any] | None:
        """TensorFlow's CPU allocator (oneDNN's MklCPUAllocator) serves large tensors from a BFC
        pool whose regions are malloc's mmapped chunks, kept for reuse: the chunks grown since ready
        minus what TensorFlow reports in use is the pool's free memory."""
        grown = _delta(comp, self.ready, "malloc_mmap_bytes")
        if grown is None or in_use is None or grown <= in_use:
            return None
        free = int(grown - max(in_use, 0))
        return _part(
            TF_POOL_FREE,
            "allocator_free",
            free,
            f"malloc's mmapped chunks grew {_mib(grown)} since ready, where TensorFlow's CPU allocator "
            f"reserves the regions of its pool for large tensors such as batches; its memory in use grew "
            f"{_mib(in_use)} (tf.config.experimental.get_memory_info), so {_mib(free)} is held free for "
            "reuse (other allocations over glibc's mmap threshold, if any, count here too)",
        )

    def _resident_pool(
        self, comp: dict[str, Any], pool: dict[str, Any], in_use: float | None, malloc_free: int | None
    ) -> None:
        """The pool's regions are reserved, not all touched: it counts at most the anonymous growth
        that malloc's in-use heap, TensorFlow's tensors in use and malloc's free memory leave."""
        anon = _delta(comp, self.ready, "anon_bytes")
        heap_in_use = _delta(comp, self.ready, "malloc_in_use_bytes")
        if anon is None or heap_in_use is None:
            return
        bound = max(int(anon - heap_in_use - max(in_use or 0, 0) - (malloc_free or 0)), 0)
        if pool["bytes"] > bound:
            pool["reported_bytes"] = pool["bytes"]
            pool["bytes"] = bound
            pool["detail"] += f"; counted at {_mib(bound)}, the most of it that can be resident"

    def _split(self, comp: dict[str, Any], parts: list[dict[str, Any]], unattributed: int) -> dict[str, Any]:
        """What the remainder is made of, as far as the composition tells it (measured, not guessed)."""
        anon = _delta(comp, self.ready, "anon_bytes")
        heap = _delta(comp, self.ready, "malloc_in_use_bytes", "malloc_mmap_bytes")
        free = _delta(comp, self.ready, "malloc_free_bytes")
        if anon is None or heap is None or free is None:
            return {"detail": "no malloc or anonymous-memory figures: the remainder cannot be split"}
        mmapped = _delta(comp, self.ready, "malloc_mmap_bytes")
        inside = sum(
            p["bytes"]
            for p in parts
            if p["kind"] in ("tfdata_stage", *_IN_HEAP) or p["name"] in _IN_HEAP_NAMES
        )
        heap_rest = heap - inside
        outside = anon - heap - free
        return {
            "malloc_in_use_not_named_bytes": heap_rest,
            "anonymous_outside_malloc_bytes": outside,
            "rest_bytes": unattributed - heap_rest - outside,
            "detail": f"malloc heap in use grew {_mib(heap)} since ready, {_mib(inside)} of it named above, "
            f"leaving {_mib(heap_rest)} of heap in use by other code (TensorFlow kernels and threads, "
            f"Python objects allocated with malloc)"
            + (f"; malloc's mmapped chunks (large allocations) grew {_mib(mmapped)} of it" if mmapped else "")
            + "; anonymous memory outside malloc (thread stacks, "
            f"Python's own arenas, direct mmaps) grew {_mib(outside)}",
        }


def _tf_tensors(parts: list[dict[str, Any]], in_use: float | None) -> dict[str, Any] | None:
    """Tensors TensorFlow's CPU allocator holds beyond the named parts that may live there (model,
    optimizer, tf.data stages): a lower bound, as some of those live in malloc's heap instead."""
    if in_use is None:
        return None
    named = sum(p["bytes"] for p in parts if p["kind"] in ("tfdata_stage", "model", "optimizer"))
    rest = int(in_use - named)
    if rest <= 0:
        return None
    return _part(
        TF_TENSORS,
        "other",
        rest,
        f"TensorFlow's CPU allocator has {_mib(in_use)} more in use than at ready "
        f"(tf.config.experimental.get_memory_info); without the {_mib(named)} of model, optimizer and "
        f"tf.data stages named here, at least {_mib(rest)} of other tensors (in fit: a training step's "
        "activations and gradients)",
    )


def _cap_to_heap(parts: list[dict[str, Any]], heap: int | None) -> str | None:
    """Scale the tf.data stage parts down when, with model and optimizer, they exceed the growth of
    malloc's heap (in use + mmapped) since ready, where all of them live: the excess is counted twice
    (stages sharing tensors) or was read apart from the composition. Returns the note, or None."""
    stages = [p for p in parts if p["kind"] == "tfdata_stage" and p["bytes"] > 0]
    reported = sum(p["bytes"] for p in stages)
    exact = sum(p["bytes"] for p in parts if p["kind"] in _IN_HEAP or p["name"] in _IN_HEAP_NAMES)
    if heap is None or not reported or reported + exact <= heap:
        return None
    room = max(heap - exact, 0)
    for part in stages:
        part["reported_bytes"] = part["bytes"]
        part["bytes"] = int(part["bytes"] * room / reported)
        part["detail"] += (
            f"; counted at {_mib(part['bytes'])} of the {_mib(part['reported_bytes'])} tf.data reports"
        )
    return (
        f"tf.data reports {_mib(reported)} buffered but malloc's heap grew only {_mib(heap)} since ready"
        + (f", {_mib(exact)} of it model, optimizer and TensorFlow's allocator" if exact else "")
        + f": the stages are counted at {_mib(room)} in proportion (their figures overlap, or were read "
        "apart from the memory reading)."
    )


def _part(name: str, kind: str, size: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "bytes": int(size), "detail": detail, **extra}


def _baseline(summary: dict[str, Any] | None, events: Any) -> tuple[float | None, dict[str, Any] | None]:
    ready = (_events_of(events, "ready") or [None])[0]
    composition = (ready or {}).get("composition") if ready else None
    baseline = _num((summary or {}).get("baseline_rss_bytes"))
    if baseline is None and ready is not None:
        baseline = _num(ready.get("rss_bytes"))
    return baseline, composition if isinstance(composition, dict) else None


def attribute(
    summary: dict[str, Any] | None,
    events: Any,
    pipeline: Any,
    composition: Any,
    *,
    snippet: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """``{"peak": obj|None, "epochs": [obj], "series": [obj per snapshot]}`` (see module docstring)."""
    rows = compositions(composition)
    baseline, ready = _baseline(summary, events)
    out: dict[str, Any] = {"peak": None, "epochs": [], "series": []}
    if not rows or baseline is None:
        return out
    snaps = snapshots(pipeline)
    catalogue = stage_catalogue(snaps, snippet, batch_size)
    walker = _Attributor(baseline, ready, snaps, catalogue)
    walker.batch_size = batch_size
    walker.epoch_ends = [
        (float(e["t"]), int(_num(e.get("images")) or 0))
        for e in _events_of(events, "epoch_end")
        if e.get("t") is not None
    ]
    series = [(row, walker.at(row)) for row in rows]
    out["series"] = [obj for _, obj in series]
    # The peak snapshot: the latest within PEAK_SLACK of the highest RSS. A tick early in an epoch
    # can top a later epoch end by a few KiB while no iterator had a model to read yet (a cache
    # filled but not yet named); the later snapshot is as much "the peak" and knows more.
    top = max(obj["rss_bytes"] for _, obj in series)
    slack = max(PEAK_SLACK_BYTES, PEAK_SLACK_FRACTION * max(top - baseline, 0))
    peak = [obj for _, obj in series if obj["rss_bytes"] >= top - slack][-1]
    peak = {"at": "peak", **peak}
    vmhwm = _num((summary or {}).get("peak_rss_bytes"))
    if vmhwm is not None and vmhwm - peak["rss_bytes"] > max(16 * MiB, 0.05 * max(peak["overhead_bytes"], 1)):
        gap = f"The highest RSS (VmHWM {_mib(vmhwm)}) fell between snapshots; this is the highest snapshot ({_mib(peak['rss_bytes'])})."
        peak["note"] = " ".join(n for n in (peak.get("note"), gap) if n)
    if not snaps:
        peak["note"] = " ".join(n for n in (peak.get("note"), NO_TFDATA_NOTE) if n)
    out["peak"] = peak
    by_epoch: dict[int, dict[str, Any]] = {}
    for row, obj in series:
        if row.get("reason") == "epoch_end" and row.get("epoch") is not None:
            by_epoch[int(row["epoch"])] = {"at": "epoch_end", "epoch": int(row["epoch"]), **obj}
    out["epochs"] = [by_epoch[k] for k in sorted(by_epoch)]
    _between_steps(peak, out["epochs"])
    return out


def _between_steps(peak: dict[str, Any], epochs: list[dict[str, Any]]) -> None:
    """How much of the peak's unnamed heap is also there at epoch ends (the rest: only at that moment)."""
    split = peak.get("unattributed_split") or {}
    at_peak = split.get("malloc_in_use_not_named_bytes")
    at_ends = [(e.get("unattributed_split") or {}).get("malloc_in_use_not_named_bytes") for e in epochs]
    at_ends = [v for v in at_ends if v is not None]
    if at_peak is None or not at_ends:
        return
    lasting = max(0, min(min(at_ends), at_peak))
    split["heap_at_epoch_ends_bytes"] = lasting
    split["heap_only_at_peak_bytes"] = at_peak - lasting
    split["detail"] += (
        f"; of that unnamed heap, {_mib(lasting)} is also in use at every epoch end and "
        f"{_mib(at_peak - lasting)} only at the peak moment (in fit mode: during a training step)"
    )


def attribution_frame(run: dict[str, Any], samples: Any, events: Any, pipeline: Any, composition: Any) -> Any:
    """DataFrame[t, name, kind, bytes]: every component at every snapshot, "unattributed" included.

    A component absent at a snapshot (a stage before its iterator existed) is 0 there, so every name
    has a value at every time for a stacked chart.
    """
    import pandas as pd

    config = run.get("config") or {}
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    summary = dict(run.get("summary") or {})
    if summary.get("baseline_rss_bytes") is None:
        ready = (_events_of(events, "ready") or [{}])[0]
        summary["baseline_rss_bytes"] = ready.get("rss_bytes")
    result = attribute(
        summary,
        events,
        pipeline,
        composition,
        snippet=run.get("snippet"),
        batch_size=config.get("batch_size"),
    )
    series = result["series"]
    if not series:
        return pd.DataFrame(columns=ATTRIBUTION_COLUMNS)
    kinds: dict[str, str] = {}
    for obj in series:
        for part in obj["components"]:
            kinds.setdefault(part["name"], part["kind"])
    rows = []
    for obj in series:
        present = {p["name"]: p["bytes"] for p in obj["components"]}
        for name, kind in kinds.items():
            rows.append({"t": obj["t"], "name": name, "kind": kind, "bytes": present.get(name, 0)})
        rows.append(
            {"t": obj["t"], "name": UNATTRIBUTED, "kind": "other", "bytes": obj["unattributed_bytes"]}
        )
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)
