"""Dataset: what the scanner sees in a folder (classes, sizes, formats, unreadable files)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diagnostics import charts, ui
from pages._common import cached_scan, dataset_picker, page_header, plot, user_errors

page_header("Dataset", "What the scanner finds in a class-per-folder image set, before any trial runs.")

with user_errors():
    folder = dataset_picker("ds")
    left, right, _ = st.columns([1, 1, 2])
    height = left.number_input(
        "Image height (px)", 8, 4096, 128, key="ds_h", help="For the decoded size per image."
    )
    width = right.number_input("Image width (px)", 8, 4096, 128, key="ds_w")
    scan = cached_scan(folder, (int(height), int(width)), "rgb", "float32")

    rows = ui.scan_summary_rows(scan)
    cols = st.columns(4)
    cols[0].metric("Classes", len(scan["classes"]))
    cols[1].metric("Readable images", f"{scan['num_images']:,}")
    cols[2].metric("Unreadable files", len(scan["bad_files"]))
    cols[3].metric(
        "Decoded, whole folder",
        ui.format_bytes(scan["decoded_bytes_per_image"] * scan["num_images"]),
        help=f"{ui.format_bytes(scan['decoded_bytes_per_image'])} per image at {height}×{width} rgb float32: "
        "what cache() in memory would hold.",
    )
    st.dataframe(pd.DataFrame(rows, columns=["", "value"]), hide_index=True, width="stretch")

    left, right = st.columns(2)
    with left:
        plot(charts.class_counts_figure(scan["counts"]), key="ds_classes")
    with right:
        plot(charts.pixel_size_figure(scan["sizes"]), key="ds_sizes")
    plot(charts.formats_figure(scan["formats"], scan["channel_modes"]), key="ds_formats")

    st.subheader("Unreadable files")
    if scan["bad_files"]:
        st.dataframe(pd.DataFrame(scan["bad_files"]), hide_index=True, width="stretch")
    else:
        st.success("Every image file in the folder decodes.", icon=":material/check_circle:")
