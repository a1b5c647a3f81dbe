"""The scanner on the shipped sample_data, its arithmetic and round trip, and path confinement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from diagnostics.dataset import REPO_ROOT, ScanResult, allowed_roots, decoded_bytes, resolve_dataset, scan
from diagnostics.errors import ConfigError, DatasetError

CLASSES = ["circles", "crosses", "squares", "stripes", "triangles"]


@pytest.fixture(scope="module")
def sample_scan() -> ScanResult:
    return scan(Path(__file__).resolve().parents[2] / "sample_data")


def test_sample_data_classes_and_counts(sample_scan: ScanResult) -> None:
    assert sample_scan.classes == CLASSES
    assert sample_scan.counts == dict.fromkeys(CLASSES, 110)
    assert sample_scan.num_images == 550 == len(sample_scan.files) == len(sample_scan.sizes)
    assert sample_scan.bad_files == []
    assert sample_scan.notes == []
    labels = {rel.split("/")[0]: idx for rel, idx in sample_scan.files}
    assert labels == {cls: i for i, cls in enumerate(CLASSES)}
    assert [rel for rel, _ in sample_scan.files] == sorted(rel for rel, _ in sample_scan.files)


def test_sample_data_is_varied(sample_scan: ScanResult) -> None:
    assert set(sample_scan.formats) == {"JPEG", "PNG"}
    assert min(sample_scan.formats.values()) >= 100
    assert set(sample_scan.channel_modes) == {"L", "RGB"}
    assert 10 <= sample_scan.channel_modes["L"] <= 100
    sides = [side for size in sample_scan.sizes for side in size]
    assert min(sides) >= 96 and max(sides) <= 400
    assert sum(w != h for w, h in sample_scan.sizes) > 200


def test_sizes_match_the_files(sample_scan: ScanResult) -> None:
    for (rel, _), size in list(zip(sample_scan.files, sample_scan.sizes, strict=True))[::50]:
        with Image.open(os.path.join(sample_scan.root, rel)) as im:
            assert im.size == size


def test_sample_data_under_15_mb(sample_data_dir: Path) -> None:
    total_bytes = sum(p.stat().st_size for p in sample_data_dir.rglob("*") if p.is_file())
    assert total_bytes <= 15 * 1024 * 1024


def test_scan_is_fast(sample_data_dir: Path) -> None:
    start = time.perf_counter()
    scan(sample_data_dir)
    assert time.perf_counter() - start < 2.0


def test_scan_does_not_import_tensorflow(sample_data_dir: Path) -> None:
    # A fresh interpreter: this test process may have TF loaded by other tests.
    code = (
        "import sys; from diagnostics.dataset import scan; "
        f"scan({str(sample_data_dir)!r}); print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=sample_data_dir.parent,
    )
    assert out.stdout.strip() == "False"


def test_cli_scan_imports_neither_pandas_nor_the_runner(sample_data_dir: Path, tmp_path: Path) -> None:
    # pandas' import alone is a third of a warm 100k-file re-scan: `scan` must not pay it.
    code = (
        "import sys, runpy; sys.argv = ['diagnostics', 'scan', sys.argv[1]]\n"
        "try:\n    runpy.run_module('diagnostics', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pandas', 'diagnostics.runner', 'diagnostics.store') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(sample_data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=REPO_ROOT,
        env={**os.environ, "DIAG_HOME": str(tmp_path)},
    )
    assert "550 readable images" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("image_size", "color_mode", "dtype", "expected"),
    [
        ((128, 128), "rgb", "float32", 128 * 128 * 3 * 4),
        ((224, 160), "rgb", "float16", 224 * 160 * 3 * 2),
        ((64, 32), "grayscale", "uint8", 64 * 32),
        ((100, 100), "grayscale", "float32", 100 * 100 * 4),
    ],
)
def test_decoded_bytes_per_image(sample_data_dir, image_size, color_mode, dtype, expected) -> None:
    assert decoded_bytes(image_size, color_mode, dtype) == expected
    result = scan(sample_data_dir, image_size=image_size, color_mode=color_mode, dtype=dtype)
    assert result.decoded_bytes_per_image == expected


def test_decoded_bytes_rejects_unknown_options() -> None:
    with pytest.raises(ConfigError, match="--dtype"):
        decoded_bytes((8, 8), "rgb", "int64")
    with pytest.raises(ConfigError, match="--color-mode"):
        decoded_bytes((8, 8), "cmyk", "uint8")


def test_round_trip_through_json(sample_scan: ScanResult) -> None:
    again = ScanResult.from_dict(json.loads(json.dumps(sample_scan.to_dict())))
    assert again == sample_scan
    assert isinstance(again.files[0], tuple) and isinstance(again.sizes[0], tuple)


def test_fingerprint_changes_with_the_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    Image.new("RGB", (20, 10), "red").save(tmp_path / "a" / "x.png")
    first = scan(tmp_path).fingerprint
    assert scan(tmp_path).fingerprint == first
    Image.new("RGB", (20, 10), "blue").save(tmp_path / "a" / "y.png")
    assert scan(tmp_path).fingerprint != first


# --- confinement ------------------------------------------------------------------------------


def test_allowed_roots_default_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DIAG_DATA_ROOTS", raising=False)
    roots = allowed_roots()
    assert Path(os.path.realpath(Path(__file__).resolve().parents[2] / "sample_data")) in roots
    assert Path(os.path.realpath(Path.home())) in roots
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.setenv("DIAG_DATA_ROOTS", os.pathsep.join([str(tmp_path / "one"), str(tmp_path / "two")]))
    assert allowed_roots() == [
        Path(os.path.realpath(tmp_path / "one")),
        Path(os.path.realpath(tmp_path / "two")),
    ]


def test_resolve_inside_root(tmp_path: Path) -> None:
    (tmp_path / "root" / "data").mkdir(parents=True)
    root = tmp_path / "root"
    assert resolve_dataset(root / "data", [root]) == Path(os.path.realpath(root / "data"))
    assert resolve_dataset(root, [root]) == Path(os.path.realpath(root))


def test_resolve_refuses_dotdot_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").mkdir()
    with pytest.raises(DatasetError) as info:
        resolve_dataset(f"{root}/../secret", [root])
    message = str(info.value)
    assert f"{root}/../secret" in message and "secret" in message and str(os.path.realpath(root)) in message


def test_resolve_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(DatasetError, match="outside the allowed roots"):
        resolve_dataset(root / "link", [root])


def test_resolve_refuses_sibling_with_shared_prefix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data-evil").mkdir()
    with pytest.raises(DatasetError):
        resolve_dataset(tmp_path / "data-evil", [tmp_path / "data"])


def test_resolve_uses_env_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(tmp_path / "only"))
    (tmp_path / "only" / "ds").mkdir(parents=True)
    assert resolve_dataset(tmp_path / "only" / "ds") == Path(os.path.realpath(tmp_path / "only" / "ds"))
    with pytest.raises(DatasetError, match="DIAG_DATA_ROOTS"):
        resolve_dataset("/etc")


def test_resolve_refuses_empty_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="No dataset folder"):
        resolve_dataset("  ", [tmp_path])


def test_nul_character_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="NUL"):
        resolve_dataset(f"{tmp_path}/a\0b", [tmp_path])
    with pytest.raises(DatasetError, match="NUL"):
        scan(f"{tmp_path}/a\0b")
