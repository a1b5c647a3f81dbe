"""Tier 2 of a scan: open every candidate not already verified, on all cores, with the verdicts
cached on disk (``diagnostics.dataset.cache``) so an unchanged folder is never re-read; and the
background job sessions share.

``verify`` reads the files whose (relpath, size, mtime_ns, ctime_ns) verdict is not in the cache in a
process pool (``_verify_chunk`` of ``diagnostics.dataset.inspect`` per chunk).
``start_verification`` runs it in a background thread shared by everyone asking for the same
folder state; ``scan`` is list + verify in one call. A run stores ``scan_summary`` (bounded size),
never the file list.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from diagnostics.dataset.cache import ScanCache
from diagnostics.dataset.inspect import _verify_chunk
from diagnostics.dataset.listing import Listing, list_folder
from diagnostics.dataset.result import ScanResult, decoded_bytes
from diagnostics.errors import DatasetError

__all__ = [
    "CACHE_WRITE_EVERY",
    "PARALLEL_MIN_FILES",
    "VerificationJob",
    "scan",
    "start_verification",
    "verify",
]

# Below this many files to read, the pool costs more than it saves: verifying a 300-500 px JPEG
# takes ~0.7 ms, starting the forkserver pool ~0.5-1 s on 2 cores (bench: 1k files 0.77 s on one
# core, 1.4 s in the pool). Tests can also patch this process's builtins below it.
PARALLEL_MIN_FILES = 2000
CACHE_WRITE_EVERY = 2000  # verdicts written to the cache at a time while verifying


def _pool_context():
    import multiprocessing
    import sys

    # forkserver: the dashboard and runner have threads, and forking a threaded process can copy
    # a held lock into the child. The server starts once per process with the dataset package preloaded.
    # Its children re-import __main__ from its file; an interpreter fed on stdin has none, so
    # there (and only there) the pool forks.
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is None and not (main_file and os.path.exists(main_file)):
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["diagnostics.dataset"])
    return context


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def verify(
    listing: Listing,
    *,
    workers: int | None = None,
    home: str | os.PathLike | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanResult:
    """Tier 2: open, verify and load every candidate not already verified in the cache.

    Files whose (relpath, size, mtime_ns, ctime_ns) match the cache under
    ``$DIAG_HOME/scan_cache/`` are not opened (a chmod moves the ctime: verified again); the rest are read in a process pool of ``workers`` (default: all cores) in
    chunks. ``on_progress(done, total, bad_so_far)`` is called as chunks finish;
    ``should_stop()`` returning True stops with a DatasetError (verdicts so far stay cached).
    """
    cache = ScanCache(home, listing.root)
    try:
        snapshot = cache.load_snapshot(listing.state)
        if snapshot is not None and len(snapshot) == listing.num_files:
            if on_progress is not None:
                bad = len(listing.bad_files) + sum(isinstance(v, str) for v in snapshot)
                on_progress(listing.num_files, listing.num_files, bad)
            return _assemble(listing, snapshot)
        known = cache.load()
        verdicts: dict[str, Any] = {}
        todo: list[tuple[str, int, int, int]] = []
        for rel, _, size, mtime_ns, ctime_ns in listing.files:
            hit = known.pop(rel, None)
            if hit is not None and hit[:3] == (size, mtime_ns, ctime_ns):
                verdicts[rel] = hit[3]
            else:
                todo.append((rel, size, mtime_ns, ctime_ns))
        cache.forget(list(known))  # files gone from the folder
        total = listing.num_files
        bad_so_far = len(listing.bad_files) + sum(isinstance(v, str) for v in verdicts.values())
        if on_progress is not None:
            on_progress(len(verdicts), total, bad_so_far)
        pending: list[tuple[str, int, int, int, Any]] = []

        def record(batch: list[tuple[str, int, int, int]], results: list[Any]) -> None:
            nonlocal bad_so_far
            for key, verdict in zip(batch, results, strict=True):
                verdicts[key[0]] = verdict
                bad_so_far += isinstance(verdict, str)
                pending.append((*key, verdict))
            if len(pending) >= CACHE_WRITE_EVERY:
                cache.store(pending)
                pending.clear()
            if on_progress is not None:
                on_progress(len(verdicts), total, bad_so_far)

        def stop_now() -> None:
            cache.store(pending)
            pending.clear()
            raise DatasetError(f"verification of {listing.root} stopped before it finished")

        workers = max(1, workers or os.cpu_count() or 1)
        if todo and (workers == 1 or len(todo) < PARALLEL_MIN_FILES):
            for batch in _chunks(todo, 64):
                if should_stop is not None and should_stop():
                    stop_now()
                record(batch, _verify_chunk(listing.root, [key[0] for key in batch]))
        elif todo:
            _verify_in_pool(listing.root, todo, workers, record, should_stop, stop_now)
        cache.store(pending)
        ordered = [verdicts[f[0]] for f in listing.files]
        cache.save_snapshot(listing.state, ordered)
    finally:
        cache.close()
    return _assemble(listing, ordered)


def _verify_in_pool(root, todo, workers, record, should_stop, stop_now) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # Small chunks early give progress soon; ~16 chunks per worker keep both cores busy to the end.
    size = max(8, min(256, len(todo) // (workers * 16) or 8))
    batches = _chunks(todo, size)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(_verify_chunk, root, [key[0] for key in b]): b for b in batches}
        remaining = set(futures)
        try:
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    record(futures[future], future.result())
                if should_stop is not None and should_stop():
                    stop_now()
        except BaseException:
            for future in remaining:
                future.cancel()
            raise


def _assemble(listing: Listing, verdicts: list[Any]) -> ScanResult:
    """The ScanResult from the listing and its verdicts (in ``listing.files`` order)."""
    bad = list(listing.bad_files)
    notes = list(listing.notes)
    if str not in set(map(type, verdicts)) and not any(map(itemgetter(4), verdicts)):
        # Every file readable and without a caveat (the usual folder): C-level passes only.
        files: list[tuple[str, int]] = list(map(itemgetter(0, 1), listing.files))
        sizes: list[tuple[int, int]] = list(map(itemgetter(2, 3), verdicts))
        good: list[tuple] = verdicts
    else:
        files, sizes, good = [], [], []
        for (rel, class_index, *_), verdict in zip(listing.files, verdicts, strict=True):
            if verdict.__class__ is str:
                bad.append({"path": rel, "reason": verdict})
                continue
            if verdict[4]:
                notes.append({"path": rel, "note": verdict[4]})
            files.append((rel, class_index))
            sizes.append((verdict[2], verdict[3]))
            good.append(verdict)
    formats = Counter(map(itemgetter(0), good))
    modes = Counter(map(itemgetter(1), good))
    per_class = Counter(map(itemgetter(1), files))
    counts = {cls: per_class.get(i, 0) for i, cls in enumerate(listing.classes)}
    for cls, n in counts.items():
        if n == 0:
            notes.append({"path": cls + "/", "note": "class folder has no readable image"})
    bad.sort(key=lambda b: b["path"])
    if not files:
        first = f" (first: {bad[0]['path']}: {bad[0]['reason']})" if bad else ""
        raise DatasetError(
            f"No readable image in dataset folder {listing.root}: {len(bad)} bad file(s){first}"
        )
    return ScanResult(
        root=listing.root,
        classes=listing.classes,
        counts=counts,
        files=files,
        bad_files=bad,
        formats=dict(sorted(formats.items())),
        channel_modes=dict(sorted(modes.items())),
        sizes=sizes,
        num_images=len(files),
        fingerprint=listing.fingerprint,
        decoded_bytes_per_image=decoded_bytes((128, 128)),
        notes=notes,
        extensions=listing.extensions,
        total_bytes=listing.total_bytes,
    )


def scan(
    folder: str | os.PathLike[str],
    image_size: tuple[int, int] = (128, 128),
    color_mode: str = "rgb",
    dtype: str = "float32",
    *,
    home: str | os.PathLike | None = None,
    workers: int | None = None,
) -> ScanResult:
    """List and verify a class-per-folder dataset (cached); DatasetError if it cannot be used.

    Example:
        >>> result = scan("sample_data")
        >>> result.classes, result.num_images, result.bad_files
    """
    decoded_bytes(image_size, color_mode, dtype)  # a bad option is refused before any reading
    result = verify(list_folder(folder), home=home, workers=workers)
    return result.with_decoding(image_size, color_mode, dtype)


# -- background verification shared by sessions ---------------------------------------------------


class VerificationJob:
    """``verify`` in a background thread, shared by every caller asking for the same folder state."""

    def __init__(self, listing: Listing, home: str | os.PathLike | None = None) -> None:
        self.listing = listing
        self.home = home
        self.error: DatasetError | None = None
        self._done = 0
        self._bad_count = len(listing.bad_files)
        self._result: ScanResult | None = None
        self._finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"verify-{listing.root}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = verify(
                self.listing, home=self.home, on_progress=self._progress, should_stop=self._stop.is_set
            )
        except DatasetError as exc:
            self.error = exc
        except Exception as exc:  # a verification bug must surface on the page, not kill a thread
            self.error = DatasetError(
                f"verification of {self.listing.root} failed: {type(exc).__name__}: {exc}"
            )
        finally:
            self._finished.set()

    def _progress(self, done: int, total: int, bad: int) -> None:
        self._done, self._bad_count = done, bad

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until verification ends (or ``timeout`` seconds); True when it has."""
        return self._finished.wait(timeout)

    def progress(self) -> tuple[int, int]:
        """(files decided, files in the class folders): those refused by name count as decided, so
        the total is the folder's one file count (``folder_counts``)."""
        by_name = len(self.listing.bad_files)
        total = self.listing.num_files + by_name
        return (total if self.finished else self._done + by_name), total

    def bad_count(self) -> int:
        return len(self._result.bad_files) if self._result is not None else self._bad_count

    def bad_files(self) -> list[dict[str, str]]:
        """Bad files known so far: those ruled out by name until verification has finished."""
        return list(self._result.bad_files) if self._result is not None else list(self.listing.bad_files)

    def stop(self) -> None:
        self._stop.set()

    def result(self, timeout: float | None = None) -> ScanResult:
        """The ScanResult; DatasetError if verification failed, TimeoutError if still running."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"verification of {self.listing.root} still running")
        if self.error is not None:
            raise self.error
        assert self._result is not None
        return self._result


_JOBS: dict[tuple[str, str, str], VerificationJob] = {}
_JOBS_LOCK = threading.Lock()
_JOBS_KEPT = 16


def start_verification(
    folder: str | os.PathLike[str], home: str | os.PathLike | None = None
) -> VerificationJob:
    """List now (DatasetError at once for an unusable folder), verify in the background.

    One job per (root, state, home) in this process: sessions and the runner that ask for
    the same folder state share it; a changed folder (a chmod too) gets a new job (which re-reads only what
    changed, thanks to the cache).
    """
    listing = list_folder(folder)
    from diagnostics.home import diag_home

    key = (listing.root, listing.state, str(diag_home(home).resolve()))
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None and not (job.finished and job.error is not None):
            return job
        job = _JOBS[key] = VerificationJob(listing, home)
        finished = [k for k, j in _JOBS.items() if j.finished]
        for old in finished[: max(0, len(_JOBS) - _JOBS_KEPT)]:
            _JOBS.pop(old, None)
    return job
