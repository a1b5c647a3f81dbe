"""How long a sweep will take: each config's wall time from past completed runs of its kind in
the store, else a stated default per trial and per epoch.
"""

from __future__ import annotations

import statistics
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import DiagnosticsError

__all__ = ["EPOCH_DEFAULT_SECONDS", "TRIAL_FIXED_SECONDS", "estimate_seconds"]

# Without history: spawn + TensorFlow import until `ready` (measured 3-7 s here, plus the scan and
# analysis), and a short epoch on a small folder.
TRIAL_FIXED_SECONDS = 10.0
EPOCH_DEFAULT_SECONDS = 5.0


def _duration_key(config: TrialConfig | dict[str, Any], coarse: bool) -> tuple:
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    key = (data.get("loader"), data.get("mode", "iterate"))
    if coarse:
        return key
    return (
        *key,
        data.get("epochs"),
        data.get("steps"),
        data.get("batch_size"),
        tuple(data.get("image_size") or ()),
    )


def estimate_seconds(configs: list[TrialConfig], store: Any = None) -> float:
    """Seconds to run the configs one after another.

    Per config: the median wall time of past completed runs with the same loader, mode, epochs,
    steps, batch size and image size; else the median seconds per epoch of runs with the same loader
    and mode, times the epochs; else ``TRIAL_FIXED_SECONDS + epochs x EPOCH_DEFAULT_SECONDS``. The
    fixed cost (spawn + imports, before ``ready``) is added to history-based numbers because the
    stored duration starts at ``ready``.
    """
    exact: dict[tuple, list[float]] = {}
    per_epoch: dict[tuple, list[float]] = {}
    if store is not None:
        try:
            past = store.runs(statuses=["completed"])
        except DiagnosticsError:
            past = []
        for run in past:
            summary = run.get("summary") or {}
            duration = summary.get("duration_seconds")
            config = run.get("config") or {}
            if not duration or not config:
                continue
            exact.setdefault(_duration_key(config, coarse=False), []).append(float(duration))
            epochs = max(int(config.get("epochs") or 1), 1)
            per_epoch.setdefault(_duration_key(config, coarse=True), []).append(float(duration) / epochs)
    total = 0.0
    for config in configs:
        same = exact.get(_duration_key(config, coarse=False))
        similar = per_epoch.get(_duration_key(config, coarse=True))
        if same:
            total += TRIAL_FIXED_SECONDS + statistics.median(same)
        elif similar:
            total += TRIAL_FIXED_SECONDS + config.epochs * statistics.median(similar)
        else:
            total += TRIAL_FIXED_SECONDS + config.epochs * EPOCH_DEFAULT_SECONDS
    return total
