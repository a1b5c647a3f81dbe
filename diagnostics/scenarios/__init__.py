"""Scenarios: the classic input-pipeline memory questions, each answered by a measured before/after.

A scenario is a question people actually ask, two or more labelled trial configs (the way people
write it, and the fix), the metric that answers it, and a verdict function that builds its
sentence from the measured results of those trials: every number in a verdict comes from the runs
just made, none is written in advance. This package root is the catalogue; each question lives in
its own module (``cache``, ``decode_order``, ``file_handles``, ``fit_growth``, ``dtype_size``,
``log_lines``: its trials and its verdict), the run in ``execute`` and the background jobs in
``jobs``:

    list_scenarios() / get_scenario(name)     the catalogue
    run_scenario(name, dataset, store)        runs the trials through an executor (local: one
                                              after another via ``runner.run_trial``); the result
    start_job / read_job / list_jobs          the same in a background thread, its progress in a
    job_progress                              JSON file under ``$DIAG_HOME/scenarios/`` so a
                                              reloaded page (or a second browser) shows it

The comparison report with the verdict on top is ``report.render_scenario_html(store, result)``.

A verdict function gets the trials as stored (``trial_record``: label, run_id, status, error,
config, summary, findings, log_groups, gc_events, epoch_window) and a ``context`` (``available_ram_bytes``) and
returns a ``Verdict``: the sentence, the numbers it quotes (``metric``) and the index of the better
pipeline (``None`` where the question has no "better", as for log lines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError
from diagnostics.loaders import validate
from diagnostics.scenarios import cache, decode_order, dtype_size, file_handles, fit_growth, log_lines
from diagnostics.scenarios._common import Verdict
from diagnostics.scenarios.execute import judge, run_scenario, trial_record
from diagnostics.scenarios.jobs import job_progress, list_jobs, read_job, start_job
from diagnostics.scenarios.log_lines import COINCIDENCE_SECONDS, coincident, covered_fraction

__all__ = [
    "COINCIDENCE_SECONDS",
    "SCENARIOS",
    "Scenario",
    "Verdict",
    "coincident",
    "covered_fraction",
    "get_scenario",
    "job_progress",
    "judge",
    "list_jobs",
    "list_scenarios",
    "read_job",
    "run_scenario",
    "start_job",
    "trial_record",
]


@dataclass(frozen=True)
class Scenario:
    """One question with its trials and the verdict that answers it from measured results.

    Example:
        >>> get_scenario("decode_order").trials("sample_data")[0][0]
        'Python loop (eager)'
    """

    name: str
    question: str
    metric: str  # what answers the question, in words
    trials: Callable[[str], list[tuple[str, TrialConfig]]]  # dataset path -> labelled configs
    verdict: Callable[[list[dict[str, Any]], dict[str, Any]], Verdict]
    # The verdict compares throughputs: a trial too short for a stable one runs again with more
    # epochs (sweep.autorange). Memory-only questions keep their fixed trials.
    autorange: bool = False

    def configs(self, dataset: str) -> list[tuple[str, TrialConfig]]:
        """The labelled configs, each validated; ConfigError names the scenario and the trial."""
        out = []
        for label, config in self.trials(str(dataset)):
            try:
                validate(config)
            except ConfigError as exc:
                raise ConfigError(f"scenario {self.name}, trial '{label}': {exc}") from None
            out.append((label, config))
        return out


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "cache",
            "Does `cache()` make my RAM grow?",
            "cache bytes measured vs modelled, epoch-2 speed-up, projection for the full folder vs available RAM",
            cache.trials,
            cache.verdict,
            autorange=True,
        ),
        Scenario(
            "decode_order",
            "Decode in a Python loop, map then batch, or batch then map?",
            "steady images/s ratio and peak RSS difference",
            decode_order.trials,
            decode_order.verdict,
            autorange=True,
        ),
        Scenario(
            "file_handles",
            "Does ImageDataGenerator leak file handles?",
            "open file descriptors at each epoch end (start, max, growth per epoch)",
            file_handles.trials,
            file_handles.verdict,
        ),
        Scenario(
            "fit_growth",
            "Why does RAM climb every epoch in fit?",
            "leak slope of epoch-end RSS with its noise band and threshold",
            fit_growth.trials,
            fit_growth.verdict,
        ),
        Scenario(
            "dtype_size",
            "Does float16 or a smaller image size cut memory?",
            "peak and overhead (peak - baseline) deltas against float32",
            dtype_size.trials,
            dtype_size.verdict,
        ),
        Scenario(
            "log_lines",
            "What are these repeated log lines?",
            "log templates: known source or none, counts, times within 50 ms of GC events",
            log_lines.trials,
            log_lines.verdict,
        ),
    )
}


def list_scenarios() -> list[Scenario]:
    return list(SCENARIOS.values())


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None
