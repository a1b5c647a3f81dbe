"""Running a sweep: every valid combination of the grid through an executor (local or Ray), each
too-short trial run again with enough epochs (``autorange``), and the sweep's summary stored with
its recommendation; ``start_in_background`` does the same on a daemon thread for the dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from diagnostics import throughput
from diagnostics.config import TrialConfig
from diagnostics.errors import DiagnosticsError, TrialCancelled
from diagnostics.executors import get_executor
from diagnostics.sweep.estimate import estimate_seconds
from diagnostics.sweep.grid import _jsonable, _options_of, expand
from diagnostics.sweep.result import sweep_result

__all__ = ["autorange", "run_sweep", "start_in_background"]


def run_sweep(
    store: Any,
    base_config: TrialConfig | dict[str, Any],
    grid: dict[str, list[Any]],
    name: str,
    on_progress: Callable[[int, int, int | None], None] | None = None,
    *,
    sweep_id: int | None = None,
    allowed_roots: list | None = None,
    executor: Any = None,
) -> int:
    """Run every valid combination through the executor; return the sweep id.

    ``executor`` (``executors.get_executor``) decides where the trials run: local (the default,
    one after another through the queue) or on a Ray cluster (one trial per node).
    ``sweep_id`` reuses a sweep the caller created (the dashboard creates it first to show it at
    once). ``on_progress(done, total, run_id)`` is called after each trial. A trial that fails, is
    killed by the budget or times out is recorded and the sweep goes on; bad input common to all
    trials (the dataset folder) stops the sweep with its message.
    """
    executor = executor if executor is not None else get_executor("local")
    base = base_config if isinstance(base_config, TrialConfig) else TrialConfig.from_dict(dict(base_config))
    invalid: list[dict[str, Any]] = []
    configs = expand(base, grid, invalid=invalid)
    if sweep_id is None:
        sweep_id = store.create_sweep(name, grid, base)
    summary = {
        "trials": len(configs),
        "invalid": invalid,
        "memory_budget_bytes": base.memory_budget_bytes,
        "estimated_seconds": estimate_seconds(configs, store),
        "errors": [],
        "autoranged": [],
        "executor": executor.name,
    }
    store.update_sweep(sweep_id, status="running", summary=summary)
    status, ended = "completed", {}
    done = 0

    def finished(result: Any) -> None:
        nonlocal done
        done += 1
        if result.first_run_id is not None:
            summary["autoranged"].append(
                {
                    "run_id": result.first_run_id,
                    "rerun_id": result.run_id,
                    "epochs": result.rerun_config.epochs,
                }
            )
        if result.error is not None:
            summary["errors"].append(
                {"options": _jsonable(_options_of(result.config.to_dict(), grid)), "error": result.error}
            )
        if on_progress is not None:
            on_progress(done, len(configs), result.run_id)

    try:
        executor.run(
            store,
            configs,
            sweep_id=sweep_id,
            allowed_roots=allowed_roots,
            rerun=lambda run_id, config: autorange(store, run_id, config),
            on_done=finished,
        )
    except TrialCancelled as exc:  # Ctrl-C or SIGTERM in a trial (stored cancelled): the others stay
        status = "interrupted"
        ended = {"error": f"the sweep was stopped ({exc.how})"}
        raise
    except DiagnosticsError as exc:
        status = "failed"
        summary["errors"].append({"options": None, "error": str(exc)})
        raise
    except BaseException as exc:  # Ctrl-C or SIGTERM between trials (signals.Stopped): the same
        status = "interrupted"
        ended = {"error": f"the sweep was stopped ({getattr(exc, 'how', None) or type(exc).__name__})"}
        raise
    finally:
        try:
            result = sweep_result(store, sweep_id, base.memory_budget_bytes)
            recommendation = result["recommendation"]
            summary["recommended_run_id"] = recommendation["run_id"] if recommendation else None
            summary["recommendation_reason"] = (
                recommendation["reason"] if recommendation else result["refusal"]
            )
            summary["front_run_ids"] = [row["run_id"] for row in result["front"]]
        except DiagnosticsError:
            pass
        store.update_sweep(sweep_id, status=status, summary=summary, **ended)
    return sweep_id


def start_in_background(
    store: Any, base: TrialConfig, grid: dict[str, list[Any]], name: str, executor: Any = None
) -> int:
    """Create the sweep (so a page shows it at once), run it on a daemon thread; return its id."""
    sweep_id = store.create_sweep(name, grid, base)
    threading.Thread(
        target=run_sweep,
        args=(store, base, grid, name),
        kwargs={"sweep_id": sweep_id, "executor": executor},
        daemon=True,
        name=f"sweep-{sweep_id}",
    ).start()
    return sweep_id


def autorange(store: Any, run_id: int, config: TrialConfig) -> TrialConfig | None:
    """The config with enough epochs for a stable throughput when the trial was too short."""
    run = store.get_run(run_id)
    epochs = throughput.autorange_epochs(run.get("summary"), config.epochs)
    return config.replace(epochs=epochs) if run.get("status") == "completed" and epochs else None
