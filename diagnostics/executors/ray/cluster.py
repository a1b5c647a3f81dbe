"""Reaching the Ray cluster from the driver: probe its address, connect (never start one), count
its ``{"diagnostics_trial": 1}`` slots, read ``DIAG_RAY_DATASET_MAP``; Ray itself is imported here,
lazily, and only when the ray executor is used.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

from diagnostics.errors import ConfigError

__all__ = [
    "ADDRESS_ENV",
    "DATASET_MAP_ENV",
    "SLOT_RESOURCE",
    "cluster_offer",
    "cluster_slots",
    "connect",
    "reachable",
]

SLOT_RESOURCE = "diagnostics_trial"
ADDRESS_ENV = "DIAG_RAY_ADDRESS"
DATASET_MAP_ENV = "DIAG_RAY_DATASET_MAP"


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs the ray package (pip install 'ray~=2.58'); "
            "without it trials run locally (--executor local)"
        ) from None
    return ray


def reachable(address: str, timeout: float = 1.0) -> bool:
    """Whether something listens at ``host:port`` (a quick check before ray.init, which waits long)."""
    host, _, port = address.rpartition(":")
    if address in ("auto", "local") or not port.isdigit():
        return True  # nothing to probe: ray.init tells
    try:
        with socket.create_connection((host.removeprefix("ray://") or "127.0.0.1", int(port)), timeout):
            return True
    except OSError:
        return False


def connect(address: str | None = None) -> Any:
    """ray.init on an existing cluster (never a new one: it would offer no trial slot)."""
    loaded = sys.modules.get("ray")
    if loaded is not None and loaded.is_initialized():
        return loaded
    address = address or os.environ.get(ADDRESS_ENV) or "auto"
    if not reachable(address):  # before importing ray (a second or two): a typo answers at once
        raise ConfigError(f"the Ray cluster at {address} cannot be reached (is `ray start --head` running?)")
    ray = _ray()
    try:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"the Ray cluster at {address} cannot be reached: {exc}") from None
    return ray


def cluster_slots(address: str | None = None) -> int:
    """Trial slots of the cluster: the sum of the ``diagnostics_trial`` resource of its nodes."""
    ray = connect(address)
    return int(ray.cluster_resources().get(SLOT_RESOURCE, 0))


def _dataset_map() -> dict[str, Any]:
    text = os.environ.get(DATASET_MAP_ENV)
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{DATASET_MAP_ENV} is not JSON: {exc}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, dict) for v in mapping.values()):
        raise ConfigError(
            f'{DATASET_MAP_ENV} must look like {{"<node id, ip or host>": {{"/driver/path": "/node/path"}}}}'
        )
    return mapping


def cluster_offer(address: str) -> tuple[int | None, str | None]:
    """(trial slots, None) of the cluster at ``address``, or (None, why it cannot be used)."""
    if not reachable(address):
        return None, f"the Ray cluster at {address} cannot be reached"
    try:
        return cluster_slots(address), None
    except ConfigError as exc:
        return None, str(exc)
    except Exception as exc:  # whatever Ray raises, the page says it and offers the local executor
        return None, f"the Ray cluster at {address} cannot be used: {type(exc).__name__}: {exc}"
