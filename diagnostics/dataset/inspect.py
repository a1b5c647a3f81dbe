"""One file's inspection: whether every loader can read it, and if not, why.

A file counts as a readable image when its content is a format ``tf.io.decode_image`` decodes and
Pillow can open, verify and fully load it (which catches truncation). Facts checked against TF 2.21
(see ``_BMP_OK_BITS`` and ``_DECODABLE``): ``decode_image`` decodes CMYK JPEGs, 16-bit PNGs (to
uint8), palette/alpha PNGs, 8/24/32-bit BMPs, the first frame of an animated GIF
(``expand_animations=False``) and WebP; it refuses TIFF and 1-bit BMPs. ``_verify_chunk`` is the
verification pool's task: it lives here, at a module path that does not move, so it pickles.

Only Pillow is imported here: scanning must not pay TensorFlow's import.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from diagnostics.dataset.listing import not_regular

__all__ = ["MAX_IMAGE_PIXELS"]

# Pillow format names whose content tf.io.decode_image (TF 2.21) decodes. MPO is a camera JPEG
# with extra frames; libjpeg reads its first image.
_DECODABLE = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP"})
# TF's BMP decoder derives channels as bits/8 and accepts only 1, 3 or 4 channels.
_BMP_OK_BITS = frozenset({8, 24, 32})
# Same limit as Pillow's default: above it a single decode allocates hundreds of MiB, which is
# exactly the kind of surprise this tool exists to catch. Checked from the header, before loading.
MAX_IMAGE_PIXELS = 89_478_485


def _describe_unidentified(head: bytes) -> str:
    if not head.strip():
        return "not an image: the content is blank"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not an image: unrecognised content"
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        preview = " ".join(text.split())[:40]
        return f"not an image: the content is text ({preview!r})"
    return "not an image: unrecognised content"


def _bmp_bits(head: bytes) -> int | None:
    # BITMAPCOREHEADER (12 bytes) keeps bit count at offset 24, every later header at 28.
    if len(head) < 30 or head[:2] != b"BM":
        return None
    header_size = int.from_bytes(head[14:18], "little")
    offset = 24 if header_size == 12 else 28
    return int.from_bytes(head[offset : offset + 2], "little")


@dataclass
class _FileInfo:
    format: str
    mode: str
    size: tuple[int, int]
    note: str | None = None


def _inspect(path: str) -> _FileInfo | str:
    """Open, verify and load one image; return its facts, or the reason it is bad."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: the link cannot be resolved"
        if os.path.islink(path):
            return f"broken symlink: target {os.readlink(path)!r} does not exist"
        return f"cannot read: {exc.strerror or exc}"
    special = not_regular(st.st_mode)  # replaced since the listing: opening a FIFO would block
    if special:
        return special
    if st.st_size == 0:
        return "empty file (0 bytes)"
    try:
        fh = open(path, "rb")  # closed in finally; Pillow reads it twice
    except PermissionError:
        return "cannot read: permission denied"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    try:
        head = fh.read(512)
        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                im = Image.open(fh)
            except Image.DecompressionBombError as exc:
                # Pillow refuses before we see the size; its message carries the pixel count.
                match = re.search(r"\((\d+) pixels\)", str(exc))
                pixels = f"{int(match.group(1)):,} pixels" if match else "the pixel count"
                return (
                    f"decompression bomb: {pixels} exceeds the {MAX_IMAGE_PIXELS:,}-pixel limit; not loaded"
                )
            except UnidentifiedImageError:
                return _describe_unidentified(head)
            fmt = im.format or "unknown"
            width, height = im.size
            pixels = width * height
            if fmt not in _DECODABLE:
                return f"format {fmt} is not decodable by tf.io.decode_image"
            if pixels > MAX_IMAGE_PIXELS:
                return (
                    f"decompression bomb: {width}x{height} = {pixels:,} pixels exceeds the "
                    f"{MAX_IMAGE_PIXELS:,}-pixel limit; not loaded"
                )
            bits = _bmp_bits(head) if fmt == "BMP" else None
            if bits is not None and bits not in _BMP_OK_BITS:
                return f"{bits}-bit BMP: tf.io.decode_image decodes only 8, 24 and 32-bit BMPs"
            mode = im.mode
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            im.verify()
            # verify() leaves the image unusable and does not decode pixel data; a fresh open and
            # load() is what finds a truncated file.
            fh.seek(0)
            im = Image.open(fh)
            if fmt == "JPEG":
                # DCT scaling decodes at 1/8 size: still reads every byte, far less work.
                im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
            im.load()
    except Exception as exc:  # any decoder failure is a bad file, never a traceback
        detail = str(exc) or type(exc).__name__
        return f"corrupt or truncated image: {detail}"
    finally:
        fh.close()
    note = (
        f"animated {fmt} with {n_frames} frames: loaders decode the first frame only"
        if n_frames > 1
        else None
    )
    return _FileInfo(format=fmt, mode=mode, size=(width, height), note=note)


def _verdict(path: str) -> Any:
    info = _inspect(path)
    if isinstance(info, str):
        return info
    return (info.format, info.mode, info.size[0], info.size[1], info.note)


def _verify_chunk(root: str, rels: list[str]) -> list[Any]:
    """Pool task: the verdicts of a few files (a module-level function, so it pickles)."""
    return [_verdict(os.path.join(root, rel)) for rel in rels]
