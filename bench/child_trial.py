"""Run one trial in a fresh process and report the kernel's own peak for its worker.

``python -m bench.child_trial CONFIG.json`` (store from ``DIAG_HOME``) prints
``{"run_id": n, "children_maxrss_bytes": n}``. This process's only child is the trial's worker, so
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the worker's high-water RSS as the kernel kept it at
exit: an independent check of the peak the product reports from the worker's VmHWM.
"""

from __future__ import annotations

import json
import resource
import sys

from diagnostics import runner
from diagnostics.config import TrialConfig
from diagnostics.store import Store


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        config = TrialConfig.from_json(fh.read())
    run_id = runner.run_trial(config, Store())
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(json.dumps({"run_id": run_id, "children_maxrss_bytes": maxrss_kib * 1024}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
