"""Code fragments the loaders share: file listing, decode, cache, augmentation, knob spelling.

Every function returns Python source text for the snippet (see diagnostics/snippet.py); nothing
here imports TensorFlow. The fragments are written the way the TF/Keras guides write them, so the
snippet reads like code a user would have written.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import cli_name
from diagnostics.errors import ConfigError

# PIL and keras.utils.load_img have no "area" resampling; tf.image.resize has no lanczos here.
PIL_RESAMPLING = {
    "nearest": "Image.Resampling.NEAREST",
    "bilinear": "Image.Resampling.BILINEAR",
    "bicubic": "Image.Resampling.BICUBIC",
    "area": "Image.Resampling.BOX",  # PIL's box filter averages the covered pixels: an area resize
}


def knob(value: str | int) -> str | None:
    """Source for a prefetch / num_parallel_calls value; None when the option is off."""
    if value == "none":
        return None
    if value == "auto":
        return "tf.data.AUTOTUNE"
    return str(int(value))


def parallel_kwarg(config: Any) -> str:
    value = knob(config.num_parallel_calls)
    return f", num_parallel_calls={value}" if value else ""


def file_listing(scan: dict[str, Any]) -> str:
    """``list_files()``: (path, label) pairs like image_dataset_from_directory indexes them."""
    skip_filter = ""
    bad = scan.get("bad_files") or []
    if any("\ufffd" in b["path"] for b in bad):
        # The scan lists a name that is not valid UTF-8 with U+FFFD where os.walk has surrogate
        # escapes; compare in the scan's spelling, or the name reaches TF (which cannot take it).
        skip_filter = (
            "                # os.walk spells bytes that are not UTF-8 as surrogate escapes, SKIP as U+FFFD\n"
            "                shown = os.path.relpath(path, DATA_DIR)\n"
            '                shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "replace")\n'
            "                if shown in SKIP:\n"
            "                    continue  # unreadable: listed by the scan\n"
        )
    elif bad:
        skip_filter = (
            "                if os.path.relpath(path, DATA_DIR) in SKIP:\n"
            "                    continue  # unreadable: listed by the scan\n"
        )
    return (
        'IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")\n'
        "\n"
        "\n"
        "def list_files():\n"
        '    """(path, label) pairs: one subfolder per class, sorted, like Keras indexes them."""\n'
        "    files = []\n"
        "    for label, class_name in enumerate(CLASS_NAMES):\n"
        "        for folder, subfolders, names in os.walk(os.path.join(DATA_DIR, class_name)):\n"
        '            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))\n'
        "            for name in sorted(names):\n"
        "                path = os.path.join(folder, name)\n"
        '                if name.startswith(".") or not name.lower().endswith(IMAGE_EXTENSIONS):\n'
        "                    continue\n"
        f"{skip_filter}"
        "                files.append((path, label))\n"
        "    return files\n"
        "\n"
        "\n"
        "files = list_files()\n"
        "num_images = len(files)\n"
    )


def indexed_bad_files(scan: dict[str, Any]) -> list[dict[str, Any]]:
    """The scan's unreadable files that a loader reading the folder itself (Keras) would index:
    those with an image extension. Others (a .j2k, a .txt) it never opens, so they do no harm."""
    from diagnostics.config import IMAGE_EXTENSIONS

    return [b for b in scan.get("bad_files") or [] if b["path"].lower().endswith(IMAGE_EXTENSIONS)]


def tf_load_image(config: Any, name: str = "load_image", with_label: bool = True) -> str:
    """A read + decode + resize (+ cast) function in the tf.data style."""
    args = "path, label" if with_label else "path"
    result = "image, label" if with_label else "image"
    cast = ""
    if config.dtype != "float32":
        cast = f"    image = tf.cast(image, tf.{config.dtype})  # --dtype {config.dtype}\n"
    return (
        f"def {name}({args}):\n"
        "    image = tf.io.decode_image(tf.io.read_file(path), channels=CHANNELS, expand_animations=False)\n"
        f'    image = tf.image.resize(image, IMAGE_SIZE, method="{config.interpolation}")\n'
        f"{cast}"
        f"    return {result}\n"
    )


def cache_setup(config: Any) -> str:
    """A private cache file for --cache file, removed at exit (a stale one would be reused)."""
    if config.cache != "file":
        return ""
    return (
        "# A fresh cache file per run: TF would otherwise reuse (or trip over) an earlier one.\n"
        'CACHE_DIR = tempfile.mkdtemp(prefix="tf_cache_")\n'
        "atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)\n"
        'CACHE_FILE = os.path.join(CACHE_DIR, "images")\n'
    )


def cache_call(config: Any) -> str | None:
    if config.cache == "memory":
        return "dataset = dataset.cache()"
    if config.cache == "file":
        return "dataset = dataset.cache(CACHE_FILE)"
    return None


def augmentation_model(config: Any) -> str:
    """Keras preprocessing layers, as the Keras image-classification guide applies them."""
    if config.augmentation == "none":
        return ""
    layers = ['    keras.layers.RandomFlip("horizontal", seed=SEED),']
    if config.augmentation == "heavy":
        layers += [
            "    keras.layers.RandomRotation(0.1, seed=SEED),",
            "    keras.layers.RandomZoom(0.1, seed=SEED),",
        ]
    return (
        "augment = keras.Sequential([\n"
        + "\n".join(layers)
        + "\n])  # --augmentation "
        + (f"{config.augmentation}\n")
    )


def prefetch_call(config: Any) -> str | None:
    value = knob(config.prefetch)
    return f"dataset = dataset.prefetch({value})" if value else None


# What the driver needs from a finite tf.data dataset: every epoch iterates it to the end (never
# breaking out of a cached dataset early), and model.fit needs no steps_per_epoch.
FINITE_TFDATA_DRIVER = (
    "steps_per_epoch = None  # a finite dataset: each epoch reads it to the end\n"
    "\n"
    "\n"
    "def epoch_batches():\n"
    "    return dataset\n"
)


def steps_cap(config: Any) -> str:
    """With --steps, an epoch delivers at most STEPS batches: the count the driver checks against."""
    return "num_images = min(num_images, STEPS * BATCH_SIZE)\n" if config.steps else ""


def generator_fit_driver(config: Any) -> str:
    """A plain Python generator for model.fit: loop the epoch forever and say how long an epoch is."""
    steps = "STEPS" if config.steps else "math.ceil(num_images / BATCH_SIZE)"
    return (
        "def forever():\n"
        "    while True:\n"
        "        yield from epoch_batches()\n"
        "\n"
        "\n"
        "dataset = forever()  # model.fit takes a generator when told the steps per epoch\n"
        f"steps_per_epoch = {steps}\n" + steps_cap(config)
    )


# The options of the tf.data pipelines built from a file list (tfdata_map_batch, tfdata_batch_map).
TFDATA_OPTIONS = frozenset(
    {
        "interpolation",
        "shuffle",
        "shuffle_buffer",
        "seed",
        "cache",
        "prefetch",
        "num_parallel_calls",
        "dtype",
        "augmentation",
    }
)


def refuse_buffer_without_shuffle(config: Any, loader_name: str) -> None:
    if config.shuffle_buffer is not None and not config.shuffle:
        raise ConfigError(f"{cli_name('shuffle_buffer')} needs --shuffle (loader {loader_name})")


def refuse_pil_area(config: Any, loader_name: str, api: str) -> None:
    if config.interpolation == "area":
        raise ConfigError(
            f"{cli_name('interpolation')} area does not apply to loader {loader_name}: {api} offers "
            "nearest, bilinear and bicubic"
        )


def join(*parts: str | None) -> str:
    """Join non-empty code blocks with one blank line between top-level blocks."""
    blocks = [p.rstrip("\n") for p in parts if p]
    return "\n\n\n".join(blocks) + "\n"
