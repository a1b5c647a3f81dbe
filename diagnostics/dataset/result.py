"""What a scan found (``ScanResult``), the bytes of a decoded image, and what a run stores of it.

``folder_counts`` is the one count of a folder's files (readable + unreadable, per class) that
every page, chart and summary quotes. ``scan_summary`` is the bounded-size record a run keeps (no file list: the same size for 100 or
1,000,000 files), with ``size_stats`` of the pixel sizes and the images a loader will not deliver
(``loader_skips``).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from dataclasses import dataclass, field, fields, replace
from operator import itemgetter, mul
from typing import Any

from diagnostics.config import IMAGE_EXTENSIONS
from diagnostics.errors import ConfigError

__all__ = [
    "SUMMARY_CAP",
    "FolderCounts",
    "ScanResult",
    "decoded_bytes",
    "folder_counts",
    "loader_skips",
    "scan_summary",
    "size_stats",
]

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


# -- the one count of a folder ---------------------------------------------------------------------


@dataclass(frozen=True)
class FolderCounts:
    """A folder's files, counted once: every file in its class folders is readable or unreadable.

    ``files`` per class and in total are the same before and after verification (a listing knows
    every name); ``readable`` is None until the contents are verified, ``unreadable`` is what is
    known so far (by name, link and size alone before verification).
    """

    files: dict[str, int]  # class -> files in its folder
    unreadable: dict[str, int]  # class -> unreadable files found so far
    readable: dict[str, int] | None  # class -> readable images; None until verified

    @property
    def verified(self) -> bool:
        return self.readable is not None

    @property
    def total_files(self) -> int:
        return sum(self.files.values())

    @property
    def total_unreadable(self) -> int:
        return sum(self.unreadable.values())

    @property
    def total_readable(self) -> int | None:
        return None if self.readable is None else sum(self.readable.values())

    @property
    def images(self) -> int:
        """The images a trial would read: the readable ones once verified, else the files not
        already ruled out by name (a listing's candidates)."""
        return self.total_files - self.total_unreadable


def _get(found: Any, name: str, default: Any = None) -> Any:
    return found.get(name, default) if isinstance(found, dict) else getattr(found, name, default)


def folder_counts(found: Any) -> FolderCounts:
    """The one count of a ScanResult or a Listing (or their dicts with the full ``bad_files``).

    A ScanResult's ``counts`` are readable images per class, a Listing's its candidates (files not
    ruled out by name); either way the class's unreadable files (``bad_files``, by their folder)
    are added to make its files.
    """
    counts = dict(_get(found, "counts") or {})
    unreadable = dict.fromkeys(counts, 0)
    for bad in _get(found, "bad_files") or []:
        cls = str(bad.get("path", "")).split("/", 1)[0]
        unreadable[cls] = unreadable.get(cls, 0) + 1
    files = {cls: counts.get(cls, 0) + unreadable[cls] for cls in unreadable}
    verified = _get(found, "sizes") is not None  # only a ScanResult has per-image pixel sizes
    return FolderCounts(files=files, unreadable=unreadable, readable=counts if verified else None)


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
        "num_files": folder_counts(data).total_files,
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
