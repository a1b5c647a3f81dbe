"""Worker instrumentation without TensorFlow: GPU memory on a fake tf, epoch events, steps, GC."""

from __future__ import annotations

import gc
import io
from types import SimpleNamespace

import pytest

from diagnostics import worker
from diagnostics.protocol import EventWriter, parse_event


class FakeExperimental:
    def __init__(self, current: int, peak: int, error: Exception | None = None) -> None:
        self.current, self.peak, self.error = current, peak, error
        self.asked: list[str] = []

    def get_memory_info(self, device: str) -> dict[str, int]:
        self.asked.append(device)
        if self.error:
            raise self.error
        return {"current": self.current, "peak": self.peak}


def fake_tf(gpus: list[str], current: int = 0, peak: int = 0, error: Exception | None = None):
    experimental = FakeExperimental(current, peak, error)
    config = SimpleNamespace(
        list_physical_devices=lambda kind: [SimpleNamespace(name=n) for n in gpus] if kind == "GPU" else [],
        experimental=experimental,
    )
    return SimpleNamespace(config=config)


def events_of(stream: io.StringIO) -> list[dict]:
    return [parse_event(line) for line in stream.getvalue().splitlines()]


def test_worker_module_does_not_import_tensorflow():
    import importlib.util

    source = importlib.util.find_spec("diagnostics.worker").origin
    with open(source) as f:
        top_level = [line for line in f if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "tensorflow" in line or "keras" in line]


def test_gpu_memory_reads_gpu0_from_tf():
    tf = fake_tf(["/physical_device:GPU:0"], current=123, peak=456)
    assert worker.gpu_memory(tf) == {"device": "GPU:0", "current_bytes": 123, "peak_bytes": 456}
    assert tf.config.experimental.asked == ["GPU:0"]


def test_gpu_memory_none_without_gpu_or_when_unsupported():
    no_gpu = fake_tf([])
    assert worker.gpu_memory(no_gpu) is None
    assert no_gpu.config.experimental.asked == []  # never asks for memory info of a missing device
    assert worker.gpu_memory(fake_tf(["GPU:0"], error=ValueError("no memory info"))) is None


def test_epoch_end_carries_gpu_memory_and_a_gpu_event():
    stream = io.StringIO()
    tracker = worker.EpochTracker(EventWriter(stream), fake_tf(["GPU:0"], current=2**20, peak=3 * 2**20))
    tracker.epoch_start(0)
    tracker.epoch_end(0, 64, loss=1.5, accuracy=0.25)
    kinds = [e["kind"] for e in events_of(stream)]
    assert kinds == ["epoch_start", "epoch_end", "gc", "gpu_memory"]
    end = events_of(stream)[1]
    assert end["images"] == 64 and end["loss"] == 1.5 and end["accuracy"] == 0.25
    assert end["gpu_current_bytes"] == 2**20 and end["gpu_peak_bytes"] == 3 * 2**20
    assert end["rss_bytes"] > 0 and end["seconds"] >= 0
    gpu = events_of(stream)[3]
    assert gpu == {**gpu, "epoch": 0, "device": "GPU:0", "current_bytes": 2**20, "peak_bytes": 3 * 2**20}


def test_epoch_end_without_gpu_has_no_gpu_fields():
    stream = io.StringIO()
    tracker = worker.EpochTracker(EventWriter(stream), fake_tf([]))
    tracker.epoch_start(0)
    tracker.epoch_end(0, 10)
    events = events_of(stream)
    assert [e["kind"] for e in events] == ["epoch_start", "epoch_end", "gc"]
    assert "gpu_peak_bytes" not in events[1] and "loss" not in events[1]


def test_steps_are_batched_with_the_last_one_flushed():
    stream = io.StringIO()
    steps = worker.StepReporter(EventWriter(stream), interval_seconds=3600)
    for step in range(100):
        steps.step(0, step, (step + 1) * 8)
    steps.flush()
    events = events_of(stream)
    assert [(e["step"], e["images"]) for e in events] == [(0, 8), (99, 800)]
    steps.flush()  # nothing pending: no duplicate
    assert len(events_of(stream)) == 2


def test_gc_stats_count_collections_and_pause():
    stats = worker.GcStats()
    try:
        stats.take()
        gc.collect()
        gc.collect(0)
        collections, pause_seconds = stats.take()
        assert collections[2] >= 1 and collections[0] >= 1
        assert pause_seconds > 0
        assert stats.take() == ([0, 0, 0], 0.0)
    finally:
        gc.callbacks.remove(stats._on_gc)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotFoundError(2, "No such file", "/d/cats/a.jpg"), "/d/cats/a.jpg"),
        (OSError("cannot identify image file '/d/cats/b c.png'"), "/d/cats/b c.png"),
        (ValueError("Input is empty. [[{{node DecodeImage}}]] /other/x.JPG; bad"), "/other/x.JPG"),
        (RuntimeError("no path here"), None),
    ],
)
def test_offending_file(exc, expected):
    assert worker.offending_file(exc, root="/d") == expected


def test_rss_and_vmhwm_are_read():
    import psutil

    rss = worker.rss_bytes()
    assert abs(rss - psutil.Process().memory_info().rss) < 0.05 * rss
    assert worker.vmhwm_bytes() > 0.5 * rss
