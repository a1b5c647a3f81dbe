"""Findings: a registry of small rules, one per finding id, each testable alone.

A rule takes a ``Context`` (config, summary, log groups and the host facts) and returns a finding,
a list of findings, or None. Every finding cites the numbers behind it (``detail``), names the
option to change (``advice``) and carries the numbers in ``evidence``. Advice applies to the run:
each change it suggests is one the run has not made and its loader accepts (``_applies``), so a
cache=memory run is never told to cache in memory. Texts name options by their CLI flags; the
dashboard shows them by their form labels (``config.dashboard_text``); where a figure exists both
measured (the probe's attribution and pipeline stages) and modelled (the memory model), the rule
uses the measured one and says which it used in ``evidence["source"]`` and in the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diagnostics import throughput
from diagnostics.analysis._util import MiB, _mib
from diagnostics.analysis.attribution import ALLOCATOR_FREE
from diagnostics.analysis.memory_model import LOADER_FACTS
from diagnostics.analysis.pipeline import (
    KERAS_ORIGIN,
    TFDATA_ORIGIN,
    YOUR_CODE,
    bounds_throughput,
    not_a_bound,
)
from diagnostics.config import TrialConfig, cli_name
from diagnostics.errors import ConfigError
from diagnostics.host import available_ram_bytes
from diagnostics.loaders import validate
from diagnostics.logs import group_has

GC_PAUSE_FRACTION = 0.05
# Loaders whose per-image work is Python code (the rest decode inside tf.data).
PYTHON_LOADERS = frozenset({"eager_loop", "pil_generator", "image_data_generator", "keras_pydataset"})
# Buffers below this are not worth a finding: they are smaller than the run-to-run noise of RSS.
BUFFER_FINDING_FLOOR_BYTES = 32 * MiB
# malloc's retained free memory worth a finding: at least this and this share of the overhead.
ALLOCATOR_FINDING_FLOOR_BYTES = 32 * MiB
ALLOCATOR_FINDING_FRACTION = 0.10
# An unattributed remainder worth a finding: at least this and this share of the overhead.
UNATTRIBUTED_FINDING_FLOOR_BYTES = 32 * MiB
UNATTRIBUTED_FINDING_FRACTION = 0.25

MEASURED = "measured"
MODELLED = "memory model"

Finding = dict[str, Any]
Rule = Callable[["Context"], "Finding | list[Finding] | None"]
RULES: dict[str, Rule] = {}


def rule(finding_id: str) -> Callable[[Rule], Rule]:
    """Register a rule under its finding id (registration order is the order of the output)."""

    def register(function: Rule) -> Rule:
        RULES[finding_id] = function
        return function

    return register


@dataclass
class Context:
    config: dict[str, Any]
    summary: dict[str, Any]
    log_groups: list[dict[str, Any]]
    available_ram_bytes: int | None = None
    iterate_images_per_second: float | None = None

    @property
    def model(self) -> dict[str, int]:
        return self.summary.get("memory_model") or {}

    @property
    def notes(self) -> dict[str, str]:
        return self.summary.get("memory_model_notes") or {}

    @property
    def overhead(self) -> int | None:
        return self.summary.get("measured_overhead_bytes")

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return self.summary.get("epochs") or []

    @property
    def attribution(self) -> dict[str, Any] | None:
        return self.summary.get("attribution")

    @property
    def pipeline(self) -> dict[str, Any] | None:
        return self.summary.get("pipeline")

    def stage(self, *names: str) -> dict[str, Any] | None:
        """The measured stage with the largest peak among those whose node name starts with a name."""
        stages = [
            s
            for s in (self.pipeline or {}).get("stages") or []
            if any(str(s.get("name", "")).startswith(n) for n in names)
        ]
        return max(stages, key=lambda s: s.get("peak_buffered_bytes") or 0) if stages else None

    def component(self, kind: str, name: str | None = None) -> dict[str, Any] | None:
        """The largest attributed part of that kind (and that name, if given)."""
        for part in (self.attribution or {}).get("components") or []:
            if part.get("kind") == kind and name in (None, part.get("name")):
                return part
        return None


def _finding(
    id_: str, severity: str, title: str, detail: str, advice: str, **evidence: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "severity": severity,
        "title": title,
        "detail": detail,
        "advice": advice,
        "evidence": evidence,
    }


def _trial_config(config: dict[str, Any]) -> TrialConfig | None:
    try:
        return TrialConfig.from_dict({"dataset": "", **{k: v for k, v in config.items() if k != "extra"}})
    except (ConfigError, TypeError, ValueError):
        return None  # an old or odd stored config: its advice is not narrowed


def _applies(ctx: Context, **change: Any) -> bool:
    """Whether the run can still make this change: values it does not have, that its loader takes."""
    current = _trial_config(ctx.config)
    if current is None:
        return True
    if all(getattr(current, name) == value for name, value in change.items()):
        return False
    try:
        validate(current.replace(**change))
    except (ConfigError, TypeError, ValueError):
        return False
    return True


def _lowerable(ctx: Context, name: str) -> bool:
    """Whether the run can lower a count option (None: the loader's default, lowered by setting it)."""
    current = _trial_config(ctx.config)
    value = getattr(current, name) if current is not None else None
    if value is not None and value <= 1:
        return False
    return _applies(ctx, **{name: 1 if value is None else value - 1})


def _advice(*parts: str | None, otherwise: str) -> str:
    """The parts of a rule's advice that apply to the run (None for one that does not), else ``otherwise``."""
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else otherwise


def _every_epoch_read_fully(summary: dict[str, Any]) -> bool:
    # The worker never breaks out of a tf.data epoch, so equal non-zero counts mean full reads.
    images = [e.get("images") for e in summary.get("epochs") or []]
    return bool(images) and all(n and n == images[0] for n in images)


def findings(
    config: dict[str, Any],
    summary: dict[str, Any],
    log_groups: list[dict[str, Any]],
    *,
    available_ram_bytes: int | None = None,
    iterate_images_per_second: float | None = None,
) -> list[dict[str, Any]]:
    """Every registered rule's findings, in registration order."""
    context = Context(config, summary, log_groups, available_ram_bytes, iterate_images_per_second)
    out: list[dict[str, Any]] = []
    for function in RULES.values():
        result = function(context)
        if isinstance(result, dict):
            out.append(result)
        elif result:
            out.extend(result)
    return out


# -- rules -----------------------------------------------------------------------------------------


@rule("memory_growth")
def memory_growth(ctx: Context) -> Finding | None:
    leak = ctx.summary.get("leak") or {}
    if not leak.get("growing"):
        return None
    config = ctx.config
    slope = leak["leak_bytes_per_epoch"]
    used = leak.get("epochs_used") or []
    rss_ends = [e.get("rss_end_bytes") for e in ctx.epochs]
    advice = (
        "--keep-decoded keeps every decoded tensor in a Python list: turn it off"
        if config.get("loader") == "eager_loop" and config.get("keep_decoded")
        else "look for objects kept across epochs (lists of tensors, callbacks history, growing caches); "
        "rerun with more --epochs to confirm the slope"
    )
    return _finding(
        "memory_growth",
        "critical" if slope > 4 * leak["threshold_bytes_per_epoch"] else "warning",
        "Memory grows every epoch",
        f"Epoch-end RSS rises {_mib(slope)} per epoch (least squares over epochs "
        f"{used[0] + 1 if used else '?'}..{used[-1] + 1 if used else '?'}), above the threshold "
        f"{_mib(leak['threshold_bytes_per_epoch'])} and the noise band {_mib(leak['noise_band_bytes_per_epoch'])}. "
        f"Epoch-end RSS: {', '.join(_mib(v) for v in rss_ends)}.",
        advice,
        leak_bytes_per_epoch=slope,
        threshold_bytes_per_epoch=leak["threshold_bytes_per_epoch"],
        noise_band_bytes_per_epoch=leak["noise_band_bytes_per_epoch"],
        epoch_end_rss_bytes=rss_ends,
    )


def _cache_figure(ctx: Context) -> tuple[int | None, str, str]:
    """(cache bytes, source, words): the attributed or measured cache stage if any, else the model."""
    attributions = [ctx.attribution or {}] + list(ctx.summary.get("attribution_epochs") or [])
    parts = [
        c
        for a in attributions
        for c in a.get("components") or []
        if str(c.get("stage", "")).startswith("MemoryCache") and c.get("bytes")
    ]
    if parts:
        best = max(parts, key=lambda c: c["bytes"])
        return int(best["bytes"]), MEASURED, f"Measured cache: {_mib(best['bytes'])} ({best.get('detail')})"
    stage = ctx.stage("MemoryCache")
    if stage and stage.get("peak_buffered_bytes"):
        elements = stage.get("peak_buffered_elements") or stage.get("buffered_elements")
        return (
            int(stage["peak_buffered_bytes"]),
            MEASURED,
            f"Measured cache (tf.data MemoryCacheImpl): {_mib(stage['peak_buffered_bytes'])}, {elements} elements",
        )
    cache_bytes = ctx.model.get("cache")
    return cache_bytes, MODELLED, f"Modelled cache: {_mib(cache_bytes)} ({ctx.notes.get('cache', '')})"


def _projected_cache(ctx: Context, cache_bytes: int | None, source: str) -> int | None:
    projection = ctx.summary.get("projection") or {}
    if source == MEASURED and projection.get("scaled") and cache_bytes:
        trial = projection.get("trial_images_per_epoch") or 0
        full = projection.get("full_dataset_images") or 0
        return int(cache_bytes / trial * full) if trial else None
    return projection.get("cache_bytes")


@rule("cache_size")
def cache_size(ctx: Context) -> Finding | None:
    cache_bytes, source, words = _cache_figure(ctx)
    if ctx.config.get("cache") != "memory" or cache_bytes is None:
        return None
    overhead, baseline, epochs = ctx.overhead, ctx.summary.get("baseline_rss_bytes"), ctx.epochs
    projection = ctx.summary.get("projection") or {}
    first_growth = None
    if epochs and baseline is not None and epochs[0].get("rss_end_bytes") is not None:
        first_growth = epochs[0]["rss_end_bytes"] - baseline
    projected = _projected_cache(ctx, cache_bytes, source)
    ratio = (overhead / cache_bytes) if overhead is not None and cache_bytes else None
    which = "measured" if source == MEASURED else "modelled"
    return _finding(
        "cache_size",
        "info",
        "The in-memory cache holds the decoded dataset",
        f"{words}. Measured overhead (peak - baseline): {_mib(overhead)}"
        + (f" = {ratio:.2f} x the {which} cache" if ratio is not None else "")
        + (f"; RSS after epoch 1 was {_mib(first_growth)} above baseline" if first_growth is not None else "")
        + (
            f". For all {projection.get('full_dataset_images')} images: {_mib(projected)}."
            if projection.get("scaled")
            else "."
        ),
        _advice(
            "--cache file keeps it on disk" if _applies(ctx, cache="file") else None,
            "a smaller --image-size shrinks it",
            "--dtype uint8 (cast before cache) shrinks it" if _applies(ctx, dtype="uint8") else None,
            otherwise="",
        ),
        source=source,
        cache_bytes=cache_bytes,
        modelled_cache_bytes=ctx.model.get("cache"),
        measured_overhead_bytes=overhead,
        epoch1_growth_bytes=first_growth,
        projected_cache_bytes=projected,
    )


@rule("cache_exceeds_ram")
def cache_exceeds_ram(ctx: Context) -> Finding | None:
    cache_bytes, source, _ = _cache_figure(ctx)
    if ctx.config.get("cache") != "memory" or cache_bytes is None:
        return None
    projection = ctx.summary.get("projection") or {}
    available = ctx.available_ram_bytes if ctx.available_ram_bytes is not None else available_ram_bytes()
    projected = _projected_cache(ctx, cache_bytes, source)
    full_cache = projected if projected is not None else cache_bytes
    if not available or full_cache <= 0.5 * available:
        return None
    return _finding(
        "cache_exceeds_ram",
        "critical",
        "The full dataset's cache would not fit in memory",
        f"Caching all {projection.get('full_dataset_images')} images needs {_mib(full_cache)} "
        f"({'scaled from the measured cache' if source == MEASURED else 'memory model'}), "
        f"more than half of the {_mib(available)} of RAM available now.",
        _advice(
            "use --cache file" if _applies(ctx, cache="file") else None,
            "cache a cheaper representation: a smaller --image-size",
            "--dtype uint8 (cast before cache)" if _applies(ctx, dtype="uint8") else None,
            otherwise="",
        ),
        source=source,
        projected_cache_bytes=full_cache,
        available_ram_bytes=available,
    )


def _buffer_figure(ctx: Context, node: str, model_key: str) -> tuple[dict[str, Any] | None, int | None, str]:
    """(stage, bytes, source) of a buffer: measured stage peak, else the model; bytes None if too small."""
    stage = ctx.stage(node)
    if stage is not None:
        size, source = int(stage.get("peak_buffered_bytes") or 0), MEASURED
    else:
        size, source = ctx.model.get(model_key), MODELLED
    if not size or size < max(BUFFER_FINDING_FLOOR_BYTES, 0.1 * (ctx.overhead or 0)):
        return stage, None, source
    return stage, size, source


@rule("prefetch_buffers")
def prefetch_buffers(ctx: Context) -> Finding | None:
    overhead = ctx.overhead
    stage, size, source = _buffer_figure(ctx, "Prefetch", "prefetch_buffers")
    if size is None:
        return None
    bound = source == MODELLED and "bound" in ctx.notes.get("prefetch_buffers", "")
    if source == MEASURED:
        chosen = (stage.get("autotune") or {}).get("buffer_size")
        words = f"Prefetch buffered up to {_mib(size)} (measured, {stage.get('label')})" + (
            f"; AUTOTUNE chose a buffer of {chosen}" if chosen is not None else ""
        )
    else:
        words = f"Prefetch is modelled at {_mib(size)}" + (
            " (an upper estimate: AUTOTUNE sizes it at run time)" if bound else ""
        )
    prefetch = ctx.config.get("prefetch", "none")
    # Prefetch none: no option of the run made this buffer (Keras or tf.data added it).
    origin = (stage or {}).get("origin")
    if origin in (None, YOUR_CODE):  # modelled, or measured before stages had an origin
        builtin = LOADER_FACTS.get(ctx.config.get("loader"), {}).get("builtin_prefetch")
        origin = KERAS_ORIGIN if builtin else TFDATA_ORIGIN
    return _finding(
        "prefetch_buffers",
        "info",
        "Prefetch buffers hold several batches",
        f"{words}; one batch is {_mib(ctx.model.get('batch'))}; measured overhead {_mib(overhead)}.",
        _advice(
            f"this prefetch is {origin}: no option of this run sizes it" if prefetch == "none" else None,
            "--prefetch 1 or 2 caps the buffer"
            if prefetch not in ("none", 1, 2) and _applies(ctx, prefetch=1)
            else None,
            "a smaller --batch-size shrinks each buffered batch" if _lowerable(ctx, "batch_size") else None,
            otherwise="nothing to lower: the prefetch already holds at most 2 batches of 1 image",
        ),
        source=source,
        prefetch_bytes=size,
        batch_bytes=ctx.model.get("batch"),
        is_bound=bound,
    )


@rule("shuffle_buffer")
def shuffle_buffer(ctx: Context) -> Finding | None:
    overhead = ctx.overhead
    stage, size, source = _buffer_figure(ctx, "Shuffle", "shuffle_buffer")
    if size is None:
        return None
    if source == MEASURED:
        words = f"Shuffle buffer: {_mib(size)} measured ({stage.get('label')})" + (
            "; it references tensors the in-memory cache already holds, so dropping the cache would not free it"
            if stage.get("shares_cache")
            else ""
        )
    else:
        words = f"Shuffle buffer: {_mib(size)} ({ctx.notes.get('shuffle_buffer', '')}, memory model)"
    return _finding(
        "shuffle_buffer",
        "warning",
        "The shuffle buffer holds decoded images",
        f"{words}; measured overhead {_mib(overhead)}.",
        "lowering it frees nothing here: its tensors are the ones the in-memory cache holds"
        if stage and stage.get("shares_cache")
        else _advice(
            "lower --shuffle-buffer" if _lowerable(ctx, "shuffle_buffer") else None,
            "shuffle file names before decoding (tf.data.Dataset.list_files(shuffle=True))"
            if LOADER_FACTS.get(ctx.config.get("loader"), {}).get("shuffles") != "paths"
            else None,
            otherwise=f"{ctx.config.get('loader')} sizes this buffer itself, none of its options does: "
            "a tf.data loader that shuffles file names (tfdata_batch_map) keeps it small",
        ),
        source=source,
        shuffle_buffer_bytes=size,
        shuffle_buffer=ctx.config.get("shuffle_buffer"),
        shares_cache=bool(stage and stage.get("shares_cache")),
    )


@rule("workers_memory")
def workers_memory(ctx: Context) -> Finding | None:
    config = ctx.config
    if not (
        config.get("loader") == "keras_pydataset"
        and (int(config.get("workers") or 1) > 1 or config.get("use_multiprocessing"))
    ):
        return None
    children = ctx.summary.get("children_peak_rss_bytes")
    return _finding(
        "workers_memory",
        "warning" if config.get("use_multiprocessing") else "info",
        "PyDataset workers multiply the batches in memory",
        f"{config.get('workers')} workers, max_queue_size {config.get('max_queue_size')}"
        f"{', multiprocessing' if config.get('use_multiprocessing') else ''}: queue modelled at "
        f"{_mib(ctx.model.get('pydataset_queue'))}"
        + (f"; worker processes peaked at {_mib(children)} RSS together (measured)" if children else "")
        + f"; tree peak {_mib(ctx.summary.get('peak_tree_rss_bytes'))}.",
        _advice(
            "lower --max-queue-size" if _lowerable(ctx, "max_queue_size") else None,
            "lower --workers" if _lowerable(ctx, "workers") else None,
            "threads (no --use-multiprocessing) share one copy of the dataset"
            if config.get("use_multiprocessing")
            else None,
            otherwise="the queue is at its smallest: one worker thread, a queue of one batch",
        ),
        source=MEASURED if children else MODELLED,
        queue_bytes=ctx.model.get("pydataset_queue"),
        children_peak_rss_bytes=children,
        peak_tree_rss_bytes=ctx.summary.get("peak_tree_rss_bytes"),
    )


@rule("fd_growth")
def fd_growth(ctx: Context) -> Finding | None:
    fds_end = [e.get("fds_end") for e in ctx.epochs]
    if not (
        len(fds_end) >= 3
        and all(v is not None for v in fds_end)
        and all(b > a for a, b in zip(fds_end, fds_end[1:], strict=False))
    ):
        return None
    return _finding(
        "fd_growth",
        "warning",
        "Open file descriptors grow every epoch",
        f"FDs at each epoch end: {', '.join(str(v) for v in fds_end)} (start {ctx.summary['fds']['start']}). "
        "Files opened and never closed run into 'Too many open files'.",
        _advice(
            "--close-and-collect closes the iterator and collects garbage after each epoch"
            if _applies(ctx, close_and_collect=True)
            else None,
            "close files your code opens (`with open(...)`, `Image.open` in a with block)",
            otherwise="",
        ),
        fds_at_epoch_end=fds_end,
    )


@rule("gc_pressure")
def gc_pressure(ctx: Context) -> Finding | None:
    pauses = [(e["index"], e.get("gc_pause_seconds"), e.get("seconds")) for e in ctx.epochs]
    heavy = [(i, p, s) for i, p, s in pauses if p is not None and s and p > GC_PAUSE_FRACTION * s]
    if not heavy:
        return None
    collections = ctx.summary["gc"]["collections"]
    return _finding(
        "gc_pressure",
        "warning",
        "Python garbage collection takes a noticeable share of epoch time",
        "GC pauses above 5% of the epoch: "
        + "; ".join(f"epoch {i + 1}: {p:.3f} s of {s:.2f} s ({100 * p / s:.1f}%)" for i, p, s in heavy)
        + f". Collections per generation: {collections}.",
        "keep fewer short-lived Python objects per image"
        + (
            " (use a tf.data loader instead of a Python loop or generator)"
            if ctx.config.get("loader") in PYTHON_LOADERS
            else " (Python functions in the pipeline: py_function, from_generator, callbacks)"
        ),
        epochs=[{"index": i, "pause_seconds": p, "seconds": s} for i, p, s in heavy],
        collections=collections,
    )


@rule("dtype_no_saving")
def dtype_no_saving(ctx: Context) -> Finding | None:
    config, summary, model, overhead = ctx.config, ctx.summary, ctx.model, ctx.overhead
    dtype = config.get("dtype", "float32")
    loader = config.get("loader")
    working = LOADER_FACTS.get(loader, {}).get("working")
    if not (dtype != "float32" and working == "float32"):
        return None
    cast_batch = model.get("batch_before_cast")
    total = summary.get("modelled_total_bytes")
    total_f32 = summary.get("modelled_total_float32_bytes")
    closer = None
    if overhead is not None and total is not None and total_f32 is not None:
        closer = "float32" if abs(overhead - total_f32) < abs(overhead - total) else dtype
    return _finding(
        "dtype_no_saving",
        "warning",
        f"The cast to --dtype {dtype} comes after a float32 decode",
        f"{loader} decodes and resizes to float32 and casts afterwards, so every batch exists in float32 "
        f"first ({_mib(cast_batch)} per batch) before the {dtype} copy ({_mib(model.get('batch'))}): the "
        "cast shrinks what is kept after it, not the decode. Modelled total: "
        f"{_mib(total)} at {dtype}, {_mib(total_f32)} had it stayed float32; measured overhead {_mib(overhead)}"
        + (f", closer to the {closer} model" if closer else "")
        + ". One trial has no float32 twin to compare with; the dtype_size scenario measures both.",
        "for a real saving, decode and resize in uint8 (pil_generator or keras_pydataset with --dtype uint8), "
        "and cast before anything that keeps data (cache, shuffle, prefetch)",
        batch_before_cast_bytes=cast_batch,
        batch_bytes=model.get("batch"),
        measured_overhead_bytes=overhead,
        modelled_total_bytes=total,
        modelled_total_float32_bytes=total_f32,
        closer_to=closer,
        evidence_kind="memory model (no paired run)",
        source=MODELLED,
    )


@rule("partial_cache")
def partial_cache(ctx: Context) -> Finding | None:
    partial = group_has(ctx.log_groups, "partial_cache")
    if not partial:
        return None
    epoch_images = [e.get("images") for e in ctx.epochs]
    if ctx.config.get("cache") == "file" and _every_epoch_read_fully(ctx.summary):
        # TF 2.21 logs the warning for a file cache even after a complete read and keeps the cache
        # (tests/fixtures/logs/file_cache_full_read.*): not a partial read, so no warning here.
        return _finding(
            "partial_cache",
            "info",
            "TensorFlow's partial-read warning on a file cache that was read to the end",
            f"TensorFlow logged the cache_dataset_ops.cc partial-read warning {partial['count']} time(s) "
            f"(per epoch: {partial['per_epoch']}), but every epoch delivered the same "
            f"{epoch_images[0]} images. TF 2.21 logs this for a file cache even after a complete "
            "first read, and keeps the cache file (measured: the map did not run again in later "
            "epochs).",
            "nothing to change; the warning is expected with --cache file",
            count=partial["count"],
            per_epoch=partial["per_epoch"],
            epoch_images=epoch_images,
        )
    return _finding(
        "partial_cache",
        "warning",
        "The cache was discarded after a partial read",
        f"TensorFlow logged the cache_dataset_ops.cc partial-read warning {partial['count']} time(s) "
        f"(per epoch: {partial['per_epoch']}): the iterator stopped before the end of a .cache() dataset, "
        "so the cache never completes and every epoch decodes again.",
        _advice(
            None
            if ctx.config.get("steps")  # the loaders already take before cache() with --steps
            else "take(k) before cache() (set --steps so the loader limits before caching)",
            "iterate the whole dataset every epoch",
            otherwise="",
        ),
        count=partial["count"],
        per_epoch=partial["per_epoch"],
    )


@rule("input_bound")
def input_bound(ctx: Context) -> Finding | None:
    if ctx.config.get("mode") != "fit":
        return None
    fit_rate = ctx.summary.get("steady_images_per_second")
    iterate_rate = ctx.iterate_images_per_second
    if not (iterate_rate and fit_rate):
        return None
    ratio = fit_rate / iterate_rate
    if ratio < 0.8:
        return None
    return _finding(
        "input_bound",
        "warning",
        "Training waits for the input pipeline",
        f"fit ran at {fit_rate:,.1f} images/s; the same pipeline alone (iterate mode) delivers "
        f"{iterate_rate:,.1f} images/s: training reaches {100 * ratio:.0f}% of the "
        "input pipeline's own speed, so the input, not the model, sets the pace.",
        _advice(
            "raise --num-parallel-calls" if _applies(ctx, num_parallel_calls="auto") else None,
            "raise --prefetch" if _applies(ctx, prefetch="auto") else None,
            "--cache memory if it fits" if _applies(ctx, cache="memory") else None,
            "a smaller --image-size",
            otherwise="",
        ),
        fit_images_per_second=fit_rate,
        iterate_images_per_second=iterate_rate,
        ratio=ratio,
        source=MEASURED,
    )


@rule("allocator_retained")
def allocator_retained(ctx: Context) -> Finding | None:
    part = ctx.component("allocator_free", ALLOCATOR_FREE)  # malloc's; TensorFlow's pool is another
    overhead = (ctx.attribution or {}).get("overhead_bytes") or ctx.overhead or 0
    if part is None or part["bytes"] < max(
        ALLOCATOR_FINDING_FLOOR_BYTES, ALLOCATOR_FINDING_FRACTION * overhead
    ):
        return None
    share = part["bytes"] / overhead if overhead > 0 else None
    return _finding(
        "allocator_retained",
        "info",
        "malloc keeps freed memory instead of returning it",
        f"At the peak, glibc malloc retained {_mib(part['bytes'])} more freed-but-unreturned memory than at "
        f"ready"
        + (f" ({100 * share:.0f}% of the {_mib(overhead)} overhead)" if share is not None else "")
        + ": memory the process no longer uses but still counts in its RSS (measured with mallinfo2).",
        "A/B test it: run the same trial with LD_PRELOAD=libtcmalloc_minimal.so.4 (tcmalloc returns freed "
        "memory) or call ctypes.CDLL('libc.so.6').malloc_trim(0) after each epoch, and compare the peaks; "
        "MALLOC_ARENA_MAX=2 also limits glibc's per-thread arenas",
        source=MEASURED,
        allocator_free_bytes=part["bytes"],
        overhead_bytes=overhead,
        share=share,
    )


@rule("autotune_choice")
def autotune_choice(ctx: Context) -> Finding | None:
    choices = [
        (
            stage.get("label") or stage.get("name"),
            param,
            value,
            (stage.get("autotune_range") or {}).get(param),
        )
        for stage in (ctx.pipeline or {}).get("stages") or []
        for param, value in (stage.get("autotune") or {}).items()
        if value is not None
    ]
    if not choices:
        return None

    def text(label: str, param: str, value: Any, seen: Any) -> str:
        moved = f" (from {seen[0]:g} to {seen[1]:g} during the run)" if seen and seen[0] != seen[1] else ""
        return f"{param} {value:g} for {label}{moved}"

    pipeline = ctx.pipeline or {}
    ram, cpu = pipeline.get("ram_budget_bytes"), pipeline.get("cpu_budget")
    budgets = [
        f"RAM budget {_mib(ram)}" if ram is not None else None,
        f"CPU budget {cpu}" if cpu is not None else None,
    ]
    budgets_text = " and ".join(b for b in budgets if b)
    # Only an option the run set to auto pins a value; AUTOTUNE inside Keras' or tf.data's own stages
    # is not the run's to pin.
    pinnable = [
        cli_name(name) for name in ("prefetch", "num_parallel_calls") if ctx.config.get(name) == "auto"
    ]
    return _finding(
        "autotune_choice",
        "info",
        "What AUTOTUNE chose",
        "AUTOTUNE chose " + "; ".join(text(*c) for c in choices) + " (measured from the tf.data model, last "
        "snapshot)." + (f" It worked within a {budgets_text}." if budgets_text else ""),
        f"to pin a value, pass a number instead of auto ({', '.join(pinnable)}); AUTOTUNE's choice is a "
        "good starting point"
        if pinnable
        else "nothing to pin: these stages were added by Keras or tf.data, not by your options, and "
        "tune themselves",
        source=MEASURED,
        choices=[{"stage": c[0], "parameter": c[1], "value": c[2], "range": c[3]} for c in choices],
    )


_BOTTLENECK_KINDS = ("map", "batch", "shuffle")


def _bottleneck_advice(ctx: Context, kind: str | None, bound: dict[str, Any]) -> str:
    if bound.get("kind") == "compute":
        return (
            "nothing to speed up in the input: training is compute-bound, the model's step sets the "
            "pace, so a faster stage would not make training faster"
        )
    otherwise = "this stage sets the pipeline's pace: make it cheaper or parallel"
    if kind == "generator":
        return (
            "a Python generator runs one element at a time under the GIL: a tf.data loader "
            "(tfdata_map_batch) decodes in parallel"
        )
    if kind == "map":
        return _advice(
            "raise --num-parallel-calls (or auto)" if _applies(ctx, num_parallel_calls="auto") else None,
            "cache after the decode (--cache memory) if it fits" if _applies(ctx, cache="memory") else None,
            "decode smaller images (--image-size)",
            otherwise=otherwise,
        )
    if kind == "batch":
        return _advice(
            "a smaller --batch-size" if _lowerable(ctx, "batch_size") else None,
            "--dtype uint8 makes each batch copy cheaper" if _applies(ctx, dtype="uint8") else None,
            otherwise=otherwise,
        )
    if kind == "shuffle":
        return _advice(
            "a smaller --shuffle-buffer fills faster" if _lowerable(ctx, "shuffle_buffer") else None,
            otherwise=otherwise,
        )
    return otherwise


@rule("bottleneck_stage")
def bottleneck_stage(ctx: Context) -> Finding | None:
    pipeline = ctx.pipeline or {}
    bottleneck = pipeline.get("bottleneck")
    if not bottleneck:
        return None
    label = str(bottleneck.get("stage"))
    kind = next((k for k in _BOTTLENECK_KINDS if k in label.lower()), None)
    if "from_generator" in label or "flat_map" in label:
        kind = "generator"
    bound = pipeline.get("bound") or {}
    rate = bottleneck.get("images_per_second") or 0
    measured = throughput.images_per_second(ctx.summary)
    return _finding(
        "bottleneck_stage",
        "info",
        f"The slowest stage: {label}",
        f"{label} processes {rate:,.1f} images/s on its own, the lowest of "
        "the pipeline's stages (measured: its processing time and element counts from the tf.data model)"
        + (f"; it comes from `{bottleneck['code']}`" if bottleneck.get("code") else "")
        + (f". {not_a_bound(measured)}" if bounds_throughput(rate, measured) is False else "")
        + (f". Training is {bound['kind']}-bound: {bound.get('detail')}" if bound.get("kind") else "")
        + ".",
        _bottleneck_advice(ctx, kind, bound),
        source=MEASURED,
        stage=label,
        images_per_second=bottleneck.get("images_per_second"),
        bound=bound.get("kind"),
        bound_evidence=bound.get("evidence"),
    )


@rule("unattributed_memory")
def unattributed_memory(ctx: Context) -> Finding | None:
    attribution = ctx.attribution or {}
    rest, overhead = attribution.get("unattributed_bytes"), attribution.get("overhead_bytes")
    if rest is None or not overhead or overhead <= 0:
        return None
    if rest < max(UNATTRIBUTED_FINDING_FLOOR_BYTES, UNATTRIBUTED_FINDING_FRACTION * overhead):
        return None
    split = attribution.get("unattributed_split") or {}
    return _finding(
        "unattributed_memory",
        "info",
        "Part of the memory is unattributed",
        f"{_mib(rest)} of the {_mib(overhead)} overhead at the peak ({100 * rest / overhead:.0f}%) is not in "
        "any measured part: no tf.data stage, model weights, optimizer state, library pages or malloc's "
        "free memory accounts for it."
        + (f" What the process composition says about it: {split['detail']}." if split.get("detail") else ""),
        "nothing to change from this alone; a heap profiler (memray, heaptrack) shows which code allocates it",
        source=MEASURED,
        unattributed_bytes=rest,
        overhead_bytes=overhead,
        split={k: v for k, v in split.items() if k != "detail"},
    )


@rule("delivered_fewer")
def delivered_fewer(ctx: Context) -> Finding | None:
    info = ctx.summary.get("delivered_fewer")
    if not info:
        return None
    delivered, scanned = info["delivered_images"], info["scanned_images"]
    files = info["files"]
    if files:
        shown = "; ".join(f"{f['path']} ({f['reason']})" for f in files[:10])
        more = f" and {info['files_total'] - 10} more" if info["files_total"] > 10 else ""
        why = f"{info['files_total']} file(s) the loader does not read: {shown}{more}"
        advice = "convert those files to a format the loader reads, or use a loader that reads them"
    else:
        why = (
            "the scan knows no reason: files may have changed since the scan, or the loader filters "
            "files itself"
        )
        advice = "rescan the folder and compare the loader's file list with the scan's"
    return _finding(
        "delivered_fewer",
        "warning",
        "The loader delivered fewer images than the scan found",
        f"Each epoch delivered {delivered} of the {scanned} images the scan found readable: {why}.",
        advice,
        **info,
    )
