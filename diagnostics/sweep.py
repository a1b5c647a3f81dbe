"""Sweeps: run a grid of configs through the queue, find the Pareto front, recommend one.

    expand(base, grid)                  every combination as a validated TrialConfig
    estimate_seconds(configs, store)    wall time from past completed runs, else a stated default
    pareto_front(points)                lowest peak for each level of throughput
    recommend(rows, budget)             fastest within the budget, lowest peak among the near-fastest
    run_sweep(store, base, grid, name)  runs the configs through an executor, stores the sweep
    sweep_result(store, sweep_id)       rows, front, recommendation (with the snippet)

Throughput is the steady images/s (first epoch excluded) when the run has it, because epoch 1
includes cache filling and tracing that a long training run pays once.
"""

from __future__ import annotations

import itertools
import statistics
import threading
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from diagnostics import throughput
from diagnostics.config import TrialConfig, cli_name
from diagnostics.errors import ConfigError, DiagnosticsError, TrialCancelled
from diagnostics.host import available_ram_bytes
from diagnostics.loaders import validate
from diagnostics.units import MiB, format_mib

__all__ = [
    "DEFAULT_GRID",
    "autorange",
    "DEFAULT_TRIAL_SECONDS",
    "NEAR_BEST_FRACTION",
    "estimate_seconds",
    "expand",
    "pareto_front",
    "parse_grid",
    "recommend",
    "refusal",
    "run_sweep",
    "sweep_result",
]

# `python -m diagnostics sweep DIR` without --grid: 2 x 2 x 2 = 8 trials on keras_directory.
DEFAULT_GRID: dict[str, list[Any]] = {
    "batch_size": [32, 64],
    "cache": ["none", "memory"],
    "prefetch": ["none", "auto"],
}
# Without history: spawn + TensorFlow import until `ready` (measured 3-7 s here, plus the scan and
# analysis), and a short epoch on a small folder.
TRIAL_FIXED_SECONDS = 10.0
EPOCH_DEFAULT_SECONDS = 5.0
DEFAULT_TRIAL_SECONDS = TRIAL_FIXED_SECONDS + 3 * EPOCH_DEFAULT_SECONDS  # for the default 3 epochs
# Configs within this fraction of the best throughput count as equally fast (run-to-run noise).
NEAR_BEST_FRACTION = 0.95

_FIELDS = {f.name: f for f in fields(TrialConfig)}
_NOT_SWEEPABLE = {"dataset", "extra"}


# -- grid ------------------------------------------------------------------------------------------


def _field_name(option: str) -> str:
    name = option.strip().lstrip("-").replace("-", "_")
    for field_name in _FIELDS:  # the CLI spelling of a field (--memory-budget) maps back to it
        if cli_name(field_name) == "--" + option.strip().lstrip("-"):
            return field_name
    return name


def _coerce(name: str, value: Any) -> Any:
    """Grid values typed on a command line arrive as strings; give them the field's type."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    default = _FIELDS[name].default
    if name == "image_size":
        parts = text.lower().replace("x", " ").replace(",", " ").split()
        if len(parts) == 1:
            parts = parts * 2
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"--grid image_size value {value!r} is not a size like 128 or 128x96") from None
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"--grid {name} value {value!r} is not true or false")
    if text.lower() == "none" and name not in ("cache", "prefetch", "num_parallel_calls"):
        return None
    if isinstance(default, int) or name in ("steps", "shuffle_buffer", "memory_budget_bytes"):
        if text.isdigit():
            return int(text)
    if isinstance(default, float) or name in ("timeout_seconds", "rescale", "validation_split"):
        try:
            return float(text)
        except ValueError:
            pass
    return text


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["batch_size=32,64", "cache=none,memory"]`` -> grid dict (CLI ``--grid KEY=V1,V2``)."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--grid {spec!r} must look like KEY=V1,V2 (e.g. batch_size=32,64)")
        key, _, values = spec.partition("=")
        name = _field_name(key)
        if name not in _FIELDS or name in _NOT_SWEEPABLE:
            raise ConfigError(f"--grid {key!r} is not an option that can be swept")
        items = [v for v in values.split(",") if v.strip()]
        if not items:
            raise ConfigError(f"--grid {key} has no values")
        grid[name] = [_coerce(name, v) for v in items]
    return grid


def expand(
    base_config: TrialConfig | dict[str, Any],
    grid: dict[str, list[Any]],
    invalid: list[dict[str, Any]] | None = None,
) -> list[TrialConfig]:
    """Every combination of the grid applied to the base config, each validated.

    Invalid combinations (e.g. ``--prefetch`` on a loader that has none) are never dropped
    silently: they are appended to ``invalid`` as ``{"options": {...}, "error": message}`` when the
    caller passes a list, and otherwise raise one ConfigError naming them.
    """
    base = base_config if isinstance(base_config, TrialConfig) else TrialConfig.from_dict(dict(base_config))
    names = []
    for option, values in grid.items():
        name = _field_name(option)
        if name not in _FIELDS or name in _NOT_SWEEPABLE:
            raise ConfigError(f"sweep option {option!r} is not a TrialConfig option that can be swept")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"sweep option {option!r} needs a non-empty list of values")
        names.append((name, [_coerce(name, v) for v in values]))
    configs: list[TrialConfig] = []
    problems: list[dict[str, Any]] = []
    seen: set[TrialConfig] = set()
    for combo in itertools.product(*(values for _, values in names)):
        options = {name: value for (name, _), value in zip(names, combo, strict=True)}
        try:
            config = validate(base.replace(**options))
        except (ConfigError, TypeError, ValueError) as exc:
            problems.append({"options": _jsonable(options), "error": str(exc)})
            continue
        if config in seen:  # e.g. a grid value equal to what another axis already set
            continue
        seen.add(config)
        configs.append(config)
    if problems:
        if invalid is None:
            listed = "; ".join(f"{_describe(p['options'])}: {p['error']}" for p in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ConfigError(f"{len(problems)} sweep combination(s) are invalid: {listed}{more}")
        invalid.extend(problems)
    return configs


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def _describe(options: dict[str, Any]) -> str:
    return " ".join(f"{cli_name(k)} {v}" for k, v in options.items())


# -- time estimate ---------------------------------------------------------------------------------


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


# -- front and recommendation ----------------------------------------------------------------------


def _throughput(row: dict[str, Any]) -> float | None:
    for key in ("steady_images_per_second", "images_per_second"):
        value = row.get(key)
        if value is not None and value == value:  # not NaN
            return float(value)
    return None


def _peak(row: dict[str, Any]) -> float | None:
    value = row.get("peak_rss_bytes")
    return float(value) if value is not None and value == value else None


def _usable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r.get("status", "completed") == "completed" and _throughput(r) is not None and _peak(r) is not None
    ]


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points no other point beats on both axes (lower peak AND higher images/s), by peak.

    Only points whose throughput is stable: a timing too short to trust neither joins the front
    nor pushes others off it.
    """
    usable = sorted(
        (p for p in _usable(points) if _rate(p).get("stable")), key=lambda p: (_peak(p), -_throughput(p))
    )
    front: list[dict[str, Any]] = []
    best = float("-inf")
    for point in usable:
        if _throughput(point) > best:
            front.append(point)
            best = _throughput(point)
    return front


def _default_budget() -> int | None:
    available = available_ram_bytes()  # None without psutil or /proc: recommend without a budget
    return None if available is None else int(0.8 * available)


def _label(row: dict[str, Any]) -> str:
    return f"run #{row.get('run_id', row.get('id'))}"


def _rate(row: dict[str, Any]) -> dict[str, Any]:
    """The row's ``throughput.measure`` result; a bare number (no epochs known) counts as one
    stable timing with no spread."""
    if row.get("throughput"):
        return row["throughput"]
    rate = _throughput(row)
    return {"images_per_second": rate, "min": rate, "max": rate, "stable": True, "reason": ""}


def _unstable_text(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_label(r)} ({_throughput(r):,.1f} images/s): {_rate(r).get('reason')}" for r in rows)


def refusal(rows: list[dict[str, Any]], memory_budget_bytes: int | None = None) -> str | None:
    """Why there is no recommendation (None when there is one)."""
    budget = memory_budget_bytes if memory_budget_bytes is not None else _default_budget()
    fitting = [r for r in _usable(rows) if budget is None or _peak(r) <= budget]
    if not fitting:
        return "No completed trial with a throughput and a peak fits the memory budget."
    unstable = [r for r in fitting if not _rate(r).get("stable")]
    if len(unstable) == len(fitting):
        return (
            "No recommendation: every timing is too short to be stable "
            f"(a figure needs {throughput.MIN_MEASURED_SECONDS:g} s of epochs after the first): "
            + _unstable_text(unstable)
            + "."
        )
    return None


def recommend(rows: list[dict[str, Any]], memory_budget_bytes: int | None = None) -> dict[str, Any] | None:
    """The fastest completed config within the budget whose timing is stable, preferring the
    lowest peak among configs with no measurable difference in throughput from it (per-epoch
    ranges overlap, or medians within 5%). Returns a copy of the chosen row plus ``reason`` (text
    citing the numbers) and ``candidates`` (ids considered as fast); None when nothing qualifies
    (``refusal`` says why). A timing under ``throughput.MIN_MEASURED_SECONDS`` is never the basis.

    ``memory_budget_bytes`` None means 80% of the RAM available now (the trial budget's default).
    """
    budget = memory_budget_bytes if memory_budget_bytes is not None else _default_budget()
    usable = _usable(rows)
    fitting = [r for r in usable if budget is None or _peak(r) <= budget]
    unstable = [r for r in fitting if not _rate(r).get("stable")]
    stable = [r for r in fitting if _rate(r).get("stable")]
    if not stable:
        return None
    fastest = max(stable, key=_throughput)
    best_rate = _throughput(fastest)
    near = [
        r for r in stable if r is fastest or not throughput.compare(_rate(r), _rate(fastest))["measurable"]
    ]
    pick = min(near, key=lambda r: (_peak(r), -_throughput(r)))
    budget_text = f"within the {budget / MiB:,.0f} MiB budget" if budget is not None else "with no budget"
    excluded = len(usable) - len(fitting)
    reason = (
        f"{_label(pick)}: {_throughput(pick):,.1f} images/s at a peak of {format_mib(_peak(pick))}. "
        f"Fastest {budget_text}: {_label(fastest)} at {best_rate:,.1f} images/s "
        f"({format_mib(_peak(fastest))} peak)."
    )
    if pick is not fastest:
        reason += (
            f" {len(near)} configs show no measurable difference in throughput from it (per-epoch ranges "
            f"overlap or medians within {throughput.NEAR_FRACTION:.0%}); "
            f"{_label(pick)} has the lowest peak among them, "
            f"{format_mib(_peak(fastest) - _peak(pick))} less for "
            f"{100 * (1 - _throughput(pick) / best_rate):.1f}% lower median throughput."
        )
    if unstable:
        reason += (
            f" {len(unstable)} config(s) had timings too short to be stable and were not considered: "
            + _unstable_text(unstable)
            + "."
        )
    if excluded:
        reason += f" {excluded} completed config(s) peaked above the budget and were not considered."
    return {
        **pick,
        "reason": reason,
        "memory_budget_bytes": budget,
        "candidates": [r.get("run_id", r.get("id")) for r in near],
    }


# -- running and reading back ----------------------------------------------------------------------


def _options_of(config: dict[str, Any], grid: dict[str, list[Any]]) -> dict[str, Any]:
    return {name: config.get(_field_name(name)) for name in grid}


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
    from diagnostics.executors import get_executor

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


def sweep_result(store: Any, sweep_id: int, memory_budget_bytes: int | None = None) -> dict[str, Any]:
    """Rows (one per run, with the swept options), the Pareto front and the recommendation."""
    sweep = store.get_sweep(sweep_id)
    grid = sweep.get("grid") or {}
    if memory_budget_bytes is None:
        memory_budget_bytes = (sweep.get("summary") or {}).get("memory_budget_bytes") or (
            sweep.get("base_config") or {}
        ).get("memory_budget_bytes")
    rows = []
    for run_id in sweep.get("run_ids") or []:
        run = store.get_run(run_id)
        summary = run.get("summary") or {}
        config = run.get("config") or {}
        rate = throughput.of_summary(summary)
        rows.append(
            {
                "run_id": run_id,
                "id": run_id,
                "status": run.get("status"),
                "options": _options_of(config, grid),
                "config": config,
                "peak_rss_bytes": summary.get("peak_rss_bytes"),
                "baseline_rss_bytes": summary.get("baseline_rss_bytes"),
                "images_per_second": rate["images_per_second"],
                "steady_images_per_second": rate["images_per_second"],
                "throughput": rate,
                "leak_bytes_per_epoch": summary.get("leak_bytes_per_epoch"),
                "findings": [f.get("id") for f in run.get("findings") or []],
            }
        )
    front = pareto_front(rows)
    recommendation = recommend(rows, memory_budget_bytes)
    if recommendation is not None:
        recommendation["snippet"] = store.get_run(recommendation["run_id"]).get("snippet") or ""
    return {
        "sweep_id": sweep_id,
        "name": sweep.get("name"),
        "status": sweep.get("status"),
        "grid": grid,
        "rows": rows,
        "front": front,
        "recommendation": recommendation,
        "refusal": refusal(rows, memory_budget_bytes) if recommendation is None else None,
        "invalid": (sweep.get("summary") or {}).get("invalid", []),
    }
