"""Issue 18 item 12: after a trial on a broken-files folder with a loader that skips the unreadable
files, the results name them ("7 files skipped: ..."), on the Run page and in the CLI summary,
not only in the snippet's SKIP set. The run's stored scan summary is where they come from."""

from __future__ import annotations

import io

import pytest

from diagnostics.cli._summary import print_run_summary
from diagnostics.dataset import scan, scan_summary
from diagnostics.store import Store
from tests.app.test_pages_smoke import REPO, app_at
from tests.image_folders import make_broken_folder
from tests.synthetic import fill_store


@pytest.fixture
def broken_run(tmp_path, monkeypatch) -> tuple[Store, int]:
    root = tmp_path / "data"
    folder = make_broken_folder(root / "broken_files")
    (folder / "broken" / "[x](javascript:alert(1)).jpg").write_bytes(b"")  # a name that is Markdown
    home = tmp_path / "home"
    monkeypatch.setenv("DIAG_HOME", str(home))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(root))
    monkeypatch.chdir(REPO)
    store = Store(home)
    (run_id,) = fill_store(store, str(folder), runs=1)
    store.update_run(run_id, scan=scan_summary(scan(folder, home=home)))  # what prepare stores
    return store, run_id


def test_the_run_page_names_the_skipped_files(broken_run):
    store, run_id = broken_run
    at = app_at()
    at.session_state["run_id"] = run_id
    at.switch_page("pages/run.py").run()
    assert not at.exception, [e.message for e in at.exception]
    (skipped,) = [i.value for i in at.info if "skipped" in i.value]
    assert skipped.startswith("8 files skipped: ")
    assert r"broken\/\[x\]\(javascript\:alert\(1\)\)\.jpg \(empty file \(0 bytes\)\)" in skipped
    assert r"broken\/empty\.jpg \(empty file \(0 bytes\)\)" in skipped
    assert "](javascript" not in skipped  # escape_markdown: never a link
    assert skipped.endswith("and 3 more.")


def test_the_cli_summary_names_the_skipped_files(broken_run):
    store, run_id = broken_run
    out = io.StringIO()
    print_run_summary(store, run_id, out)
    (line,) = [x for x in out.getvalue().splitlines() if x.strip().startswith("skipped")]
    assert "8 files skipped: broken/[x](javascript:alert(1)).jpg (empty file (0 bytes))" in line  # plain
    assert "broken/empty.jpg (empty file (0 bytes))" in line and line.endswith("and 3 more.")
