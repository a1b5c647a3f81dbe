"""The in-memory decode+resize limit: how fast this machine can turn the dataset's bytes into
batches of resized float32 images when nothing else is in the way.

Run as ``python -m bench.decode_limit SPEC.json`` (TensorFlow loads in that process only). Every
file's bytes are read into memory first, so there is no disk and no directory walk; decoding and
resizing run through ``tf.data`` with ``num_parallel_calls=AUTOTUNE`` on all cores, batched and
prefetched. Prints one JSON line: ``{"epochs": [{"images", "seconds"}, ...], "cpu_count"}``.

SPEC is ``{"files": [path, ...], "image_size": [h, w], "batch_size": n, "epochs": n,
"interpolation": "bilinear", "channels": 3}``.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    blobs = []
    for path in spec["files"]:
        with open(path, "rb") as fh:
            blobs.append(fh.read())
    height, width = spec["image_size"]
    channels = int(spec.get("channels", 3))
    method = spec.get("interpolation", "bilinear")

    def decode(blob):
        image = tf.io.decode_image(blob, channels=channels, expand_animations=False)
        image = tf.image.resize(image, (height, width), method=method)
        return tf.cast(image, tf.float32)

    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant(blobs))
        .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .batch(int(spec["batch_size"]))
        .prefetch(tf.data.AUTOTUNE)
    )
    epochs = []
    for _ in range(int(spec["epochs"])):
        images = 0
        started = time.monotonic()
        for batch in dataset:
            images += int(batch.shape[0])
        epochs.append({"images": images, "seconds": time.monotonic() - started})
    print(json.dumps({"epochs": epochs, "cpu_count": os.cpu_count()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
