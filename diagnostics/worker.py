"""What runs inside the trial process: ``python -m diagnostics.worker --config FILE``.

FILE is JSON ``{"config": TrialConfig dict, "scan": ScanResult dict}``. The worker imports
TensorFlow and Keras, reports ``ready`` (the baseline: imports done, no pipeline yet), executes the
setup part of the run's snippet (``diagnostics.snippet.render_parts``: the very text users copy)
and then drives it with an instrumented loop or ``model.fit`` callback that sends events on the
pipe named by ``DIAG_EVENT_FD`` (see ``diagnostics/protocol.py``). Exit 0 after ``done``, 1 after
``error``.

TensorFlow's logging is left at its defaults: the runner's log triage wants every line.

Test-only fault injection (environment ``DIAG_TEST_FAULT``, unreachable from the CLI and UI), all
after ``ready``: ``alloc`` (50 MiB every 0.1 s until killed), ``crash`` (RuntimeError),
``exit`` (``os._exit(7)``), ``segfault`` (a real null read), ``hang`` (sleep forever).
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import os
import re
import sys
import threading
import time
import traceback
from typing import Any

from diagnostics.protocol import EventWriter

__all__ = ["GcStats", "StepReporter", "gpu_memory", "main", "offending_file", "rss_bytes", "vmhwm_bytes"]

FAULT_ENV = "DIAG_TEST_FAULT"
SNIPPET_FILENAME = "<diagnostics snippet>"
STEP_INTERVAL_SECONDS = 0.25  # at most ~4 step events per second
GC_TIMES_PER_EPOCH = 1000  # collection start times kept per epoch (for log-vs-GC timing); bounds the event
PARENT_POLL_SECONDS = 0.5
_IMAGE_PATH = re.compile(r"(/[^\s'\"]+\.(?:jpe?g|png|gif|bmp))", re.IGNORECASE)


# -- process facts --------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size, from /proc/self/statm (pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def vmhwm_bytes() -> int:
    """Peak resident set size of this process (VmHWM), the exact peak the summary reports."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def gpu_memory(tf: Any) -> dict[str, Any] | None:
    """TensorFlow's allocator view of GPU:0 ({"device", "current_bytes", "peak_bytes"}), or None.

    Takes the ``tf`` module as an argument so it can be tested with a fake.
    """
    try:
        if not tf.config.list_physical_devices("GPU"):
            return None
        info = tf.config.experimental.get_memory_info("GPU:0")
    except (ValueError, RuntimeError):  # no such device, or memory info unsupported
        return None
    return {"device": "GPU:0", "current_bytes": int(info["current"]), "peak_bytes": int(info["peak"])}


def offending_file(exc: BaseException, root: str | None = None) -> str | None:
    """The image path an exception names (OSError.filename, PIL/TF messages), if any."""
    filename = getattr(exc, "filename", None)
    if isinstance(filename, (str, bytes)) and filename:
        return os.fsdecode(filename)
    text = str(exc)
    if root:
        # Paths under the dataset may contain spaces: match them by their known prefix.
        match = re.search(re.escape(root.rstrip("/")) + r"/.*?\.(?:jpe?g|png|gif|bmp)\b", text, re.IGNORECASE)
        if match:
            return match.group(0)
    match = _IMAGE_PATH.search(text)
    return match.group(1) if match else None


# -- instrumentation --------------------------------------------------------------------------------


class GcStats:
    """Collections per generation and pause seconds, from ``gc.callbacks``, reset per epoch."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.pause_seconds = 0.0
        self.times: list[float] = []  # monotonic start of each collection, to set log lines against
        self.taken_times: list[float] = []
        self._started: float | None = None
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            if len(self.times) < GC_TIMES_PER_EPOCH:
                self.times.append(time.monotonic())
        elif self._started is not None:
            self.pause_seconds += time.perf_counter() - self._started
            self._started = None
            generation = int(info.get("generation", 0))
            if 0 <= generation < 3:
                self.collections[generation] += 1

    def take(self) -> tuple[list[int], float]:
        collections, pause = self.collections, self.pause_seconds
        self.collections, self.pause_seconds = [0, 0, 0], 0.0
        self.taken_times, self.times = self.times, []
        return collections, pause


class StepReporter:
    """Batches ``step`` events: at most one per STEP_INTERVAL_SECONDS, plus the last of each epoch."""

    def __init__(self, events: EventWriter, interval_seconds: float = STEP_INTERVAL_SECONDS) -> None:
        self.events = events
        self.interval_seconds = interval_seconds
        self._last_emit = float("-inf")  # the first step is always reported
        self._pending: tuple[int, int, int] | None = None

    def step(self, epoch: int, step: int, images: int) -> None:
        now = time.monotonic()
        self._pending = (epoch, step, images)
        if now - self._last_emit >= self.interval_seconds:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        epoch, step, images = self._pending
        self.events.emit("step", epoch=epoch, step=step, images=images)
        self._last_emit = time.monotonic()
        self._pending = None


class EpochTracker:
    """Emits epoch_start / step / epoch_end / gc / gpu_memory for both drivers."""

    def __init__(self, events: EventWriter, tf: Any, probe: Any = None) -> None:
        self.events = events
        self.tf = tf
        self.gc = GcStats()
        self.steps = StepReporter(events)
        self.probe = probe  # diagnostics.probe.Probe or None (probe off)
        self.epoch: int | None = None
        self._start = 0.0

    def epoch_start(self, epoch: int) -> None:
        self.epoch = epoch
        self.gc.take()  # what happened before this epoch (pipeline or model building) is not its own
        self.events.emit("epoch_start", epoch=epoch)
        self._start = time.perf_counter()

    def epoch_end(self, epoch: int, images: int, **metrics: float | None) -> None:
        seconds = time.perf_counter() - self._start
        self.steps.flush()
        fields: dict[str, Any] = {
            "epoch": epoch,
            "images": int(images),
            "seconds": seconds,
            "rss_bytes": rss_bytes(),
        }
        fields.update({k: float(v) for k, v in metrics.items() if v is not None})
        gpu = gpu_memory(self.tf)
        if gpu is not None:
            fields["gpu_current_bytes"] = gpu["current_bytes"]
            fields["gpu_peak_bytes"] = gpu["peak_bytes"]
        self.events.emit("epoch_end", **fields)
        if self.probe is not None:
            # While the epoch's iterator is still alive in iterate mode (the loop has just ended).
            self.probe.snapshot("epoch_end", epoch)
        collections, pause_seconds = self.gc.take()
        self.events.emit(
            "gc", epoch=epoch, collections=collections, pause_seconds=pause_seconds, times=self.gc.taken_times
        )
        if gpu is not None:
            self.events.emit("gpu_memory", epoch=epoch, **gpu)


def _batch_length(images: Any) -> int:
    shape = getattr(images, "shape", None)
    if shape is not None and len(shape) and shape[0] is not None:
        return int(shape[0])
    return len(images)


def drive_iterate(namespace: dict[str, Any], tracker: EpochTracker, epochs: int) -> None:
    """The snippet's iterate driver, instrumented: every batch of every epoch, counted by shape."""
    for epoch in range(epochs):
        tracker.epoch_start(epoch)
        delivered = 0
        for step, (images, _labels) in enumerate(namespace["epoch_batches"]()):
            delivered += _batch_length(images)
            tracker.steps.step(epoch, step, delivered)
        tracker.epoch_end(epoch, delivered)


def drive_fit(
    namespace: dict[str, Any], tracker: EpochTracker, keras: Any, epochs: int, batch_size: int
) -> None:
    """The snippet's fit driver plus one callback; images = steps x batch, capped by the epoch."""
    per_epoch = int(namespace["num_images"])

    class Instrument(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.images = epoch, 0
            tracker.epoch_start(epoch)

        def on_train_batch_end(self, batch, logs=None):
            self.images = min((batch + 1) * batch_size, per_epoch)
            tracker.steps.step(self.epoch, batch, self.images)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            tracker.epoch_end(epoch, self.images, loss=logs.get("loss"), accuracy=logs.get("accuracy"))

    instrument = Instrument()
    model = namespace["build_model"]()
    if tracker.probe is not None:
        tracker.probe.model = model
    model.fit(
        namespace["dataset"],
        epochs=epochs,
        steps_per_epoch=namespace["steps_per_epoch"],
        callbacks=[*namespace.get("callbacks", []), instrument],
        verbose=2,
    )


# -- process plumbing -----------------------------------------------------------------------------


def _watch_parent() -> None:
    """Exit at once when the parent goes away (belt and braces with the runner's PDEATHSIG)."""
    parent = os.getppid()

    def poll() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


def _inject_fault(fault: str | None) -> None:
    if not fault:
        return
    if fault == "alloc":
        hoard = []
        while True:
            hoard.append(b"\x01" * (50 * 2**20))  # filled, so every page is resident
            time.sleep(0.1)
    if fault == "crash":
        raise RuntimeError("injected crash (DIAG_TEST_FAULT=crash)")
    if fault == "exit":
        os._exit(7)
    if fault == "segfault":
        import ctypes

        ctypes.string_at(0)
    if fault == "hang":
        while True:
            time.sleep(1)
    raise ValueError(f"unknown {FAULT_ENV} {fault!r}")


def run(
    payload: dict[str, Any], events: EventWriter, imported_t: float | None = None
) -> dict[str, Any] | None:
    """Execute the trial; returns the probe's stats (None when the probe is off).

    ``imported_t``: when TensorFlow's import ended, if it was imported before the config arrived
    (``--wait-for-go``); ``ready`` reports it so the import can be told from the wait.
    """
    import keras
    import tensorflow as tf

    if imported_t is None:
        imported_t = time.monotonic()

    from diagnostics import probe as probe_lib
    from diagnostics.config import TrialConfig
    from diagnostics.snippet import render_parts

    config = TrialConfig.from_dict(payload["config"])
    scan = payload["scan"]
    setup_code, _driver = render_parts(config, scan)
    try:
        gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    except RuntimeError:
        gpus = []
    hz = probe_lib.probe_hz()
    probe = probe_lib.Probe(events, tf, hz) if hz > 0 else None
    baseline: dict[str, Any] = {}
    if probe is not None:
        probe.install()
        try:
            baseline["composition"] = probe_lib.composition(tf=tf)
        except Exception:  # as in every probe reading: never break the trial
            probe.errors += 1
    events.emit(
        "ready",
        **baseline,
        pid=os.getpid(),
        rss_bytes=rss_bytes(),
        python=sys.version.split()[0],
        tensorflow=tf.__version__,
        keras=keras.__version__,
        gpus=gpus,
        num_images=int(scan.get("num_images") or 0),
        imported_t=imported_t,
    )
    _inject_fault(os.environ.get(FAULT_ENV))

    # Registered so tracebacks from the snippet show its lines, as if it were a file.
    linecache.cache[SNIPPET_FILENAME] = (len(setup_code), None, setup_code.splitlines(True), SNIPPET_FILENAME)
    namespace: dict[str, Any] = {"__name__": "diagnostics_snippet"}  # not __main__: no snippet driver
    exec(compile(setup_code, SNIPPET_FILENAME, "exec"), namespace)  # noqa: S102 - our own rendered code

    tracker = EpochTracker(events, tf, probe)
    if probe is not None:
        probe.epoch = lambda: tracker.epoch
        probe.start()
    try:
        if config.mode == "fit":
            drive_fit(namespace, tracker, keras, config.epochs, config.batch_size)
        else:
            drive_iterate(namespace, tracker, config.epochs)
    finally:
        if probe is not None:
            probe.stop()
    return probe.stats() if probe is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diagnostics.worker")
    parser.add_argument("--config", required=True, help="JSON file with the trial config and scan")
    parser.add_argument(
        "--wait-for-go",
        action="store_true",
        help='import TensorFlow first, then wait for a "go" line on stdin before reading --config',
    )
    args = parser.parse_args(argv)
    _watch_parent()
    events = EventWriter.from_env()
    root = None
    try:
        imported_t = None
        if args.wait_for_go:
            # Spawned at Run: the runner prepares the trial (and writes --config) meanwhile.
            import keras  # noqa: F401
            import tensorflow  # noqa: F401

            imported_t = time.monotonic()
            if sys.stdin.readline().strip() != "go":
                return 0  # the runner let this worker go before its trial was prepared
        with open(args.config, encoding="utf-8") as f:
            payload = json.load(f)
        root = (payload.get("scan") or {}).get("root")
        probe_stats = run(payload, events, imported_t)
    except Exception as exc:
        traceback.print_exc()  # stderr too, so the log view has it beside TF's own lines
        events.emit(
            "error",
            type=type(exc).__name__,
            message=str(exc).strip() or type(exc).__name__,
            file=offending_file(exc, root),
            traceback=traceback.format_exc(),
        )
        return 1
    extra = {"probe": probe_stats} if probe_stats is not None else {}
    events.emit("done", rss_bytes=rss_bytes(), vmhwm_bytes=vmhwm_bytes(), **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
