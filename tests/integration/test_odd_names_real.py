"""Issue 13 item 6 with TensorFlow: the loaders the keras_directory refusal recommends work on a
folder holding a file name that is not valid UTF-8 and a .j2k file (real worker processes)."""

from __future__ import annotations

import pytest

from diagnostics.config import TrialConfig
from diagnostics.dataset import scan
from diagnostics.errors import DatasetError
from diagnostics.loaders import LOADER_NAMES, get_loader
from diagnostics.runner import run_trial
from diagnostics.store import Store
from tests.odd_names import make_dataset

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("odd") / "data")


def _recommended(folder, store) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        run_trial(TrialConfig(dataset=str(folder)), store, allowed_roots=[folder.parent])
    return [n.strip() for n in str(caught.value).split("use a loader that skips them:")[1].split(",")]


# Every loader that lists the files itself: the refusal recommends exactly these.
SKIPPING = [n for n in LOADER_NAMES if getattr(get_loader(n), "skips_bad_files", True)]


@pytest.mark.parametrize("loader", SKIPPING)
def test_recommended_loaders_run_on_a_folder_with_a_non_utf8_name(folder, diag_home, loader):
    store = Store(diag_home)
    assert _recommended(folder, store) == SKIPPING
    config = TrialConfig(dataset=str(folder), loader=loader, epochs=1, batch_size=4)
    run_id = run_trial(config, store, allowed_roots=[folder.parent])
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    (epoch,) = run["summary"]["epochs"]
    assert epoch["images"] == scan(folder).num_images == 16
