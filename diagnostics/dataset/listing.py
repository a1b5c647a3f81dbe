"""Tier 1 of a scan: a folder's classes, candidate files with sizes, mtimes and ctimes, and the
files its names, links or sizes already rule out. No file is opened.

A candidate's extension is one Keras' ``image_dataset_from_directory`` indexes (``.bmp .gif .jpeg
.jpg .png``, any case). The listing's fingerprint (a hash of every candidate's relpath, class, size
and mtime) names the dataset: a copy on another machine has the same one. Its ``state`` adds the
ctimes, which a permission change (chmod, chown, ACL) moves without touching size or mtime: it
names the folder's state for the verdict cache and the shared verification jobs.
"""

from __future__ import annotations

import errno
import hashlib
import marshal
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from diagnostics.config import IMAGE_EXTENSIONS
from diagnostics.dataset.result import SUMMARY_CAP
from diagnostics.dataset.roots import _is_hidden
from diagnostics.errors import DatasetError

__all__ = ["Listing", "list_folder", "not_regular"]


def _bad_name(name: str) -> bool:
    # Undecodable bytes arrive as surrogate escapes; TF and SQLite cannot take them as text.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
_IDENTITY, _CTIME = itemgetter(0, 1, 2, 3), itemgetter(4)


def _fingerprint_bytes(files: list[tuple[str, int, int, int]]) -> bytes:
    """The (relpath, class, size, mtime_ns) list as bytes to hash: marshal format 2 (no object
    references, so the bytes depend on the values alone) is one C pass, twice as fast as repr."""
    return marshal.dumps(files, 2)


def _digests(files: list[tuple[str, int, int, int, int]]) -> tuple[str, str]:
    """(fingerprint, state) of the files list: the state is the fingerprint plus every ctime."""
    fingerprint = hashlib.sha1(_fingerprint_bytes(list(map(_IDENTITY, files)))).hexdigest()
    ctimes = marshal.dumps(list(map(_CTIME, files)), 2)
    return fingerprint, hashlib.sha1(fingerprint.encode() + ctimes).hexdigest()


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def not_regular(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be an image (a FIFO, socket, device), else None.

    Such a file has size 0 and opening a FIFO blocks: it must be named for what it is, not read.
    """
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _SPECIAL if test(mode)), "a special file")
    return f"{kind}, not a regular file: the loaders cannot read it"


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else "(none)"


def _follows_to_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


@dataclass
class Listing:
    """What names and sizes alone tell about a folder: no file is opened.

    ``files`` are the candidates verification reads: (relpath, class_index, size, mtime_ns,
    ctime_ns), sorted by relpath; ``counts``/``num_files``/``total_bytes`` are theirs. ``extensions`` counts
    every file in the class folders. ``bad_files`` are those refused by name or link alone
    (extension, undecodable name, symlink escaping the root, broken or looping link, 0 bytes).
    """

    root: str
    classes: list[str]
    counts: dict[str, int]
    extensions: dict[str, int]
    total_bytes: int
    num_files: int
    files: list[tuple[str, int, int, int, int]]
    fingerprint: str
    state: str  # the fingerprint plus the ctimes: what the verdict cache and the jobs key on
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


def _classify(rel: str, entry: os.DirEntry[str], root: str) -> tuple[int, int, int] | str:
    """(size, mtime_ns, ctime_ns) of a candidate, or why its name, link or size already rule it out."""
    if _bad_name(rel):
        return "file name is not valid UTF-8"
    ext = os.path.splitext(rel)[1].lower()
    if ext not in IMAGE_EXTENSIONS:
        return (
            f"extension {ext or '(none)'} is not read by the image loaders "
            f"(they read {' '.join(IMAGE_EXTENSIONS)}): skipped"
        )
    is_link = entry.is_symlink()
    try:
        st = entry.stat()  # follows a link: a broken one is broken, wherever it pointed
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: the link cannot be resolved"
        if is_link:
            return f"broken symlink: target {os.readlink(entry.path)!r} does not exist"
        return f"cannot read: {exc.strerror or exc}"
    if is_link:
        target = os.path.realpath(entry.path)
        if not (target == root or target.startswith(root + os.sep)):
            return f"symlink points outside the dataset folder (to {target})"
    special = not_regular(st.st_mode)
    if special:
        return special
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


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

    files: list[tuple[str, int, int, int, int]] = []
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
                    (e.path[cut:], class_index, (st := e.stat()).st_size, st.st_mtime_ns, st.st_ctime_ns)
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
                files.append((rel, class_index, *verdict))
                n += 1
        counts[cls] = n
    if "jpeg" in fast_ext:
        fast_ext[".jpeg"] = fast_ext.pop("jpeg")
    extensions.update(ext_counts)
    extensions.update(fast_ext)
    files.sort(key=itemgetter(0))  # relpaths are unique: comparing them alone is enough
    fingerprint, state = _digests(files)
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
        fingerprint=fingerprint,
        state=state,
        notes=notes,
        bad_files=bad,
    )
