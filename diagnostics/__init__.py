"""Training Memory Diagnostics: measure a TensorFlow input pipeline's memory and throughput."""

from __future__ import annotations

from diagnostics.config import TrialConfig, parse_size, validate
from diagnostics.errors import (
    BudgetExceeded,
    ConfigError,
    DatasetError,
    DiagnosticsError,
    StoreError,
    TrialCancelled,
    TrialFailed,
    TrialTimeout,
)

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "DatasetError",
    "DiagnosticsError",
    "StoreError",
    "TrialCancelled",
    "TrialConfig",
    "TrialFailed",
    "TrialTimeout",
    "parse_size",
    "validate",
]
