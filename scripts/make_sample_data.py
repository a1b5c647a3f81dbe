"""Generate sample_data/: a small class-per-folder image set a tiny CNN can learn.

Deterministic (fixed seed): running it again rewrites byte-identical files with the same Pillow
version. Five classes differ in both shape and colour, with position, scale, colour and noise
varying per image so the set is learnable but not trivial. Formats (JPEG/PNG), pixel sizes
(96..400, not all square) and a few grayscale images are mixed so the scanner and the loaders meet
the variety real folders have.

Usage: python scripts/make_sample_data.py [--out sample_data] [--per-class 110]
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SEED = 20240611
CLASSES = ("circles", "squares", "triangles", "stripes", "crosses")
# Base foreground colour per class; each image jitters it so colour alone is a strong but noisy cue.
CLASS_RGB = {
    "circles": (220, 50, 50),
    "squares": (50, 90, 220),
    "triangles": (40, 180, 60),
    "stripes": (230, 190, 30),
    "crosses": (150, 60, 190),
}
MIN_SIDE_PX, MAX_SIDE_PX = 96, 400
GRAYSCALE_FRACTION = 0.06
PNG_FRACTION = 0.4
SQUARE_FRACTION = 0.3


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, spread: int) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in rgb)


def _draw_shape(draw: ImageDraw.ImageDraw, cls: str, w: int, h: int, rng: np.random.Generator) -> None:
    fill = _jitter(CLASS_RGB[cls], rng, 35)
    side = min(w, h)
    size = side * rng.uniform(0.35, 0.7)
    cx = rng.uniform(size / 2, w - size / 2)
    cy = rng.uniform(size / 2, h - size / 2)
    r = size / 2
    if cls == "circles":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif cls == "squares":
        angle = rng.uniform(0, math.pi / 2)
        pts = [
            (cx + r * math.cos(angle + k * math.pi / 2), cy + r * math.sin(angle + k * math.pi / 2))
            for k in range(4)
        ]
        draw.polygon(pts, fill=fill)
    elif cls == "triangles":
        angle = rng.uniform(0, 2 * math.pi)
        pts = [
            (cx + r * math.cos(angle + k * 2 * math.pi / 3), cy + r * math.sin(angle + k * 2 * math.pi / 3))
            for k in range(3)
        ]
        draw.polygon(pts, fill=fill)
    elif cls == "stripes":
        n_stripes = int(rng.integers(3, 7))
        period = max(w, h) / n_stripes
        width = max(2, int(period * rng.uniform(0.3, 0.5)))
        offset = rng.uniform(0, period)
        if rng.random() < 0.5:
            for k in range(n_stripes + 1):
                x = offset + k * period
                draw.line((x, 0, x, h), fill=fill, width=width)
        else:
            for k in range(n_stripes + 1):
                y = offset + k * period
                draw.line((0, y, w, y), fill=fill, width=width)
    elif cls == "crosses":
        bar = max(3, int(size * rng.uniform(0.15, 0.28)))
        draw.rectangle((cx - r, cy - bar / 2, cx + r, cy + bar / 2), fill=fill)
        draw.rectangle((cx - bar / 2, cy - r, cx + bar / 2, cy + r), fill=fill)
    else:
        raise ValueError(cls)


def make_image(cls: str, rng: np.random.Generator) -> Image.Image:
    if rng.random() < SQUARE_FRACTION:
        w = h = int(rng.integers(MIN_SIDE_PX, MAX_SIDE_PX + 1))
    else:
        # Aspect ratio at most 2:1 so the shape stays a recognisable size after resizing.
        w = int(rng.integers(MIN_SIDE_PX, MAX_SIDE_PX + 1))
        h = int(rng.integers(max(MIN_SIDE_PX, w // 2), min(MAX_SIDE_PX, w * 2) + 1))
    background = _jitter((200, 200, 200), rng, 55)
    img = Image.new("RGB", (w, h), background)
    _draw_shape(ImageDraw.Draw(img), cls, w, h, rng)
    # Low-frequency noise (coarse grid, upscaled) varies the pixels without bloating PNG files the
    # way per-pixel noise would.
    cell_px = int(rng.integers(6, 16))
    coarse = rng.normal(0, 10, size=(h // cell_px + 1, w // cell_px + 1, 3))
    noise = np.kron(coarse, np.ones((cell_px, cell_px, 1)))[:h, :w]
    pixels = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def generate(out: Path, per_class: int, seed: int = SEED) -> int:
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    written = 0
    for cls in CLASSES:
        (out / cls).mkdir(parents=True)
        for i in range(per_class):
            img = make_image(cls, rng)
            if rng.random() < GRAYSCALE_FRACTION:
                img = img.convert("L")
            if rng.random() < PNG_FRACTION:
                img.save(out / cls / f"{cls}_{i:04d}.png", optimize=True)
            else:
                img.save(out / cls / f"{cls}_{i:04d}.jpg", quality=85)
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_data")
    parser.add_argument("--per-class", type=int, default=110)
    args = parser.parse_args()
    n = generate(args.out, args.per_class)
    print(f"wrote {n} images to {args.out}")


if __name__ == "__main__":
    main()
