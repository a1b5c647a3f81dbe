"""Issue 22.7: an integer option too large for TensorFlow is refused with exit 2 naming its range,
by the CLI and the dashboard's forms alike (one table: config.INT_RANGES)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import config, form
from diagnostics.cli import main
from diagnostics.config import TrialConfig, cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import validate
from diagnostics.store import Store

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_worker.py"
HUGE = "99999999999999999999"  # 10**20: passes int(), overflows TensorFlow's int64


@pytest.fixture(autouse=True)
def fake_worker(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))  # a trial let through runs fast, without TF
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.05")


@pytest.mark.parametrize(
    ("flag", "extra"),
    [
        ("--prefetch", []),
        ("--num-parallel-calls", []),
        ("--batch-size", []),
        ("--shuffle-buffer", ["--shuffle"]),
        ("--workers", []),
        ("--max-queue-size", []),
        ("--steps", []),
        ("--epochs", []),
        ("--seed", []),
        ("--image-size", [HUGE]),
        ("--memory-budget", []),
    ],
)
def test_a_huge_integer_option_exits_2_naming_its_range(sample_data_dir, diag_home, capsys, flag, extra):
    code = main(["run", str(sample_data_dir), flag, HUGE, *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert flag in err and "Traceback" not in err
    assert "up to" in err or "between 8 and 4096" in err  # the range, not just "invalid"
    assert Store(diag_home).list_runs().empty  # refused before anything was stored


def test_every_integer_option_has_a_range_and_validate_applies_it():
    base = TrialConfig(dataset="x", loader="keras_pydataset", mode="fit")
    for name in ("epochs", "steps", "batch_size", "seed", "workers", "max_queue_size"):
        low, high = config.INT_RANGES[name]
        validate(base.replace(**{name: high}))  # the bounds themselves are allowed
        with pytest.raises(ConfigError, match=f"{cli_name(name)} must be .* up to {high}"):
            validate(base.replace(**{name: high + 1}))
        with pytest.raises(ConfigError, match=cli_name(name)):
            validate(base.replace(**{name: low - 1}))
    with pytest.raises(ConfigError, match="--prefetch must be none, auto or a positive integer up to 1024"):
        TrialConfig(dataset="x", prefetch=1025)


def test_the_dashboard_checks_the_same_ranges():
    assert form.NUMBER_FIELDS["epochs"][1:] == config.INT_RANGES["epochs"]
    assert form.NUMBER_FIELDS["steps"][1:] == config.INT_RANGES["steps"]
    assert form.NUMBER_FIELDS["height"][1:] == config.INT_RANGES["image_size"]
    high = config.INT_RANGES["batch_size"][1]
    assert form.option_problems({"batch_size": high}) == []
    assert form.option_problems({"batch_size": 10**20}) == [
        f"Batch size: {10**20} is not allowed; enter 1 to {high}."
    ]
    assert form.option_problems({"seed": -1}) == [f"Seed: -1 is not allowed; enter 0 to {2**31 - 1}."]
    (problem,) = form.option_problems({"shuffle_buffer": 10**20})
    assert problem.startswith("Shuffle buffer: ") and "enter 1 to 10000000" in problem
