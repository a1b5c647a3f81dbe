"""Model source for fit mode: the code that builds and compiles the model, as snippet text."""

from __future__ import annotations

from typing import Any

__all__ = ["model_code"]


def _input_scaling(config: Any) -> str:
    # image_data_generator --rescale already scales pixels; scaling twice would starve the model.
    if getattr(config, "rescale", None) is not None:
        return ""
    if config.model == "mobilenet_v2":
        return "        keras.layers.Rescaling(1.0 / 127.5, offset=-1.0),  # MobileNetV2 expects [-1, 1]\n"
    return "        keras.layers.Rescaling(1.0 / 255),\n"


def model_code(config: Any) -> str:
    """``build_model()`` for ``config.model``: tiny_cnn (default) or MobileNetV2 with weights=None."""
    if config.model == "mobilenet_v2":
        body = (
            "        keras.applications.MobileNetV2(\n"
            "            input_shape=IMAGE_SIZE + (CHANNELS,), alpha=0.35, weights=None, classes=NUM_CLASSES\n"
            "        ),\n"
        )
    else:
        body = (
            '        keras.layers.Conv2D(16, 3, activation="relu"),\n'
            "        keras.layers.MaxPooling2D(),\n"
            '        keras.layers.Conv2D(32, 3, activation="relu"),\n'
            "        keras.layers.MaxPooling2D(),\n"
            '        keras.layers.Conv2D(64, 3, activation="relu"),\n'
            "        keras.layers.GlobalAveragePooling2D(),\n"
            '        keras.layers.Dense(NUM_CLASSES, activation="softmax"),\n'
        )
    return (
        "def build_model():\n"
        f'    """{config.model}, compiled for integer labels."""\n'
        "    model = keras.Sequential([\n"
        "        keras.Input(shape=IMAGE_SIZE + (CHANNELS,)),\n"
        f"{_input_scaling(config)}"
        f"{body}"
        "    ])\n"
        '    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
        "    return model\n"
    )
