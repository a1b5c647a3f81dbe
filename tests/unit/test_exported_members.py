"""The package root exports what a library user needs, no more, and says so in ``__all__``
(like httpx's test_exported_members.py)."""

from __future__ import annotations

import subprocess
import sys
import types

import diagnostics


def _public_members() -> set[str]:
    # `annotations` is the `from __future__` feature, not an export.
    names = {n for n in dir(diagnostics) if not n.startswith("_")} - {"annotations"}
    # Submodules become attributes of the package once imported; they are not exports.
    return {n for n in names if not isinstance(getattr(diagnostics, n), types.ModuleType)}


def test_all_is_sorted_and_lists_every_public_member():
    assert diagnostics.__all__ == sorted(diagnostics.__all__)
    assert set(diagnostics.__all__) == _public_members()


def test_every_export_resolves_to_the_library_object_it_names():
    for name in diagnostics.__all__:
        value = getattr(diagnostics, name)
        assert getattr(value, "__module__", "diagnostics").startswith("diagnostics"), name
    assert diagnostics.scan.__module__.startswith("diagnostics.dataset")
    assert diagnostics.Store.__name__ == "Store" and diagnostics.run_trial.__name__ == "run_trial"
    assert diagnostics.TrialCancelled.__mro__[1] is diagnostics.TrialFailed


def test_an_unknown_name_is_an_attribute_error():
    try:
        diagnostics.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("diagnostics.no_such_name resolved")


def test_importing_the_package_loads_neither_pandas_nor_the_store():
    # The worker and `python -m diagnostics scan` import diagnostics.*: the exports stay lazy.
    code = "import sys, diagnostics; print('pandas' in sys.modules, 'diagnostics.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
