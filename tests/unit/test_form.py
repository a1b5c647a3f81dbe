"""The dashboard's number fields: one table of labels and ranges, one check (issue 13 item 10)."""

from __future__ import annotations

import pytest

from diagnostics import form


def test_a_value_outside_the_range_names_the_field_and_the_range():
    assert form.problems({"epochs": 3, "steps": None, "budget": None, "timeout": None}) == []
    assert form.problems({"trial_epochs": -3}) == ["Epochs per trial: -3 is not allowed; enter 1 to 100000."]
    # Whole numbers in full: ":g" would say 1.04858e+06 or 1e+06.
    assert form.problems({"budget": 10**6 * 2}) == [
        "Memory budget (MiB): 2000000 is not allowed; enter 64 to 1048576."
    ]
    assert form.problems({"timeout": 0, "side": 4097}) == [
        "Timeout (s): 0 is not allowed; enter 1 or more.",
        "Image size (px, square): 4097 is not allowed; enter 8 to 4096.",
    ]
    assert form.number_problem("Rescale", -0.5, 0.0, None) == "Rescale: -0.5 is not allowed; enter 0 or more."


def test_the_limits_widgets_carry_no_bounds_and_every_field_has_a_label():
    # A bound on the widget would make Streamlit replace an out-of-range value instead of refusing.
    for spec in form.LIMIT_INPUTS.values():
        assert not {"min_value", "max_value", "label"} & set(spec)
    assert set(form.LIMIT_INPUTS) <= set(form.NUMBER_FIELDS)
    assert form.label("budget") == "Memory budget (MiB)"
    assert all(form.label(name) for name in form.NUMBER_FIELDS)


# -- option widgets and limits (from test_ui.py) --------------------------------------------


MIB = 1024 * 1024


def test_option_widget_spec_starts_each_widget_at_the_trialconfig_default():
    widget, kwargs = form.option_widget_spec("cache", "select")
    assert widget == "selectbox" and kwargs["options"][kwargs["index"]] == form.OPTION_DEFAULTS.cache
    widget, kwargs = form.option_widget_spec("prefetch", "knob")
    assert kwargs["options"][kwargs["index"]] == str(form.OPTION_DEFAULTS.prefetch)
    assert form.option_widget_spec("shuffle", "bool") == ("checkbox", {"value": form.OPTION_DEFAULTS.shuffle})
    # A seed may be 0; a batch size may not.
    assert form.option_widget_spec("seed", "int")[1]["min_value"] == 0
    assert form.option_widget_spec("batch_size", "int")[1]["min_value"] == 1
    assert form.option_widget_spec("rescale", "opt_float")[1]["format"] == "%.5f"
    with pytest.raises(ValueError, match="unknown option kind"):
        form.option_widget_spec("batch_size", "slider")


def test_every_option_spec_has_a_widget():
    for name, kind, _label, _help in form.OPTION_SPECS:
        widget, _ = form.option_widget_spec(name, kind)
        assert widget in {"selectbox", "checkbox", "number_input"}


def test_option_value_converts_widget_output_to_config_values():
    assert form.option_value("knob", "4") == 4
    assert form.option_value("knob", "auto") == "auto"
    assert form.option_value("int", 64.0) == 64 and isinstance(form.option_value("int", 64.0), int)
    assert form.option_value("opt_int", None) is None
    assert form.option_value("opt_int", 100.0) == 100
    assert form.option_value("opt_float", 0.5) == 0.5


def test_changed_options_keeps_only_values_off_the_defaults():
    values = {"batch_size": 32, "cache": "memory", "shuffle": form.OPTION_DEFAULTS.shuffle}
    assert form.changed_options(values) == {"cache": "memory"}


def test_in_rows_splits_and_keeps_a_short_last_row():
    assert form.in_rows([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert form.in_rows([], 3) == []


def test_limit_overrides_turns_mib_into_bytes_and_drops_empty_inputs():
    assert form.limit_overrides(budget_mib=None, timeout_s=None) == {}
    assert form.limit_overrides(budget_mib=512, timeout_s=90) == {
        "memory_budget_bytes": 512 * MIB,
        "timeout_seconds": 90.0,
    }
    assert set(form.LIMIT_INPUTS) == {"budget", "timeout"}
