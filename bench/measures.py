"""The six measurements of issue 7. Each takes the shared `Context` and returns its section dict.

Every comparison is made inside one section, with its two (or three) sides alternated, and the
figure reported is the median of per-pair ratios (or exact differences) with min and max.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import trials
from bench.procs import timed_run
from bench.profiles import Profile
from bench.stats import alternate, spread
from bench.trials import BenchError, Trial
from diagnostics.config import TrialConfig
from diagnostics.store import Store

__all__ = [
    "Context",
    "attribution_coverage",
    "decode_limit",
    "mprof_comparison",
    "peak_fidelity",
    "probe_overhead",
    "recommendation",
    "sampler_overhead",
    "sweep_and_fixed_cost",
]

NEAR_BEST = 0.95  # "within 5% of the best throughput", as the recommender's rule says


@dataclass
class Context:
    profile: Profile
    store: Store
    scan: Any  # diagnostics.dataset.ScanResult
    base: TrialConfig  # the dataset at the profile's image size and steps; loader keras_directory
    workdir: Path
    log: Any = print
    trials: list[Trial] = field(default_factory=list)  # every trial run, for the all-trials checks
    # set by `recommendation`, read by `decode_limit`
    grid_configs: list[TrialConfig] = field(default_factory=list)
    grid_first: list[Trial] = field(default_factory=list)
    grid_leaders: list[dict[str, Any]] = field(default_factory=list)

    def run(self, config: TrialConfig, *, sample: bool = True) -> Trial:
        trial = trials.run(config, self.store, sample=sample)
        self.trials.append(trial)
        self.log(
            f"    run {trial.run_id}: {_label(config)} sampled={sample} "
            f"steady={_fmt(trial.steady_images_per_second)} img/s peak={_mib(trial.peak_rss_bytes)} "
            f"wall={trial.wall_seconds:.1f}s"
        )
        return trial


def _label(config: TrialConfig) -> str:
    changed = {
        k: v
        for k, v in config.changed_options().items()
        if k not in ("epochs", "steps", "image_size", "timeout_seconds")
    }
    return config.loader + "".join(f" {k}={v}" for k, v in sorted(changed.items()))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}MiB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# -- 1. sampler overhead ---------------------------------------------------------------------------


def sampler_overhead(ctx: Context) -> dict[str, Any]:
    """Steady images/s with the 50 Hz sampler over the same trial with the sampler off, per pair."""
    p = ctx.profile
    config = ctx.base.replace(epochs=p.overhead_epochs, sample_hz=50.0)
    if p.overhead_pairs > 1:
        ctx.run(config)  # warm-up (page cache, bytecode), not counted
    sampled, off = alternate(
        [lambda: ctx.run(config, sample=True), lambda: ctx.run(config, sample=False)], p.overhead_pairs
    )
    ratios = [
        _ratio(s.median_epoch_images_per_second, o.median_epoch_images_per_second)
        for s, o in zip(sampled, off, strict=True)
    ]
    return {
        "config": _label(config),
        "pairs": p.overhead_pairs,
        "monitor_overhead_ratio": spread(ratios),
        "sampled_images_per_second": spread([t.median_epoch_images_per_second for t in sampled]),
        "off_images_per_second": spread([t.median_epoch_images_per_second for t in off]),
        "samples_per_second": spread([t.samples / t.wall_seconds for t in sampled]),
        # The cause, without the noise of throughput: the runner's CPU per second of trial with
        # the sampler on minus off, as a share of the machine's cores.
        "sampler_cpu_share_of_machine": spread(
            [
                (s.runner_cpu_seconds / s.wall_seconds - o.runner_cpu_seconds / o.wall_seconds)
                / (os.cpu_count() or 1)
                for s, o in zip(sampled, off, strict=True)
            ]
        ),
        "runner_cpu_seconds_per_second": {
            "sampled": spread([t.runner_cpu_seconds / t.wall_seconds for t in sampled]),
            "off": spread([t.runner_cpu_seconds / t.wall_seconds for t in off]),
        },
        "run_ids": {"sampled": [t.run_id for t in sampled], "off": [t.run_id for t in off]},
    }


# -- 2. peak fidelity ------------------------------------------------------------------------------


def peak_fidelity(ctx: Context) -> dict[str, Any]:
    """A spiky trial (the whole dataset as one batch): reported peak vs VmHWM vs the kernel's maxrss."""
    p = ctx.profile
    config = ctx.base.replace(
        batch_size=ctx.scan.num_images, image_size=p.spike_image_size, epochs=p.spike_epochs, steps=None
    )
    config_path = ctx.workdir / "spike_config.json"
    config_path.write_text(config.to_json(), encoding="utf-8")
    # A fresh process whose only child is the worker: its RUSAGE_CHILDREN maxrss is the worker's.
    child = timed_run(
        [sys.executable, "-m", "bench.child_trial", str(config_path)], log=ctx.workdir / "spike.stderr"
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    trial = trials.read(report["run_id"], config, ctx.store, wall_seconds=child.wall_seconds)
    ctx.trials.append(trial)
    ctx.log(
        f"    run {trial.run_id}: spike peak={_mib(trial.peak_rss_bytes)} sampled max={_mib(trial.sampled_max_rss_bytes)}"
    )
    kernel = int(report["children_maxrss_bytes"])
    # How short the spike was: time the main RSS spent in the top 10% of the rise above baseline.
    samples = ctx.store.samples(trial.run_id)
    rise = trial.vmhwm_bytes - (trial.baseline_rss_bytes or 0)
    near_top = samples[samples["main_rss_bytes"] >= trial.vmhwm_bytes - 0.1 * rise]
    spike_seconds = len(near_top) / config.sample_hz
    return {
        "config": _label(config),
        "run_id": trial.run_id,
        "peak_rss_bytes": trial.peak_rss_bytes,
        "vmhwm_bytes": trial.vmhwm_bytes,
        "kernel_maxrss_bytes": kernel,
        "peak_error_bytes": trial.peak_rss_bytes - trial.vmhwm_bytes,
        # Both below include interpreter teardown after `done` (a few hundred KiB on this stack).
        "peak_minus_kernel_maxrss_bytes": trial.peak_rss_bytes - kernel,
        "last_sampled_vmhwm_bytes": trial.last_sampled_vmhwm_bytes,
        "sampled_max_rss_bytes": trial.sampled_max_rss_bytes,
        "sampled_peak_fraction": _ratio(trial.sampled_max_rss_bytes, trial.vmhwm_bytes),
        "baseline_rss_bytes": trial.baseline_rss_bytes,
        # The same over the rise above baseline, where a missed spike would actually show.
        "sampled_rise_fraction": _ratio(
            (trial.sampled_max_rss_bytes or 0) - (trial.baseline_rss_bytes or 0), rise
        ),
        "spike_seconds_near_top": spike_seconds,
        "samples": trial.samples,
    }


def all_trials_peak_error(ctx: Context) -> dict[str, Any]:
    """Reported peak minus VmHWM over every trial the benchmark ran (sampler on or off, spike too)."""
    errors = [t.peak_rss_bytes - t.vmhwm_bytes for t in ctx.trials if t.vmhwm_bytes is not None]
    return {"trials": len(errors), "worst_error_bytes": max(errors, key=abs) if errors else None}


# -- 3. mprof against a bare run and ours ----------------------------------------------------------


def _mprof_exe() -> Path:
    exe = Path(sys.executable).parent / "mprof"
    if not exe.exists():
        raise BenchError(
            f"memory_profiler's mprof is not installed at {exe}: pip install -r requirements-dev.txt"
        )
    return exe


def _mprof_peak_bytes(dat: Path) -> int:
    # mprof writes "MEM <MiB> <timestamp>" per sample (psutil RSS / 2**20).
    values = [float(line.split()[1]) for line in dat.read_text().splitlines() if line.startswith("MEM ")]
    if not values:
        raise BenchError(f"mprof wrote no samples to {dat}")
    return int(max(values) * 2**20)


def mprof_comparison(ctx: Context) -> dict[str, Any]:
    """The trial's own snippet run bare, under `mprof run`, and through our runner; rotated rounds."""
    from diagnostics import snippet

    p = ctx.profile
    config = ctx.base.replace(epochs=p.mprof_epochs)
    script = ctx.workdir / "trial_snippet.py"
    script.write_text(snippet.render(config, ctx.scan), encoding="utf-8")
    mprof = _mprof_exe()
    counter = iter(range(10_000))

    def bare():
        out = timed_run([sys.executable, str(script)], cwd=ctx.workdir, log=ctx.workdir / "bare.stderr")
        ctx.log(f"    bare snippet: wall={out.wall_seconds:.1f}s maxrss={_mib(out.maxrss_bytes)}")
        return out

    def profiled():
        dat = ctx.workdir / f"mprof_{next(counter)}.dat"
        argv = [str(mprof), "run", "--interval", str(p.mprof_interval_seconds), "-o", str(dat)]
        timed = timed_run(
            [*argv, sys.executable, str(script)], cwd=ctx.workdir, log=ctx.workdir / "mprof.stderr"
        )
        peak = _mprof_peak_bytes(dat)
        ctx.log(f"    mprof run: wall={timed.wall_seconds:.1f}s peak={_mib(peak)}")
        return timed, peak

    def ours():
        return ctx.run(config)

    bares, mprofs, ourss = alternate([bare, profiled, ours], p.mprof_rounds, rotate=True)
    return {
        "config": _label(config),
        "rounds": p.mprof_rounds,
        "mprof_interval_seconds": p.mprof_interval_seconds,
        "bare_wall_seconds": spread([b.wall_seconds for b in bares]),
        "bare_maxrss_bytes": spread([b.maxrss_bytes for b in bares]),
        "mprof_wall_seconds": spread([m.wall_seconds for m, _ in mprofs]),
        "mprof_peak_bytes": spread([peak for _, peak in mprofs]),
        "our_wall_seconds": spread([o.wall_seconds for o in ourss]),
        "our_peak_bytes": spread([o.peak_rss_bytes for o in ourss]),
        "mprof_wall_ratio": spread(
            [m.wall_seconds / b.wall_seconds for (m, _), b in zip(mprofs, bares, strict=True)]
        ),
        "our_wall_ratio": spread(
            [o.wall_seconds / b.wall_seconds for o, b in zip(ourss, bares, strict=True)]
        ),
        # Both peaks against the bare script's own kernel maxrss, the ground truth for that script.
        "mprof_peak_fraction": spread(
            [peak / b.maxrss_bytes for (_, peak), b in zip(mprofs, bares, strict=True)]
        ),
        "our_peak_fraction": spread(
            [o.peak_rss_bytes / b.maxrss_bytes for o, b in zip(ourss, bares, strict=True)]
        ),
    }


# -- 4. default sweep and the fixed cost of a trial -----------------------------------------------


def sweep_and_fixed_cost(ctx: Context) -> dict[str, Any]:
    """Wall time of the default sweep; spawn-to-ready of a trial vs a bare `import tensorflow`."""
    from diagnostics import sweep

    p = ctx.profile
    grid = p.sweep_grid if p.sweep_grid is not None else sweep.DEFAULT_GRID
    base = ctx.base  # the product's default trial (3 epochs) on the dataset
    configs = sweep.expand(base, grid)
    started = time.monotonic()
    sweep_id = sweep.run_sweep(ctx.store, base, grid, "bench: default sweep")
    sweep_seconds = time.monotonic() - started
    ctx.log(f"    sweep {sweep_id}: {len(configs)} trials in {sweep_seconds:.1f}s")
    run_ids = ctx.store.get_sweep(sweep_id)["run_ids"]
    for run_id, config in zip(run_ids, configs, strict=True):  # for the all-trials peak check
        ctx.trials.append(trials.read(run_id, config, ctx.store, wall_seconds=float("nan")))

    short = ctx.base.replace(epochs=1, steps=1)

    def trial_to_ready():
        return ctx.run(short)

    def bare_import():
        # Spawn until the import is done, like the worker's spawn-to-`ready` (one monotonic clock
        # for both processes on Linux); process teardown after the import is not part of either.
        started = time.monotonic()
        code = "import tensorflow, time; print(time.monotonic())"
        out = timed_run([sys.executable, "-c", code], log=ctx.workdir / "import.stderr")
        return float(out.stdout.strip().splitlines()[-1]) - started

    ours, bares = alternate([trial_to_ready, bare_import], p.fixed_pairs)
    return {
        "grid": grid,
        "sweep_trials": len(configs),
        "sweep_seconds": sweep_seconds,
        "sweep_seconds_per_trial": sweep_seconds / max(len(configs), 1),
        "trial_fixed_seconds": spread([t.fixed_seconds for t in ours]),
        "bare_import_seconds": spread(bares),
        "trial_fixed_ratio": spread([_ratio(t.fixed_seconds, b) for t, b in zip(ours, bares, strict=True)]),
        "one_step_trial_wall_seconds": spread([t.wall_seconds for t in ours]),
    }


# -- 5. recommendation quality ---------------------------------------------------------------------


def recommendation(ctx: Context) -> dict[str, Any]:
    """Exhaustive grid once; the recommender picks from it; the leaders are re-measured alternated.

    One pass over a grid cannot say which config is fastest when identical runs differ by up to 2x.
    So the `remeasure_candidates` fastest configs of that pass (and the pick) run again in
    `remeasure_rounds` rotated rounds. Each candidate's throughput is the median of all its runs; the best is the highest
    median; the pick's ratio is the median over rounds of pick/best measured in the same round.
    """
    from diagnostics import sweep

    p = ctx.profile
    configs: list[TrialConfig] = []
    for loader, grid in p.grid:
        configs.extend(sweep.expand(ctx.base.replace(loader=loader, epochs=p.grid_epochs), grid))
    ctx.log(f"    grid: {len(configs)} configs")
    first: list[Trial] = []
    failed: list[dict[str, str]] = []
    for config in configs:
        try:
            first.append(ctx.run(config))
        except BenchError as exc:  # a config that fails is a finding, not a reason to stop judging
            failed.append({"config": _label(config), "error": str(exc)})
            ctx.log(f"    FAILED {_label(config)}: {exc}")
    if failed:
        configs = [t.config for t in first]
    if not first:
        raise BenchError(f"every grid trial failed; first: {failed[0]['error']}")
    rows = [recommend_row(t) for t in first]
    pick_row = sweep.recommend(rows, memory_budget_bytes=None)
    if pick_row is None:
        raise BenchError("the recommender picked nothing from a grid of completed trials")
    pick = _row_index(pick_row, rows)

    first_rates = [t.steady_images_per_second for t in first]
    candidates = choose_candidates(first_rates, pick, p.remeasure_candidates)
    rounds = alternate([lambda i=i: ctx.run(configs[i]) for i in candidates], p.remeasure_rounds, rotate=True)
    measured = {i: [first[i], *runs] for i, runs in zip(candidates, rounds, strict=True)}
    verdict = judge(
        pick,
        {i: [(t.steady_images_per_second, t.peak_rss_bytes) for t in runs] for i, runs in measured.items()},
        {i: [t.steady_images_per_second for t in runs] for i, runs in zip(candidates, rounds, strict=True)},
    )
    best, lowest_near = verdict["best"], verdict["lowest_peak_near_best"]
    median_ips, median_peak = verdict["images_per_second"], verdict["peak_rss_bytes"]
    ctx.grid_leaders = [
        {"config": configs[i], "images_per_second": median_ips[i], "peak_rss_bytes": median_peak[i]}
        for i in sorted(candidates, key=median_ips.get, reverse=True)
    ]
    ctx.grid_configs = configs
    ctx.grid_first = first
    return {
        "grid_size": len(configs) + len(failed),
        "failed_configs": failed,
        "remeasure_rounds": p.remeasure_rounds,
        "pick": _label(configs[pick]),
        "best": _label(configs[best]),
        "lowest_peak_near_best": _label(configs[lowest_near]),
        "recommend_throughput_ratio": spread(verdict["throughput_ratios"]),
        "recommend_peak_ratio": verdict["peak_ratio"],
        "pick_within_5_percent": verdict["pick_within_5_percent"],
        "candidates": [
            {
                "config": _label(configs[i]),
                "first_pass_images_per_second": first[i].steady_images_per_second,
                "images_per_second": spread([t.steady_images_per_second for t in measured[i]]),
                "peak_rss_bytes": spread([t.peak_rss_bytes for t in measured[i]]),
            }
            for i in candidates
        ],
        "grid": [
            {
                "config": _label(c),
                "images_per_second": t.steady_images_per_second,
                "peak_rss_bytes": t.peak_rss_bytes,
                "run_id": t.run_id,
            }
            for c, t in zip(configs, first, strict=True)
        ],
    }


def choose_candidates(first_rates: list[float | None], pick: int, cap: int) -> list[int]:
    """Indices to re-measure: the `cap` fastest of the first pass, and always the pick.

    A fixed count rather than "within x% of the first best": when that best was itself a lucky
    run, a threshold relative to it would leave the truly fastest configs out.
    """
    order = sorted(range(len(first_rates)), key=lambda i: first_rates[i] or 0.0, reverse=True)
    candidates = order[:cap]
    if pick not in candidates:
        candidates.append(pick)
    return candidates


def judge(
    pick: int,
    measured: dict[int, list[tuple[float | None, int]]],
    rounds: dict[int, list[float | None]],
) -> dict[str, Any]:
    """The pick against the re-measured grid.

    `measured[i]` holds every (images/s, peak bytes) of candidate i; `rounds[i][r]` its images/s in
    alternated round r (the same length for every candidate, possibly zero). Best = highest median
    images/s; the throughput ratio is pick/best per round (per-run medians when there are no
    rounds); the peak ratio is the pick's median peak over the lowest median peak among candidates
    within 5% of the best's median.
    """
    rate = {i: statistics.median(r or 0.0 for r, _ in runs) for i, runs in measured.items()}
    peak = {i: statistics.median(p for _, p in runs) for i, runs in measured.items()}
    best = max(rate, key=rate.get)
    n_rounds = len(rounds[pick]) if pick in rounds else 0
    if n_rounds:
        ratios = [_ratio(rounds[pick][r], rounds[best][r]) for r in range(n_rounds)]
    else:
        ratios = [_ratio(rate[pick], rate[best])]
    near = [i for i in rate if rate[i] >= NEAR_BEST * rate[best]]
    lowest_near = min(near, key=peak.get)
    return {
        "best": best,
        "lowest_peak_near_best": lowest_near,
        "throughput_ratios": ratios,
        "peak_ratio": peak[pick] / peak[lowest_near],
        "pick_within_5_percent": pick in near,
        "images_per_second": rate,
        "peak_rss_bytes": peak,
    }


def recommend_row(trial: Trial) -> dict[str, Any]:
    """A grid trial as the recommender reads it (the shape of the Sweep page's rows)."""
    return {
        "run_id": trial.run_id,
        "id": trial.run_id,
        "config": trial.config.to_dict(),
        "status": "completed",
        "images_per_second": trial.steady_images_per_second,
        "steady_images_per_second": trial.steady_images_per_second,
        "peak_rss_bytes": trial.peak_rss_bytes,
    }


def _row_index(pick_row: Any, rows: list[dict[str, Any]]) -> int:
    run_id = pick_row.get("run_id", pick_row.get("id")) if hasattr(pick_row, "get") else None
    for i, row in enumerate(rows):
        if row["run_id"] == run_id:
            return i
    raise BenchError(f"the recommender returned a row that is not in the grid: {pick_row!r}")


# -- 6. decode limit -------------------------------------------------------------------------------


def decode_limit(ctx: Context) -> dict[str, Any]:
    """The best loader that decodes every epoch (cache none) over the in-memory decode+resize limit."""
    p = ctx.profile
    no_cache = [g for g in ctx.grid_leaders if g["config"].cache == "none"]
    if no_cache:
        best = max(no_cache, key=lambda g: g["images_per_second"])["config"]
    else:
        first = [t for t in ctx.grid_first if t.config.cache == "none"] or ctx.grid_first
        best = max(first, key=lambda t: t.steady_images_per_second or 0.0).config
    config = best.replace(epochs=p.decode_epochs)
    spec = ctx.workdir / "decode_limit.json"
    root = Path(ctx.scan.root)
    spec.write_text(
        json.dumps(
            {
                "files": [str(root / rel) for rel, _ in ctx.scan.files],
                "image_size": list(config.image_size),
                "batch_size": config.batch_size,
                "epochs": p.decode_epochs,
                "interpolation": config.interpolation,
                "channels": 3 if config.color_mode == "rgb" else 1,
            }
        ),
        encoding="utf-8",
    )

    def limit():
        out = timed_run(
            [sys.executable, "-m", "bench.decode_limit", str(spec)], log=ctx.workdir / "limit.stderr"
        )
        epochs = json.loads(out.stdout.strip().splitlines()[-1])["epochs"]
        return trials.median_epoch_images_per_second(epochs)

    def loader():
        return ctx.run(config)

    limits, loaders = alternate([limit, loader], p.decode_pairs)
    return {
        "config": _label(config),
        "pairs": p.decode_pairs,
        "limit_images_per_second": spread(limits),
        "loader_images_per_second": spread([t.median_epoch_images_per_second for t in loaders]),
        "decode_limit_ratio": spread(
            [_ratio(t.median_epoch_images_per_second, lim) for t, lim in zip(loaders, limits, strict=True)]
        ),
    }


# -- 7. probe overhead (issue 11) ------------------------------------------------------------------

PROBE_HZ_ENV = "DIAG_PROBE_HZ"  # read by the worker (diagnostics.probe); 0 turns the probe off


def _with_env(name: str, value: str | None, action: Any) -> Any:
    """Run action() with the environment variable set (or removed); the worker inherits it."""
    before = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        return action()
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def probe_overhead(ctx: Context) -> dict[str, Any]:
    """Steady images/s with the probe at its default rate over the same trial with the probe off.

    Measured as the sampler's overhead is: the same trial, alternated pairs in one run, the median
    of per-pair ratios of the median epoch rate. The sampler runs in both.
    """
    p = ctx.profile
    config = ctx.base.replace(epochs=p.overhead_epochs, sample_hz=50.0)
    probed, off = alternate(
        [
            lambda: _with_env(PROBE_HZ_ENV, None, lambda: ctx.run(config)),
            lambda: _with_env(PROBE_HZ_ENV, "0", lambda: ctx.run(config)),
        ],
        p.probe_pairs,
    )
    ratios = [
        _ratio(a.median_epoch_images_per_second, b.median_epoch_images_per_second)
        for a, b in zip(probed, off, strict=True)
    ]
    stats = [_probe_stats(ctx.store, t.run_id) for t in probed]
    return {
        "config": _label(config),
        "pairs": p.probe_pairs,
        "probe_overhead_ratio": spread(ratios),
        "probed_images_per_second": spread([t.median_epoch_images_per_second for t in probed]),
        "off_images_per_second": spread([t.median_epoch_images_per_second for t in off]),
        # The cause, without throughput noise: the probe's own time per second of trial.
        "probe_seconds_per_second": spread(
            [s["seconds"] / t.wall_seconds for s, t in zip(stats, probed, strict=True) if s]
        ),
        "snapshots": spread([s["snapshots"] for s in stats if s]),
        "errors": sum(s["errors"] for s in stats if s),
        "run_ids": {"probed": [t.run_id for t in probed], "off": [t.run_id for t in off]},
    }


def _probe_stats(store: Store, run_id: int) -> dict[str, Any] | None:
    events = store.events(run_id)
    done = events[events["kind"] == "done"]
    return (done.iloc[-1]["data"] or {}).get("probe") if len(done) else None


# -- 8. attribution coverage (issue 11) ------------------------------------------------------------


def attribution_coverage(ctx: Context) -> dict[str, Any]:
    """Unattributed / overhead at the peak for each loader (iterate) and fit, with the parts named."""
    p = ctx.profile
    rows = []
    for label, options in p.coverage:
        config = ctx.base.replace(epochs=p.coverage_epochs, **options)
        trial = ctx.run(config)
        summary = ctx.store.get_run(trial.run_id)["summary"] or {}
        attribution = summary.get("attribution") or {}
        overhead = attribution.get("overhead_bytes")
        rest = attribution.get("unattributed_bytes")
        split = attribution.get("unattributed_split") or {}
        parts = sorted(
            (c for c in attribution.get("components") or [] if c.get("bytes")), key=lambda c: -c["bytes"]
        )
        rows.append(
            {
                "label": label,
                "run_id": trial.run_id,
                "overhead_bytes": overhead,
                "unattributed_bytes": rest,
                "unattributed_fraction": (rest / overhead) if rest is not None and overhead else None,
                "top": [(c["name"], c["bytes"]) for c in parts[:3]],
                "heap_not_named_bytes": split.get("malloc_in_use_not_named_bytes"),
                "outside_malloc_bytes": split.get("anonymous_outside_malloc_bytes"),
                "tfdata": summary.get("pipeline") is not None,
            }
        )
    fractions = [r["unattributed_fraction"] for r in rows if r["unattributed_fraction"] is not None]
    return {
        "rows": rows,
        "unattributed_max_fraction": max(fractions) if fractions else None,
        "unattributed_fraction": spread(fractions),
    }
