"""Text about a dataset folder: the listing line, decoded sizes, verification progress, unreadable
files and the verified scan's summary (Dataset page, and the folder picker of Run and Sweep)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnostics.dataset.result import folder_counts
from diagnostics.units import format_bytes

__all__ = [
    "WAIT_FOR_VERIFICATION",
    "bad_files_text",
    "decoded_caption",
    "listing_caption",
    "listing_images",
    "scan_summary_rows",
    "verification_state",
]


def scan_summary_rows(scan: Any) -> list[tuple[str, str]]:
    """(label, value) pairs summarising a ScanResult (or its dict) for a compact table."""
    data = scan.to_dict() if hasattr(scan, "to_dict") else dict(scan)
    counts = data.get("counts") or {}
    sizes = data.get("sizes") or []
    found = folder_counts(data)
    rows = [
        ("Folder", str(data.get("root", "?"))),
        ("Classes", f"{len(data.get('classes') or counts)}"),
        ("Files", f"{found.total_files:,}"),
        ("Readable images", f"{found.images:,}"),
        ("Unreadable files", f"{found.total_unreadable:,}"),
        ("Formats", ", ".join(f"{k} {v}" for k, v in sorted((data.get("formats") or {}).items())) or "–"),
        (
            "Channel modes",
            ", ".join(f"{k} {v}" for k, v in sorted((data.get("channel_modes") or {}).items())) or "–",
        ),
    ]
    if sizes:
        widths = [w for w, _ in sizes]
        heights = [h for _, h in sizes]
        rows.append(("Pixel sizes", f"{min(widths)}–{max(widths)} × {min(heights)}–{max(heights)} px"))
    if data.get("decoded_bytes_per_image"):
        per_image = int(data["decoded_bytes_per_image"])
        rows.append(("Decoded per image", format_bytes(per_image)))
        rows.append(("Decoded, whole folder", format_bytes(per_image * found.images)))
    return rows


def _field(data: Any, name: str, default: Any = None) -> Any:
    return data.get(name, default) if isinstance(data, Mapping) else getattr(data, name, default)


def listing_images(listing: Any) -> int:
    """The images a trial would read: the readable ones of a verified scan, else the listed files
    not already ruled out by name (``dataset.folder_counts``)."""
    return folder_counts(listing).images


def listing_caption(listing: Any) -> str:
    """One line on a folder: its files per class (``dataset.folder_counts``: the same numbers
    before and after verification), bytes on disk and extensions.

    ``listing`` is a dataset.Listing, a ScanResult or the dict of either.
    """
    found = folder_counts(listing)
    counts = found.files
    shown = ", ".join(f"{name} {n:,}" for name, n in list(counts.items())[:6])
    if len(counts) > 6:
        shown += f", … {len(counts) - 6} more"
    extensions = ", ".join(
        f"{ext} {n:,}"
        for ext, n in sorted((_field(listing, "extensions") or {}).items(), key=lambda kv: -kv[1])
    )
    return (
        f"{found.total_files:,} files in {len(counts)} classes ({shown}); "
        f"{format_bytes(_field(listing, 'total_bytes'))} on disk ({extensions or 'no image files'})."
    )


def decoded_caption(bytes_per_image: int, images: int) -> str:
    """Decoded size per image and for the folder: arithmetic, so option changes never rescan."""
    return (
        f"Decoded {format_bytes(bytes_per_image)} per image, "
        f"{format_bytes(bytes_per_image * images)} for the folder (what cache() in memory would hold)."
    )


def verification_state(
    done: int, total: int, bad_so_far: int, finished: bool, error: str | None = None
) -> tuple[float, str]:
    """(fraction in 0..1, caption) of a folder's content verification.

    ``done``/``total`` as ``VerificationJob.progress``: ``total`` is every file in the class
    folders, so the finished line's readable + unreadable is the folder's one count.
    """
    if error:
        return 1.0, f"Verification failed: {error}"
    bad = f"{bad_so_far:,} unreadable" if bad_so_far else "none unreadable"
    if finished:
        if not bad_so_far:
            return 1.0, f"Verified {total:,} files: {bad}."
        return 1.0, f"Verified {total:,} files: {total - bad_so_far:,} readable, {bad}."
    fraction = done / total if total else 0.0
    return min(max(fraction, 0.0), 1.0), (
        f"Verifying file contents: {done:,} / {total:,} ({fraction:.0%}) · {bad} so far."
    )


WAIT_FOR_VERIFICATION = (
    ":material/hourglass_top: A trial started now waits for verification to end (its progress shows "
    "on the run), then skips the unreadable files found, or stops naming them if its loader cannot."
)


def bad_files_text(bad_files: Sequence[Mapping[str, str]], shown: int = 3) -> str:
    """'a.gif (format GIF ...), b.jpg (empty file) and 5 more' for a one-line mention."""
    parts = [f"{b.get('path')} ({b.get('reason')})" for b in bad_files[:shown]]
    more = len(bad_files) - shown
    return ", ".join(parts) + (f" and {more:,} more" if more > 0 else "")
