"""A small class-per-folder dataset with a file name that is not valid UTF-8 and a .j2k file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"
BAD_NAME = b"bad\xff.png"  # os.walk returns it as "bad\udcff.png" (a surrogate escape)


def make_dataset(root: Path, *, non_utf8: bool = True, j2k: bool = True, per_class: int = 8) -> Path:
    for cls in ("circles", "squares"):
        (root / cls).mkdir(parents=True)
        for source in sorted((SAMPLE_DATA / cls).iterdir())[:per_class]:
            shutil.copy(source, root / cls / source.name)
    if non_utf8:
        good = next(iter(sorted((root / "circles").iterdir())))
        shutil.copy(good, os.path.join(os.fsencode(root / "circles"), BAD_NAME))
    if j2k:
        (root / "squares" / "scan.j2k").write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"0" * 64)
    return root
