"""Sweeps: run a grid of configs through the queue, find the Pareto front, recommend one.

This package root re-exports the public names of its modules:

    grid        expand(base, grid): every combination as a validated TrialConfig (the CLI parses --grid)
    estimate    estimate_seconds(configs, store): wall time from past runs, else a stated default
    result      pareto_front(points), recommend(rows, budget), refusal(rows, budget),
                sweep_result(store, sweep_id): rows, front, recommendation (with the snippet)
    run         run_sweep(store, base, grid, name), start_in_background(...), autorange(...)

A test patches a name in the module that looks it up (``diagnostics.sweep.result._default_budget``,
``diagnostics.sweep.run.get_executor``), not in this root.
"""

from __future__ import annotations

from diagnostics.sweep.estimate import EPOCH_DEFAULT_SECONDS, TRIAL_FIXED_SECONDS, estimate_seconds
from diagnostics.sweep.grid import DEFAULT_GRID, expand
from diagnostics.sweep.result import pareto_front, recommend, refusal, sweep_result
from diagnostics.sweep.run import autorange, run_sweep, start_in_background

__all__ = [
    "DEFAULT_GRID",
    "EPOCH_DEFAULT_SECONDS",
    "TRIAL_FIXED_SECONDS",
    "autorange",
    "estimate_seconds",
    "expand",
    "pareto_front",
    "recommend",
    "refusal",
    "run_sweep",
    "start_in_background",
    "sweep_result",
]
