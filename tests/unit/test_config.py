"""TrialConfig, its validation and its sizes (diagnostics/config.py)."""

from __future__ import annotations

import pytest

from diagnostics.config import TrialConfig, cli_name, parse_size
from diagnostics.errors import ConfigError
from diagnostics.loaders import validate


def test_a_json_round_trip_gives_an_equal_hashable_config():
    config = TrialConfig(dataset="d", image_size=[64, 96], prefetch="4", cache="memory")
    again = TrialConfig.from_json(config.to_json())
    assert again == config and hash(again) == hash(config)
    assert again.image_size == (64, 96) and again.prefetch == 4


def test_unknown_options_are_refused_by_name():
    with pytest.raises(ConfigError, match="unknown option.*bogus"):
        TrialConfig.from_dict({"dataset": "d", "bogus": 1})


def test_changed_options_lists_only_what_differs_from_the_defaults():
    config = TrialConfig(dataset="d", loader="tfdata_map_batch", cache="memory", epochs=3)
    assert config.changed_options() == {"cache": "memory"}
    assert TrialConfig(dataset="d", image_size=(128, 128)).changed_options() == {}


@pytest.mark.parametrize("value", ["auto", "none", 8, "8", " AUTO "])
def test_knobs_take_none_auto_or_a_positive_integer(value):
    config = TrialConfig(dataset="d", num_parallel_calls=value)
    assert config.num_parallel_calls in ("auto", "none", 8)


@pytest.mark.parametrize("value", [0, -1, "fast", True, "1.5"])
def test_bad_knobs_name_the_flag(value):
    with pytest.raises(ConfigError, match="--prefetch must be none, auto or a positive integer"):
        TrialConfig(dataset="d", prefetch=value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "train"}, "--mode must be one of iterate, fit"),
        ({"epochs": 0}, "--epochs must be a positive integer"),
        ({"image_size": (4, 4)}, "--image-size must be two sizes between 8 and 4096"),
        ({"model": "mobilenet_v2", "mode": "fit", "image_size": (16, 16)}, "mobilenet_v2 needs"),
        ({"timeout_seconds": 0}, "--timeout must be a positive number"),
        ({"sample_hz": 500}, "--sample-hz must be between 1 and 200"),
        ({"loader": "nope"}, "nope"),
        ({"loader": "eager_loop", "prefetch": 2}, "--prefetch does not apply to loader eager_loop"),
    ],
)
def test_validate_names_the_option_at_fault(changes, message):
    with pytest.raises(ConfigError, match=message):
        validate(TrialConfig(dataset="d", **changes))


def test_validate_returns_a_valid_config_unchanged():
    config = TrialConfig(dataset="d", loader="tfdata_map_batch", cache="memory", prefetch="auto")
    assert validate(config) is config


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("700MiB", 700 * 1024**2),
        ("2GiB", 2 * 1024**3),
        ("2g", 2 * 1024**3),
        ("1.5 GB", 1_500_000_000),
        ("512", 512),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_refuses_what_is_not_a_size():
    with pytest.raises(ConfigError, match="--memory-budget must be a size like 700MiB"):
        parse_size("lots")


def test_cli_names_follow_the_flags():
    assert cli_name("memory_budget_bytes") == "--memory-budget"
    assert cli_name("batch_size") == "--batch-size"
