"""The Sweep page offers the Ray cluster only when DIAG_RAY_ADDRESS is set, and never crashes on it.

The offer with a live cluster (its trial slots) is tested in
tests/integration/test_ray_executor.py, beside the cluster it needs.
"""

from __future__ import annotations

from tests.app.test_pages_smoke import app_at


def test_without_a_ray_address_the_page_is_as_before(home, monkeypatch):
    monkeypatch.delenv("DIAG_RAY_ADDRESS", raising=False)
    at = app_at("pages/sweep.py")
    at.multiselect(key="sweep_grid_batch_size").set_value([16, 32]).run()
    assert not at.radio and not at.warning
    assert any("2 trial(s)" in i.value and "one after another" in i.value for i in at.info)


def test_an_unreachable_cluster_is_said_and_trials_run_here(home, monkeypatch):
    monkeypatch.setenv("DIAG_RAY_ADDRESS", "127.0.0.1:1")
    at = app_at("pages/sweep.py")
    at.multiselect(key="sweep_grid_batch_size").set_value([16, 32]).run()
    assert not at.exception
    assert any("the Ray cluster at 127.0.0.1:1 cannot be reached" in w.value for w in at.warning)
    assert not at.radio  # nothing to choose: the local executor runs them
    assert any("one after another" in i.value for i in at.info)
