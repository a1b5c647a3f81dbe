"""diagnostics.folders: the folder a session starts on and the picker's choices (issue 12; from test_ui_folders.py)."""

from __future__ import annotations

from diagnostics import folders


def test_default_folder_is_the_last_one_used_else_sample_data_never_a_root(tmp_path):
    root, sample = tmp_path / "data", tmp_path / "sample_data"
    (root / "flowers" / "roses").mkdir(parents=True)
    (sample / "a").mkdir(parents=True)
    roots = [str(root), str(sample)]
    flowers = str(root / "flowers")
    assert folders.default_folder(flowers, roots, str(sample)) == flowers
    assert folders.default_folder(None, roots, str(sample)) == str(sample)  # sample_data may be a root
    assert folders.default_folder(str(root), roots, str(sample)) == str(sample)  # a root: never
    assert folders.default_folder(str(root / "gone"), roots, str(sample)) == str(sample)
    # Outside the roots now (DIAG_DATA_ROOTS changed), and sample_data not allowed: nothing.
    assert folders.default_folder(flowers, [str(tmp_path / "other")], str(sample)) is None
    assert folders.default_folder(None, [str(root)], str(sample)) is None


def test_the_last_folder_round_trips_through_diag_home(tmp_path):
    home = tmp_path / "home"
    assert folders.last_folder(home) is None
    folders.remember_folder(home, "/data/flowers")
    folders.remember_folder(home, "/data/birds")
    assert folders.last_folder(home) == "/data/birds"
    assert sorted(p.name for p in home.iterdir()) == ["last_folder"]  # no temporary left behind


def test_folder_choices_put_the_default_first_without_duplicates(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert folders.folder_choices(b, [a, b]) == [b, a]
    assert folders.folder_choices(None, [a, b]) == [a, b]
