"""The dashboard's number fields: one table of labels and ranges, one check (issue 13 item 10)."""

from __future__ import annotations

from diagnostics import form, ui


def test_a_value_outside_the_range_names_the_field_and_the_range():
    assert form.problems({"epochs": 3, "steps": None, "budget": None, "timeout": None}) == []
    assert form.problems({"trial_epochs": -3}) == ["Epochs per trial: -3 is not allowed; enter 1 to 50."]
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
    for spec in ui.LIMIT_INPUTS.values():
        assert not {"min_value", "max_value", "label"} & set(spec)
    assert set(ui.LIMIT_INPUTS) <= set(form.NUMBER_FIELDS)
    assert form.label("budget") == "Memory budget (MiB)"
    assert all(form.label(name) for name in form.NUMBER_FIELDS)
