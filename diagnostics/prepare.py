"""Preparation of a trial: validate the config, check the verified scan, create the queued run.

``prepare_trial`` does it all before anything runs (bad input, ``ConfigError`` or
``DatasetError``, is raised before anything is stored). When the folder's verification is still
running, ``runner.start_trial_in_background`` creates the run from the listing and its thread
finishes the preparation with ``after_verification``. A run without ``steps`` gets
``default_steps``: trials sized for about a minute.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError, DatasetError
from diagnostics.loaders import get_loader, validate
from diagnostics.store import Store

__all__ = [
    "CONSERVATIVE_RATE",
    "EARLY_WAIT_SECONDS",
    "MIN_DEFAULT_STEPS",
    "SCAN_PROGRESS_SECONDS",
    "TRIAL_EPOCH_SECONDS",
    "after_verification",
    "create_checked",
    "default_steps",
    "prepare_trial",
    "progress_record",
]


def prepare_trial(
    config: TrialConfig,
    store: Store,
    *,
    allowed_roots: list[Path] | None = None,
    sweep_id: int | None = None,
) -> tuple[int, TrialConfig, Any]:
    """Validate and scan, then create the queued run. Returns (run_id, config, scan).

    The stored config names the dataset by its resolved path, so the worker and later readers do
    not depend on the current directory. The scan is the shared verification job's (cached).
    """
    from diagnostics import dataset

    validate(config)
    root = dataset.resolve_dataset(config.dataset, allowed_roots)
    scan = dataset.start_verification(root, home=store.home).result()
    return create_checked(config, root, scan, store, sweep_id)


def create_checked(
    config: TrialConfig, root: Path, scan: Any, store: Store, sweep_id: int | None
) -> tuple[int, TrialConfig, Any]:
    """Check the verified scan (``_checked``) and create the queued run: (run_id, config, scan)."""
    config, scan, code, summary = _checked(config, root, scan, store)
    run_id = store.create_run(config, summary, sweep_id=sweep_id)
    if code is not None:
        store.update_run(run_id, snippet=code)
    return run_id, config, scan


def _checked(
    config: TrialConfig, root: Path, scan: Any, store: Store
) -> tuple[TrialConfig, Any, str | None, dict]:
    """The verified scan's checks: (config with dataset path and default steps, the scan at the
    config's decoding, snippet, summary).

    Raises DatasetError for a folder the loader cannot read, ConfigError for a config the loader
    cannot express.
    """
    from diagnostics import dataset
    from diagnostics.loaders import LOADER_NAMES
    from diagnostics.loaders._common import indexed_bad_files

    scan = scan.with_decoding(config.image_size, config.color_mode, config.dtype)
    if not scan.num_images:
        raise DatasetError(f"no readable image in {root}")
    loader = get_loader(config.loader)
    blocking = [] if getattr(loader, "skips_bad_files", True) else indexed_bad_files(scan.to_dict())
    if blocking:
        shown = ", ".join(b["path"] for b in blocking[:5])
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        # Every loader that lists the files itself filters them through the scan's SKIP set.
        skipping = [n for n in LOADER_NAMES if getattr(get_loader(n), "skips_bad_files", True)]
        raise DatasetError(
            f"loader {loader.name} reads every image file in {root} and cannot skip the unreadable "
            f"ones: {shown}{more}. Move them out of the folder, or use a loader that skips them: "
            f"{', '.join(skipping)}"
        )
    summary = dataset.scan_summary(scan, skipped=dataset.loader_skips(scan, loader))
    config = config.replace(dataset=str(root))
    if config.steps is None:
        steps, reason = default_steps(summary["loader_images"], config, store)
        config = config.replace(steps=steps, extra={**config.extra, "steps_default": reason})
    # Rendered before the run is stored: the worker executes this same code, so a config the
    # loader cannot express is bad input, refused here like any other.
    return config, scan, _render_snippet(config, scan), summary


# -- trials sized for a minute ------------------------------------------------------------------

TRIAL_EPOCH_SECONDS = 20.0  # a 3-epoch trial of about a minute
MIN_DEFAULT_STEPS = 10
# Images per second assumed without a past run of this loader on this folder: below what every
# loader reaches on 2 cores at 128x128 (tf.data ~400/s, Python generators ~150/s, fit ~100/s),
# so the first trial errs short.
CONSERVATIVE_RATE = {"iterate": 100.0, "fit": 50.0}


def _past_rate(store: Store, config: TrialConfig) -> float | None:
    """Median images/s of the last completed runs of this loader and mode on this folder."""
    rates = []
    for run in reversed(store.runs(["completed"])):
        cfg = run.get("config") or {}
        if run.get("dataset_path") != config.dataset or cfg.get("loader") != config.loader:
            continue
        if cfg.get("mode") != config.mode:
            continue
        summary = run.get("summary") or {}
        rate = summary.get("steady_images_per_second") or summary.get("images_per_second")
        if rate:
            rates.append(float(rate))
        if len(rates) == 5:
            break
    return sorted(rates)[len(rates) // 2] if rates else None


def default_steps(
    num_images: int, config: TrialConfig, store: Store | None = None
) -> tuple[int | None, dict]:
    """Steps per epoch when the user set none: the whole folder if an epoch fits in
    TRIAL_EPOCH_SECONDS at the expected rate, else as many batches as do.

    Returns (steps or None for whole epochs, reason dict: text, rate_images_per_second,
    rate_source, full_epoch_seconds, num_images, steps).
    """
    past = _past_rate(store, config) if store is not None else None
    rate = past or CONSERVATIVE_RATE.get(config.mode, 50.0)
    source = (
        f"{rate:,.0f} images/s, the median of past completed {config.loader} runs on this folder"
        if past
        else f"{rate:,.0f} images/s, a conservative guess (no completed {config.loader} run on this folder yet)"
    )
    full_epoch = num_images / rate
    batch = int(config.batch_size)
    budget_images = rate * TRIAL_EPOCH_SECONDS
    steps = None
    if num_images > budget_images and num_images > MIN_DEFAULT_STEPS * batch:
        steps = max(MIN_DEFAULT_STEPS, int(budget_images // batch))
        text = (
            f"--steps {steps} (default): {num_images:,} images would take about {full_epoch:,.0f} s per "
            f"epoch at {source}; {steps} steps x {batch} = {steps * batch:,} images per epoch keep "
            f"{config.epochs} epochs near {config.epochs * TRIAL_EPOCH_SECONDS:.0f} s. The summary's "
            "projection scales cache and growth to the whole folder; set --steps to read more."
        )
    else:
        text = f"whole epochs (default): {num_images:,} images take about {full_epoch:,.0f} s per epoch at {source}"
    reason = {
        "text": text,
        "steps": steps,
        "num_images": num_images,
        "rate_images_per_second": rate,
        "rate_source": "past runs" if past else "conservative default",
        "full_epoch_seconds": full_epoch,
    }
    return steps, reason


def _render_snippet(config: TrialConfig, scan: Any) -> str | None:
    import importlib

    try:
        snippet = importlib.import_module("diagnostics.snippet")
    except ModuleNotFoundError as exc:
        if exc.name != "diagnostics.snippet":
            raise
        return None  # a checkout without the snippet module still measures; the run just has no code
    return snippet.render(config, scan)


# -- a folder still being verified --------------------------------------------------------------

SCAN_PROGRESS_SECONDS = 0.5
# How long a worker spawned at Run waits, idle, for its folder's verification before it is let go
# (and the queue freed): about an import's length, so a folder that changed a little keeps it.
EARLY_WAIT_SECONDS = 3.0


def progress_record(job: Any) -> dict[str, Any]:
    done, total = job.progress()
    return {"done": done, "total": total, "bad": job.bad_count(), "finished": job.finished}


def after_verification(
    store: Store, run_id: int, config: TrialConfig, root: Path, job: Any
) -> tuple[TrialConfig, Any] | None:
    """Wait for the folder's verification (progress on the run), then finish preparing the run:
    (config, scan), or None when it ended here (cancelled, or a folder the loader cannot use)."""
    try:
        while not job.wait(SCAN_PROGRESS_SECONDS):
            if store.cancel_requested(run_id):
                _end_early(store, run_id, "cancelled", "cancelled while the folder was being verified")
                return None
            store.update_run(run_id, scan_progress=progress_record(job))
        store.update_run(run_id, scan_progress=progress_record(job))
        config, scan, code, summary = _checked(config, root, job.result(), store)
    except (DatasetError, ConfigError) as exc:
        _end_early(store, run_id, "failed", str(exc))
        return None
    store.update_run(
        run_id, scan=summary, config=config, snippet=code, dataset_fingerprint=summary["fingerprint"]
    )
    return config, scan


def _end_early(store: Store, run_id: int, status: str, message: str) -> None:
    store.update_run(run_id, status=status, error=message, finished=time.time())
