"""The Ray executor: one trial per node of an existing Ray cluster, one writer of the central store.

Why one trial per node: trials side by side on one box disturb each other's memory and
throughput, so each trial is a Ray task that needs the ``diagnostics_trial`` custom resource
(nodes offer 1 each by default), placed by the driver on a node with a free slot. On the node
the task runs the same runner (``runner.run_prepared``): the worker is spawned and sampled
there, with the same budget, timeout and VmHWM peak, against a node-local store in a temporary
DIAG_HOME. A ``_RelayStore`` copies every write of that store into batches the task sends, every
``RELAY_SECONDS``, to a small mailbox actor on the driver's node; the driver drains it and writes
the central store, whose only writer it is. Runs are created by the driver (status queued)
before any task starts, so their ids exist at once and the
dashboard shows them, live, as it shows local ones.

Faults, as the driver sees them:
- dataset: the task compares the folder's listing fingerprint on the node with the driver's;
  a missing or different folder fails that trial with a message naming the node and the path,
  and that node gets no more trials of this run.
- cancel: a cancel request on a run reaches the node through the mailbox (the runner's own kill,
  ``cancelled on request``); ``ray.cancel`` follows if the task has not ended after
  ``CANCEL_GRACE_SECONDS`` (a task still waiting for a node is cancelled at once).
- node death: the task's ref raises a Ray system error; the driver marks the run ``interrupted``
  naming the node (never ``cancelled``: a stop the node itself caused is not a cancel), and the
  other trials go on. ``max_retries=0``: Ray never reruns a trial silently elsewhere.
- driver death: Ray ends the job's tasks; the runner on the node spawned its worker with
  ``PR_SET_PDEATHSIG``, so the worker dies with the task's process.

Test and operations hooks: ``DIAG_RAY_DATASET_MAP`` (JSON ``{"<node id | node ip | host name>":
{"<driver folder>": "<folder on that node>"}}``) for nodes that mount the dataset elsewhere; the
driver's ``DIAG_TEST_*``, ``DIAG_PROBE_*`` and ``FAKE_*`` variables reach the trials' environment.

Its modules: ``cluster`` (address probe, connect, trial slots, the dataset map); on the node,
``node`` (its name, its path for the folder, the dataset check), ``relay`` (relay store, relay,
mailbox actor) and ``task`` (``_trial_task``); on the driver, ``executor`` (``RayExecutor``).
Ray pickles the task function and the mailbox class by module path: both stay module-level in
``task`` and ``relay``.
"""

from __future__ import annotations

from diagnostics.executors.ray.cluster import (
    ADDRESS_ENV,
    DATASET_MAP_ENV,
    SLOT_RESOURCE,
    cluster_offer,
    cluster_slots,
    connect,
    reachable,
)
from diagnostics.executors.ray.cluster import _dataset_map as _dataset_map
from diagnostics.executors.ray.executor import (
    CANCEL_GRACE_SECONDS,
    DRAIN_SECONDS,
    FORWARDED_ENV_PREFIXES,
    NO_SLOT_SECONDS,
    RayExecutor,
)
from diagnostics.executors.ray.node import _dataset_problem as _dataset_problem
from diagnostics.executors.ray.node import _node_path as _node_path
from diagnostics.executors.ray.relay import RELAY_FAILURES_BEFORE_STOP, RELAY_SECONDS

__all__ = [
    "ADDRESS_ENV",
    "CANCEL_GRACE_SECONDS",
    "DATASET_MAP_ENV",
    "DRAIN_SECONDS",
    "FORWARDED_ENV_PREFIXES",
    "NO_SLOT_SECONDS",
    "RELAY_FAILURES_BEFORE_STOP",
    "RELAY_SECONDS",
    "SLOT_RESOURCE",
    "RayExecutor",
    "cluster_offer",
    "cluster_slots",
    "connect",
    "reachable",
]
