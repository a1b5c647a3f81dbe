"""The one copy of each display formatter (diagnostics/units.py)."""

from __future__ import annotations

import math

import pytest

from diagnostics import units
from diagnostics.units import MiB, format_bytes, format_rate, format_seconds
from tests.synthetic import MIB


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (None, False, "–"),
        (math.nan, False, "–"),
        (0, False, "0 B"),
        (1023, False, "1023 B"),
        (1536, False, "1.5 KiB"),
        (1.5 * MiB, False, "1.5 MiB"),
        (3 * 1024 * MiB, False, "3.0 GiB"),
        (-2 * MiB, False, "-2.0 MiB"),
        (2 * MiB, True, "+2.0 MiB"),
        (0, True, "0 B"),
        (5 * 1024**5, False, "5120.0 TiB"),
    ],
)
def test_format_bytes_picks_the_unit(value, signed, text):
    assert units.format_bytes(value, signed=signed) == text


def test_format_mib_keeps_one_unit_with_thousands_and_a_sign_for_deltas():
    assert units.format_mib(1536 * MiB) == "1,536.0 MiB"
    assert units.format_mib(0.25 * MiB) == "0.2 MiB"
    assert units.format_mib(12 * MiB, signed=True) == "+12.0 MiB"
    assert units.format_mib(-12 * MiB, signed=True) == "-12.0 MiB"
    assert units.format_mib(None) == "–"
    assert units.format_mib(math.nan, missing="n/a") == "n/a"
    assert units.format_mib(None, missing="?") == "?"


def test_mib_is_a_number_for_axes_and_none_stays_none():
    assert units.mib(3 * MiB) == 3.0
    assert units.mib(None) is None and units.mib(math.nan) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (0.04, "0.0 s"),
        (12.34, "12.3 s"),
        (59.9, "59.9 s"),
        (75, "1 min 15 s"),
        (3720, "1 h 02 min"),
    ],
)
def test_format_seconds(seconds, text):
    assert units.format_seconds(seconds) == text


@pytest.mark.parametrize(("rate", "text"), [(None, "–"), (12.34, "12.3 img/s"), (1234.5, "1,234 img/s")])
def test_format_rate(rate, text):
    assert units.format_rate(rate) == text


def test_number_and_is_missing_agree_on_what_is_no_value():
    for value in (None, math.nan, "abc", object()):
        assert units.number(value) is None
    assert units.number("2.5") == 2.5 and units.number(3) == 3.0
    assert units.is_missing(None) and units.is_missing(math.nan)
    assert not units.is_missing(0) and not units.is_missing("x")


def test_format_helpers():
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * MIB, signed=True) == "+3.0 MiB"
    assert format_bytes(None) == "–"
    assert format_seconds(125) == "2 min 05 s"
    assert format_rate(1234.4) == "1,234 img/s"
