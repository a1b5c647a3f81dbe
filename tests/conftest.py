"""Shared fixtures for every test layer."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample_data_dir() -> Path:
    """The checked-in sample dataset (550 images, 5 classes)."""
    return REPO_ROOT / "sample_data"


@pytest.fixture
def diag_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DIAG_HOME so a test's store and trial lock never touch the developer's."""
    home = tmp_path / "diag_home"
    home.mkdir()
    monkeypatch.setenv("DIAG_HOME", str(home))
    return home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DIAG_HOME (not created), data roots limited to sample_data, run from the repo root.

    What a page or query under test sees: AppTest runs app.py from the repo and the dataset
    pickers only offer the allowed roots.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("DIAG_HOME", str(home))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(REPO_ROOT / "sample_data"))
    monkeypatch.chdir(REPO_ROOT)
    return home
