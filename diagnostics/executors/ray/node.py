"""Who the node running a trial is, and whether it sees the driver's dataset folder: the node's
name in every message, its path for the folder (``DIAG_RAY_DATASET_MAP``), and the listing check
that fails a trial on a node whose folder is missing or differs.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from diagnostics.errors import DatasetError

__all__: list[str] = []  # the package's internals: imported by name by the node and driver sides


def _node_info() -> dict[str, Any]:
    import ray

    context = ray.get_runtime_context()
    return {
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "hostname": socket.gethostname(),
    }


def _node_name(node: dict[str, Any] | None) -> str:
    if not node:
        return "an unknown node"
    return f"node {node.get('hostname')} ({node.get('node_ip')}, id {str(node.get('node_id'))[:12]})"


def _node_path(path: str, dataset_map: dict[str, Any], node: dict[str, Any]) -> str:
    """The dataset folder as this node sees it (``DIAG_RAY_DATASET_MAP``; else the same path)."""
    for key in (node.get("node_id"), node.get("node_ip"), node.get("hostname")):
        for prefix, replacement in (dataset_map.get(key) or {}).items():
            prefix = prefix.rstrip("/")
            if path == prefix or path.startswith(prefix + "/"):
                return replacement.rstrip("/") + path[len(prefix) :]
    return path


def _dataset_problem(
    path: str, fingerprint: str | None, driver_path: str, node: dict[str, Any]
) -> str | None:
    from diagnostics.dataset import list_folder

    where = f"{_node_name(node)}: dataset folder {path}"
    if path != driver_path:
        where += f" (the driver's {driver_path})"
    if not os.path.isdir(path):
        return f"{where} is missing; every node needs the same folder at the same path"
    try:
        listing = list_folder(path)
    except DatasetError as exc:
        return f"{where} cannot be used: {exc}"
    if fingerprint and listing.fingerprint != fingerprint:
        return (
            f"{where} differs from the driver's: listing fingerprint {listing.fingerprint[:12]} on the "
            f"node, {fingerprint[:12]} on the driver ({listing.num_files} files on the node). Names, "
            "sizes and modification times must match: mount the same share or copy with `rsync -a`"
        )
    return None
