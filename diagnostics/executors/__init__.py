"""Where the trials of a sweep or scenario run: the executor behind ``run_sweep``/``run_scenario``.

    local   one trial after another in this process (``runner.run_trial``): the default
    ray     one trial per node of a Ray cluster (``diagnostics_trial`` custom resource), results
            streamed back to this process, the central store's only writer

The contract (``Executor.run``) takes the configs of a sweep or scenario and returns one
``TrialResult`` per config, in config order. ``rerun(run_id, config)`` is asked after each
completed trial whether to run the config again (sweep.autorange: a throughput too short to be
stable); the rerun is part of the same config's result. ``on_start(index)`` and
``on_done(result)`` tell the caller how far it is; an exception raised in either stops the
executor (its trials in flight are cancelled) and propagates. A ``ConfigError`` of one trial is
that trial's ``error``; a ``DatasetError`` stops everything, as bad input common to all trials.

Ray is imported only inside the ``executors/ray/`` package, when the ray executor is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError

__all__ = ["EXECUTOR_NAMES", "Executor", "TrialResult", "get_executor"]

EXECUTOR_NAMES = ("local", "ray")


@dataclass
class TrialResult:
    """How one config of a sweep or scenario ended.

    Args:
        index: the config's position in the list given to ``Executor.run``.
        config: that config.
        run_id: the run that stands for the config (the rerun when there was one); None when
            nothing was stored (``error``).
        first_run_id: the too-short run that ``rerun`` replaced, else None.
        rerun_config: the config of the rerun (more epochs), else None.
        error: the ConfigError message of a trial that could not be run.
    """

    index: int
    config: TrialConfig
    run_id: int | None = None
    first_run_id: int | None = None
    rerun_config: TrialConfig | None = None
    error: str | None = None


Rerun = Callable[[int, TrialConfig], "TrialConfig | None"]


class Executor(Protocol):
    name: str

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
    ) -> list[TrialResult]: ...


def get_executor(name: str | None = None, address: str | None = None) -> Executor:
    """``local`` (default) or ``ray``; ``address`` is the Ray cluster's (else DIAG_RAY_ADDRESS,
    else a cluster started on this machine with ``ray start``)."""
    name = (name or "local").strip().lower()
    if name == "local":
        from diagnostics.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from diagnostics.executors.ray import RayExecutor

        return RayExecutor(address)
    raise ConfigError(f"unknown executor {name!r}: choose one of {', '.join(EXECUTOR_NAMES)}")
