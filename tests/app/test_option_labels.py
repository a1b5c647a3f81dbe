"""The dashboard names options by the form's labels, never by command-line flags (issue 18 item 7).

Runs whose findings, errors and defaults name options are stored through the Store API; every
text element of the Run and History pages is read (code blocks excepted: the snippet is the
program that ran) and none may contain a ``--flag``. The CLI prints the same runs with the flags.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from diagnostics.analysis.findings import findings
from diagnostics.cli._summary import print_run_summary
from diagnostics.store import Store
from tests.synthetic import fill_store

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _flag_findings() -> list[dict]:
    """Real rules' findings whose texts name options (dtype, prefetch, shuffle, growth, cache)."""
    config = {"loader": "keras_directory", "mode": "iterate", "dtype": "float16", "cache": "memory",
              "shuffle": True, "prefetch": "auto", "batch_size": 32}  # fmt: skip
    mib = 1024 * 1024
    summary = {
        "measured_overhead_bytes": 400 * mib,
        "baseline_rss_bytes": 500 * mib,
        "memory_model": {"cache": 300 * mib, "batch": 6 * mib, "batch_before_cast": 12 * mib},
        "epochs": [{"index": i, "images": 600, "seconds": 2.0, "rss_end_bytes": (800 + 50 * i) * mib}
                   for i in range(4)],
        "leak": {"growing": True, "leak_bytes_per_epoch": 50 * mib, "threshold_bytes_per_epoch": 8 * mib,
                 "noise_band_bytes_per_epoch": 2 * mib, "epochs_used": [1, 2, 3]},
        "pipeline": {"stages": [
            {"name": "Prefetch", "label": "prefetch", "peak_buffered_bytes": 120 * mib, "autotune": {}},
            {"name": "Shuffle", "label": "shuffle buffer", "peak_buffered_bytes": 150 * mib},
        ]},
    }  # fmt: skip
    found = findings(config, summary, [], available_ram_bytes=64 * 1024 * mib)
    assert {"memory_growth", "prefetch_buffers", "shuffle_buffer", "dtype_no_saving"} <= {
        f["id"] for f in found
    }
    return found


def _store_runs(home: Path) -> tuple[Store, list[int]]:
    store = Store(home)
    ids = fill_store(store, str(SAMPLE_DATA), runs=2)
    store.update_run(ids[-1], findings=_flag_findings())
    killed = store.create_run({"dataset": str(SAMPLE_DATA), "loader": "keras_directory", "epochs": 3})
    store.update_run(
        killed,
        status="killed_budget",
        error="memory budget exceeded before the worker had finished importing TensorFlow, so the "
        "budget is below the import baseline itself; raise --memory-budget",
    )
    return store, [*ids, killed]


def _texts(node) -> list[str]:
    """Every string a page element carries (values, labels, options, help), code blocks excepted."""
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None and getattr(node, "type", None) != "code":
        out.append(str(proto))
    for child in (getattr(node, "children", None) or {}).values():
        out += _texts(child)
    return out


def _page_text(at: AppTest) -> str:
    assert not at.exception, [e.message for e in at.exception]
    return "\n".join(_texts(at._tree))


def test_run_and_history_pages_name_options_by_their_labels(home):
    _, ids = _store_runs(home)
    # What each run's page must show (so the check reads the results, not an empty page).
    shown = {ids[0]: "Use Cache = file", ids[1]: "Dtype = float16", ids[2]: "raise Memory budget (MiB)"}
    for run_id in ids:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        at.switch_page("pages/run.py")
        at.query_params["run"] = str(run_id)
        at.run()
        text = _page_text(at)
        assert shown[run_id] in text, f"run {run_id}"
        assert sorted(set(FLAG.findall(text))) == [], f"run {run_id}"
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/history.py")
    at.run()
    assert sorted(set(FLAG.findall(_page_text(at)))) == []


def test_the_cli_keeps_the_flags(home):
    store, ids = _store_runs(home)
    out = io.StringIO()
    print_run_summary(store, ids[1], out=out)
    text = out.getvalue()
    assert "--dtype" in text and "--prefetch" in text, text


def test_no_page_names_a_flag(home):
    _store_runs(home)
    for page in ("pages/compare.py", "pages/sweep.py", "pages/scenarios.py", "pages/dataset.py"):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        at.switch_page(page)
        at.run()
        assert sorted(set(FLAG.findall(_page_text(at)))) == [], page
