"""Where the store, the scan cache and the trial lock live: ``$DIAG_HOME``, default ``./.diagnostics``.

Its own module, importable without pandas: scanning (``python -m diagnostics scan``) needs the
folder but not the store's frames. ``diagnostics.store`` re-exports both names.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "diag_home"]

DEFAULT_HOME = ".diagnostics"


def diag_home(home: str | os.PathLike | None = None) -> Path:
    """The store folder: the argument, else ``$DIAG_HOME``, else ``./.diagnostics``."""
    return Path(home or os.environ.get("DIAG_HOME") or DEFAULT_HOME)
