"""Placeholder dashboard entry; the dashboard issue replaces it with st.navigation over pages/."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Training Memory Diagnostics", layout="wide")
st.title("Training Memory Diagnostics")
st.write("The dashboard is being built. Meanwhile: `python -m diagnostics scan sample_data`.")
