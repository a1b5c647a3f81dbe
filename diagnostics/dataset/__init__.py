"""Scan a class-per-folder image dataset with Pillow, and confine dataset paths to allowed roots.

A file counts as a readable image when every loader can read it (``inspect``): its extension is
one Keras' ``image_dataset_from_directory`` indexes, its content a format ``tf.io.decode_image``
decodes, and Pillow can open, verify and fully load it. Everything else is listed in ``bad_files``
with the reason, so a run can skip it or stop naming it.

Two tiers, so a big folder is usable at once: ``list_folder`` (``listing``) reads names, sizes and
mtimes only; ``verify`` (``verification``) opens the rest in a process pool on all cores, skipping
files whose (relpath, size, mtime_ns) verdict is cached under ``$DIAG_HOME/scan_cache/``
(``cache``). ``start_verification`` runs it in a background thread shared by everyone asking for
the same folder state; ``scan`` is list + verify in one call. ``result`` holds ``ScanResult``, ``folder_counts`` (the one
count of a folder's files) and ``scan_summary``, what a run stores (bounded size, never the file list); ``roots`` the allowed
roots. This package re-exports the public names of each.

Only Pillow is imported here: scanning must not pay TensorFlow's import.
"""

from __future__ import annotations

from diagnostics.config import IMAGE_EXTENSIONS
from diagnostics.dataset.inspect import MAX_IMAGE_PIXELS
from diagnostics.dataset.listing import Listing, list_folder
from diagnostics.dataset.result import (
    SUMMARY_CAP,
    FolderCounts,
    ScanResult,
    decoded_bytes,
    folder_counts,
    loader_skips,
    scan_summary,
    size_stats,
)
from diagnostics.dataset.roots import REPO_ROOT, SAMPLE_DATA, allowed_roots, find_datasets, resolve_dataset
from diagnostics.dataset.verification import (
    CACHE_WRITE_EVERY,
    PARALLEL_MIN_FILES,
    VerificationJob,
    scan,
    start_verification,
    verify,
)
from diagnostics.errors import ConfigError, DatasetError

__all__ = [
    "CACHE_WRITE_EVERY",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "PARALLEL_MIN_FILES",
    "REPO_ROOT",
    "SAMPLE_DATA",
    "SUMMARY_CAP",
    "ConfigError",
    "DatasetError",
    "FolderCounts",
    "Listing",
    "ScanResult",
    "VerificationJob",
    "allowed_roots",
    "decoded_bytes",
    "find_datasets",
    "folder_counts",
    "list_folder",
    "loader_skips",
    "resolve_dataset",
    "scan",
    "scan_summary",
    "size_stats",
    "start_verification",
    "verify",
]
