"""Issue 13 item 6 without TensorFlow: which files the loaders skip, and what keras_directory refuses."""

from __future__ import annotations

import os

import pytest

from diagnostics.config import TrialConfig
from diagnostics.dataset import scan
from diagnostics.errors import DatasetError
from diagnostics.loaders import LOADER_NAMES, _common, get_loader
from diagnostics.prepare import prepare_trial
from diagnostics.store import Store
from tests.odd_names import make_dataset


def _listed(folder) -> list[str]:
    """The relative paths the snippets' list_files() yields, run for real on the folder."""
    result = scan(folder)
    namespace = {
        "os": os,
        "DATA_DIR": result.root,
        "CLASS_NAMES": result.classes,
        "SKIP": {b["path"] for b in result.bad_files},
    }
    exec(_common.file_listing(result.to_dict()), namespace)  # noqa: S102 - the generated listing
    return sorted(os.path.relpath(path, result.root) for path, _ in namespace["files"])


def test_the_file_listing_skips_what_the_scan_calls_unreadable(tmp_path):
    folder = make_dataset(tmp_path / "data")
    result = scan(folder)
    assert any("not valid UTF-8" in b["reason"] for b in result.bad_files)
    assert _listed(folder) == sorted(rel for rel, _ in result.files)


def test_keras_directory_is_not_refused_for_a_file_it_never_reads(tmp_path, diag_home):
    folder = make_dataset(tmp_path / "data", non_utf8=False)
    assert [b["path"] for b in scan(folder).bad_files] == ["squares/scan.j2k"]
    run_id, _, _ = prepare_trial(TrialConfig(dataset=str(folder)), Store(diag_home), allowed_roots=[tmp_path])
    snippet = Store(diag_home).get_run(run_id)["snippet"]
    assert "cannot skip" not in snippet


def test_the_refusal_names_the_file_and_recommends_only_loaders_that_skip_it(tmp_path, diag_home):
    folder = make_dataset(tmp_path / "data")
    with pytest.raises(DatasetError) as caught:
        prepare_trial(TrialConfig(dataset=str(folder)), Store(diag_home), allowed_roots=[tmp_path])
    message = str(caught.value)
    assert "circles/bad\ufffd.png" in message and "scan.j2k" not in message, message
    recommended = [n for n in LOADER_NAMES if n in message.split("use a loader that skips them")[-1]]
    assert recommended, message
    for name in LOADER_NAMES:
        works = getattr(get_loader(name), "skips_bad_files", True)
        assert (name in recommended) == works, (name, message)
