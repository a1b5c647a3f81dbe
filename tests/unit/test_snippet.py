"""Snippet rendering: standalone, compiles, carries the options, and is what the worker runs."""

from __future__ import annotations

import os
import re

import pytest

from diagnostics import snippet
from diagnostics.config import TrialConfig
from diagnostics.loaders import LOADER_NAMES, _common, validate


def make_scan(root: str = "/data/pets", bad_files: list[dict[str, str]] | None = None) -> dict:
    files = [["cats/c1.jpg", 0], ["cats/c2.png", 0], ["dogs/d1.jpg", 1]]
    return {
        "root": root,
        "classes": ["cats", "dogs"],
        "counts": {"cats": 2, "dogs": 1},
        "files": files,
        "bad_files": bad_files or [],
        "num_images": len(files),
        "decoded_bytes_per_image": 64 * 64 * 3 * 4,
    }


def render(**options) -> str:
    config = validate(TrialConfig(dataset="/data/pets", **options))
    return snippet.render(config, make_scan())


@pytest.mark.parametrize("mode", ["iterate", "fit"])
@pytest.mark.parametrize("name", LOADER_NAMES)
def test_every_snippet_compiles_and_is_standalone(name, mode):
    code = render(loader=name, mode=mode, steps=3)
    compile(code, f"{name}.py", "exec")
    assert "diagnostics" not in code.split('"""', 2)[2]  # only the docstring may name the tool
    assert not re.search(r"^\s*(from|import) diagnostics", code, re.MULTILINE)
    assert "DATA_DIR = '/data/pets'" in code
    assert "CLASS_NAMES = ['cats', 'dogs']" in code
    assert "IMAGE_SIZE = (128, 128)" in code
    assert "BATCH_SIZE = 32" in code
    assert "EPOCHS = 3" in code
    assert "STEPS = 3" in code
    assert "import tensorflow as tf" in code
    if mode == "fit":
        assert "model.fit(" in code and "def build_model()" in code
        assert "sparse_categorical_crossentropy" in code
    else:
        assert "for images, labels in epoch_batches():" in code


@pytest.mark.parametrize("name", LOADER_NAMES)
def test_render_is_setup_plus_driver(name):
    config = TrialConfig(dataset="/data/pets", loader=name)
    setup, driver = snippet.render_parts(config, make_scan())
    whole = snippet.render(config, make_scan())
    assert whole.startswith(setup) and whole.endswith(driver)
    for name_defined in ("def epoch_batches", "steps_per_epoch =", "dataset =", "num_images ="):
        assert name_defined in setup
    assert 'if __name__ == "__main__":' in driver and "__name__" not in setup


def test_tf_data_options_appear_in_the_code():
    code = render(
        loader="tfdata_map_batch",
        cache="memory",
        prefetch="auto",
        num_parallel_calls=4,
        dtype="float16",
        shuffle=True,
        shuffle_buffer=200,
        augmentation="heavy",
        interpolation="nearest",
        steps=5,
    )
    assert "dataset = dataset.cache()" in code
    assert "dataset = dataset.prefetch(tf.data.AUTOTUNE)" in code
    assert "dataset.map(load_image, num_parallel_calls=4)" in code
    assert "tf.cast(image, tf.float16)" in code
    assert "dataset.shuffle(200, seed=SEED)" in code
    assert "RandomRotation" in code and "RandomZoom" in code and "RandomFlip" in code
    assert 'method="nearest"' in code
    # --steps: take before cache, so a cached dataset is never abandoned half read.
    assert code.index("dataset.take(STEPS * BATCH_SIZE)") < code.index("dataset.cache()")


def test_keras_directory_steps_take_before_cache_and_cast_before_cache():
    code = render(loader="keras_directory", cache="file", dtype="uint8", steps=2, augmentation="light")
    assert "keras.utils.image_dataset_from_directory(" in code
    assert (
        code.index("dataset.take(STEPS)")
        < code.index("tf.cast(images, tf.uint8)")
        < code.index("dataset.cache(CACHE_FILE)")
    )
    assert "tempfile.mkdtemp" in code and "import tempfile" in code
    assert "RandomFlip" in code and "RandomRotation" not in code


def test_no_prefetch_or_cache_lines_by_default():
    code = render(loader="tfdata_map_batch")
    assert ".cache(" not in code and ".prefetch(" not in code and ".take(" not in code
    assert "num_parallel_calls" not in code


def test_loader_specific_options_appear():
    assert "decoded.append(image)" in render(loader="eager_loop", keep_decoded=True)
    assert "decoded = []" not in render(loader="eager_loop")
    idg = render(loader="image_data_generator", rescale=0.5, validation_split=0.25, close_and_collect=True)
    assert "ImageDataGenerator(rescale=0.5, validation_split=0.25)" in idg
    assert 'subset="training"' in idg and "gc.collect()" in idg and "import gc" in idg
    assert "horizontal_flip=True" in render(loader="image_data_generator", augmentation="light")
    pyd = render(loader="keras_pydataset", mode="fit", workers=3, use_multiprocessing=True, max_queue_size=5)
    assert "workers=3, use_multiprocessing=True, max_queue_size=5" in pyd
    assert "class ImageFolder(keras.utils.PyDataset)" in pyd
    pil = render(loader="pil_generator", via_tf_data=True, prefetch=2, dtype="uint8")
    assert "tf.data.Dataset.from_generator(" in pil and "dataset.prefetch(2)" in pil
    assert 'np.asarray(image, dtype="uint8")' in pil and "from PIL import Image" in pil
    assert "from_generator" not in render(loader="pil_generator")


def test_models():
    assert "keras.layers.Rescaling(1.0 / 255)" in render(mode="fit")
    mobile = render(mode="fit", model="mobilenet_v2")
    assert "keras.applications.MobileNetV2(" in mobile
    assert "alpha=0.35, weights=None, classes=NUM_CLASSES" in mobile
    # ImageDataGenerator's own rescale already scales pixels: no second Rescaling layer.
    assert "Rescaling" not in render(loader="image_data_generator", mode="fit", rescale=1 / 255)


def test_bad_files_become_a_skip_set():
    config = TrialConfig(dataset="/data/pets", loader="tfdata_map_batch")
    bad = [{"path": "cats/broken.jpg", "reason": "truncated"}, {"path": "dogs/notes.png", "reason": "text"}]
    code = snippet.render(config, make_scan(bad_files=bad))
    assert "SKIP = {\n    'cats/broken.jpg',\n    'dogs/notes.png',\n}" in code
    assert "in SKIP:" in code
    assert "SKIP" not in snippet.render(config, make_scan())


def _write(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_file_listing_matches_the_scan_and_skips_bad_files(tmp_path):
    root = tmp_path / "pets"
    for rel in (
        "cats/c1.jpg",
        "cats/sub/c2.PNG",
        "cats/.hidden.jpg",
        "cats/readme.txt",
        "dogs/d1.jpeg",
        "dogs/bad.jpg",
    ):
        _write(str(root / rel))
    scan = make_scan(root=str(root), bad_files=[{"path": "dogs/bad.jpg", "reason": "truncated"}])
    namespace = {"os": os, "DATA_DIR": str(root), "CLASS_NAMES": ["cats", "dogs"], "SKIP": {"dogs/bad.jpg"}}
    exec(_common.file_listing(scan), namespace)
    listed = [(os.path.relpath(p, root), label) for p, label in namespace["files"]]
    assert listed == [("cats/c1.jpg", 0), ("cats/sub/c2.PNG", 0), ("dogs/d1.jpeg", 1)]
    assert namespace["num_images"] == 3


def test_snippet_accepts_a_scan_result_object():
    from diagnostics.dataset import ScanResult

    data = make_scan()
    scan = ScanResult(
        root=data["root"],
        classes=data["classes"],
        counts=data["counts"],
        files=[tuple(f) for f in data["files"]],
        bad_files=[],
        formats={"JPEG": 2, "PNG": 1},
        channel_modes={"RGB": 3},
        sizes=[(100, 100)] * 3,
        num_images=3,
        fingerprint="x",
        decoded_bytes_per_image=1,
    )
    assert snippet.render(TrialConfig(dataset="/data/pets"), scan) == render()
