"""Targets, and the results table that `python -m bench` writes into docs/BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "evaluate", "refresh_docs", "results_markdown"]

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"

# key -> (operator, threshold, where the target comes from)
TARGETS: dict[str, tuple[str, float, str]] = {
    "monitor_overhead_ratio": (">=", 0.99, "issue 7 (done-when floor 0.97)"),
    "probe_overhead_ratio": (">=", 0.99, "issue 11"),
    "peak_error_bytes": ("==", 0, "issue 7"),
    "recommend_throughput_ratio": (">=", 0.95, "issue 7"),
    # The recommender prefers the lowest peak within 5% of the best; a config's peak varies by a
    # few MiB between identical runs, so 5% above the reference still counts as that choice.
    "recommend_peak_ratio": ("<=", 1.05, "the recommender's rule"),
}


def _meets(value: float, op: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, "==": value == threshold}[op]


def _why(key: str, result: dict[str, Any], sections: dict[str, Any]) -> str:
    """A reason for a miss derived from the run's own numbers (spread, load, the pick's place)."""
    load = result.get("load_average_start"), result.get("load_average_end")
    cores = (result.get("machine") or {}).get("cpu_count")
    busy = (
        f"load average {load[0][0] if load[0] else '?'} -> {load[1][0] if load[1] else '?'} on {cores} cores"
    )
    paired = {"monitor_overhead_ratio": ("overhead", "sampler"), "probe_overhead_ratio": ("probe", "probe")}
    if key in paired:
        section, what = paired[key]
        s = (sections.get(section) or {}).get(key) or {}
        if s.get("max") is not None and s["max"] >= TARGETS[key][1]:
            return (
                f"pairs range {s['min']:.3f}-{s['max']:.3f}: run-to-run noise is larger than the 1% "
                f"being measured ({busy})"
            )
        return f"every pair was slower with the {what} on ({busy})"
    if key == "peak_error_bytes":
        return "the reported peak is not the worker's VmHWM: a runner bug, not noise"
    if key == "recommend_throughput_ratio":
        rec = sections.get("recommend") or {}
        if not rec.get("pick_within_5_percent"):
            return (
                f"the pick ({rec.get('pick')}) fell outside 5% of the re-measured best ({rec.get('best')}): "
                f"its single grid run was lucky or the best's unlucky ({busy})"
            )
        return f"pick and best are within 5% by medians but not round by round ({busy})"
    if key == "recommend_peak_ratio":
        rec = sections.get("recommend") or {}
        return f"the pick ({rec.get('pick')}) peaks above {rec.get('lowest_peak_near_best')}"
    return busy


def evaluate(result: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, (op, threshold, source) in TARGETS.items():
        value = result.get(key)
        met = None if value is None else _meets(value, op, threshold)
        out[key] = {
            "target": f"{op} {threshold}",
            "source": source,
            "met": met,
            "why": None if met in (True, None) else _why(key, result, sections),
        }
    return out


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "MiB":
        return f"{value / 2**20:,.1f} MiB"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "B":
        return f"{int(value):,} B"
    if unit == "img/s":
        return f"{value:,.0f} img/s"
    return f"{value:.3f}"


def _range(spread: Any, unit: str = "") -> str:
    if not isinstance(spread, dict) or spread.get("n", 0) < 2:
        return ""
    return f"{_num(spread['min'], unit)} – {_num(spread['max'], unit)} (n={spread['n']})"


def results_markdown(result: dict[str, Any]) -> str:
    s = result.get("sections") or {}
    o, k, m, w, r, d, pr, at = (
        s.get(n) or {}
        for n in ("overhead", "peak", "mprof", "sweep", "recommend", "decode", "probe", "attribution")
    )
    targets = result.get("targets") or {}

    def verdict(key: str) -> str:
        t = targets.get(key)
        if not t:
            return ""
        if t["met"] is None:
            return f"{t['target']}: not measured"
        return f"{t['target']}: **met**" if t["met"] else f"{t['target']}: **missed**: {t['why']}"

    rows = [
        (
            "`monitor_overhead_ratio`",
            "steady img/s sampled at 50 Hz / sampler off, per pair",
            _num(result.get("monitor_overhead_ratio")),
            _range(o.get("monitor_overhead_ratio")),
            verdict("monitor_overhead_ratio") + _cpu_note(o),
        ),
        (
            "`peak_error_bytes`",
            "reported peak − worker VmHWM (worst trial of the run)",
            _num(result.get("peak_error_bytes"), "B"),
            f"{result.get('all_trials_peak_error', {}).get('trials', 0)} trials",
            verdict("peak_error_bytes"),
        ),
        (
            "`sampled_peak_fraction`",
            "max sampled RSS / VmHWM on the spiky trial",
            _num(result.get("sampled_peak_fraction")),
            "",
            f"of the rise above baseline: {_num(k.get('sampled_rise_fraction'))}; the spike spent "
            f"{_num(k.get('spike_seconds_near_top'), 's')} in its top 10%",
        ),
        (
            "kernel check",
            "reported peak − kernel ru_maxrss of the worker (spiky trial)",
            _num(k.get("peak_minus_kernel_maxrss_bytes"), "B"),
            "",
            "information",
        ),
        (
            "`mprof_peak_bytes`",
            f"`mprof run` peak at {m.get('mprof_interval_seconds', '?')} s interval",
            _num(result.get("mprof_peak_bytes"), "MiB"),
            _range(m.get("mprof_peak_bytes"), "MiB"),
            f"bare script's kernel maxrss {_num((m.get('bare_maxrss_bytes') or {}).get('median'), 'MiB')}; "
            f"ours (VmHWM) {_num((m.get('our_peak_bytes') or {}).get('median'), 'MiB')}",
        ),
        (
            "`mprof_wall_ratio`",
            "`mprof run` wall / bare script wall, per round",
            _num(result.get("mprof_wall_ratio")),
            _range(m.get("mprof_wall_ratio")),
            "information",
        ),
        (
            "`our_wall_ratio`",
            "our trial wall (spawn → analysed, stored) / bare script wall",
            _num(result.get("our_wall_ratio")),
            _range(m.get("our_wall_ratio")),
            "information",
        ),
        (
            "`sweep_seconds`",
            f"default sweep, {w.get('sweep_trials', '?')} trials",
            _num(result.get("sweep_seconds"), "s"),
            f"{_num(w.get('sweep_seconds_per_trial'), 's')} per trial",
            "information",
        ),
        (
            "`trial_fixed_seconds`",
            "worker spawn → `ready` (imports included)",
            _num(result.get("trial_fixed_seconds"), "s"),
            _range(w.get("trial_fixed_seconds"), "s"),
            f"bare `import tensorflow` {_num((w.get('bare_import_seconds') or {}).get('median'), 's')}; "
            f"ratio {_num((w.get('trial_fixed_ratio') or {}).get('median'))}",
        ),
        (
            "`recommend_throughput_ratio`",
            "pick / re-measured best, per round",
            _num(result.get("recommend_throughput_ratio")),
            _range(r.get("recommend_throughput_ratio")),
            verdict("recommend_throughput_ratio"),
        ),
        (
            "`recommend_peak_ratio`",
            "pick's peak / lowest peak within 5% of the best",
            _num(result.get("recommend_peak_ratio")),
            "",
            verdict("recommend_peak_ratio"),
        ),
        (
            "`decode_limit_ratio`",
            "best no-cache loader / in-memory decode+resize limit, per pair",
            _num(result.get("decode_limit_ratio")),
            _range(d.get("decode_limit_ratio")),
            f"limit {_num((d.get('limit_images_per_second') or {}).get('median'), 'img/s')}, "
            f"loader {_num((d.get('loader_images_per_second') or {}).get('median'), 'img/s')}",
        ),
        (
            "`probe_overhead_ratio`",
            "steady img/s with the pipeline probe at 4 Hz / `DIAG_PROBE_HZ=0`, per pair",
            _num(result.get("probe_overhead_ratio")),
            _range(pr.get("probe_overhead_ratio")),
            verdict("probe_overhead_ratio") + _probe_note(pr),
        ),
        (
            "`unattributed_max_fraction`",
            "largest unattributed / overhead at the peak over the coverage trials",
            _num(result.get("unattributed_max_fraction")),
            _range(at.get("unattributed_fraction")),
            "information: per trial below",
        ),
    ]
    mach = result.get("machine") or {}
    versions = mach.get("versions") or {}
    lines = [
        f"Mode **{result.get('mode')}** (`{result.get('command')}`), {result.get('started')}, "
        f"{result.get('seconds')} s, {result.get('trials')} trials.",
        "",
        f"Machine: {mach.get('cpu_model')}, {mach.get('cpu_count')} cores, "
        f"{_num(mach.get('ram_bytes'), 'MiB').replace(' MiB', '')} MiB RAM, {mach.get('platform')}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        + f". Load average (1 min) at start {_first(result.get('load_average_start'))}, "
        f"at end {_first(result.get('load_average_end'))}.",
        "",
        "| Measure | What | Median | Min – max | Target / context |",
        "|---|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {e} | {f} |" for a, b, c, e, f in rows),
    ]
    if r:
        lines += [
            "",
            f"Recommendation grid: {r.get('grid_size')} configs; pick `{r.get('pick')}`; re-measured best "
            f"`{r.get('best')}`; lowest peak within 5% `{r.get('lowest_peak_near_best')}`.",
        ]
        lines += [
            f"Grid config that failed: `{f['config']}`: {f['error']}" for f in r.get("failed_configs") or []
        ]
    if at.get("rows"):
        lines += ["", *coverage_table(at["rows"])]
    if result.get("errors"):
        lines += ["", "Sections that failed in this run:", ""]
        lines += [f"- `{name}`: {msg}" for name, msg in result["errors"].items()]
    return "\n".join(lines)


def coverage_table(rows: list[dict[str, Any]]) -> list[str]:
    """Attribution coverage: unattributed / overhead per trial, the largest parts, the remainder's split."""
    out = [
        "Attribution coverage at the peak (issue 11): the overhead is RSS over the post-import baseline; "
        "heap not named = malloc heap in use beyond the named parts; outside malloc = anonymous memory "
        "malloc does not hold (thread stacks, Python arenas, direct mmaps).",
        "",
        "| Trial | Overhead | Unattributed | Share | Largest parts | Heap not named | Outside malloc |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        frac = row.get("unattributed_fraction")
        top = ", ".join(f"{name} {_num(size, 'MiB')}" for name, size in row.get("top") or [])
        out.append(
            f"| {row['label']} (run {row['run_id']}) | {_num(row.get('overhead_bytes'), 'MiB')} | "
            f"{_num(row.get('unattributed_bytes'), 'MiB')} | {'n/a' if frac is None else f'{100 * frac:.1f}%'} | "
            f"{top} | {_num(row.get('heap_not_named_bytes'), 'MiB')} | {_num(row.get('outside_malloc_bytes'), 'MiB')} |"
        )
    return out


def _probe_note(probe: dict[str, Any]) -> str:
    share = (probe.get("probe_seconds_per_second") or {}).get("median")
    if share is None:
        return ""
    return f"; the probe spends {1000 * share:.2f} ms per second of trial ({probe.get('errors', 0)} errors)"


def _cpu_note(overhead: dict[str, Any]) -> str:
    share = (overhead.get("sampler_cpu_share_of_machine") or {}).get("median")
    if share is None:
        return ""
    return (
        f"; the sampler's extra CPU is {100 * share:.2f}% of the machine, so a pipeline using every "
        f"core loses about that much: {1 - share:.3f} expected"
    )


def _first(values: Any) -> str:
    return f"{values[0]:.2f}" if values else "n/a"


def refresh_docs(result: dict[str, Any], path: Path) -> None:
    """Replace the results block between the markers (or append one) in the given Markdown file."""
    block = f"{START}\n{results_markdown(result)}\n{END}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
