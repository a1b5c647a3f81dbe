"""Issue 12's measurements on generated folders of 1k, 10k and 100k photo-like JPEGs.

    python -m bench.make_folder /tmp/bench_folders/jpeg_100000 --count 100000   # once, outside the repo
    python -m bench.scale warm /tmp/bench_folders/jpeg_100000 --home /tmp/bench_folders/home --seconds 200
    python -m bench.scale measure /tmp/bench_folders/jpeg_1000 /tmp/bench_folders/jpeg_10000 \\
        /tmp/bench_folders/jpeg_100000 --home /tmp/bench_folders/home --trial --json out.json
    python -m bench.scale trial /tmp/bench_folders/jpeg_100000 --home /tmp/bench_folders/home --repeat 3

Per folder: listing seconds (names, sizes, mtimes); cold verification seconds of the same files
with the process pool on all cores and with the old one-core path (``workers=1``, in-process),
side by side on fresh caches, as a ratio (on an evenly spaced sample of ``--cold-files`` files,
every file for smaller folders; the page cache is warmed first so both read from memory); warm
re-scan seconds (``dataset.scan`` with the verdict cache full: median of 3); bytes of a run's
stored row; and with ``--trial`` the seconds from ``start_trial_in_background`` to the worker's
first step event minus the worker's import time (spawn to the end of its TensorFlow import,
``ready.imported_t``: the worker is spawned at Run and imports while the runner prepares).

``warm`` fills the verdict cache in runs of at most ``--seconds`` (verification resumes from the
cache), so a 100k folder can be verified in several short runs under the shared heavy lock.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from diagnostics import dataset
from diagnostics.config import TrialConfig

__all__ = ["measure_folder", "run_to_first_step", "warm"]


def _timed(fn, *args, **kwargs) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def _sample(listing: dataset.Listing, count: int) -> dataset.Listing:
    if listing.num_files <= count:
        return listing
    step = listing.num_files / count
    files = [listing.files[int(i * step)] for i in range(count)]
    return dataclasses.replace(listing, files=files, num_files=len(files), bad_files=[])


def _read_all(listing: dataset.Listing) -> None:
    for rel, *_ in listing.files:
        with open(os.path.join(listing.root, rel), "rb") as f:
            while f.read(1 << 20):
                pass


def warm(folder: str, home: str, seconds: float) -> dict[str, Any]:
    """Verify into the cache for at most ``seconds``; returns progress."""
    listing = dataset.list_folder(folder)
    deadline = time.monotonic() + seconds
    last: list[int] = [0, listing.num_files]

    def progress(done: int, total: int, bad: int) -> None:
        last[:] = [done, total]

    try:
        dataset.verify(
            listing, home=home, on_progress=progress, should_stop=lambda: time.monotonic() > deadline
        )
        finished = True
    except dataset.DatasetError:
        finished = False
    return {"folder": folder, "done": last[0], "total": last[1], "finished": finished}


def _row_bytes(store_path: Path, run_id: int) -> int:
    conn = sqlite3.connect(store_path)
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    conn.close()
    return sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row if v is not None)


def measure_folder(folder: str, home: str, cold_files: int, workdir: Path, pairs: int = 1) -> dict[str, Any]:
    from diagnostics.store import Store

    listing_seconds, listing = _timed(dataset.list_folder, folder)
    sample = _sample(listing, cold_files)
    _read_all(sample)  # both paths then read from the page cache: the ratio compares CPU work
    # Pairs in alternating order, each on fresh caches: other processes on a shared 2-core box
    # take a core now and then, and a single pair says more about them than about the pool.
    ratios, parallel_s, one_core_s, homes = [], [], [], []
    for pair in range(pairs):
        order = (("parallel", os.cpu_count() or 1), ("one_core", 1))
        timed = {}
        for name, workers in order if pair % 2 == 0 else reversed(order):
            fresh = tempfile.mkdtemp(prefix="bench_cold_", dir=workdir)
            timed[name], _ = _timed(dataset.verify, sample, workers=workers, home=fresh)
            if name == "parallel":
                homes.append(fresh)
        parallel_s.append(timed["parallel"])
        one_core_s.append(timed["one_core"])
        ratios.append(timed["one_core"] / timed["parallel"])
    cold = {"parallel": statistics.median(parallel_s), "one_core": statistics.median(one_core_s)}
    homes = {"parallel": homes[-1]}
    if sample is listing:
        home = homes["parallel"]  # the parallel pass filled a cache of every file
        state = {"finished": True}
    else:
        state = warm(folder, home, seconds=float("inf"))  # the cache full for the warm re-scan
    warm_times = []
    for _ in range(3):
        seconds, result = _timed(dataset.scan, folder, home=home)
        warm_times.append(seconds)
    store = Store(workdir / f"store_{listing.num_files}")
    run_id = store.create_run(TrialConfig(dataset=result.root), result)
    return {
        "folder": folder,
        "files": listing.num_files,
        "total_bytes": listing.total_bytes,
        "listing_seconds": listing_seconds,
        "cold_files": sample.num_files,
        "cold_parallel_seconds": cold["parallel"],
        "cold_one_core_seconds": cold["one_core"],
        "cold_ratio": statistics.median(ratios),
        "cold_ratios": ratios,
        "load_average": os.getloadavg()[0],
        "cold_parallel_full_folder_seconds_estimate": cold["parallel"] * listing.num_files / sample.num_files,
        "workers": os.cpu_count(),
        "warm_rescan_seconds": statistics.median(warm_times),
        "warm_complete": state["finished"],
        "run_row_bytes": _row_bytes(store.path, run_id),
    }


def run_to_first_step(folder: str, home: str, loader: str = "keras_directory") -> dict[str, Any]:
    """Seconds from pressing Run (start_trial_in_background) to the first step event, minus import."""
    from diagnostics import runner
    from diagnostics.store import Store

    store = Store(home)
    config = TrialConfig(dataset=folder, loader=loader, epochs=1, steps=5, timeout_seconds=240)
    pressed = time.monotonic()
    run_id = runner.start_trial_in_background(config, store, allowed_roots=[Path("/")])
    runner.join_background(run_id, timeout=300)
    run = store.get_run(run_id)
    events = store.events(run_id)
    steps = events[events["kind"] == "step"]
    first_step = float(steps["t"].iloc[0]) if len(steps) else None
    ready = run.get("t_ready")
    spawned = run.get("t_started")
    ready_events = events[events["kind"] == "ready"]
    # The import ends at the worker's imported_t: with the worker spawned at Run, ``ready`` comes
    # later (after the runner's "go"), and that wait is not import time.
    imported = ready_events["data"].iloc[0].get("imported_t") if len(ready_events) else None
    imported = ready if imported is None else imported
    out = {"loader": loader, "status": run["status"], "error": run.get("error"), "run_id": run_id}
    if first_step is not None and ready is not None and spawned is not None:
        out.update(
            {
                "press_to_first_step_seconds": first_step - pressed,
                "import_seconds": imported - spawned,
                "press_to_spawn_seconds": spawned - pressed,
                "imported_to_ready_seconds": ready - imported,
                "ready_to_first_step_seconds": first_step - ready,
                "run_to_first_sample_minus_import_seconds": (first_step - pressed) - (imported - spawned),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("warm")
    w.add_argument("folder")
    w.add_argument("--home", required=True)
    w.add_argument("--seconds", type=float, default=200)
    m = sub.add_parser("measure")
    m.add_argument("folders", nargs="+")
    m.add_argument("--home", required=True)
    m.add_argument("--cold-files", type=int, default=2000)
    m.add_argument("--pairs", type=int, default=1, help="cold parallel/one-core pairs (median ratio)")
    m.add_argument("--trial", action="store_true", help="also time Run -> first sample on the last folder")
    m.add_argument("--loaders", nargs="+", default=["keras_directory", "tfdata_map_batch"])
    m.add_argument("--json", type=Path)
    t = sub.add_parser("trial", help="only Run -> first sample, repeated (loaders alternate)")
    t.add_argument("folder")
    t.add_argument("--home", required=True)
    t.add_argument("--repeat", type=int, default=3)
    t.add_argument("--loaders", nargs="+", default=["keras_directory", "tfdata_map_batch"])
    args = parser.parse_args(argv)
    if args.command == "warm":
        print(json.dumps(warm(args.folder, args.home, args.seconds)))
        return 0
    if args.command == "trial":
        key = "run_to_first_sample_minus_import_seconds"
        figures: dict[str, list[float]] = {loader: [] for loader in args.loaders}
        for _ in range(args.repeat):
            for loader in args.loaders:
                row = run_to_first_step(args.folder, args.home, loader)
                print(json.dumps(row), flush=True)
                if key in row:
                    figures[loader].append(row[key])
        medians = {loader: statistics.median(v) for loader, v in figures.items() if v}
        print(json.dumps({"median_" + key: medians, "all": figures}))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        rows = []
        for folder in args.folders:
            rows.append(measure_folder(folder, args.home, args.cold_files, workdir, args.pairs))
            print(json.dumps(rows[-1]), flush=True)
        trials = []
        if args.trial:
            for loader in args.loaders:
                trials.append(run_to_first_step(args.folders[-1], args.home, loader))
                print(json.dumps(trials[-1]), flush=True)
        result = {"folders": rows, "trials": trials}
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
