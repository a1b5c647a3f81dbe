"""Small generated image folders for scan tests: ``make_folder`` writes ``count`` tiny PNGs over
``classes`` class folders (``c0``, ``c1``, ...) named ``img_000000.png`` on."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

__all__ = ["make_folder", "tiny_png"]

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
