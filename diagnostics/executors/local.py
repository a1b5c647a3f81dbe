"""The local executor: one trial after another in this process, as ``runner.run_trial`` runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError
from diagnostics.executors import Rerun, TrialResult

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """The default: each config runs to its end (and its rerun right after it) before the next.

    Example:
        >>> LocalExecutor().run(store, configs, sweep_id=3)
    """

    name = "local"

    def run(
        self,
        store: Any,
        configs: list[TrialConfig],
        *,
        sweep_id: int | None = None,
        allowed_roots: list | None = None,
        rerun: Rerun | None = None,
        on_start: Callable[[int], None] | None = None,
        on_done: Callable[[TrialResult], None] | None = None,
    ) -> list[TrialResult]:
        from diagnostics.runner import run_trial  # late: the runner pulls in the sampler and store

        results = []
        for index, config in enumerate(configs):
            if on_start is not None:
                on_start(index)
            result = TrialResult(index, config)
            try:
                result.run_id = run_trial(config, store, allowed_roots=allowed_roots, sweep_id=sweep_id)
                again = rerun(result.run_id, config) if rerun is not None else None
                if again is not None:
                    result.first_run_id, result.rerun_config = result.run_id, again
                    result.run_id = run_trial(again, store, allowed_roots=allowed_roots, sweep_id=sweep_id)
            except ConfigError as exc:
                result.error = str(exc)
            results.append(result)
            if on_done is not None:
                on_done(result)
        return results
