"""Generate a class-per-folder JPEG folder of photo-like images for the scale benchmark.

``python -m bench.make_folder OUT --count N [--classes 10] [--start I --stop J]``

Deterministic: image ``i`` is always the same bytes, 300-500 px per side, smooth gradients plus
grain so quality-85 JPEGs weigh 30-40 KB like downsized photos. ``DISTINCT`` pictures are encoded
(seeded by ``i % DISTINCT``); every file gets its own JPEG comment naming its index, so no two files
have the same bytes while 100k files take minutes, not half an hour, to write. Existing
files are kept, so a big folder can be made in several short runs (``--start``/``--stop``) and an
interrupted run resumes. Never commit the output: put it outside the repository
(e.g. /tmp/bench_folders/jpeg_100000).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["image_bytes", "make_folder"]

SIDE_RANGE = (300, 500)
QUALITY = 85
_BASES = 32  # distinct backgrounds; each picture crops, shifts and tints one
DISTINCT = 2000


def _bases() -> list[np.ndarray]:
    rng = np.random.default_rng(12345)
    side = SIDE_RANGE[1] * 2
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    out = []
    for _ in range(_BASES):
        channels = []
        for _c in range(3):
            a, b, c, d = rng.uniform(0.5, 6.0, 4)
            wave = np.sin(a * xx * 3.1 + b) * np.cos(c * yy * 3.1 + d)
            channels.append(128 + 90 * wave)
        out.append(np.stack(channels, axis=-1))
    return out


_CACHE: list[np.ndarray] = []


_PICTURES: dict[int, bytes] = {}


def image_bytes(index: int) -> bytes:
    """The JPEG bytes of image ``index`` (same bytes for the same index on any run)."""
    picture = _PICTURES.get(index % DISTINCT)
    if picture is None:
        picture = _PICTURES[index % DISTINCT] = _picture(index % DISTINCT)
    comment = f"bench image {index}".encode()
    # A COM segment right after SOI: decoders skip it, the pixels stay those of the picture.
    return picture[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + picture[2:]


def _picture(index: int) -> bytes:
    if not _CACHE:
        _CACHE.extend(_bases())
    rng = np.random.default_rng(index)
    width, height = (int(v) for v in rng.integers(SIDE_RANGE[0], SIDE_RANGE[1] + 1, 2))
    base = _CACHE[index % _BASES]
    top = int(rng.integers(0, base.shape[0] - height))
    left = int(rng.integers(0, base.shape[1] - width))
    crop = base[top : top + height, left : left + width] * rng.uniform(0.7, 1.2, 3)
    grain = rng.normal(0, 6, (height, width, 1))
    pixels = np.clip(crop + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=QUALITY)
    return buffer.getvalue()


def make_folder(out: Path, count: int, classes: int = 10, start: int = 0, stop: int | None = None) -> int:
    """Write images ``start..stop`` (default all ``count``) under ``out``; return files written."""
    stop = count if stop is None else min(stop, count)
    written = 0
    for c in range(classes):
        (out / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
    for index in range(start, stop):
        path = out / f"class_{index % classes:02d}" / f"img_{index:07d}.jpg"
        if path.exists():
            continue
        tmp = path.with_suffix(".part")
        tmp.write_bytes(image_bytes(index))
        os.replace(tmp, path)  # a killed run leaves no half-written .jpg
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_folder", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int)
    args = parser.parse_args(argv)
    written = make_folder(args.out, args.count, args.classes, args.start, args.stop)
    print(f"{args.out}: wrote {written} image(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
