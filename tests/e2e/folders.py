"""Generated class-per-folder JPEG sets for the scale tests (made in tmp, never committed).

Encoding 10k JPEGs one by one takes longer than writing them: a few dozen distinct small images
are encoded once and their bytes written round-robin, so a 10k folder takes a couple of seconds
while each class still holds differing content.

    python -m tests.e2e.folders /tmp/big 10000     # 10 classes of 1,000 96x96 JPEGs
"""

from __future__ import annotations

import io
import sys
from pathlib import Path


def jpeg_variants(count: int = 32, size: int = 96) -> list[bytes]:
    from PIL import Image

    out = []
    for i in range(count):
        image = Image.new("RGB", (size, size), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        image.paste((255 - (i * 37) % 256, 40, 200), (i % size // 2, 0, i % size // 2 + size // 3, size))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def make_image_folder(root: Path, images: int, classes: int = 10, size: int = 96) -> Path:
    """``root/class_NN/img_NNNNNN.jpg``, ``images`` in all; returns root."""
    variants = jpeg_variants(size=size)
    per_class = -(-images // classes)
    for index in range(images):
        folder = root / f"class_{index // per_class:02d}"
        if index % per_class == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img_{index:06d}.jpg").write_bytes(variants[index % len(variants)])
    return root


if __name__ == "__main__":
    target = Path(sys.argv[1])
    make_image_folder(target, int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
    print(target)
