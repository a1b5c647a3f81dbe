"""Small generated image folders for scan tests: ``make_folder`` writes ``count`` tiny PNGs over
``classes`` class folders (``c0``, ``c1``, ...) named ``img_000000.png`` on."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

__all__ = ["BROKEN_FOLDER_COUNTS", "make_broken_folder", "make_folder", "tiny_png"]

_TINY_PNG: bytes | None = None


def tiny_png() -> bytes:
    """A 12x10 red PNG's bytes (made once)."""
    global _TINY_PNG
    if _TINY_PNG is None:
        buffer = io.BytesIO()
        Image.new("RGB", (12, 10), (200, 30, 30)).save(buffer, format="PNG")
        _TINY_PNG = buffer.getvalue()
    return _TINY_PNG


def make_folder(root: Path, count: int, classes: int = 4) -> Path:
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
    data = tiny_png()
    for i in range(count):
        (root / f"c{i % classes}" / f"img_{i:06d}.png").write_bytes(data)
    return root


# The folder of issue 18 item 12: 39 files in two classes, 32 readable and 7 unreadable.
BROKEN_FOLDER_COUNTS = {"files": 39, "readable": 32, "unreadable": 7, "broken": (15, 8, 7), "good": 24}


def make_broken_folder(root: Path) -> Path:
    """``good/`` 24 PNGs; ``broken/`` 8 PNGs, 5 files that do not decode, an empty ``.jpg`` and a
    ``.txt`` (refused by name and size before any file is opened)."""
    make_folder(root / "_good", 24, classes=1)
    (root / "_good" / "c0").rename(root / "good")
    (root / "_good").rmdir()
    broken = root / "broken"
    broken.mkdir(parents=True)
    data = tiny_png()
    for i in range(8):
        (broken / f"ok_{i}.png").write_bytes(data)
    (broken / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (broken / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    (broken / "half.png").write_bytes(data[: len(data) // 2])
    (broken / "text.png").write_bytes(b"this is not an image\n")
    (broken / "fake.gif").write_bytes(b"GIF89a" + b"\x00" * 20)
    (broken / "empty.jpg").write_bytes(b"")
    (broken / "notes.txt").write_text("not an image")
    return root
