"""``python -m diagnostics scan DIR``: describe an image folder (classes, formats, channels, pixel
sizes, decoded bytes per image, unreadable files), or print the scan as JSON.

Imports neither pandas nor the runner: a warm re-scan of a large folder would pay for them.
"""

from __future__ import annotations

import argparse
import json
import sys

from diagnostics.cli._common import EXIT_OK, allowed_roots

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("scan", help="describe an image folder")
    parser.add_argument("dataset", metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print the scan as JSON")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), dest="image_size")
    parser.add_argument("--color-mode", default="rgb", dest="color_mode")
    parser.add_argument("--dtype", default="float32")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from diagnostics import dataset
    from diagnostics.units import format_bytes  # not ui: pandas' import would double a warm scan

    root = dataset.resolve_dataset(args.dataset, allowed_roots())
    size = tuple(args.image_size) if args.image_size else (128, 128)
    dataset.decoded_bytes(size, args.color_mode, args.dtype)  # bad options before any reading
    listing = dataset.list_folder(root)
    if not args.json:
        print(
            f"{listing.root}: {listing.num_files:,} image files ({format_bytes(listing.total_bytes)}) "
            f"in {len(listing.classes)} classes; verifying…",
            file=sys.stderr,
        )
    scan = dataset.verify(listing, on_progress=_progress_printer(args.json)).with_decoding(
        size, args.color_mode, args.dtype
    )
    if args.json:
        print(json.dumps(scan.to_dict(), indent=2, default=str))
        return EXIT_OK
    print(f"{scan.root}: {scan.num_images} readable images in {len(scan.classes)} classes")
    for name in scan.classes:
        print(f"  {name:<20} {scan.counts.get(name, 0)}")
    print("  formats      " + ", ".join(f"{k} {v}" for k, v in sorted(scan.formats.items())))
    print("  channels     " + ", ".join(f"{k} {v}" for k, v in sorted(scan.channel_modes.items())))
    if scan.sizes:
        widths = [w for w, _ in scan.sizes]
        heights = [h for _, h in scan.sizes]
        print(f"  pixel sizes  {min(widths)}-{max(widths)} x {min(heights)}-{max(heights)} (w x h)")
    print(
        f"  decoded      {format_bytes(scan.decoded_bytes_per_image)} per image at "
        f"{size[0]}x{size[1]} {args.color_mode} {args.dtype}"
    )
    if scan.bad_files:
        print(f"  unreadable   {len(scan.bad_files)} file(s):")
        for bad in scan.bad_files:
            print(f"    {bad['path']}: {bad['reason']}")
    return EXIT_OK


def _progress_printer(quiet: bool):
    """on_progress for dataset.verify: a line on stderr at most every 2 s (none with --json)."""
    import time

    last = [time.monotonic()]

    def report(done: int, total: int, bad: int) -> None:
        now = time.monotonic()
        if quiet or (now - last[0] < 2.0 and done < total):
            return
        last[0] = now
        print(f"  verified {done:,}/{total:,} ({bad} unreadable so far)", file=sys.stderr)

    return report
