"""Child processes timed from outside: wall time and the kernel's high-water RSS of exactly that child."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.trials import BenchError

__all__ = ["Timed", "timed_run"]


@dataclass(frozen=True)
class Timed:
    wall_seconds: float
    maxrss_bytes: int  # ru_maxrss of this child alone (os.wait4), KiB -> bytes
    stdout: str


def timed_run(argv: list[str], *, cwd: str | Path | None = None, log: Path | None = None) -> Timed:
    """Run argv to completion; BenchError (with the tail of its stderr) unless it exits 0.

    ``os.wait4`` on the child's pid gives that child's own rusage, unlike ``RUSAGE_CHILDREN``,
    which mixes every child this process ever waited for.
    """
    stderr_path = log or Path(os.devnull)
    with open(stderr_path, "w", encoding="utf-8") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        stdout = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall_seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting on a reaped pid
    if proc.returncode != 0:
        tail = ""
        if log is not None and log.exists():
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise BenchError(f"{' '.join(map(str, argv))} exited {proc.returncode}\n{tail}")
    return Timed(wall_seconds=wall_seconds, maxrss_bytes=usage.ru_maxrss * 1024, stdout=stdout)
