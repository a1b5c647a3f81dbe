"""The worker -> runner event protocol: one JSON object per line on a dedicated pipe.

The runner opens a pipe, passes its write end to the worker (``pass_fds``) and names it in the
``DIAG_EVENT_FD`` environment variable; stdout and stderr stay free for TensorFlow's own output.
Every event has ``kind`` and ``t`` (``time.monotonic()``: one clock for both processes on Linux).

    kind         fields besides kind and t
    ready        pid, rss_bytes, python, tensorflow, keras, gpus (list of names), num_images
    epoch_start  epoch (0-based)
    step         epoch, step (last step done, 0-based), images (delivered so far this epoch);
                 batched: at most about 4 per second, plus one at the end of each epoch
    epoch_end    epoch, images, seconds, rss_bytes, loss (fit), accuracy (fit),
                 gpu_current_bytes, gpu_peak_bytes (only when a GPU is visible)
    gc           epoch, collections [g0, g1, g2], pause_seconds   (sent just after epoch_end),
                 times (monotonic start of each collection in the epoch, at most 1000)
    gpu_memory   epoch, device, current_bytes, peak_bytes        (only when a GPU is visible)
    done         vmhwm_bytes (VmHWM read just before exit), rss_bytes
    error        type, message, file (the offending file when known, else null), traceback
"""

from __future__ import annotations

import json
import os
import time
from typing import IO, Any

__all__ = ["EVENT_FD_ENV", "EVENT_KINDS", "EventWriter", "parse_event"]

EVENT_FD_ENV = "DIAG_EVENT_FD"
EVENT_KINDS = frozenset({"ready", "epoch_start", "step", "epoch_end", "gc", "gpu_memory", "done", "error"})


def _jsonable(value: Any) -> Any:
    # NumPy/TF scalars must not reach json.dumps.
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class EventWriter:
    """Worker side: writes one flushed JSON line per event."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    @classmethod
    def from_env(cls) -> EventWriter:
        fd = int(os.environ[EVENT_FD_ENV])
        return cls(os.fdopen(fd, "w", buffering=1, encoding="utf-8"))

    def emit(self, kind: str, **fields: Any) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        record = {"kind": kind, "t": time.monotonic(), **fields}
        self._stream.write(json.dumps(record, default=_jsonable) + "\n")
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
