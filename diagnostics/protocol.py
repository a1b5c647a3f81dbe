"""The worker -> runner event protocol: one JSON object per line on a dedicated pipe.

The runner opens a pipe, passes its write end to the worker (``pass_fds``) and names it in the
``DIAG_EVENT_FD`` environment variable; stdout and stderr stay free for TensorFlow's own output.
Every event has ``kind`` and ``t`` (``time.monotonic()``: one clock for both processes on Linux).

    kind         fields besides kind and t
    ready        pid, rss_bytes, python, tensorflow, keras, gpus (list of names), num_images,
                 composition (the baseline: a composition body without kind/t/reason/epoch; absent
                 when the probe is off), imported_t (monotonic end of the TensorFlow import: before
                 ``t`` by the wait for the runner's "go" when spawned with --wait-for-go)
    epoch_start  epoch (0-based)
    step         epoch, step (last step done, 0-based), images (delivered so far this epoch);
                 batched: at most about 4 per second, plus one at the end of each epoch
    epoch_end    epoch, images, seconds, rss_bytes, loss (fit), accuracy (fit),
                 gpu_current_bytes, gpu_peak_bytes (only when a GPU is visible)
    gc           epoch, collections [g0, g1, g2], pause_seconds   (sent just after epoch_end),
                 times (monotonic start of each collection in the epoch, at most 1000)
    gpu_memory   epoch, device, current_bytes, peak_bytes        (only when a GPU is visible)
    pipeline     reason ("tick" | "epoch_end"), epoch (int | None), iterator (small id, 0, 1, ...
                 in creation order), ram_budget_bytes, cpu_budget (None when unknown), output (root
                 node id), nodes [{id, name, inputs, buffered_bytes, buffered_elements,
                 processing_time_ns, num_elements, bytes_produced, bytes_consumed, autotune,
                 parameters {name: current value}, tunable [names AUTOTUNE controls]}],
                 gap_times_ns (optional); one per live tf.data iterator per snapshot
                 (``diagnostics/probe.py``: DIAG_PROBE_HZ a second, default 4, and at each epoch end)
    composition  reason, epoch, rss_bytes, anon_bytes, file_bytes, shmem_bytes (smaps_rollup),
                 malloc_in_use_bytes, malloc_free_bytes, malloc_mmap_bytes (glibc mallinfo2, else
                 None), model_bytes, optimizer_bytes (fit: shape x dtype size summed; else None),
                 tf_allocator_in_use_bytes (TensorFlow's CPU allocator, get_memory_info; else None);
                 one per snapshot, at the same times as pipeline
    done         vmhwm_bytes (VmHWM read just before exit), rss_bytes, probe (the probe's own
                 cost: hz, snapshots, errors, last_error, seconds, model_proto_calls,
                 model_proto_seconds; absent when the probe is off)
    error        type, message, file (the offending file when known, else null), traceback
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import IO, Any

__all__ = ["EVENT_FD_ENV", "EVENT_KINDS", "EventWriter", "parse_event"]

EVENT_FD_ENV = "DIAG_EVENT_FD"
EVENT_KINDS = frozenset(
    {
        "ready",
        "epoch_start",
        "step",
        "epoch_end",
        "gc",
        "gpu_memory",
        "pipeline",
        "composition",
        "done",
        "error",
    }
)


def _jsonable(value: Any) -> Any:
    # NumPy/TF scalars must not reach json.dumps.
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class EventWriter:
    """Worker side: writes one flushed JSON line per event (thread-safe: the probe thread emits too)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> EventWriter:
        fd = int(os.environ[EVENT_FD_ENV])
        return cls(os.fdopen(fd, "w", buffering=1, encoding="utf-8"))

    def emit(self, kind: str, **fields: Any) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        record = {"kind": kind, "t": time.monotonic(), **fields}
        line = json.dumps(record, default=_jsonable) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def parse_event(line: str) -> dict[str, Any] | None:
    """Runner side: a dict for a well-formed event line, None for anything else."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("kind") not in EVENT_KINDS:
        return None
    if not isinstance(record.get("t"), (int, float)):
        return None
    return record
