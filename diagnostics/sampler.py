"""Outside sampling of the worker's whole process tree: RSS, file descriptors, threads, CPU, VmHWM.

The runner calls ``TreeSampler.sample()`` at ``config.sample_hz`` (50 Hz by default) from the
thread that waits for the worker. One sample must stay cheap on a loaded 2-core box, so:

- the tree (PyDataset workers are children of the worker) is rediscovered with psutil only every
  ``tree_refresh_seconds``, because ``children(recursive=True)`` walks every process on the host;
- each known process is then read through ``psutil.Process.oneshot()`` (one read of
  ``/proc/<pid>/stat``, ``statm`` and ``status`` each) plus a listing of ``/proc/<pid>/fd``;
- a process whose address space the kernel has already released (exiting, not yet a zombie:
  ``/proc/<pid>/statm`` reads all zeros) counts as gone, so a run never ends on a 0-byte sample;
- the main worker's ``VmHWM`` (its kernel-kept RSS high-water mark) is read from
  ``/proc/<pid>/status`` on each sample, so the last sample still carries the true peak when the
  worker is killed before it can report its own.

Example:
    >>> sampler = TreeSampler(worker.pid)
    >>> sampler.sample()
    {"t": 1234.5, "rss_bytes": ..., "main_rss_bytes": ..., "processes": {pid: rss}, "fds": 9,
     "threads": 31, "cpu_percent": 97.0, "vmhwm_bytes": ...}
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

__all__ = ["TreeSampler", "read_vmhwm_bytes"]


def read_vmhwm_bytes(pid: int) -> int | None:
    """``VmHWM`` of a live process from ``/proc/<pid>/status``, in bytes; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        return None
    return None


class TreeSampler:
    """Samples one process and its descendants.

    Args:
        pid: the worker's pid (the root of the tree).
        tree_refresh_seconds: how often to look for new or gone child processes.
    """

    def __init__(self, pid: int, tree_refresh_seconds: float = 0.25) -> None:
        self.pid = pid
        self.tree_refresh_seconds = tree_refresh_seconds
        self._root = psutil.Process(pid)
        self._procs: dict[int, psutil.Process] = {pid: self._root}
        self._last_refresh = 0.0
        # cpu_percent is a rate: keep the previous CPU time and wall time per process.
        self._cpu_prev: dict[int, tuple[float, float]] = {}
        self.last_vmhwm_bytes: int | None = None

    def _refresh_tree(self, now: float) -> None:
        self._last_refresh = now
        try:
            children = self._root.children(recursive=True)
        except psutil.Error:
            return
        current = {self.pid: self._root}
        for child in children:
            # Reuse the existing Process object so psutil's identity check (create time) holds.
            current[child.pid] = self._procs.get(child.pid, child)
        self._procs = current

    def sample(self) -> dict[str, Any] | None:
        """One sample of the tree; None when the root process is gone, a zombie or exiting.

        A process of the tree that is exiting (no address space left) is left out, as a gone one
        is: its zero bytes are not a measurement.
        """
        now = time.monotonic()
        if now - self._last_refresh >= self.tree_refresh_seconds:
            self._refresh_tree(now)
        processes: dict[int, int] = {}
        fds = threads = 0
        cpu_percent = 0.0
        main_rss = None
        for pid, proc in list(self._procs.items()):
            try:
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        raise psutil.ZombieProcess(pid)
                    memory = proc.memory_info()
                    if memory.vms == 0:
                        # Exiting: the kernel has dropped the address space (exit_mm) and is
                        # freeing it, tens of ms for a worker holding a cached dataset, before the
                        # task turns zombie; meanwhile statm reads all zeros. A user process that
                        # still runs always maps something, so this is a process that has gone.
                        raise psutil.NoSuchProcess(pid)
                    rss = memory.rss
                    n_threads = proc.num_threads()
                    times = proc.cpu_times()
                try:
                    n_fds = len(os.listdir(f"/proc/{pid}/fd"))
                except OSError:
                    n_fds = 0
            except psutil.Error:
                self._procs.pop(pid, None)
                self._cpu_prev.pop(pid, None)
                continue
            cpu_seconds = times.user + times.system
            previous = self._cpu_prev.get(pid)
            self._cpu_prev[pid] = (cpu_seconds, now)
            if previous is not None and now > previous[1]:
                cpu_percent += 100.0 * (cpu_seconds - previous[0]) / (now - previous[1])
            processes[pid] = rss
            fds += n_fds
            threads += n_threads
            if pid == self.pid:
                main_rss = rss
        if main_rss is None:
            return None
        vmhwm = read_vmhwm_bytes(self.pid)
        if vmhwm is None:
            # Exiting between the reads above and this one (a zombie has no VmHWM line): the
            # high-water mark never decreases, so the last reading still holds.
            vmhwm = self.last_vmhwm_bytes
        else:
            self.last_vmhwm_bytes = vmhwm
        return {
            "t": now,
            "rss_bytes": sum(processes.values()),
            "main_rss_bytes": main_rss,
            "processes": processes,
            "fds": fds,
            "threads": threads,
            "cpu_percent": round(cpu_percent, 1),
            "vmhwm_bytes": vmhwm,
        }

    def pids(self) -> list[int]:
        """The pids currently known in the tree (the root first)."""
        return [self.pid, *(p for p in self._procs if p != self.pid)]
