"""``python -m diagnostics``: see diagnostics/cli.py."""

from __future__ import annotations

import sys

from diagnostics.cli import main

if __name__ == "__main__":
    sys.exit(main())
