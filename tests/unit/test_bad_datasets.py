"""A corpus of generated bad files and folders: each is named with its reason, never a traceback or a hang."""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diagnostics.dataset import ScanResult, scan
from diagnostics.errors import DatasetError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCAN_TIMEOUT_SECONDS = 10


@contextlib.contextmanager
def hang_guard(seconds: int = SCAN_TIMEOUT_SECONDS) -> Iterator[None]:
    """Fail the test instead of hanging (symlink loops must not make the scanner spin)."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"scan did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def guarded_scan(folder: Path) -> ScanResult:
    with hang_guard():
        return scan(folder)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height grayscale pixels: a bomb without allocating it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def noisy(width: int, height: int, seed: int = 0) -> Image.Image:
    # Noise so that truncating the file really loses pixel data.
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def _save_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


# name -> expected reason fragment, for files that must land in bad_files
EXPECTED_BAD = {
    "bad/truncated.jpg": "truncated",
    "bad/truncated.png": "truncated",
    "bad/bad_crc.png": "corrupt",
    "bad/text.jpg": "content is text",
    "bad/binary.png": "unrecognised content",
    "bad/zero.png": "empty file (0 bytes)",
    "bad/bomb_huge.png": "decompression bomb",
    "bad/bomb_over_limit.png": "decompression bomb",
    "bad/tiff_content.png": "format TIFF is not decodable by tf.io.decode_image",
    "bad/picture.webp": "extension .webp is not read",
    "bad/picture.tiff": "extension .tiff is not read",
    "bad/notes.txt": "extension .txt is not read",
    "bad/one_bit.bmp": "1-bit BMP",
    "bad/self_loop.jpg": "symlink loop",
    "bad/dangling.jpg": "broken symlink",
    "bad/escape.png": "symlink points outside the dataset folder",
    "bad/caf\ufffd.png": "file name is not valid UTF-8",
}
# name -> Pillow mode, for odd but readable files that must be accepted
EXPECTED_GOOD = {
    "good/plain.jpg": "RGB",
    "good/plain.png": "RGB",
    "good/grey.jpg": "L",
    "good/rgba.png": "RGBA",
    "good/grey_alpha.png": "LA",
    "good/palette.png": "P",
    "good/cmyk.jpg": "CMYK",
    "good/sixteen_bit.png": "I;16",
    "good/animated.gif": "P",
    "good/rgb24.bmp": "RGB",
    "good/grey8.bmp": "L",
    "good/UPPER.JPG": "RGB",
    "good/ünïcødé näme with spaces.png": "RGB",
    "good/日本語 画像.jpg": "RGB",
    "good/nested/deeper.png": "RGB",
    "good/inside_link.png": "RGB",
    "good/png_named_jpg.jpg": "RGB",
}


def build_corpus(root: Path, outside: Path) -> None:
    good, bad = root / "good", root / "bad"
    good.mkdir(parents=True)
    bad.mkdir()
    (good / "nested").mkdir()
    outside.mkdir(parents=True, exist_ok=True)

    img = noisy(64, 48)
    img.save(good / "plain.jpg", quality=90)
    img.save(good / "plain.png")
    img.convert("L").save(good / "grey.jpg")
    img.convert("RGBA").save(good / "rgba.png")
    img.convert("LA").save(good / "grey_alpha.png")
    img.convert("P").save(good / "palette.png")
    img.convert("CMYK").save(good / "cmyk.jpg")
    Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).save(good / "sixteen_bit.png")
    frames = [Image.new("RGB", (40, 30), (i * 80, 20, 20)) for i in range(3)]
    frames[0].save(good / "animated.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    img.save(good / "rgb24.bmp")
    img.convert("L").save(good / "grey8.bmp")
    img.save(good / "UPPER.JPG", format="JPEG")
    img.save(good / "ünïcødé näme with spaces.png")
    img.save(good / "日本語 画像.jpg")
    img.save(good / "nested" / "deeper.png")
    (good / "inside_link.png").symlink_to(good / "plain.png")
    img.save(good / "png_named_jpg.jpg", format="PNG")
    # Hidden files and folders are ignored, not reported.
    _save_bytes(good / ".DS_Store", b"\0\0\0\1Bud1")
    (good / ".thumbs").mkdir()
    _save_bytes(good / ".thumbs" / "x.jpg", b"not an image")
    # A folder link back up the tree: followed naively this loops forever.
    (good / "loop").symlink_to("..", target_is_directory=True)

    big = noisy(200, 150, seed=1)
    big.save(outside / "full.jpg", quality=90)
    big.save(outside / "full.png")
    jpg = (outside / "full.jpg").read_bytes()
    _save_bytes(bad / "truncated.jpg", jpg[: len(jpg) // 2])
    png = (outside / "full.png").read_bytes()
    _save_bytes(bad / "truncated.png", png[: len(png) // 2])
    crc = bytearray(png)
    crc[60] ^= 0xFF  # inside the first IDAT: the CRC check fails
    _save_bytes(bad / "bad_crc.png", bytes(crc))
    (bad / "text.jpg").write_text("This is a README, not a photo.\n")
    _save_bytes(bad / "binary.png", bytes(range(256)) * 4)
    _save_bytes(bad / "zero.png", b"")
    _save_bytes(bad / "bomb_huge.png", png_header_only(20_000, 20_000))
    _save_bytes(bad / "bomb_over_limit.png", png_header_only(10_000, 10_000))
    img.save(bad / "tiff_content.png", format="TIFF")
    img.save(bad / "picture.webp")
    img.save(bad / "picture.tiff")
    (bad / "notes.txt").write_text("labels are folder names\n")
    Image.new("1", (32, 16), 1).save(bad / "one_bit.bmp")
    (bad / "self_loop.jpg").symlink_to("self_loop.jpg")
    (bad / "dangling.jpg").symlink_to("does_not_exist.jpg")
    (bad / "escape.png").symlink_to(outside / "full.png")
    # Latin-1 bytes in a name: valid on Linux, not text; shown with a replacement character.
    _save_bytes(Path(os.fsdecode(os.fsencode(bad) + b"/caf\xe9.png")), (outside / "full.png").read_bytes())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    build_corpus(root, tmp_path / "outside")
    return root


def test_every_bad_file_is_named_with_its_reason(corpus: Path) -> None:
    result = guarded_scan(corpus)
    reasons = {b["path"]: b["reason"] for b in result.bad_files}
    for path, fragment in EXPECTED_BAD.items():
        assert path in reasons, f"{path} not reported; bad_files={reasons}"
        assert fragment in reasons[path], f"{path}: {reasons[path]!r} lacks {fragment!r}"
    assert set(reasons) == set(EXPECTED_BAD)


def test_odd_but_readable_files_are_accepted(corpus: Path) -> None:
    result = guarded_scan(corpus)
    accepted = {rel for rel, _ in result.files}
    assert accepted == set(EXPECTED_GOOD)
    assert result.counts == {"bad": 0, "good": len(EXPECTED_GOOD)}
    assert result.classes == ["bad", "good"]
    for mode in set(EXPECTED_GOOD.values()):
        assert result.channel_modes[mode] == list(EXPECTED_GOOD.values()).count(mode)
    assert result.formats == {"BMP": 2, "GIF": 1, "JPEG": 5, "PNG": 9}


def test_notes_for_animation_loops_and_empty_class(corpus: Path) -> None:
    notes = {n["path"]: n["note"] for n in guarded_scan(corpus).notes}
    assert "first frame" in notes["good/animated.gif"] and "3 frames" in notes["good/animated.gif"]
    assert notes["good/loop/"] == "symlinked folder: not followed"
    assert notes["bad/"] == "class folder has no readable image"


def test_hidden_entries_are_ignored(corpus: Path) -> None:
    result = guarded_scan(corpus)
    mentioned = [b["path"] for b in result.bad_files] + [n["path"] for n in result.notes]
    mentioned += [rel for rel, _ in result.files]
    assert not any("/." in path or path.startswith(".") for path in mentioned)


@pytest.mark.parametrize("pillow_limit", [Image.MAX_IMAGE_PIXELS, None])
def test_bombs_are_named_with_their_pixel_count(corpus: Path, monkeypatch, pillow_limit) -> None:
    # Another library may switch Pillow's own guard off (None); ours reads the header size itself.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    reasons = {b["path"]: b["reason"] for b in guarded_scan(corpus).bad_files}
    assert "400,000,000 pixels" in reasons["bad/bomb_huge.png"]
    assert "100,000,000 pixels" in reasons["bad/bomb_over_limit.png"]


def test_unreadable_file_via_open_error(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # We run as root in CI, where chmod 000 does not stop reads; fail open() at the boundary instead.
    target = str(corpus / "good" / "plain.jpg")
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if os.fspath(file) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    reasons = {b["path"]: b["reason"] for b in guarded_scan(corpus).bad_files}
    assert reasons["good/plain.jpg"] == "cannot read: permission denied"


def _scan_as_nobody(root: Path) -> dict:
    """Scan in a forked child that dropped root (if we are root), so chmod 000 really bites.

    Forked rather than spawned: the interpreter lives under /root, which 'nobody' cannot reach.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            result = scan(root)
            payload = {"files": result.files, "bad": result.bad_files}
            os.write(write_fd, json.dumps(payload).encode())
            status = 0
        except BaseException as exc:
            os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    with hang_guard():
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os.close(read_fd)
        os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def test_unreadable_file_and_folder_for_real() -> None:
    base = Path(tempfile.mkdtemp(prefix="diag_perm_"))  # tmp_path is 0700 root: nobody cannot enter
    try:
        root = base / "ds"
        (root / "a").mkdir(parents=True)
        (root / "b" / "locked").mkdir(parents=True)
        noisy(32, 32).save(root / "a" / "ok.png")
        noisy(32, 32).save(root / "a" / "secret.png")
        noisy(32, 32).save(root / "b" / "locked" / "inside.png")
        for p in (base, root, root / "a", root / "b"):
            os.chmod(p, 0o755)
        os.chmod(root / "a" / "ok.png", 0o644)
        os.chmod(root / "a" / "secret.png", 0o000)
        os.chmod(root / "b" / "locked", 0o000)
        data = _scan_as_nobody(root)
        assert "error" not in data, data
        reasons = {b["path"]: b["reason"] for b in data["bad"]}
        assert data["files"] == [["a/ok.png", 0]]
        assert reasons["a/secret.png"] == "cannot read: permission denied"
        assert "cannot list folder" in reasons["b/locked/"] and "Permission denied" in reasons["b/locked/"]
    finally:
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_loop_of_class_folder_links_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "a" / "b").mkdir(parents=True)
    noisy(16, 16).save(root / "a" / "x.png")
    (root / "a" / "b" / "up").symlink_to(root, target_is_directory=True)
    (root / "again").symlink_to(root, target_is_directory=True)
    result = guarded_scan(root)
    assert result.files == [("a/x.png", 0)]
    notes = {n["path"]: n["note"] for n in result.notes}
    assert "not followed" in notes["again/"] and "not followed" in notes["a/b/up/"]


# --- folder problems: DatasetError naming the folder -----------------------------------------


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"does not exist") as info:
        scan(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    noisy(16, 16).save(path)
    with pytest.raises(DatasetError, match=r"is a file, not a folder") as info:
        scan(path)
    assert str(path) in str(info.value)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / ".hidden_only").write_text("x")
    with pytest.raises(DatasetError, match=r"is empty") as info:
        scan(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_images_only_at_top_level(tmp_path: Path) -> None:
    for i in range(3):
        noisy(16, 16, seed=i).save(tmp_path / f"img{i}.png")
    with pytest.raises(DatasetError, match=r"3 image file\(s\) at its top level but no class subfolders"):
        scan(tmp_path)


def test_no_readable_image(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_text("not a jpeg")
    (tmp_path / "cats" / "b.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"No readable image in dataset folder .*2 bad file\(s\)") as info:
        scan(tmp_path)
    assert "cats/a.jpg" in str(info.value)


def test_only_empty_class_folders(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DatasetError, match=r"class subfolders are empty"):
        scan(tmp_path)


def test_top_level_files_beside_classes_are_noted(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    noisy(16, 16).save(tmp_path / "cats" / "a.png")
    noisy(16, 16).save(tmp_path / "stray.png")
    result = scan(tmp_path)
    assert result.files == [("cats/a.png", 0)]
    assert {
        "path": "stray.png",
        "note": "at the top level, outside any class folder: ignored",
    } in result.notes


# --- cross-check against TensorFlow itself --------------------------------------------------


@pytest.mark.tf
def test_content_verdicts_agree_with_tf_decode_image(corpus: Path) -> None:
    """Accepted files decode with tf.io.decode_image; files refused for their content do not."""
    result = scan(corpus)
    accepted = [rel for rel, _ in result.files]
    # Refused for content (not for extension, size policy, links or permissions).
    content_bad = ["bad/truncated.jpg", "bad/truncated.png", "bad/text.jpg", "bad/binary.png"]
    content_bad += ["bad/zero.png", "bad/tiff_content.png", "bad/one_bit.bmp", "bad/picture.tiff"]
    code = textwrap.dedent(
        """
        import json, sys
        import tensorflow as tf
        verdicts = {}
        for path in json.loads(sys.argv[1]):
            try:
                tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
                verdicts[path] = True
            except Exception:
                verdicts[path] = False
        print("VERDICTS " + json.dumps(verdicts))
        """
    )
    paths = [str(corpus / rel) for rel in accepted + content_bad]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(paths)], capture_output=True, text=True, timeout=180, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("VERDICTS "))
    verdicts = json.loads(line.removeprefix("VERDICTS "))
    for rel in accepted:
        assert verdicts[str(corpus / rel)], f"scan accepted {rel} but tf.io.decode_image refuses it"
    for rel in content_bad:
        assert not verdicts[str(corpus / rel)], f"scan refused {rel} but tf.io.decode_image decodes it"
