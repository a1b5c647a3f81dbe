"""Which dataset folder a session starts on: the last one used (kept in $DIAG_HOME), else
sample_data, never an allowed root; and the folder picker's choices."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["LAST_FOLDER_FILE", "default_folder", "folder_choices", "last_folder", "remember_folder"]

LAST_FOLDER_FILE = "last_folder"


def last_folder(home: str | os.PathLike[str]) -> str | None:
    """The folder this DIAG_HOME's dashboard last listed ($DIAG_HOME/last_folder), if any."""
    try:
        text = (Path(home) / LAST_FOLDER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def remember_folder(home: str | os.PathLike[str], folder: str) -> None:
    """Record the folder picked last, so the next session starts on it instead of scanning a root."""
    if last_folder(home) == folder:
        return
    path = Path(home) / LAST_FOLDER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two sessions may write at once: each renames its own temporary file into place.
    temporary = path.with_name(f".{LAST_FOLDER_FILE}.{os.getpid()}")
    temporary.write_text(folder + "\n", encoding="utf-8")
    os.replace(temporary, path)


def default_folder(last: str | None, roots: Sequence[str], sample_data: str) -> str | None:
    """The folder a new session starts on: the last one used, else sample_data, else none.

    Never an allowed root itself (a root is where datasets live, so listing it lists everything
    under it), except sample_data, which is a small dataset; nor a folder that is gone or lies
    outside the roots now.
    """
    from diagnostics.dataset import resolve_dataset
    from diagnostics.errors import DatasetError

    real_roots = {os.path.realpath(r) for r in roots}
    for candidate in (last, sample_data):
        if not candidate or not os.path.isdir(candidate):
            continue
        try:
            real = str(resolve_dataset(candidate, [Path(r) for r in roots]))
        except DatasetError:
            continue
        if real not in real_roots or os.path.realpath(sample_data) == real:
            return candidate
    return None


def folder_choices(default: str | None, datasets: Iterable[str]) -> list[str]:
    """The folder picker's entries: the default first, then the datasets found under the roots."""
    out = [default] if default else []
    for folder in datasets:
        if os.path.realpath(folder) not in {os.path.realpath(f) for f in out}:
            out.append(folder)
    return out
