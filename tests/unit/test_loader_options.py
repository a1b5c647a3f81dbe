"""Loader catalogue: the seven loaders, their option sets, and refusals naming option and loader."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from diagnostics.config import COMMON_OPTIONS, TrialConfig, cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import LOADER_NAMES, all_loaders, get_loader, validate

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# One option each loader must refuse, with a non-default value.
INAPPLICABLE = {
    "keras_directory": ("shuffle_buffer", 100),
    "tfdata_map_batch": ("keep_decoded", True),
    "tfdata_batch_map": ("rescale", 0.5),
    "eager_loop": ("prefetch", "auto"),
    "image_data_generator": ("cache", "memory"),
    "keras_pydataset": ("num_parallel_calls", 4),
    "pil_generator": ("augmentation", "light"),
}

# A valid non-default value for every loader-specific option, and the mode it needs.
OWN_VALUES = {
    "interpolation": "nearest",
    "shuffle": True,
    "shuffle_buffer": 64,
    "seed": 7,
    "cache": "memory",
    "prefetch": "auto",
    "num_parallel_calls": 2,
    "dtype": "float16",
    "augmentation": "light",
    "keep_decoded": True,
    "rescale": 1 / 255,
    "validation_split": 0.2,
    "close_and_collect": True,
    "workers": 2,
    "use_multiprocessing": True,
    "max_queue_size": 4,
    "via_tf_data": True,
}
# Options that only make sense together with another one.
COMPANIONS = {
    "shuffle_buffer": {"shuffle": True},
    "num_parallel_calls": {"dtype": "float16"},
    "prefetch": {"via_tf_data": True},
}


def test_seven_loaders_with_one_line_descriptions():
    loaders = all_loaders()
    assert [loader.name for loader in loaders] == list(LOADER_NAMES)
    assert len(loaders) == 7
    known = {f.name for f in fields(TrialConfig)}
    for loader in loaders:
        assert loader.description and "\n" not in loader.description
        assert loader.options <= known, loader.name
        assert not loader.options & COMMON_OPTIONS, loader.name


@pytest.mark.parametrize("name", LOADER_NAMES)
def test_each_loader_refuses_an_option_that_does_not_apply(name):
    option, value = INAPPLICABLE[name]
    config = TrialConfig(dataset="data", loader=name, **{option: value})
    with pytest.raises(ConfigError) as info:
        validate(config)
    message = str(info.value)
    assert cli_name(option) in message
    assert name in message


@pytest.mark.parametrize("name", LOADER_NAMES)
def test_each_loader_accepts_its_own_options(name):
    loader = get_loader(name)
    for option in sorted(loader.options):
        value = OWN_VALUES[option]
        changes = {
            option: value,
            **{k: v for k, v in COMPANIONS.get(option, {}).items() if k in loader.options},
        }
        mode = "fit" if option in ("workers", "use_multiprocessing", "max_queue_size") else "iterate"
        validate(TrialConfig(dataset="data", loader=name, mode=mode, **changes))


def test_the_issue_example_prefetch_on_eager_loop():
    with pytest.raises(ConfigError, match=r"^--prefetch does not apply to loader eager_loop$"):
        validate(TrialConfig(dataset="data", loader="eager_loop", prefetch="auto"))


@pytest.mark.parametrize("option", ["workers", "use_multiprocessing", "max_queue_size"])
def test_pydataset_worker_options_only_in_fit(option):
    value = OWN_VALUES[option]
    with pytest.raises(
        ConfigError, match=rf"{cli_name(option)} applies to loader keras_pydataset only in --mode fit"
    ):
        validate(TrialConfig(dataset="data", loader="keras_pydataset", **{option: value}))
    validate(TrialConfig(dataset="data", loader="keras_pydataset", mode="fit", **{option: value}))


def test_pil_prefetch_needs_tf_data():
    with pytest.raises(
        ConfigError, match="--prefetch applies to loader pil_generator only with --via-tf-data"
    ):
        validate(TrialConfig(dataset="data", loader="pil_generator", prefetch=2))


def test_keras_directory_parallel_calls_needs_a_map():
    with pytest.raises(ConfigError, match="--num-parallel-calls .*keras_directory"):
        validate(TrialConfig(dataset="data", loader="keras_directory", num_parallel_calls="auto"))
    validate(
        TrialConfig(dataset="data", loader="keras_directory", num_parallel_calls="auto", augmentation="light")
    )


@pytest.mark.parametrize("name", ["tfdata_map_batch", "tfdata_batch_map"])
def test_shuffle_buffer_needs_shuffle(name):
    with pytest.raises(ConfigError, match=f"--shuffle-buffer needs --shuffle .*{name}"):
        validate(TrialConfig(dataset="data", loader=name, shuffle_buffer=10))


@pytest.mark.parametrize("name", ["image_data_generator", "keras_pydataset"])
def test_pil_based_loaders_refuse_area_interpolation(name):
    with pytest.raises(ConfigError, match=f"--interpolation area does not apply to loader {name}"):
        validate(TrialConfig(dataset="data", loader=name, interpolation="area"))


def test_cli_refuses_before_any_process_starts(tmp_path):
    env = dict(os.environ, DIAG_HOME=str(tmp_path / "home"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnostics",
            "run",
            "sample_data",
            "--loader",
            "eager_loop",
            "--prefetch",
            "auto",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "--prefetch does not apply to loader eager_loop" in output
    assert "Traceback" not in output
