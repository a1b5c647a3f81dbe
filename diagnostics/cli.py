"""``python -m diagnostics``: scan, loaders, run, sweep, scenario, report.

Thin: parse arguments, call the library, print. Exit codes: 0 completed, 2 bad input (the message
names the folder, file or option; no traceback), 3 the trial failed, was killed, timed out or was
cancelled (its summary is still printed and stored).

``run`` builds its TrialConfig only from the flags the user typed, so an option that does not apply
to the chosen loader is refused by name instead of being silently ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from diagnostics import throughput
from diagnostics.config import TrialConfig, cli_name, parse_size
from diagnostics.errors import ConfigError, DatasetError, DiagnosticsError, StoreError, TrialCancelled

__all__ = ["main"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_TRIAL_FAILED = 0, 2, 3


def _bool_text(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _image_size_text(text: str) -> list[int]:
    parts = str(text).lower().replace("x", " ").replace(",", " ").split()
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise ValueError(f"not an image size: {text!r}")
    return [int(p) for p in parts]


# TrialConfig field -> (argparse kwargs, text -> value for sweep grids)
_OPTIONS: dict[str, tuple[dict[str, Any], Callable[[str], Any]]] = {
    "mode": ({"metavar": "iterate|fit"}, str),
    "model": ({"metavar": "tiny_cnn|mobilenet_v2"}, str),
    "epochs": ({"type": int, "metavar": "N"}, int),
    "steps": ({"type": int, "metavar": "N", "help": "batches per epoch (default: the whole dataset)"}, int),
    "batch_size": ({"type": int, "metavar": "N"}, int),
    "image_size": ({"type": int, "nargs": 2, "metavar": ("H", "W")}, _image_size_text),
    "color_mode": ({"metavar": "rgb|grayscale"}, str),
    "interpolation": ({"metavar": "bilinear|nearest|bicubic|area"}, str),
    "shuffle": ({"action": "store_true"}, _bool_text),
    "shuffle_buffer": ({"type": int, "metavar": "N"}, int),
    "seed": ({"type": int, "metavar": "N"}, int),
    "cache": ({"metavar": "none|memory|file"}, str),
    "prefetch": ({"metavar": "none|auto|N"}, str),
    "num_parallel_calls": ({"metavar": "none|auto|N"}, str),
    "dtype": ({"metavar": "float32|float16|uint8"}, str),
    "augmentation": ({"metavar": "none|light|heavy"}, str),
    "keep_decoded": (
        {"action": "store_true", "help": "eager_loop: keep decoded tensors in a list"},
        _bool_text,
    ),
    "rescale": ({"type": float, "metavar": "X", "help": "image_data_generator: e.g. 0.00392"}, float),
    "validation_split": ({"type": float, "metavar": "X"}, float),
    "close_and_collect": ({"action": "store_true"}, _bool_text),
    "workers": ({"type": int, "metavar": "N"}, int),
    "use_multiprocessing": ({"action": "store_true"}, _bool_text),
    "max_queue_size": ({"type": int, "metavar": "N"}, int),
    "via_tf_data": (
        {"action": "store_true", "help": "pil_generator: wrap in tf.data.Dataset.from_generator"},
        _bool_text,
    ),
    "memory_budget_bytes": (
        {"type": str, "metavar": "SIZE", "help": "e.g. 700MiB (default 80%% of available RAM)"},
        parse_size,
    ),
    "timeout_seconds": ({"type": float, "metavar": "S"}, float),
    "sample_hz": ({"type": float, "metavar": "HZ", "help": "sampling rate (default 50)"}, float),
}


def _add_trial_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DIR", help="class-per-subfolder image folder")
    parser.add_argument("--loader", default=argparse.SUPPRESS, help="see `python -m diagnostics loaders`")
    group = parser.add_argument_group("trial options (only those you give are set)")
    for name, (kwargs, _) in _OPTIONS.items():
        # SUPPRESS: an option the user did not type stays out of the namespace, hence default.
        group.add_argument(cli_name(name), dest=name, default=argparse.SUPPRESS, **kwargs)


def _config_from_args(args: argparse.Namespace) -> TrialConfig:
    given = {name: getattr(args, name) for name in _OPTIONS if hasattr(args, name)}
    if "memory_budget_bytes" in given:
        given["memory_budget_bytes"] = parse_size(given["memory_budget_bytes"])
    if hasattr(args, "loader"):
        given["loader"] = args.loader
    return TrialConfig(dataset=args.dataset, **given)


def _allowed_roots() -> list[Path] | None:
    # The command line runs as the user on their own files: no confinement unless the user set
    # DIAG_DATA_ROOTS (the dashboard always confines; see dataset.allowed_roots).
    return None if os.environ.get("DIAG_DATA_ROOTS") else [Path("/")]


def _write_json(target: str, document: Any) -> None:
    text = json.dumps(document, indent=2, sort_keys=False, default=str)
    if target == "-":
        print(text)
        return
    try:
        Path(target).write_text(text + "\n")
    except OSError as exc:
        raise ConfigError(f"--json: cannot write {target}: {exc.strerror}") from None


def _open_store():
    from diagnostics.recover import recover_interrupted
    from diagnostics.store import Store

    store = Store()
    recover_interrupted(store)
    return store


# -- printing ------------------------------------------------------------------------------------


def print_run_summary(store, run_id: int, out=None) -> None:
    from diagnostics.units import format_bytes, format_rate, format_seconds

    out = out or sys.stdout  # looked up at call time (tests and redirects replace sys.stdout)

    run = store.get_run(run_id)
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    scan = run.get("scan") or {}

    def line(label: str, text: str) -> None:
        print(f"  {label:<12} {text}", file=out)

    print(f"run {run_id}: {run['status']}  ({config.get('loader')}, {config.get('mode')})", file=out)
    line("dataset", f"{run.get('dataset_path')} ({scan.get('num_images', '?')} images)")
    baseline, peak = summary.get("baseline_rss_bytes"), summary.get("peak_rss_bytes")
    line("baseline", f"{format_bytes(baseline)} RSS at ready (after imports)")
    peak_text = f"{format_bytes(peak)} ({summary.get('peak_source', 'VmHWM')})"
    if summary.get("peak_tree_rss_bytes"):
        peak_text += f"; process tree up to {format_bytes(summary['peak_tree_rss_bytes'])}"
    line("peak", peak_text)
    if baseline is not None and peak is not None:
        line("overhead", f"{format_bytes(peak - baseline)} over baseline")
    rate = throughput.of_summary(summary)
    note = throughput.spread_note(rate)
    line("images/s", format_rate(rate["images_per_second"]) + (f" ({note})" if note else ""))
    for epoch in summary.get("epochs") or []:
        text = (
            f"{epoch.get('images')} images in {format_seconds(epoch.get('seconds'))}, "
            f"{format_rate(epoch.get('images_per_second'))}, RSS {format_bytes(epoch.get('rss_end_bytes'))}"
        )
        if epoch.get("loss") is not None:  # fit mode
            text += f", loss {epoch['loss']:.4f}"
        if epoch.get("accuracy") is not None:
            text += f", accuracy {epoch['accuracy']:.3f}"
        line(f"epoch {epoch.get('index')}", text)
    if summary.get("leak_bytes_per_epoch") is not None:
        line("leak", f"{format_bytes(summary['leak_bytes_per_epoch'], signed=True)} per epoch")
    if summary.get("duration_seconds") is not None:
        line("duration", format_seconds(summary["duration_seconds"]))
    if summary.get("samples") is not None:
        line("samples", str(summary["samples"]))
    for label, text in xray_lines(summary):
        line(label, text)
    for finding in run.get("findings") or []:
        line("finding", f"[{finding.get('severity')}] {finding.get('title')}")
    steps_default = (config.get("extra") or {}).get("steps_default")
    if steps_default:
        line("steps", steps_default.get("text", ""))
    bad = scan.get("bad_files") or []
    if bad:
        total = scan.get("bad_files_total", len(bad))
        line("skipped", f"{total} unreadable file(s): " + ", ".join(b["path"] for b in bad[:5]))
    if run.get("error"):
        first, *rest = str(run["error"]).splitlines()
        line("error", first)
        for extra in rest:
            print(f"  {'':<12} {extra}", file=out)
    line("stored in", f"{store.path} (run {run_id})")


TOP_COMPONENTS = 5


def xray_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines: the largest attributed parts at the peak, the remainder, the bottleneck."""
    from diagnostics.units import format_bytes, format_rate

    out: list[tuple[str, str]] = []
    attribution = summary.get("attribution")
    if attribution:
        overhead = attribution.get("overhead_bytes") or 0

        def share(value: float) -> str:
            return f"{100 * value / overhead:.0f}%" if overhead > 0 else "–"

        parts = sorted(attribution.get("components") or [], key=lambda c: -(c.get("bytes") or 0))
        shown = [c for c in parts if c.get("bytes")][:TOP_COMPONENTS]
        out.append(("where", f"{format_bytes(overhead)} over baseline at the peak snapshot:"))
        for part in shown:
            out.append(("", f"{format_bytes(part['bytes']):>10}  {share(part['bytes']):>4}  {part['name']}"))
        rest = attribution.get("unattributed_bytes") or 0
        out.append(("", f"{format_bytes(rest):>10}  {share(rest):>4}  unattributed"))
        if attribution.get("note"):
            out.append(("", str(attribution["note"])))
    pipeline = summary.get("pipeline")
    if pipeline and pipeline.get("bottleneck"):
        neck = pipeline["bottleneck"]
        out.append(
            ("bottleneck", f"{neck.get('stage')}: {format_rate(neck.get('images_per_second'))} on its own")
        )
    if pipeline and (pipeline.get("bound") or {}).get("kind"):
        out.append(("bound", f"{pipeline['bound']['kind']}-bound: {pipeline['bound'].get('detail')}"))
    return out


def _exit_for_status(status: str) -> int:
    return EXIT_OK if status == "completed" else EXIT_TRIAL_FAILED


# -- commands ------------------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    from diagnostics import dataset
    from diagnostics.units import format_bytes  # not ui: pandas' import would double a warm scan

    root = dataset.resolve_dataset(args.dataset, _allowed_roots())
    size = tuple(args.image_size) if args.image_size else (128, 128)
    dataset.decoded_bytes(size, args.color_mode, args.dtype)  # bad options before any reading
    listing = dataset.list_folder(root)
    if not args.json:
        print(
            f"{listing.root}: {listing.num_files:,} image files ({format_bytes(listing.total_bytes)}) "
            f"in {len(listing.classes)} classes; verifying…",
            file=sys.stderr,
        )
    scan = dataset.verify(listing, on_progress=_progress_printer(args.json)).with_decoding(
        size, args.color_mode, args.dtype
    )
    if args.json:
        print(json.dumps(scan.to_dict(), indent=2, default=str))
        return EXIT_OK
    print(f"{scan.root}: {scan.num_images} readable images in {len(scan.classes)} classes")
    for name in scan.classes:
        print(f"  {name:<20} {scan.counts.get(name, 0)}")
    print("  formats      " + ", ".join(f"{k} {v}" for k, v in sorted(scan.formats.items())))
    print("  channels     " + ", ".join(f"{k} {v}" for k, v in sorted(scan.channel_modes.items())))
    if scan.sizes:
        widths = [w for w, _ in scan.sizes]
        heights = [h for _, h in scan.sizes]
        print(f"  pixel sizes  {min(widths)}-{max(widths)} x {min(heights)}-{max(heights)} (w x h)")
    print(
        f"  decoded      {format_bytes(scan.decoded_bytes_per_image)} per image at "
        f"{size[0]}x{size[1]} {args.color_mode} {args.dtype}"
    )
    if scan.bad_files:
        print(f"  unreadable   {len(scan.bad_files)} file(s):")
        for bad in scan.bad_files:
            print(f"    {bad['path']}: {bad['reason']}")
    return EXIT_OK


def _progress_printer(quiet: bool):
    """on_progress for dataset.verify: a line on stderr at most every 2 s (none with --json)."""
    import time

    last = [time.monotonic()]

    def report(done: int, total: int, bad: int) -> None:
        now = time.monotonic()
        if quiet or (now - last[0] < 2.0 and done < total):
            return
        last[0] = now
        print(f"  verified {done:,}/{total:,} ({bad} unreadable so far)", file=sys.stderr)

    return report


def cmd_loaders(args: argparse.Namespace) -> int:
    from diagnostics.loaders import LOADER_NAMES, get_loader

    for name in LOADER_NAMES:
        try:
            loader = get_loader(name)
        except (ImportError, ConfigError) as exc:
            print(f"{name:<22} (not available: {exc})")
            continue
        options = ", ".join(cli_name(o) for o in sorted(loader.options)) or "common options only"
        print(f"{name:<22} {loader.description}")
        print(f"{'':<22} options: {options}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from diagnostics.export import run_json
    from diagnostics.runner import run_trial

    config = _config_from_args(args)
    store = _open_store()
    try:
        run_id = run_trial(config, store, allowed_roots=_allowed_roots())
    except TrialCancelled as exc:  # Ctrl-C or SIGTERM: the run is stored; say how it ended
        run_id = exc.run_id
        if run_id is None:
            raise
    print_run_summary(store, run_id)
    if args.json:
        _write_json(args.json, run_json(store, run_id))
    return _exit_for_status(store.get_run(run_id)["status"])


def _parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    by_flag = {cli_name(name).lstrip("-"): name for name in _OPTIONS}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().lstrip("-")
        name = (
            key.replace("-", "_")
            if key.replace("-", "_") in _OPTIONS or key == "loader"
            else by_flag.get(key)
        )
        if key in ("memory-budget", "memory_budget"):
            name = "memory_budget_bytes"
        if not sep or not values or name is None:
            raise ConfigError(
                f"--grid {item!r}: expected KEY=V1,V2 with KEY a trial option such as batch-size"
            )
        convert = str if name == "loader" else _OPTIONS[name][1]
        try:
            grid[name] = [convert(v.strip()) for v in values.split(",") if v.strip()]
        except ValueError as exc:
            raise ConfigError(f"--grid {item!r}: {exc}") from None
    if not grid:
        raise ConfigError("--grid needs at least one KEY=V1,V2")
    return grid


def _executor_from_args(args: argparse.Namespace):
    from diagnostics.executors import get_executor

    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    return get_executor(args.executor, address=args.ray_address)


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: one trial after another here (default); ray: one trial per node of a Ray cluster",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster (head host:port); default DIAG_RAY_ADDRESS, else `ray start` on this machine",
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from diagnostics.export import run_json
    from diagnostics.sweep import run_sweep

    base = _config_from_args(args)
    grid = _parse_grid(args.grid)
    store = _open_store()
    name = args.name or " x ".join(grid)
    executor = _executor_from_args(args)
    result = run_sweep(store, base, grid, name, allowed_roots=_allowed_roots(), executor=executor)
    sweep_id = result if isinstance(result, int) else (result or {}).get("sweep_id")
    sweep = store.get_sweep(sweep_id)
    statuses = []
    for run_id in sweep["run_ids"]:
        print_run_summary(store, run_id)
        statuses.append(store.get_run(run_id)["status"])
    recommended = (sweep.get("summary") or {}).get("recommended_run_id")
    if recommended is not None:
        print(f"recommended: run {recommended}")
    print(f"sweep {sweep_id}: {len(statuses)} trials, {statuses.count('completed')} completed")
    if args.json:
        document = {
            "sweep_id": sweep_id,
            "sweep": sweep,
            "result": result if isinstance(result, dict) else None,
            "runs": [run_json(store, r) for r in sweep["run_ids"]],
        }
        _write_json(args.json, document)
    return EXIT_OK if statuses and all(s == "completed" for s in statuses) else EXIT_TRIAL_FAILED


def cmd_scenario(args: argparse.Namespace) -> int:
    from diagnostics import scenarios

    if args.list or not args.name:
        for item in scenarios.list_scenarios():
            if isinstance(item, str):
                print(item)
            else:
                get = item.get if isinstance(item, dict) else lambda k, d=None, i=item: getattr(i, k, d)
                print(f"{get('name'):<16} {get('title') or get('question') or get('description') or ''}")
        return EXIT_OK
    if not args.dataset:
        raise ConfigError(
            f"scenario {args.name}: give the dataset folder, e.g. `scenario {args.name} sample_data`"
        )
    store = _open_store()
    executor = _executor_from_args(args)
    result = scenarios.run_scenario(args.name, args.dataset, store, executor=executor)
    run_ids = list((result or {}).get("run_ids") or []) if isinstance(result, dict) else []
    for run_id in run_ids:
        print_run_summary(store, run_id)
    if isinstance(result, dict):
        for key in ("verdict", "answer", "conclusion"):
            if result.get(key):
                print(f"{key}: {result[key]}")
    if args.json:
        _write_json(args.json, result)
    failed = [r for r in run_ids if store.get_run(r)["status"] != "completed"]
    return EXIT_TRIAL_FAILED if failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from diagnostics.report import render_html
    from diagnostics.store import Store

    store = Store()
    for run_id in args.run_ids:
        store.get_run(run_id)  # StoreError naming the missing run
    html = render_html(store, list(args.run_ids))
    try:
        Path(args.html).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--html: cannot write {args.html}: {exc.strerror}") from None
    print(f"report of run(s) {', '.join(map(str, args.run_ids))} written to {args.html}")
    return EXIT_OK


# -- entry ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diagnostics",
        description="Measure a TensorFlow input pipeline's memory and throughput on your image folder.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = sub.add_parser("scan", help="describe an image folder")
    scan.add_argument("dataset", metavar="DIR")
    scan.add_argument("--json", action="store_true", help="print the scan as JSON")
    scan.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), dest="image_size")
    scan.add_argument("--color-mode", default="rgb", dest="color_mode")
    scan.add_argument("--dtype", default="float32")
    scan.set_defaults(func=cmd_scan)

    loaders = sub.add_parser("loaders", help="list the loaders and their options")
    loaders.set_defaults(func=cmd_loaders)

    run = sub.add_parser("run", help="run one trial")
    _add_trial_options(run)
    run.add_argument("--json", metavar="OUT", help="write the result as JSON (- for stdout)")
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="run a grid of trials and recommend a config")
    _add_trial_options(sweep)
    sweep.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2")
    sweep.add_argument("--name", help="a name for the sweep")
    sweep.add_argument("--json", metavar="OUT")
    _add_executor_options(sweep)
    sweep.set_defaults(func=cmd_sweep)

    scenario = sub.add_parser("scenario", help="answer a classic question with a measured before/after")
    scenario.add_argument("--list", action="store_true")
    scenario.add_argument("name", nargs="?")
    scenario.add_argument("dataset", nargs="?", metavar="DIR")
    scenario.add_argument("--json", metavar="OUT")
    _add_executor_options(scenario)
    scenario.set_defaults(func=cmd_scenario)

    report = sub.add_parser("report", help="write a self-contained HTML report")
    report.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    report.add_argument("--html", required=True, metavar="OUT")
    report.set_defaults(func=cmd_report)
    return parser


_TRIAL_COMMANDS = frozenset({"run", "sweep", "scenario"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with the option named
    # Only where a trial runs: the handlers store a cancelled run (a scan keeps Ctrl-C's default).
    if args.command in _TRIAL_COMMANDS and threading.current_thread() is threading.main_thread():
        from diagnostics.signals import install_stop_signals

        install_stop_signals()  # SIGTERM cancels and stores the run like Ctrl-C
    try:
        return args.func(args)
    except (ConfigError, DatasetError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrialCancelled:  # a stop signal ended a sweep's or scenario's trial (stored cancelled)
        print("interrupted", file=sys.stderr)
        return 130
    except DiagnosticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TRIAL_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
