"""FakeWorker: a real process that speaks the worker protocol with a scripted stream, without TF.

The runner runs it instead of ``-m diagnostics.worker`` when ``DIAG_TEST_WORKER`` names this file.
It reads the same ``--config FILE`` and writes events on the fd named by ``DIAG_EVENT_FD``.

Environment (test-only):
    FAKE_MODE          normal (default) | grow (allocate 20 MiB per 0.05 s until killed) |
                       crash (error event + traceback on stderr, exit 1) | exit (``os._exit(7)``) |
                       segfault (real null read) | hang (sleep forever after ready) |
                       children (two child processes holding 30 MiB each during the epochs) |
                       silent_exit (exit 0 without done) |
                       import_exit (dies with an ImportError traceback before ``ready``)
    FAKE_EPOCH_SECONDS seconds per epoch (default 0.3)
    FAKE_PID_FILE      when set, the worker writes its pid there (orphan tests)

Like the real probe it sends ``pipeline`` and ``composition`` events (a scripted tf.data chain:
Prefetch <- BatchV2 <- Shuffle <- MemoryCacheImpl <- ParallelMapV2 <- TensorSlice, the cache filling
during epoch 0) after each step and at each epoch end, so views have X-ray data without TF.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


IMAGE_BYTES = 196612  # one 128x128x3 float32 image + its int32 label, as tf.data counts it


def _pipeline_body(cached: int, shuffled: int, parallelism: int, images: int) -> dict:
    def node(id_, name, inputs, elements=0, parameters=None, tunable=(), time_ns=0):
        return {
            "id": id_,
            "name": name,
            "inputs": inputs,
            "buffered_bytes": elements * IMAGE_BYTES,
            "buffered_elements": elements,
            "processing_time_ns": time_ns,
            "num_elements": images,
            "bytes_produced": images * IMAGE_BYTES,
            "bytes_consumed": images * IMAGE_BYTES,
            "autotune": True,
            "parameters": parameters or {},
            "tunable": list(tunable),
        }

    return {
        "ram_budget_bytes": 8 * 2**30,
        "cpu_budget": 2,
        "output": 1,
        "nodes": [
            node(1, "Root", [2]),
            node(2, "Prefetch", [3], 1, {"buffer_size": 2}, ["buffer_size"], 1_000_000),
            node(3, "BatchV2", [4], 0, {}, (), 5_000_000),
            node(4, "Shuffle", [5], shuffled, {}, (), 2_000_000),
            node(5, "MemoryCacheImpl", [6], cached, {}, (), 1_000_000),
            node(6, "ParallelMapV2", [7], 1, {"parallelism": parallelism}, ["parallelism"], 40_000_000),
            node(7, "TensorSlice", [], 0, {}, (), 100_000),
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--wait-for-go", action="store_true")
    args = parser.parse_args()
    if os.environ.get("FAKE_PID_FILE"):
        with open(os.environ["FAKE_PID_FILE"], "w") as f:
            f.write(str(os.getpid()))
    if args.wait_for_go:
        # Spawned at Run, like the real worker: its "import" (the sleep below in modes that
        # die importing) happens before the go; the config file is written when it arrives.
        if os.environ.get("FAKE_MODE") == "import_exit":
            time.sleep(0.3)
            print("Traceback (most recent call last):", file=sys.stderr)
            print("ImportError: scripted failure while importing tensorflow", file=sys.stderr, flush=True)
            return 1
        if sys.stdin.readline().strip() != "go":
            return 0
    with open(args.config) as f:
        payload = json.load(f)
    config, scan = payload["config"], payload["scan"]
    mode = os.environ.get("FAKE_MODE", "normal")
    epoch_seconds = float(os.environ.get("FAKE_EPOCH_SECONDS", "0.3"))
    events = os.fdopen(int(os.environ["DIAG_EVENT_FD"]), "w", buffering=1)

    def emit(kind: str, **fields) -> None:
        events.write(json.dumps({"kind": kind, "t": time.monotonic(), **fields}) + "\n")
        events.flush()

    def rss() -> int:
        return _status_kib("VmRSS") * 1024

    print("fake worker starting", flush=True)
    print("W0000 00:00:00.000000 1 fake_op.cc:1] a scripted warning", file=sys.stderr, flush=True)
    # A real worker prints its start-up lines seconds before epoch 1 (the TF import); without a gap
    # the runner's reader threads could stamp them after epoch_start and they would read as epoch
    # lines (the log_lines scenario test was flaky on this).
    time.sleep(0.1)
    num_images = int(scan.get("num_images") or 10)
    if mode == "import_exit":
        time.sleep(0.3)  # long enough to be sampled, as a real TensorFlow import is
        print("Traceback (most recent call last):", file=sys.stderr)
        print("ImportError: scripted failure while importing tensorflow", file=sys.stderr, flush=True)
        return 1

    def composition(buffered: int = 0) -> dict:
        # malloc's heap holds what the scripted stages buffer, as in a real worker
        status = {f: _status_kib(f) * 1024 for f in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
        return {
            "rss_bytes": status["VmRSS"],
            "anon_bytes": status["RssAnon"],
            "file_bytes": status["RssFile"],
            "shmem_bytes": status["RssShmem"],
            "malloc_in_use_bytes": 3 * 2**20 + buffered,
            "malloc_free_bytes": 2**20,
            "malloc_mmap_bytes": 0,
            "model_bytes": 95636 if config.get("mode") == "fit" else None,
            "optimizer_bytes": 191284 if config.get("mode") == "fit" else None,
        }

    def snapshot(reason: str, epoch: int, images: int) -> None:
        cached = num_images if epoch else images
        body = _pipeline_body(cached, min(images, 299), 1 + epoch % 2, images)
        emit("pipeline", reason=reason, epoch=epoch, iterator=epoch, **body)
        buffered = sum(n["buffered_bytes"] for n in body["nodes"])
        emit("composition", reason=reason, epoch=epoch, **composition(buffered))

    emit(
        "ready",
        pid=os.getpid(),
        rss_bytes=rss(),
        python=sys.version.split()[0],
        tensorflow="fake",
        keras="fake",
        gpus=[],
        num_images=num_images,
        composition=composition(),
    )

    if mode == "hang":
        while True:
            time.sleep(1)
    hoard: list[bytearray] = []
    children: list[subprocess.Popen] = []
    if mode == "children":
        code = "import time; b = bytearray(30 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(60)"
        children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]

    for epoch in range(int(config.get("epochs", 1))):
        emit("epoch_start", epoch=epoch)
        start = time.monotonic()
        steps = 5
        for step in range(steps):
            time.sleep(epoch_seconds / steps)
            if mode == "grow":
                block = bytearray(20 * 2**20)
                block[::4096] = b"x" * len(block[::4096])  # touch every page so RSS grows
                hoard.append(block)
            emit("step", epoch=epoch, step=step, images=num_images * (step + 1) // steps)
            snapshot("tick", epoch, num_images * (step + 1) // steps)
        if mode == "grow":
            while True:  # keep growing until the runner's budget kill
                block = bytearray(20 * 2**20)
                block[::4096] = b"x" * len(block[::4096])
                hoard.append(block)
                time.sleep(0.05)
        if mode == "crash" and epoch == 0:
            print("Traceback (most recent call last):", file=sys.stderr)
            print('  File "fake_worker.py", line 1, in <module>', file=sys.stderr)
            print("RuntimeError: scripted crash in epoch 0", file=sys.stderr, flush=True)
            emit(
                "error",
                type="RuntimeError",
                message="scripted crash in epoch 0",
                file="circles/bad.png",
                traceback="...",
            )
            return 1
        if mode == "exit":
            print("about to os._exit(7)", file=sys.stderr, flush=True)
            os._exit(7)
        if mode == "segfault":
            print("about to read a null pointer", file=sys.stderr, flush=True)
            import ctypes

            ctypes.string_at(0)
        emit("epoch_end", epoch=epoch, images=num_images, seconds=time.monotonic() - start, rss_bytes=rss())
        snapshot("epoch_end", epoch, num_images)
        emit("gc", epoch=epoch, collections=[3, 1, 0], pause_seconds=0.001)
        print(f"epoch {epoch} done", flush=True)

    for child in children:
        child.kill()
        child.wait()
    gc.collect()
    if mode == "silent_exit":
        return 0
    emit("done", vmhwm_bytes=_status_kib("VmHWM") * 1024, rss_bytes=rss())
    return 0


if __name__ == "__main__":
    sys.exit(main())
