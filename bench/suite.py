"""Run every measurement of issue 7, then write the JSON and refresh docs/BENCHMARKS.md.

A section that fails records its error and leaves its keys null; the others still run, and the
exit status says something failed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, measures, report
from bench.profiles import PROFILES
from diagnostics.config import TrialConfig

__all__ = ["REPO", "TOP_LEVEL_KEYS", "run_all"]

REPO = Path(__file__).resolve().parent.parent

# The keys issue 7 names, flat at the top of the JSON (medians where a spread was measured).
TOP_LEVEL_KEYS = (
    "monitor_overhead_ratio",
    "peak_error_bytes",
    "sampled_peak_fraction",
    "mprof_peak_bytes",
    "mprof_wall_ratio",
    "our_wall_ratio",
    "sweep_seconds",
    "trial_fixed_seconds",
    "recommend_throughput_ratio",
    "recommend_peak_ratio",
    "decode_limit_ratio",
    "probe_overhead_ratio",
    "unattributed_max_fraction",
)

SECTIONS: list[tuple[str, Callable[[measures.Context], dict[str, Any]]]] = [
    ("overhead", measures.sampler_overhead),
    ("peak", measures.peak_fidelity),
    ("mprof", measures.mprof_comparison),
    ("sweep", measures.sweep_and_fixed_cost),
    ("recommend", measures.recommendation),
    ("decode", measures.decode_limit),
    ("probe", measures.probe_overhead),
    ("attribution", measures.attribution_coverage),
]


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _median(section: dict[str, Any] | None, key: str) -> Any:
    if not section:
        return None
    value = section.get(key)
    return value.get("median") if isinstance(value, dict) else value


def headline(sections: dict[str, dict[str, Any] | None], all_trials: dict[str, Any]) -> dict[str, Any]:
    """The flat top-level numbers, taken from the sections."""
    peak = sections.get("peak")
    return {
        "monitor_overhead_ratio": _median(sections.get("overhead"), "monitor_overhead_ratio"),
        "peak_error_bytes": all_trials.get("worst_error_bytes"),  # the spiky trial is one of them
        "sampled_peak_fraction": _median(peak, "sampled_peak_fraction"),
        "mprof_peak_bytes": _median(sections.get("mprof"), "mprof_peak_bytes"),
        "mprof_wall_ratio": _median(sections.get("mprof"), "mprof_wall_ratio"),
        "our_wall_ratio": _median(sections.get("mprof"), "our_wall_ratio"),
        "sweep_seconds": _median(sections.get("sweep"), "sweep_seconds"),
        "trial_fixed_seconds": _median(sections.get("sweep"), "trial_fixed_seconds"),
        "recommend_throughput_ratio": _median(sections.get("recommend"), "recommend_throughput_ratio"),
        "recommend_peak_ratio": _median(sections.get("recommend"), "recommend_peak_ratio"),
        "decode_limit_ratio": _median(sections.get("decode"), "decode_limit_ratio"),
        "probe_overhead_ratio": _median(sections.get("probe"), "probe_overhead_ratio"),
        "unattributed_max_fraction": _median(sections.get("attribution"), "unattributed_max_fraction"),
    }


def run_all(
    profile_name: str,
    *,
    dataset: Path | None = None,
    home: Path | None = None,
    only: list[str] | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    from diagnostics.dataset import scan
    from diagnostics.store import Store

    profile = PROFILES[profile_name]
    started = time.monotonic()
    result: dict[str, Any] = {
        "mode": profile.name,
        "command": "python -m bench" + ("" if profile.name == "full" else f" --{profile.name}"),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine.describe(),
        "load_average_start": machine.load_average(),
    }
    dataset_path = (dataset or REPO / "sample_data").resolve()
    scan_result = scan(dataset_path, image_size=profile.image_size)  # DatasetError names the folder
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    home = home or workdir / "home"
    os.environ["DIAG_HOME"] = str(home)  # child processes (bench.child_trial) use the same store
    base = TrialConfig(
        dataset=str(dataset_path),
        loader="keras_directory",
        image_size=profile.image_size,
        steps=profile.steps,
        timeout_seconds=600.0,
    )
    ctx = measures.Context(
        profile=profile, store=Store(home), scan=scan_result, base=base, workdir=workdir, log=_log
    )
    _log(f"{profile.name}: {scan_result.num_images} images in {dataset_path}; work in {workdir}")
    sections: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    for name, measure in SECTIONS:
        if only and name not in only:
            continue
        _log(f"{name} ...")
        section_started = time.monotonic()
        try:
            sections[name] = measure(ctx)
            sections[name]["seconds"] = round(time.monotonic() - section_started, 1)
        except Exception as exc:  # one broken measurement must not hide the others
            sections[name] = None
            errors[name] = f"{type(exc).__name__}: {exc}"
            _log(f"{name} FAILED: {errors[name]}\n{traceback.format_exc()}")
    all_trials = measures.all_trials_peak_error(ctx)
    result.update(headline(sections, all_trials))
    result["targets"] = report.evaluate(result, sections)
    result["sections"] = sections
    result["all_trials_peak_error"] = all_trials
    result["errors"] = errors
    result["trials"] = len(ctx.trials)
    result["load_average_end"] = machine.load_average()
    result["seconds"] = round(time.monotonic() - started, 1)
    if keep:
        result["workdir"] = str(workdir)  # the store with every trial, snippets, mprof data
    else:
        ctx.store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
