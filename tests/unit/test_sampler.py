"""The outside sampler of a process tree (diagnostics/sampler.py), on real processes."""

from __future__ import annotations

import subprocess
import sys
import time

from diagnostics.sampler import TreeSampler, read_vmhwm_bytes
from tests.processes import wait_for

# A parent holding 64 MiB that starts one child, then sleeps; the child sleeps too.
PARENT = """
import subprocess, sys, time
block = bytearray(64 * 1024 * 1024)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_sample_covers_the_tree_and_the_main_process_peak():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        sampler = TreeSampler(parent.pid, tree_refresh_seconds=0.0)
        sample = wait_for(lambda: (s := sampler.sample()) and child_pid in s["processes"] and s, what="child")
        assert set(sample["processes"]) == {parent.pid, child_pid}
        assert sample["rss_bytes"] == sum(sample["processes"].values())
        assert sample["main_rss_bytes"] == sample["processes"][parent.pid] >= 64 * 1024**2
        assert sample["vmhwm_bytes"] >= sample["main_rss_bytes"]
        assert sample["fds"] >= 3 and sample["threads"] >= 2
        assert sampler.pids()[0] == parent.pid and child_pid in sampler.pids()
    finally:
        parent.kill()
        parent.wait()
    # The root is gone: no sample, and its VmHWM can no longer be read (the last reading is kept).
    assert sampler.sample() is None
    assert read_vmhwm_bytes(parent.pid) is None
    assert sampler.last_vmhwm_bytes >= 64 * 1024**2


def test_cpu_percent_is_a_rate_between_two_samples():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler = TreeSampler(busy.pid)
        first = sampler.sample()
        assert first["cpu_percent"] == 0.0  # no previous reading yet
        time.sleep(0.5)
        assert sampler.sample()["cpu_percent"] > 20.0  # a spinning process on a shared 2-core box
    finally:
        busy.kill()
        busy.wait()


# Holds 256 MiB it never frees, then exits without Python's cleanup: the kernel tears the whole
# address space down inside exit, which takes tens of milliseconds (as for a worker holding its
# cache=memory dataset).
HOLDER = """
import os, sys
block = bytearray(b"x") * (256 * 1024 * 1024)
print("ready", flush=True)
sys.stdin.readline()
os._exit(0)
"""


def _statm_of_exiting(pid: int) -> bool:
    """What /proc shows between the kernel dropping the address space and the zombie: a process
    not yet a zombie whose statm reads all zeros."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/statm") as statm:
            size = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return state != "Z" and size == 0


def test_a_process_tearing_down_its_memory_at_exit_gives_no_zero_sample():
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        sampler = TreeSampler(holder.pid, tree_refresh_seconds=0.0)
        assert sampler.sample()["rss_bytes"] >= 256 * 1024**2
        holder.stdin.write("\n")
        holder.stdin.flush()
        samples, saw_the_window = [], False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            saw_the_window = saw_the_window or _statm_of_exiting(holder.pid)
            sample = sampler.sample()
            if sample is None:
                # The sampler saw the window first (or the zombie): it is still open right after.
                saw_the_window = saw_the_window or _statm_of_exiting(holder.pid)
                break
            samples.append(sample)
        # The test caught the exit window it is about (it lasts tens of ms on this box).
        assert saw_the_window
        zero = [s for s in samples if s["rss_bytes"] == 0 or s["main_rss_bytes"] == 0]
        assert not zero, f"{len(zero)} of {len(samples)} samples of an exiting process read 0 bytes"
        assert sampler.sample() is None
    finally:
        holder.kill()
        holder.wait()
