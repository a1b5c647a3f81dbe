"""Scan a class-per-folder image dataset with Pillow, and confine dataset paths to allowed roots.

A file counts as a readable image when every loader can read it: its extension is one Keras'
``image_dataset_from_directory`` indexes (``.bmp .gif .jpeg .jpg .png``, any case), its content is
a format ``tf.io.decode_image`` decodes, and Pillow can open, verify and fully load it (which
catches truncation). Everything else is listed in ``bad_files`` with the reason, so a run can skip
it or stop naming it. Facts checked against TF 2.21 (see ``_BMP_OK_BITS`` and ``_DECODABLE``):
``decode_image`` decodes CMYK JPEGs, 16-bit PNGs (to uint8), palette/alpha PNGs, 8/24/32-bit BMPs,
the first frame of an animated GIF (``expand_animations=False``) and WebP; it refuses TIFF and
1-bit BMPs.

Two tiers, so a big folder is usable at once: ``list_folder`` reads names, sizes and mtimes only
(classes, counts, extensions, files ruled out by name); ``verify`` opens the rest in a process pool
on all cores, skipping files whose (relpath, size, mtime_ns) verdict is cached under
``$DIAG_HOME/scan_cache/`` (see ``diagnostics/scan_cache.py``). ``start_verification`` runs it in a
background thread shared by everyone asking for the same folder state; ``scan`` is list + verify
in one call. A run stores ``scan_summary`` (bounded size), never the file list.

Only Pillow is imported here: scanning must not pay TensorFlow's import.
"""

from __future__ import annotations

import errno
import hashlib
import marshal
import os
import re
import threading
import warnings
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from operator import itemgetter, mul
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from diagnostics.config import IMAGE_EXTENSIONS
from diagnostics.errors import ConfigError, DatasetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "Listing",
    "ScanResult",
    "VerificationJob",
    "allowed_roots",
    "decoded_bytes",
    "find_datasets",
    "list_folder",
    "resolve_dataset",
    "scan",
    "scan_summary",
    "start_verification",
    "verify",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"

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
    extensions: dict[str, int] = field(default_factory=dict)  # every file in the class folders
    total_bytes: int = 0  # of the listed candidate files

    def with_decoding(
        self, image_size: tuple[int, int], color_mode: str = "rgb", dtype: str = "float32"
    ) -> ScanResult:
        """The same scan at another image size / colour mode / dtype: arithmetic, no rescan."""
        return replace(
            self,
            decoded_bytes_per_image=decoded_bytes(image_size, color_mode, dtype),
            image_size=tuple(int(v) for v in image_size),
            color_mode=color_mode,
            dtype=dtype,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data. Shallow: ``asdict`` deep-copies 100k tuples for nothing (JSON
        writes tuples as lists anyway); treat the lists as read-only."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
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
    """Yield, folder by folder, the non-folder DirEntries under one class folder, like Keras' os.walk.

    ``os.scandir`` by hand rather than ``os.walk``: the entries' file types come free with the
    listing, so a plain file costs one stat (its size and mtime) and nothing else. Symlinked
    folders are not followed (as in Keras), so a link loop cannot hang the scan. A relpath is
    ``entry.path[len(root) + 1:]`` (POSIX separators already).
    """
    cut = len(root) + 1
    stack = [class_dir]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = [e for e in it if not e.name.startswith(".")]  # hidden: ignored
        except OSError as exc:
            rel = (exc.filename or folder)[cut:]
            bad.append({"path": rel + "/", "reason": f"cannot list folder: {exc.strerror or exc}"})
            continue
        # One pass finds what is not a plain file (usually nothing): folders and links are rare.
        others = [e for e in entries if not e.is_file(follow_symlinks=False)]
        if not others:
            yield entries
            continue
        subfolders = [e.path for e in others if e.is_dir(follow_symlinks=False)]
        if subfolders:
            entries = [e for e in entries if not e.is_dir(follow_symlinks=False)]
            stack.extend(sorted(subfolders, reverse=True))
        links = [e for e in others if e.is_symlink() and _follows_to_dir(e)]
        for entry in links:
            notes.append({"path": entry.path[cut:] + "/", "note": "symlinked folder: not followed"})
        yield [e for e in entries if e not in links] if links else entries


_LAST4 = itemgetter(slice(-4, None))
_REL, _SIZE = itemgetter(0), itemgetter(2)


def _fingerprint_bytes(files: list[tuple[str, int, int, int]]) -> bytes:
    """The (relpath, class, size, mtime_ns) list as bytes to hash: marshal format 2 (no object
    references, so the bytes depend on the values alone) is one C pass, twice as fast as repr."""
    return marshal.dumps(files, 2)


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else "(none)"


def _follows_to_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


# -- tier 1: the listing -------------------------------------------------------------------------


@dataclass
class Listing:
    """What names and sizes alone tell about a folder: no file is opened.

    ``files`` are the candidates verification reads: (relpath, class_index, size, mtime_ns),
    sorted by relpath; ``counts``/``num_files``/``total_bytes`` are theirs. ``extensions`` counts
    every file in the class folders. ``bad_files`` are those refused by name or link alone
    (extension, undecodable name, symlink escaping the root, broken or looping link, 0 bytes).
    """

    root: str
    classes: list[str]
    counts: dict[str, int]
    extensions: dict[str, int]
    total_bytes: int
    num_files: int
    files: list[tuple[str, int, int, int]]
    fingerprint: str
    notes: list[dict[str, str]] = field(default_factory=list)
    bad_files: list[dict[str, str]] = field(default_factory=list)

    def to_summary(self) -> dict[str, Any]:
        """The listing without its file list (bounded size, any folder)."""
        return {
            "root": self.root,
            "classes": self.classes,
            "counts": self.counts,
            "extensions": self.extensions,
            "total_bytes": self.total_bytes,
            "num_files": self.num_files,
            "fingerprint": self.fingerprint,
            "notes": self.notes[:SUMMARY_CAP],
            "notes_total": len(self.notes),
            "bad_files": self.bad_files[:SUMMARY_CAP],
            "bad_files_total": len(self.bad_files),
        }


def _classify(rel: str, entry: os.DirEntry[str], root: str) -> tuple[int, int] | str:
    """(size, mtime_ns) of a candidate, or why its name, link or size already rule it out."""
    if _bad_name(rel):
        return "file name is not valid UTF-8"
    ext = os.path.splitext(rel)[1].lower()
    if ext not in IMAGE_EXTENSIONS:
        return (
            f"extension {ext or '(none)'} is not read by the image loaders "
            f"(they read {' '.join(IMAGE_EXTENSIONS)}): skipped"
        )
    is_link = entry.is_symlink()
    if is_link:
        target = os.path.realpath(entry.path)
        if not (target == root or target.startswith(root + os.sep)):
            return f"symlink points outside the dataset folder (to {target})"
    try:
        st = entry.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: the link cannot be resolved"
        if is_link:
            return f"broken symlink: target {os.readlink(entry.path)!r} does not exist"
        return f"cannot read: {exc.strerror or exc}"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return st.st_size, st.st_mtime_ns


def list_folder(folder: str | os.PathLike[str]) -> Listing:
    """Tier 1: classes, candidate files with sizes and mtimes, names ruled out; no file opened.

    Raises DatasetError when the folder cannot be used at all (missing, a file, no class
    subfolders, no candidate image).
    """
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

    files: list[tuple[str, int, int, int]] = []
    extensions: Counter[str] = Counter()
    counts = dict.fromkeys(class_dirs, 0)
    ext_counts: Counter[str] = Counter()
    fast_ext: Counter[str] = Counter()
    cut = len(root) + 1
    for class_index, cls in enumerate(class_dirs):
        n = 0
        for entries in _walk_class(os.path.join(root, cls), root, bad, notes):
            # The common case (a plain, ASCII-named image file) costs its one stat and nothing
            # else, in one comprehension: a 100k-file re-scan is mostly this.
            try:
                found = [
                    (e.path[cut:], class_index, (st := e.stat()).st_size, st.st_mtime_ns)
                    for e in entries
                    if e.is_file(follow_symlinks=False)
                    and (name := e.name.lower()).endswith(IMAGE_EXTENSIONS)
                    and name.isascii()
                ]
            except OSError:
                found = []  # a file vanished mid-listing: the careful path below says which
            if len(found) == len(entries) and 0 not in map(_SIZE, found):
                # Every entry is a non-empty image file: its extension is its last 4 characters
                # (".jpg", ".png", ... and "jpeg" for ".jpeg"), counted in C.
                fast_ext.update(map(str.lower, map(_LAST4, map(_REL, found))))
                files.extend(found)
                n += len(found)
                continue
            # Something else in this folder (rare): entry by entry.
            ext_counts.update(_extension(e.name) for e in entries)
            found = [f for f in found if f[2]]
            files.extend(found)
            n += len(found)
            taken = {f[0] for f in found}
            for entry in entries:
                rel = entry.path[cut:]
                if rel in taken:
                    continue
                verdict = _classify(rel, entry, root)  # 0 bytes, gone, other names: says why
                if isinstance(verdict, str):
                    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    bad.append({"path": shown, "reason": verdict})
                    continue
                files.append((rel, class_index, verdict[0], verdict[1]))
                n += 1
        counts[cls] = n
    if "jpeg" in fast_ext:
        fast_ext[".jpeg"] = fast_ext.pop("jpeg")
    extensions.update(ext_counts)
    extensions.update(fast_ext)
    files.sort(key=itemgetter(0))  # relpaths are unique: comparing them alone is enough
    digest = hashlib.sha1(_fingerprint_bytes(files))
    if not files:
        first = f" (first: {bad[0]['path']}: {bad[0]['reason']})" if bad else ""
        raise DatasetError(
            f"No readable image in dataset folder {given}: {len(bad)} bad file(s){first}"
            if bad
            else f"No readable image in dataset folder {given}: its class subfolders are empty"
        )
    return Listing(
        root=root,
        classes=class_dirs,
        counts=counts,
        extensions=dict(sorted(extensions.items())),
        total_bytes=sum(map(_SIZE, files)),
        num_files=len(files),
        files=files,
        fingerprint=digest.hexdigest(),
        notes=notes,
        bad_files=bad,
    )


# -- tier 2: verification ------------------------------------------------------------------------

# Below this many files to read, the pool costs more than it saves: verifying a 300-500 px JPEG
# takes ~0.7 ms, starting the forkserver pool ~0.5-1 s on 2 cores (bench: 1k files 0.77 s on one
# core, 1.4 s in the pool). Tests can also patch this process's builtins below it.
PARALLEL_MIN_FILES = 2000
CACHE_WRITE_EVERY = 2000  # verdicts written to the cache at a time while verifying


def _verdict(path: str) -> Any:
    info = _inspect(path)
    if isinstance(info, str):
        return info
    return (info.format, info.mode, info.size[0], info.size[1], info.note)


def _verify_chunk(root: str, rels: list[str]) -> list[Any]:
    """Pool task: the verdicts of a few files (a module-level function, so it pickles)."""
    return [_verdict(os.path.join(root, rel)) for rel in rels]


def _pool_context():
    import multiprocessing
    import sys

    # forkserver: the dashboard and runner have threads, and forking a threaded process can copy
    # a held lock into the child. The server starts once per process with this module preloaded.
    # Its children re-import __main__ from its file; an interpreter fed on stdin has none, so
    # there (and only there) the pool forks.
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is None and not (main_file and os.path.exists(main_file)):
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["diagnostics.dataset"])
    return context


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def verify(
    listing: Listing,
    *,
    workers: int | None = None,
    home: str | os.PathLike | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanResult:
    """Tier 2: open, verify and load every candidate not already verified in the cache.

    Files whose (relpath, size, mtime_ns) match the cache under ``$DIAG_HOME/scan_cache/`` are
    not opened; the rest are read in a process pool of ``workers`` (default: all cores) in
    chunks. ``on_progress(done, total, bad_so_far)`` is called as chunks finish;
    ``should_stop()`` returning True stops with a DatasetError (verdicts so far stay cached).
    """
    from diagnostics.scan_cache import ScanCache

    cache = ScanCache(home, listing.root)
    try:
        snapshot = cache.load_snapshot(listing.fingerprint)
        if snapshot is not None and len(snapshot) == listing.num_files:
            if on_progress is not None:
                bad = len(listing.bad_files) + sum(isinstance(v, str) for v in snapshot)
                on_progress(listing.num_files, listing.num_files, bad)
            return _assemble(listing, snapshot)
        known = cache.load()
        verdicts: dict[str, Any] = {}
        todo: list[tuple[str, int, int]] = []
        for rel, _, size, mtime_ns in listing.files:
            hit = known.pop(rel, None)
            if hit is not None and hit[0] == size and hit[1] == mtime_ns:
                verdicts[rel] = hit[2]
            else:
                todo.append((rel, size, mtime_ns))
        cache.forget(list(known))  # files gone from the folder
        total = listing.num_files
        bad_so_far = len(listing.bad_files) + sum(isinstance(v, str) for v in verdicts.values())
        if on_progress is not None:
            on_progress(len(verdicts), total, bad_so_far)
        pending: list[tuple[str, int, int, Any]] = []

        def record(batch: list[tuple[str, int, int]], results: list[Any]) -> None:
            nonlocal bad_so_far
            for (rel, size, mtime_ns), verdict in zip(batch, results, strict=True):
                verdicts[rel] = verdict
                bad_so_far += isinstance(verdict, str)
                pending.append((rel, size, mtime_ns, verdict))
            if len(pending) >= CACHE_WRITE_EVERY:
                cache.store(pending)
                pending.clear()
            if on_progress is not None:
                on_progress(len(verdicts), total, bad_so_far)

        def stop_now() -> None:
            cache.store(pending)
            pending.clear()
            raise DatasetError(f"verification of {listing.root} stopped before it finished")

        workers = max(1, workers or os.cpu_count() or 1)
        if todo and (workers == 1 or len(todo) < PARALLEL_MIN_FILES):
            for batch in _chunks(todo, 64):
                if should_stop is not None and should_stop():
                    stop_now()
                record(batch, _verify_chunk(listing.root, [rel for rel, _, _ in batch]))
        elif todo:
            _verify_in_pool(listing.root, todo, workers, record, should_stop, stop_now)
        cache.store(pending)
        ordered = [verdicts[f[0]] for f in listing.files]
        cache.save_snapshot(listing.fingerprint, ordered)
    finally:
        cache.close()
    return _assemble(listing, ordered)


def _verify_in_pool(root, todo, workers, record, should_stop, stop_now) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # Small chunks early give progress soon; ~16 chunks per worker keep both cores busy to the end.
    size = max(8, min(256, len(todo) // (workers * 16) or 8))
    batches = _chunks(todo, size)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(_verify_chunk, root, [rel for rel, _, _ in b]): b for b in batches}
        remaining = set(futures)
        try:
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    record(futures[future], future.result())
                if should_stop is not None and should_stop():
                    stop_now()
        except BaseException:
            for future in remaining:
                future.cancel()
            raise


def _assemble(listing: Listing, verdicts: list[Any]) -> ScanResult:
    """The ScanResult from the listing and its verdicts (in ``listing.files`` order)."""
    bad = list(listing.bad_files)
    notes = list(listing.notes)
    if str not in set(map(type, verdicts)) and not any(map(itemgetter(4), verdicts)):
        # Every file readable and without a caveat (the usual folder): C-level passes only.
        files: list[tuple[str, int]] = list(map(itemgetter(0, 1), listing.files))
        sizes: list[tuple[int, int]] = list(map(itemgetter(2, 3), verdicts))
        good: list[tuple] = verdicts
    else:
        files, sizes, good = [], [], []
        for (rel, class_index, _, _), verdict in zip(listing.files, verdicts, strict=True):
            if verdict.__class__ is str:
                bad.append({"path": rel, "reason": verdict})
                continue
            if verdict[4]:
                notes.append({"path": rel, "note": verdict[4]})
            files.append((rel, class_index))
            sizes.append((verdict[2], verdict[3]))
            good.append(verdict)
    formats = Counter(map(itemgetter(0), good))
    modes = Counter(map(itemgetter(1), good))
    per_class = Counter(map(itemgetter(1), files))
    counts = {cls: per_class.get(i, 0) for i, cls in enumerate(listing.classes)}
    for cls, n in counts.items():
        if n == 0:
            notes.append({"path": cls + "/", "note": "class folder has no readable image"})
    bad.sort(key=lambda b: b["path"])
    if not files:
        first = f" (first: {bad[0]['path']}: {bad[0]['reason']})" if bad else ""
        raise DatasetError(
            f"No readable image in dataset folder {listing.root}: {len(bad)} bad file(s){first}"
        )
    return ScanResult(
        root=listing.root,
        classes=listing.classes,
        counts=counts,
        files=files,
        bad_files=bad,
        formats=dict(sorted(formats.items())),
        channel_modes=dict(sorted(modes.items())),
        sizes=sizes,
        num_images=len(files),
        fingerprint=listing.fingerprint,
        decoded_bytes_per_image=decoded_bytes((128, 128)),
        notes=notes,
        extensions=listing.extensions,
        total_bytes=listing.total_bytes,
    )


def scan(
    folder: str | os.PathLike[str],
    image_size: tuple[int, int] = (128, 128),
    color_mode: str = "rgb",
    dtype: str = "float32",
    *,
    home: str | os.PathLike | None = None,
    workers: int | None = None,
) -> ScanResult:
    """List and verify a class-per-folder dataset (cached); DatasetError if it cannot be used.

    Example:
        >>> result = scan("sample_data")
        >>> result.classes, result.num_images, result.bad_files
    """
    decoded_bytes(image_size, color_mode, dtype)  # a bad option is refused before any reading
    result = verify(list_folder(folder), home=home, workers=workers)
    return result.with_decoding(image_size, color_mode, dtype)


# -- background verification shared by sessions ---------------------------------------------------


class VerificationJob:
    """``verify`` in a background thread, shared by every caller asking for the same folder state."""

    def __init__(self, listing: Listing, home: str | os.PathLike | None = None) -> None:
        self.listing = listing
        self.home = home
        self.error: DatasetError | None = None
        self._done = 0
        self._bad_count = len(listing.bad_files)
        self._result: ScanResult | None = None
        self._finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"verify-{listing.root}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = verify(
                self.listing, home=self.home, on_progress=self._progress, should_stop=self._stop.is_set
            )
        except DatasetError as exc:
            self.error = exc
        except Exception as exc:  # a verification bug must surface on the page, not kill a thread
            self.error = DatasetError(
                f"verification of {self.listing.root} failed: {type(exc).__name__}: {exc}"
            )
        finally:
            self._finished.set()

    def _progress(self, done: int, total: int, bad: int) -> None:
        self._done, self._bad_count = done, bad

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until verification ends (or ``timeout`` seconds); True when it has."""
        return self._finished.wait(timeout)

    def progress(self) -> tuple[int, int]:
        """(files verified, files to verify)."""
        return (self.listing.num_files if self.finished else self._done), self.listing.num_files

    def bad_count(self) -> int:
        return len(self._result.bad_files) if self._result is not None else self._bad_count

    def bad_files(self) -> list[dict[str, str]]:
        """Bad files known so far: those ruled out by name until verification has finished."""
        return list(self._result.bad_files) if self._result is not None else list(self.listing.bad_files)

    def stop(self) -> None:
        self._stop.set()

    def result(self, timeout: float | None = None) -> ScanResult:
        """The ScanResult; DatasetError if verification failed, TimeoutError if still running."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"verification of {self.listing.root} still running")
        if self.error is not None:
            raise self.error
        assert self._result is not None
        return self._result


_JOBS: dict[tuple[str, str, str], VerificationJob] = {}
_JOBS_LOCK = threading.Lock()
_JOBS_KEPT = 16


def start_verification(
    folder: str | os.PathLike[str], home: str | os.PathLike | None = None
) -> VerificationJob:
    """List now (DatasetError at once for an unusable folder), verify in the background.

    One job per (root, fingerprint, home) in this process: sessions and the runner that ask for
    the same folder state share it; a changed folder gets a new job (which re-reads only what
    changed, thanks to the cache).
    """
    listing = list_folder(folder)
    from diagnostics.home import diag_home

    key = (listing.root, listing.fingerprint, str(diag_home(home).resolve()))
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None and not (job.finished and job.error is not None):
            return job
        job = _JOBS[key] = VerificationJob(listing, home)
        finished = [k for k, j in _JOBS.items() if j.finished]
        for old in finished[: max(0, len(_JOBS) - _JOBS_KEPT)]:
            _JOBS.pop(old, None)
    return job


# -- what a run stores -----------------------------------------------------------------------------

SUMMARY_CAP = 50  # bad files and notes kept in a summary; the totals say how many there were
_SIDE_BINS = (0, 128, 256, 512, 1024, 2048, 4096)


def _median(ordered: list[int]) -> float | None:
    """Median of an already sorted list."""
    if not ordered:
        return None
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def size_stats(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    """Min/median/max of widths and heights, mean pixels, and a histogram of the longer side."""
    widths = list(map(itemgetter(0), sizes))
    heights = list(map(itemgetter(1), sizes))
    # Sorted once, then counted by bisection: C-level work, a 100k-image summary in milliseconds.
    longer = sorted(map(max, widths, heights))
    edges = [bisect_left(longer, edge) for edge in _SIDE_BINS] + [len(longer)]
    histogram = [edges[i + 1] - edges[i] for i in range(len(_SIDE_BINS))]
    sorted_widths, sorted_heights = sorted(widths), sorted(heights)
    return {
        "count": len(sizes),
        "width": {
            "min": sorted_widths[0] if sizes else None,
            "median": _median(sorted_widths),
            "max": sorted_widths[-1] if sizes else None,
        },
        "height": {
            "min": sorted_heights[0] if sizes else None,
            "median": _median(sorted_heights),
            "max": sorted_heights[-1] if sizes else None,
        },
        "mean_pixels": sum(map(mul, widths, heights)) / len(sizes) if sizes else None,
        "longer_side_bins": list(_SIDE_BINS),  # bin i counts sides in [bins[i], bins[i+1])
        "longer_side_counts": histogram,
    }


def loader_skips(scan: ScanResult, loader: Any) -> list[dict[str, str]]:
    """Readable images a loader will not deliver, with why (e.g. ``.gif`` for ImageDataGenerator).

    A loader lists the extensions it reads in ``reads_extensions`` (default: IMAGE_EXTENSIONS).
    """
    reads = tuple(getattr(loader, "reads_extensions", IMAGE_EXTENSIONS))
    if set(IMAGE_EXTENSIONS) <= set(reads):
        return []
    reader = getattr(loader, "reader", getattr(loader, "name", "this loader"))
    out = []
    for rel, _ in scan.files:
        ext = os.path.splitext(rel)[1].lower()
        if ext not in reads:
            out.append(
                {"path": rel, "reason": f"{reader} does not read {ext} files (it reads {' '.join(reads)})"}
            )
    return out


def scan_summary(
    scan: ScanResult | dict[str, Any], skipped: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """What a run stores of its scan: the same size for 100 or 1,000,000 files (no file list).

    ``skipped``: readable images the run's loader will not deliver (``loader_skips``); kept
    capped as ``loader_skipped`` with ``loader_skipped_total`` and ``loader_images`` (what one
    full epoch should deliver).
    """
    data = scan.to_dict() if hasattr(scan, "to_dict") else dict(scan)
    if "bad_files_total" in data and "files" not in data:
        return data  # already a summary
    sizes = data.get("sizes") or []  # (w, h) pairs; lists after a JSON round trip
    bad = list(data.get("bad_files") or [])
    notes = list(data.get("notes") or [])
    return {
        "root": data.get("root"),
        "classes": list(data.get("classes") or []),
        "counts": dict(data.get("counts") or {}),
        "num_images": int(data.get("num_images") or 0),
        "num_files": int(data.get("num_images") or 0) + len(bad),
        "total_bytes": data.get("total_bytes"),
        "extensions": dict(data.get("extensions") or {}),
        "formats": dict(data.get("formats") or {}),
        "channel_modes": dict(data.get("channel_modes") or {}),
        "size_stats": size_stats(sizes) if sizes else data.get("size_stats"),
        "bad_files": bad[:SUMMARY_CAP],
        "bad_files_total": len(bad),
        "notes": notes[:SUMMARY_CAP],
        "notes_total": len(notes),
        "fingerprint": data.get("fingerprint"),
        "decoded_bytes_per_image": data.get("decoded_bytes_per_image"),
        "image_size": list(data.get("image_size") or (128, 128)),
        "color_mode": data.get("color_mode", "rgb"),
        "dtype": data.get("dtype", "float32"),
        "loader_skipped": list(skipped or [])[:SUMMARY_CAP],
        "loader_skipped_total": len(skipped or []),
        "loader_images": int(data.get("num_images") or 0) - len(skipped or []),
    }


# -- finding datasets under the roots ------------------------------------------------------------


def _has_images(folder: str) -> bool:
    """Whether an image file name lies directly in ``folder`` (stops at the first one)."""
    try:
        with os.scandir(folder) as it:
            return any(not _is_hidden(e.name) and e.name.lower().endswith(IMAGE_EXTENSIONS) for e in it)
    except OSError:
        return False


def find_datasets(roots: list[str | os.PathLike[str]] | None = None, max_depth: int = 3) -> list[str]:
    """Folders under the roots (the roots included) whose class subfolders hold images.

    Names only, breadth first, ``max_depth`` levels below each root; a folder found to be a
    dataset is not searched further (its class folders are not datasets of their own).
    """
    found: list[str] = []
    for root in roots if roots is not None else allowed_roots():
        level = [os.path.realpath(os.path.expanduser(str(root)))]
        for depth in range(max_depth + 1):
            below = []
            for folder in level:
                try:
                    with os.scandir(folder) as it:
                        subs = sorted(
                            e.path for e in it if not _is_hidden(e.name) and e.is_dir(follow_symlinks=False)
                        )
                except OSError:
                    continue
                # A dataset: most of its subfolders hold images themselves. A folder of datasets
                # (whose subfolders hold only class folders) is searched further instead.
                sampled = subs[:20]
                if sampled and 2 * sum(_has_images(sub) for sub in sampled) >= len(sampled):
                    found.append(folder)
                elif depth < max_depth:
                    below.extend(subs)
            level = below
    return sorted(dict.fromkeys(found))
