"""Training Memory Diagnostics: measure a TensorFlow input pipeline's memory and throughput.

What a library user needs, importable from here:

- ``scan(folder)``: list and verify a class-per-folder image dataset (``ScanResult``);
- ``TrialConfig`` (``validate``, ``parse_size``, ``LOADER_NAMES``): what to measure;
- ``run_trial(config, store)``: run one trial in a fresh worker process, returns its run id;
- ``Store(home)``: the SQLite store of runs (``get_run``, ``samples``, ``events``, ...);
- ``analyze_run(store, run_id)``: the summary, leak verdict and findings of a stored run (what the
  runner stored in its row, computed again); ``analyze(run, samples, events, logs, scan)`` does it
  on frames of your own;
- the errors, all under ``DiagnosticsError``.

Example:
    >>> import diagnostics
    >>> store = diagnostics.Store("/tmp/diag")
    >>> run_id = diagnostics.run_trial(diagnostics.TrialConfig(dataset="sample_data", epochs=2), store)
    >>> store.get_run(run_id)["summary"]["peak_rss_bytes"]

The names load their modules on first use (PEP 562): every ``diagnostics.*`` import runs this
file, and the worker and ``python -m diagnostics scan`` must not pay for pandas and the store.
"""

from __future__ import annotations

import importlib as _importlib

from diagnostics.config import TrialConfig, parse_size
from diagnostics.errors import (
    BudgetExceeded,
    ConfigError,
    DatasetError,
    DiagnosticsError,
    StoreBusy,
    StoreError,
    TrialCancelled,
    TrialFailed,
    TrialTimeout,
)
from diagnostics.loaders import LOADER_NAMES, validate

_LAZY = {
    "ScanResult": "diagnostics.dataset",
    "Store": "diagnostics.store",
    "analyze": "diagnostics.analysis",
    "analyze_run": "diagnostics.analysis",
    "run_trial": "diagnostics.runner",
    "scan": "diagnostics.dataset",
}

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "DatasetError",
    "DiagnosticsError",
    "LOADER_NAMES",
    "ScanResult",
    "Store",
    "StoreBusy",
    "StoreError",
    "TrialCancelled",
    "TrialConfig",
    "TrialFailed",
    "TrialTimeout",
    "analyze",
    "analyze_run",
    "parse_size",
    "run_trial",
    "scan",
    "validate",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'diagnostics' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
