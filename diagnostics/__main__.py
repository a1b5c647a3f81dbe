"""``python -m diagnostics``: see diagnostics/cli/ (one module per command)."""

from __future__ import annotations

import sys

from diagnostics.cli import main

if __name__ == "__main__":
    sys.exit(main())
