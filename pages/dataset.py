"""Dataset: what the scanner sees in a folder (classes, sizes, formats, unreadable files).

The listing (names and sizes) shows at once; pixel sizes, formats and unreadable files follow as
the background verification ends.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diagnostics import charts, form, views
from diagnostics.dataset import decoded_bytes, folder_counts
from diagnostics.units import format_bytes
from pages._common import dataset_picker, page_header, plot, user_errors
from pages._folders import folder_job

page_header("Dataset", "What the scanner finds in a class-per-folder image set, before any trial runs.")

with user_errors():
    folder = dataset_picker("ds")
    job = folder_job(folder)
    if job is None:
        st.stop()
    listing = job.listing
    verified = job.result() if job.finished and not job.error else None
    counts = folder_counts(verified or listing)  # the one count: caption, metrics and chart
    st.caption(views.dataset.listing_caption(verified or listing))
    left, right, _ = st.columns([1, 1, 2])
    # No min/max: a replaced value would give a decoded size for a size nobody typed.
    height = left.number_input(
        form.label("height"), value=128, key="ds_h", help="For the decoded size per image."
    )
    width = right.number_input(form.label("width"), value=128, key="ds_w")
    problems = form.problems(dict(height=height, width=width))
    if problems:
        st.error("No decoded size until this is fixed: " + " ".join(problems), icon=":material/error:")
    per_image = None if problems else decoded_bytes((int(height), int(width)), "rgb", "float32")
    images = counts.images
    bad = job.bad_files()

    cols = st.columns(4)
    cols[0].metric("Classes", len(listing.counts))
    if verified:
        cols[1].metric("Readable images", f"{images:,}")
    else:
        cols[1].metric("Image files (listed)", f"{images:,}", help="By name; contents still being verified.")
    cols[2].metric(
        "Unreadable files" if verified else "Unreadable so far",
        f"{counts.total_unreadable if verified else job.bad_count():,}",
        help=f"Of the {counts.total_files:,} files in the class folders.",
    )
    cols[3].metric(
        "Decoded, whole folder",
        format_bytes(per_image * images) if per_image else "—",
        help=f"{format_bytes(per_image)} per image at {height}×{width} rgb float32: "
        "what cache() in memory would hold."
        if per_image
        else None,
    )

    left, right = st.columns(2)
    with left:
        plot(charts.class_counts_figure(counts), key="ds_classes")
    if verified:
        st.dataframe(
            pd.DataFrame(views.dataset.scan_summary_rows(verified), columns=["", "value"]),
            hide_index=True,
            width="stretch",
        )
        with right:
            plot(charts.pixel_size_figure(verified.sizes), key="ds_sizes")
        plot(charts.formats_figure(verified.formats, verified.channel_modes), key="ds_formats")
    else:
        right.info("Pixel sizes and formats appear when verification ends.", icon=":material/hourglass_top:")

    st.subheader("Unreadable files")
    if bad:
        st.dataframe(pd.DataFrame(bad), hide_index=True, width="stretch")
    elif verified:
        st.success("Every image file in the folder decodes.", icon=":material/check_circle:")
    else:
        st.caption("None found so far.")
