"""Where datasets may live: the allowed roots, resolving a folder under them, and finding datasets.

Dataset folders must resolve (after ``realpath``) under ``DIAG_DATA_ROOTS`` (``os.pathsep``
separated) or, by default, the repo's ``sample_data/`` and the user's home. ``find_datasets`` lists
the class-per-folder datasets under the roots by names alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from diagnostics.config import IMAGE_EXTENSIONS
from diagnostics.errors import DatasetError

__all__ = ["REPO_ROOT", "SAMPLE_DATA", "allowed_roots", "find_datasets", "resolve_dataset"]

# diagnostics/dataset/roots.py -> the repo root is three levels up.
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"


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
