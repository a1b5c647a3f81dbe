"""The worker's probe: what the memory is made of, read from inside the trial process.

Imported by the worker only. TensorFlow is never imported here at module level: the functions that
need it take it as an argument or import it lazily, so the parsers stay pure and testable without it.

Two readings, taken together at ``DIAG_PROBE_HZ`` (default 4 Hz; 0 turns the probe off entirely,
for the benchmark's overhead measurement) by a daemon thread and once at every epoch end:

- ``pipeline`` (one event per live tf.data iterator): every node of the iterator's optimized
  pipeline from ``tf.raw_ops.IteratorGetModelProto`` (buffered bytes and elements, processing time,
  counts, the parameters AUTOTUNE tunes and their current values) plus the RAM/CPU budgets.
  Iterators are recorded by wrapping ``OwnedIterator.__init__``: the user's snippet is untouched.
- ``composition`` (process-wide): RSS split into anonymous / file-backed / shmem
  (``/proc/self/status``: RssAnon, RssFile, RssShmem; smaps_rollup gives the same split but walks
  every mapping under the mmap lock, 36 ms per read in a TensorFlow process against 0.04 ms), glibc malloc in use / free but retained / mmapped (``mallinfo2``,
  None where unavailable) and, in fit mode, the bytes of the model's weights and optimizer variables
  summed from their shapes and dtypes.

A failing reading never breaks the trial: the tick is counted as an error and emits nothing.

An iterate-mode epoch ends by exhausting its iterator, which is released before the driver sees
the end: so the probe also reads an iterator's model at the moment it reports end of sequence
(a wrapped ``OwnedIterator.__next__``) and the epoch-end snapshot emits those final states beside
the live iterators'. At end of sequence tf.data has already released the stages upstream of the
last one (cache, shuffle, map): their final state comes from the latest reading the wrapped
``__next__`` takes at most every ``KEEP_GAP_SECONDS`` while the epoch runs, so an epoch shorter
than a tick still reports its cache.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

__all__ = [
    "PROBE_HZ_ENV",
    "Mallinfo",
    "Probe",
    "composition",
    "load_model_pb2",
    "mallinfo",
    "finish",
    "merge_released",
    "parse_model_proto",
    "parse_proc_status",
    "tf_allocator_in_use",
    "probe_hz",
    "variables_bytes",
]

PROBE_HZ_ENV = "DIAG_PROBE_HZ"
DEFAULT_PROBE_HZ = 4.0
PROC_STATUS = "/proc/self/status"
# The wrapped __next__ reads the model (about 0.2 ms) at most this often: under 0.5% of the loop.
KEEP_GAP_SECONDS = 0.05
_NS_PER_US = 1000  # ModelProto.gap_times are microseconds (tf.data's GetNext op records NowMicros)


def probe_hz() -> float:
    """Snapshots per second from ``DIAG_PROBE_HZ`` (default 4); 0 disables the probe."""
    text = os.environ.get(PROBE_HZ_ENV, "").strip()
    if not text:
        return DEFAULT_PROBE_HZ
    try:
        hz = float(text)
    except ValueError:
        raise ValueError(f"{PROBE_HZ_ENV}={text!r} is not a number of snapshots per second") from None
    if hz < 0:
        raise ValueError(f"{PROBE_HZ_ENV}={text!r} must be 0 (off) or positive")
    return hz


# -- tf.data model proto ----------------------------------------------------------------------------


def load_model_pb2() -> Any:
    """``tensorflow.core.framework.model_pb2``; loaded from its file when TF is not imported.

    The generated module depends on protobuf alone, so tests parse captured protos without paying
    for (or requiring) a TensorFlow import.
    """
    name = "tensorflow.core.framework.model_pb2"
    if name in sys.modules or "tensorflow" in sys.modules:
        return importlib.import_module(name)
    spec = importlib.util.find_spec("tensorflow")  # a top-level spec is found without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow is not installed: cannot parse a tf.data ModelProto")
    path = Path(next(iter(spec.submodule_search_locations))) / "core" / "framework" / "model_pb2.py"
    module_spec = importlib.util.spec_from_file_location("_diagnostics_model_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    sys.modules["_diagnostics_model_pb2"] = module
    return module


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def parse_model_proto(raw: bytes, model_pb2: Any = None) -> dict[str, Any]:
    """A serialized ``ModelProto`` -> the body of a ``pipeline`` event (see protocol.py).

    Nodes come out sorted by id; ``parameters`` hold each parameter's current value (for a tunable
    one, the value AUTOTUNE chose) and ``tunable`` names those AUTOTUNE controls.
    """
    model_pb2 = model_pb2 or load_model_pb2()
    proto = model_pb2.ModelProto.FromString(bytes(raw))
    nodes = []
    for node_id in sorted(proto.nodes):
        node = proto.nodes[node_id]
        nodes.append(
            {
                "id": int(node.id),
                "name": node.name,
                "inputs": [int(i) for i in node.inputs],
                "buffered_bytes": int(node.buffered_bytes),
                "buffered_elements": int(node.buffered_elements),
                "processing_time_ns": int(node.processing_time),
                "num_elements": int(node.num_elements),
                "bytes_produced": int(node.bytes_produced),
                "bytes_consumed": int(node.bytes_consumed),
                "autotune": bool(node.autotune),
                "parameters": {p.name: _number(p.value) for p in node.parameters},
                "tunable": [p.name for p in node.parameters if p.tunable],
            }
        )
    params = proto.optimization_params
    has_params = proto.HasField("optimization_params")
    out: dict[str, Any] = {
        "ram_budget_bytes": int(params.ram_budget) if has_params and params.ram_budget else None,
        "cpu_budget": int(params.cpu_budget) if has_params and params.cpu_budget else None,
        "output": int(proto.output),
        "nodes": nodes,
    }
    if len(proto.gap_times):
        out["gap_times_ns"] = [int(g) * _NS_PER_US for g in proto.gap_times]
    return out


def merge_released(final: dict[str, Any] | None, kept: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """A reading of an iterator's model (taken at ``now``) completed by ``kept``, the merge of its
    earlier readings, for the nodes tf.data has released since (their inputs were exhausted).

    Nodes are matched by id (stable within one iterator's model) and carry ``read_at``, when they
    were last seen; a node that lost its inputs gets them back, so the chain still reaches the
    released ones. ``finish`` turns ``read_at`` into ``released`` / ``age_s``.
    """
    fresh = [{**node, "read_at": now} for node in (final or {}).get("nodes", [])]
    if kept is None:
        return {**(final or {}), "nodes": fresh}
    earlier = {node["id"]: node for node in kept["nodes"]}
    fresh = [
        {**node, "inputs": earlier[node["id"]]["inputs"]}
        if not node["inputs"] and earlier.get(node["id"], {}).get("inputs")
        else node
        for node in fresh
    ]
    present = {node["id"] for node in fresh}
    nodes = fresh + [node for node in kept["nodes"] if node["id"] not in present]
    return {**(final or kept), "nodes": sorted(nodes, key=lambda node: node["id"])}


def finish(body: dict[str, Any], now: float) -> dict[str, Any]:
    """The merged body as a ``pipeline`` event: nodes read before ``now`` are marked released."""
    nodes = []
    for node in body["nodes"]:
        node = dict(node)
        read_at = node.pop("read_at", now)
        if read_at < now:
            node.update(released=True, age_s=round(now - read_at, 4))
        nodes.append(node)
    return {**body, "nodes": nodes}


# -- process composition ------------------------------------------------------------------------------


_STATUS_FIELDS = {
    "VmRSS": "rss_bytes",
    "RssAnon": "anon_bytes",
    "RssFile": "file_bytes",
    "RssShmem": "shmem_bytes",
}


def parse_proc_status(text: str) -> dict[str, int]:
    """``/proc/<pid>/status`` text -> rss/anon/file/shmem bytes (VmRSS = RssAnon + RssFile + RssShmem)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in _STATUS_FIELDS:
            out[_STATUS_FIELDS[name]] = int(rest.split()[0]) * 1024
    missing = sorted(set(_STATUS_FIELDS.values()) - set(out))
    if missing:
        raise ValueError(f"/proc status text lacks {', '.join(missing)} (kernel older than 4.5?)")
    return out


class Mallinfo(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (every field a size_t)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_NO_MALLINFO = {"malloc_in_use_bytes": None, "malloc_free_bytes": None, "malloc_mmap_bytes": None}


def _mallinfo2_function(libc: Any = None) -> Any:
    try:
        libc = libc if libc is not None else ctypes.CDLL(None)
        function = libc.mallinfo2
    except (OSError, AttributeError):  # not glibc, or glibc older than 2.33
        return None
    function.restype = Mallinfo
    function.argtypes = []
    return function


def mallinfo(function: Any = "default") -> dict[str, int | None]:
    """Heap in use, free-but-retained and mmapped bytes from glibc ``mallinfo2``; None each if absent.

    ``function`` is the ctypes function (tests pass None for the unavailable path).
    """
    if function == "default":
        function = _MALLINFO2
    if function is None:
        return dict(_NO_MALLINFO)
    info = function()
    return {
        "malloc_in_use_bytes": int(info.uordblks),
        "malloc_free_bytes": int(info.fordblks),
        "malloc_mmap_bytes": int(info.hblkhd),
    }


_MALLINFO2 = _mallinfo2_function()


def _dtype_size(dtype: Any) -> int:
    size = getattr(dtype, "size", None)  # tf.DType
    if isinstance(size, int):
        return size
    import numpy as np

    return int(np.dtype(str(getattr(dtype, "name", dtype))).itemsize)


def variables_bytes(variables: Any) -> int:
    """Sum of shape x dtype size over variables (each counted once)."""
    total, seen = 0, set()
    for var in variables or ():
        if id(var) in seen:
            continue
        seen.add(id(var))
        count = 1
        for dim in tuple(var.shape):
            count *= int(dim or 0)
        total += count * _dtype_size(var.dtype)
    return total


def tf_allocator_in_use(tf: Any) -> int | None:
    """Bytes TensorFlow's CPU allocator has handed out now (``get_memory_info("CPU:0")["current"]``).

    With TF's oneDNN build the CPU allocator (MklCPUAllocator) serves large tensors (batches) from a
    BFC pool whose regions it reserves with malloc, above glibc's mmap threshold, and keeps for
    reuse (seen with gdb on TF 2.21: BFCAllocator::Extend -> AlignedMalloc -> mmap, from
    MapAndBatch's output). None when TensorFlow does not say.
    """
    try:
        return int(tf.config.experimental.get_memory_info("CPU:0")["current"])
    except Exception:  # not available on this build or device: not measured
        return None


def composition(model: Any = None, status_path: str = PROC_STATUS, tf: Any = None) -> dict[str, Any]:
    """The body of a ``composition`` event (model/optimizer bytes None without a model;
    tf_allocator_in_use_bytes None without ``tf``)."""
    with open(status_path) as f:
        out: dict[str, Any] = parse_proc_status(f.read())
    out.update(mallinfo())
    out["tf_allocator_in_use_bytes"] = tf_allocator_in_use(tf) if tf is not None else None
    out["model_bytes"] = out["optimizer_bytes"] = None
    if model is not None:
        out["model_bytes"] = variables_bytes(model.weights)
        optimizer = getattr(model, "optimizer", None)
        out["optimizer_bytes"] = variables_bytes(getattr(optimizer, "variables", None)) if optimizer else 0
    return out


# -- the probe ------------------------------------------------------------------------------------


class Probe:
    """Records live tf.data iterators and emits ``pipeline``/``composition`` snapshots.

    Args:
        events: the worker's EventWriter.
        tf: the imported ``tensorflow`` module.
        hz: snapshots per second of the background thread (0: ``start`` does nothing).
        epoch: callable returning the current epoch (or None), for the ``epoch`` field of ticks.
    """

    def __init__(self, events: Any, tf: Any, hz: float = DEFAULT_PROBE_HZ, epoch: Any = None) -> None:
        self.events = events
        self.tf = tf
        self.hz = hz
        self.epoch = epoch or (lambda: None)
        self.model: Any = None
        self._iterators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._finished: list[dict[str, Any]] = []  # bodies read at end of sequence, for epoch end
        self._kept: dict[int, tuple[float, dict[str, Any]]] = {}  # iterator -> (time, latest body)
        self._next_id = 0
        self._lock = threading.Lock()  # iterator registry
        self._snapshot_lock = threading.Lock()  # one snapshot at a time (thread vs epoch end)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._model_pb2: Any = None
        self.snapshots = 0
        self.errors = 0
        self.last_error: str | None = None
        self.seconds = 0.0  # total time spent in snapshots
        self.proto_calls = 0
        self.proto_seconds = 0.0  # of which IteratorGetModelProto + parsing

    # Wrapping __init__ (not the dataset's __iter__) catches every iterator: user loops, Keras' fit.
    def install(self) -> None:
        from tensorflow.python.data.ops import iterator_ops

        original = iterator_ops.OwnedIterator.__init__
        probe = self

        def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - the wrapped method
            original(self, *args, **kwargs)
            probe._register(self)

        __init__.__wrapped__ = original  # type: ignore[attr-defined]
        iterator_ops.OwnedIterator.__init__ = __init__

        original_next = iterator_ops.OwnedIterator.__next__

        def __next__(self: Any) -> Any:  # noqa: N807 - the wrapped method
            try:
                element = original_next(self)
            except StopIteration:
                probe._on_end(self)
                raise
            probe._keep(self)
            return element

        __next__.__wrapped__ = original_next  # type: ignore[attr-defined]
        iterator_ops.OwnedIterator.__next__ = __next__

    def _keep(self, iterator: Any) -> None:
        """While an epoch runs, merge the iterator's model into what was kept (a read at most every
        KEEP_GAP_SECONDS), so the stages tf.data releases before the end keep their last state."""
        with self._lock:
            number = self._iterators.get(iterator)
        if number is None:
            return
        kept_at, kept = self._kept.get(number, (float("-inf"), None))
        if time.perf_counter() - kept_at < KEEP_GAP_SECONDS:
            return
        body = self._read(iterator, wait=False)
        if body is not None:
            now = time.perf_counter()
            self._kept[number] = (now, merge_released(body, kept, now))

    def _read(self, iterator: Any, wait: bool = True) -> dict[str, Any] | None:
        """The iterator's model, or None (inside a traced function, or the probe thread is reading
        and ``wait`` is False: the next call reads instead)."""
        eager = getattr(self.tf, "executing_eagerly", None)
        if eager is not None and not eager():
            return None  # Keras traces next(iterator) into its train function: add no op there
        if not self._snapshot_lock.acquire(blocking=wait):
            return None
        try:
            start = time.perf_counter()
            try:
                return self._pipeline(iterator)
            except Exception as exc:  # never break the user's loop
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                return None
            finally:
                self.seconds += time.perf_counter() - start
        finally:
            self._snapshot_lock.release()

    def _on_end(self, iterator: Any) -> None:
        """Keep the model of an iterator that just reported end of sequence (its last state).

        The stages tf.data already released come from the latest reading kept while it ran.
        """
        with self._lock:
            number = self._iterators.get(iterator)
        if number is None:
            return
        body = self._read(iterator)
        kept = self._kept.pop(number, (0.0, None))[1]
        if body is None and kept is None:
            return
        now = time.perf_counter()
        body = finish(merge_released(body, kept, now), now)
        with self._snapshot_lock:
            self._finished.append({"iterator": number, **body})

    def _register(self, iterator: Any) -> None:
        # Keras traces its train function with a symbolic iterator (a graph placeholder for the
        # resource): it holds no pipeline, and reading it from eager code raises.
        eager = getattr(self.tf, "executing_eagerly", None)
        if eager is not None and not eager():
            return
        with self._lock:
            self._iterators[iterator] = self._next_id
            self._next_id += 1

    def live_iterators(self) -> list[tuple[int, Any]]:
        with self._lock:
            return sorted(((i, it) for it, i in list(self._iterators.items())), key=lambda pair: pair[0])

    def _pipeline(self, iterator: Any) -> dict[str, Any] | None:
        if self._model_pb2 is None:
            self._model_pb2 = load_model_pb2()
        start = time.perf_counter()
        try:
            raw = self.tf.raw_ops.IteratorGetModelProto(iterator=iterator._iterator_resource)
        except (self.tf.errors.FailedPreconditionError, self.tf.errors.NotFoundError):
            return None  # no model yet (nothing requested) or the iterator just went away
        body = parse_model_proto(raw.numpy(), self._model_pb2)
        self.proto_calls += 1
        self.proto_seconds += time.perf_counter() - start
        return body if body["nodes"] else None

    def snapshot(self, reason: str = "tick", epoch: int | None = None) -> bool:
        """Read everything, then emit it; on any error emit nothing and count it. True if emitted."""
        with self._snapshot_lock:
            start = time.perf_counter()
            if epoch is None:
                epoch = self.epoch()
            try:
                pipelines = []
                if reason == "epoch_end":
                    finished, self._finished = self._finished, []
                    pipelines = [{"reason": reason, "epoch": epoch, **body} for body in finished]
                for number, iterator in self.live_iterators():
                    body = self._pipeline(iterator)
                    if body is not None:
                        pipelines.append({"reason": reason, "epoch": epoch, "iterator": number, **body})
                parts = composition(self.model, tf=self.tf)
            except Exception as exc:  # the probe must never break the trial
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                return False
            finally:
                self.seconds += time.perf_counter() - start
            for body in pipelines:
                self.events.emit("pipeline", **body)
            self.events.emit("composition", reason=reason, epoch=epoch, **parts)
            self.snapshots += 1
            return True

    def start(self) -> None:
        if self.hz <= 0 or self._thread is not None:
            return
        period = 1.0 / self.hz

        def loop() -> None:
            while not self._stop.wait(period):
                self.snapshot("tick")

        self._thread = threading.Thread(target=loop, name="diagnostics-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stats(self) -> dict[str, Any]:
        """Cost and health of the probe, for the ``done`` event."""
        return {
            "hz": self.hz,
            "snapshots": self.snapshots,
            "errors": self.errors,
            "last_error": self.last_error,
            "seconds": self.seconds,
            "model_proto_calls": self.proto_calls,
            "model_proto_seconds": self.proto_seconds,
        }
