"""What the commands share: the trial options and the TrialConfig built from them, the executor
options, the store, the ``--json`` output and the exit codes.

A trial command builds its TrialConfig only from the flags the user typed, so an option that does
not apply to the chosen loader is refused by name instead of being silently ignored.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diagnostics.config import TrialConfig, cli_name, parse_size
from diagnostics.errors import ConfigError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "EXIT_TRIAL_FAILED",
    "OPTIONS",
    "add_executor_options",
    "add_trial_options",
    "allowed_roots",
    "config_from_args",
    "executor_from_args",
    "exit_for_status",
    "open_store",
    "write_json",
]

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
OPTIONS: dict[str, tuple[dict[str, Any], Callable[[str], Any]]] = {
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


def add_trial_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DIR", help="class-per-subfolder image folder")
    parser.add_argument("--loader", default=argparse.SUPPRESS, help="see `python -m diagnostics loaders`")
    group = parser.add_argument_group("trial options (only those you give are set)")
    for name, (kwargs, _) in OPTIONS.items():
        # SUPPRESS: an option the user did not type stays out of the namespace, hence default.
        group.add_argument(cli_name(name), dest=name, default=argparse.SUPPRESS, **kwargs)


def config_from_args(args: argparse.Namespace) -> TrialConfig:
    given = {name: getattr(args, name) for name in OPTIONS if hasattr(args, name)}
    if "memory_budget_bytes" in given:
        given["memory_budget_bytes"] = parse_size(given["memory_budget_bytes"])
    if hasattr(args, "loader"):
        given["loader"] = args.loader
    return TrialConfig(dataset=args.dataset, **given)


def add_executor_options(parser: argparse.ArgumentParser) -> None:
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


def executor_from_args(args: argparse.Namespace):
    from diagnostics.executors import get_executor

    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    return get_executor(args.executor, address=args.ray_address)


def allowed_roots() -> list[Path] | None:
    # The command line runs as the user on their own files: no confinement unless the user set
    # DIAG_DATA_ROOTS (the dashboard always confines; see dataset.allowed_roots).
    return None if os.environ.get("DIAG_DATA_ROOTS") else [Path("/")]


def open_store():
    from diagnostics.recover import recover_interrupted
    from diagnostics.store import Store

    store = Store()
    recover_interrupted(store)
    return store


def write_json(target: str, document: Any) -> None:
    text = json.dumps(document, indent=2, sort_keys=False, default=str)
    if target == "-":
        print(text)
        return
    try:
        Path(target).write_text(text + "\n")
    except OSError as exc:
        raise ConfigError(f"--json: cannot write {target}: {exc.strerror}") from None


def exit_for_status(status: str) -> int:
    return EXIT_OK if status == "completed" else EXIT_TRIAL_FAILED
