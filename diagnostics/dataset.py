"""Scan a class-per-folder image dataset with Pillow, and confine dataset paths to allowed roots.

A file counts as a readable image when every loader can read it: its extension is one Keras'
``image_dataset_from_directory`` indexes (``.bmp .gif .jpeg .jpg .png``, any case), its content is
a format ``tf.io.decode_image`` decodes, and Pillow can open, verify and fully load it (which
catches truncation). Everything else is listed in ``bad_files`` with the reason, so a run can skip
it or stop naming it. Facts checked against TF 2.21 (see ``_BMP_OK_BITS`` and ``_DECODABLE``):
``decode_image`` decodes CMYK JPEGs, 16-bit PNGs (to uint8), palette/alpha PNGs, 8/24/32-bit BMPs,
the first frame of an animated GIF (``expand_animations=False``) and WebP; it refuses TIFF and
1-bit BMPs.

Only Pillow is imported here: scanning must not pay TensorFlow's import.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from diagnostics.errors import ConfigError, DatasetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "ScanResult",
    "allowed_roots",
    "decoded_bytes",
    "resolve_dataset",
    "scan",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"

# Keras' ALLOWLIST_FORMATS: a file with another extension is silently skipped by
# image_dataset_from_directory, so counting it would make our numbers disagree with the loader's.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Pillow format names whose content tf.io.decode_image (TF 2.21) decodes. MPO is a camera JPEG
# with extra frames; libjpeg reads its first image.
_DECODABLE = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP"})
# TF's BMP decoder derives channels as bits/8 and accepts only 1, 3 or 4 channels.
_BMP_OK_BITS = frozenset({8, 24, 32})
# Same limit as Pillow's default: above it a single decode allocates hundreds of MiB, which is
# exactly the kind of surprise this tool exists to catch. Checked from the header, before loading.
MAX_IMAGE_PIXELS = 89_478_485

_CHANNELS = {"rgb": 3, "grayscale": 1}
_ITEMSIZE = {"float32": 4, "float16": 2, "uint8": 1}


@dataclass
class ScanResult:
    """What `scan` found. Paths are relative to ``root`` with ``/`` separators."""

    root: str
    classes: list[str]
    counts: dict[str, int]
    files: list[tuple[str, int]]
    bad_files: list[dict[str, str]]
    formats: dict[str, int]
    channel_modes: dict[str, int]
    sizes: list[tuple[int, int]]
    num_images: int
    fingerprint: str
    decoded_bytes_per_image: int
    image_size: tuple[int, int] = (128, 128)
    color_mode: str = "rgb"
    dtype: str = "float32"
    # Readable files with a caveat (animated GIF: first frame only; top-level files ignored).
    notes: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [list(f) for f in self.files]
        data["sizes"] = [list(s) for s in self.sizes]
        data["image_size"] = list(self.image_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        data = dict(data)
        data["files"] = [(str(p), int(i)) for p, i in data["files"]]
        data["sizes"] = [(int(w), int(h)) for w, h in data["sizes"]]
        data["image_size"] = tuple(int(v) for v in data.get("image_size", (128, 128)))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def paths(self) -> list[str]:
        """Absolute paths of the readable images, in ``files`` order."""
        return [os.path.join(self.root, rel) for rel, _ in self.files]


def decoded_bytes(image_size: tuple[int, int], color_mode: str = "rgb", dtype: str = "float32") -> int:
    """Bytes of one decoded, resized image tensor: H * W * channels * itemsize."""
    if color_mode not in _CHANNELS:
        raise ConfigError(f"--color-mode must be one of {', '.join(_CHANNELS)}, not {color_mode!r}")
    if dtype not in _ITEMSIZE:
        raise ConfigError(f"--dtype must be one of {', '.join(_ITEMSIZE)}, not {dtype!r}")
    height, width = (int(v) for v in image_size)
    return height * width * _CHANNELS[color_mode] * _ITEMSIZE[dtype]


def allowed_roots() -> list[Path]:
    """Folders datasets must live under: ``DIAG_DATA_ROOTS`` (os.pathsep-separated) or defaults."""
    return _default_roots()


def _default_roots() -> list[Path]:
    env = os.environ.get("DIAG_DATA_ROOTS")
    if env is not None and env.strip():
        raw = [p for p in env.split(os.pathsep) if p.strip()]
    else:
        raw = [str(SAMPLE_DATA), str(Path.home())]
    return [Path(os.path.realpath(os.path.expanduser(p))) for p in raw]


def resolve_dataset(path: str | os.PathLike[str], allowed_roots: list[Path] | None = None) -> Path:
    """The dataset folder's realpath, refused unless it lies under one of the allowed roots.

    ``realpath`` first, so ``..`` and symlinks are judged by where they really lead.
    """
    roots_given = allowed_roots if allowed_roots is not None else _default_roots()
    roots = [Path(os.path.realpath(os.path.expanduser(str(r)))) for r in roots_given]
    text = str(path).strip()
    if not text:
        raise DatasetError("No dataset folder given")
    if "\0" in text:
        raise DatasetError(f"Dataset folder {text!r} contains a NUL character")
    real = Path(os.path.realpath(os.path.expanduser(text)))
    if any(real == root or real.is_relative_to(root) for root in roots):
        return real
    shown = f"{text} (resolves to {real})" if str(real) != text else text
    raise DatasetError(
        f"Dataset folder {shown} is outside the allowed roots: {', '.join(str(r) for r in roots)}. "
        "Set DIAG_DATA_ROOTS (separated by os.pathsep) to allow another folder."
    )


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _bad_name(name: str) -> bool:
    # Undecodable bytes arrive as surrogate escapes; TF and SQLite cannot take them as text.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _describe_unidentified(head: bytes) -> str:
    if not head.strip():
        return "not an image: the content is blank"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not an image: unrecognised content"
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        preview = " ".join(text.split())[:40]
        return f"not an image: the content is text ({preview!r})"
    return "not an image: unrecognised content"


def _bmp_bits(head: bytes) -> int | None:
    # BITMAPCOREHEADER (12 bytes) keeps bit count at offset 24, every later header at 28.
    if len(head) < 30 or head[:2] != b"BM":
        return None
    header_size = int.from_bytes(head[14:18], "little")
    offset = 24 if header_size == 12 else 28
    return int.from_bytes(head[offset : offset + 2], "little")


@dataclass
class _FileInfo:
    format: str
    mode: str
    size: tuple[int, int]
    note: str | None = None


def _inspect(path: str) -> _FileInfo | str:
    """Open, verify and load one image; return its facts, or the reason it is bad."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: the link cannot be resolved"
        if os.path.islink(path):
            return f"broken symlink: target {os.readlink(path)!r} does not exist"
        return f"cannot read: {exc.strerror or exc}"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    try:
        fh = open(path, "rb")  # closed in finally; Pillow reads it twice
    except PermissionError:
        return "cannot read: permission denied"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    try:
        head = fh.read(512)
        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                im = Image.open(fh)
            except Image.DecompressionBombError as exc:
                # Pillow refuses before we see the size; its message carries the pixel count.
                match = re.search(r"\((\d+) pixels\)", str(exc))
                pixels = f"{int(match.group(1)):,} pixels" if match else "the pixel count"
                return (
                    f"decompression bomb: {pixels} exceeds the {MAX_IMAGE_PIXELS:,}-pixel limit; not loaded"
                )
            except UnidentifiedImageError:
                return _describe_unidentified(head)
            fmt = im.format or "unknown"
            width, height = im.size
            pixels = width * height
            if fmt not in _DECODABLE:
                return f"format {fmt} is not decodable by tf.io.decode_image"
            if pixels > MAX_IMAGE_PIXELS:
                return (
                    f"decompression bomb: {width}x{height} = {pixels:,} pixels exceeds the "
                    f"{MAX_IMAGE_PIXELS:,}-pixel limit; not loaded"
                )
            bits = _bmp_bits(head) if fmt == "BMP" else None
            if bits is not None and bits not in _BMP_OK_BITS:
                return f"{bits}-bit BMP: tf.io.decode_image decodes only 8, 24 and 32-bit BMPs"
            mode = im.mode
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            im.verify()
            # verify() leaves the image unusable and does not decode pixel data; a fresh open and
            # load() is what finds a truncated file.
            fh.seek(0)
            im = Image.open(fh)
            if fmt == "JPEG":
                # DCT scaling decodes at 1/8 size: still reads every byte, far less work.
                im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
            im.load()
    except Exception as exc:  # any decoder failure is a bad file, never a traceback
        detail = str(exc) or type(exc).__name__
        return f"corrupt or truncated image: {detail}"
    finally:
        fh.close()
    note = (
        f"animated {fmt} with {n_frames} frames: loaders decode the first frame only"
        if n_frames > 1
        else None
    )
    return _FileInfo(format=fmt, mode=mode, size=(width, height), note=note)


def _list_dir(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        raise DatasetError(f"Dataset folder {folder} does not exist") from None
    except NotADirectoryError:
        raise DatasetError(f"Dataset path {folder} is a file, not a folder of class subfolders") from None
    except PermissionError:
        raise DatasetError(f"Dataset folder {folder} cannot be read: permission denied") from None
    except OSError as exc:
        raise DatasetError(f"Dataset folder {folder} cannot be read: {exc.strerror or exc}") from None


def _walk_class(class_dir: str, root: str, bad: list[dict[str, str]], notes: list[dict[str, str]]):
    """Yield (relpath, abspath) of candidate files under one class folder, like Keras' os.walk.

    Symlinked folders are not followed (as in Keras), so a link loop cannot hang the scan.
    """

    def on_error(exc: OSError) -> None:
        rel = os.path.relpath(exc.filename or class_dir, root)
        bad.append({"path": rel + "/", "reason": f"cannot list folder: {exc.strerror or exc}"})

    for dirpath, dirnames, filenames in os.walk(class_dir, onerror=on_error, followlinks=False):
        for d in sorted(dirnames):
            if not _is_hidden(d) and os.path.islink(os.path.join(dirpath, d)):
                rel = os.path.relpath(os.path.join(dirpath, d), root)
                notes.append({"path": rel + "/", "note": "symlinked folder: not followed"})
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, root).replace(os.sep, "/"), full


def scan(
    folder: str | os.PathLike[str],
    image_size: tuple[int, int] = (128, 128),
    color_mode: str = "rgb",
    dtype: str = "float32",
) -> ScanResult:
    """Scan a class-per-folder dataset; raise DatasetError when the folder cannot be used at all.

    Example:
        >>> result = scan("sample_data")
        >>> result.classes, result.num_images, result.bad_files
    """
    bytes_per_image = decoded_bytes(image_size, color_mode, dtype)
    if "\0" in str(folder):
        raise DatasetError(f"Dataset folder {str(folder)!r} contains a NUL character")
    given = Path(os.path.expanduser(str(folder)))
    root_path = Path(os.path.realpath(given))
    entries = [e for e in _list_dir(root_path) if not _is_hidden(e.name)]
    root = str(root_path)
    if not entries:
        raise DatasetError(f"Dataset folder {given} is empty: expected one subfolder per class")

    class_dirs = []
    bad: list[dict[str, str]] = []
    notes: list[dict[str, str]] = []
    top_level_images = 0
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            class_dirs.append(entry.name)
        elif entry.is_symlink() and os.path.isdir(entry.path):
            notes.append({"path": entry.name + "/", "note": "symlinked class folder: not followed"})
        else:
            if entry.name.lower().endswith(IMAGE_EXTENSIONS):
                top_level_images += 1
            notes.append({"path": entry.name, "note": "at the top level, outside any class folder: ignored"})
    if not class_dirs:
        if top_level_images:
            raise DatasetError(
                f"Dataset folder {given} has {top_level_images} image file(s) at its top level but no "
                f"class subfolders: put each class's images in its own subfolder ({given}/<class>/...)"
            )
        raise DatasetError(
            f"Dataset folder {given} has no class subfolders (one subfolder per class expected)"
        )

    files: list[tuple[str, int]] = []
    sizes: list[tuple[int, int]] = []
    formats: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    counts = dict.fromkeys(class_dirs, 0)
    digest = hashlib.sha1()
    for class_index, cls in enumerate(class_dirs):
        for rel, full in _walk_class(os.path.join(root, cls), root, bad, notes):
            ext = os.path.splitext(rel)[1].lower()
            if _bad_name(rel):
                shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                bad.append({"path": shown, "reason": "file name is not valid UTF-8"})
                continue
            if ext not in IMAGE_EXTENSIONS:
                bad.append(
                    {
                        "path": rel,
                        "reason": f"extension {ext or '(none)'} is not read by the image loaders "
                        f"(they read {' '.join(IMAGE_EXTENSIONS)}): skipped",
                    }
                )
                continue
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not (target == root or target.startswith(root + os.sep)):
                    bad.append(
                        {"path": rel, "reason": f"symlink points outside the dataset folder (to {target})"}
                    )
                    continue
            info = _inspect(full)
            if isinstance(info, str):
                bad.append({"path": rel, "reason": info})
                continue
            if info.note:
                notes.append({"path": rel, "note": info.note})
            files.append((rel, class_index))
            sizes.append(info.size)
            formats[info.format] += 1
            modes[info.mode] += 1
            counts[cls] += 1
            st = os.stat(full)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for cls, n in counts.items():
        if n == 0:
            notes.append({"path": cls + "/", "note": "class folder has no readable image"})

    # Contract: files sorted by relpath; sizes stay aligned with them.
    ordered = sorted(zip(files, sizes, strict=True), key=lambda pair: pair[0][0])
    files = [f for f, _ in ordered]
    sizes = [s for _, s in ordered]
    if not files:
        first = f" (first: {bad[0]['path']}: {bad[0]['reason']})" if bad else ""
        raise DatasetError(
            f"No readable image in dataset folder {given}: {len(bad)} bad file(s){first}"
            if bad
            else f"No readable image in dataset folder {given}: its class subfolders are empty"
        )
    return ScanResult(
        root=root,
        classes=class_dirs,
        counts=counts,
        files=files,
        bad_files=bad,
        formats=dict(sorted(formats.items())),
        channel_modes=dict(sorted(modes.items())),
        sizes=sizes,
        num_images=len(files),
        fingerprint=digest.hexdigest(),
        decoded_bytes_per_image=bytes_per_image,
        image_size=tuple(int(v) for v in image_size),
        color_mode=color_mode,
        dtype=dtype,
        notes=notes,
    )
