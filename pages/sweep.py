"""Sweep: a grid over pipeline options, run through the queue, the Pareto front and a pick."""

from __future__ import annotations

import itertools
import threading

import pandas as pd
import streamlit as st

from diagnostics import charts, sweep, ui
from diagnostics.config import TrialConfig
from diagnostics.loaders import LOADER_NAMES
from pages._common import dataset_picker, get_store, page_header, plot, user_errors

page_header("Sweep", "Try a grid of input-pipeline options; see which ones are fast without eating memory.")
store = get_store()
new_tab, stored_tab = st.tabs(["New sweep", "Stored sweeps"])

with new_tab, user_errors():
    folder = dataset_picker("sweep")
    a, b, c, d = st.columns(4)
    base_loader = a.selectbox("Base loader", LOADER_NAMES, key="sweep_loader")
    epochs = b.number_input("Epochs per trial", 1, 20, 2, key="sweep_epochs")
    steps = c.number_input("Steps per epoch", 1, 10000, None, key="sweep_steps", help="Empty = whole folder.")
    side = d.number_input("Image size (px, square)", 8, 1024, 128, key="sweep_size")
    st.markdown("**Grid**: pick two or more values for each option to vary (empty = keep the base).")
    grid: dict[str, list] = {}
    columns = st.columns(3)
    for i, (name, values) in enumerate(ui.SWEEP_CHOICES.items()):
        options = list(LOADER_NAMES) if name == "loader" else list(values)
        picked = columns[i % 3].multiselect(
            name.replace("_", " "), options, key=f"sweep_grid_{name}", format_func=ui.format_value
        )
        if picked:
            grid[name] = [list(v) if isinstance(v, tuple) else v for v in picked]
    budget_mib = st.number_input(
        "Memory budget for the recommendation (MiB)",
        64,
        1 << 20,
        None,
        key="sweep_budget",
        help="The recommended config is the fastest under this peak. Empty = 80% of available RAM.",
    )
    base = TrialConfig(
        dataset=folder,
        loader=base_loader,
        epochs=int(epochs),
        steps=int(steps) if steps else None,
        image_size=(int(side), int(side)),
    )
    trials = sweep.expand(base, grid) if grid else []
    seconds = sweep.estimate_seconds(trials) if trials else 0
    st.info(
        f"{len(trials)} trial(s), about {ui.format_seconds(seconds)} one after another.",
        icon=":material/calculate:",
    )
    name = st.text_input("Sweep name", value=" × ".join(grid) or "sweep", key="sweep_name")
    if st.button(
        "Run sweep", type="primary", disabled=not trials, key="sweep_start", icon=":material/science:"
    ):
        sweep_id = store.create_sweep(name, grid, base)
        threading.Thread(
            target=sweep.run_sweep,
            args=(store, base, grid, name),
            kwargs={"sweep_id": sweep_id},
            daemon=True,
            name=f"sweep-{sweep_id}",
        ).start()
        st.session_state["sweep_id"] = sweep_id
        st.session_state["sweep_budget_bytes"] = int(budget_mib) * 1024 * 1024 if budget_mib else None
        st.rerun()

with stored_tab, user_errors():
    sweeps = store.list_sweeps()
    if sweeps.empty:
        st.info("No sweeps yet.", icon=":material/info:")
    else:
        labels = {
            int(r.id): f"#{r.id} {r.name} · {r.status} · {r.runs} runs · {r.created}"
            for r in sweeps.itertuples()
        }
        current = st.session_state.get("sweep_id")
        chosen = st.selectbox(
            "Open a stored sweep",
            list(labels),
            format_func=labels.get,
            key="sweep_open",
            index=list(labels).index(current) if current in labels else 0,
        )
        st.session_state["sweep_id"] = chosen


sweep_id = st.session_state.get("sweep_id")
if sweep_id is None:
    st.stop()


@st.fragment(run_every=1.0)
def sweep_view() -> None:
    with user_errors():
        info = store.get_sweep(sweep_id)
        rows = store.sweep_runs(sweep_id)
        total = len(list(itertools.product(*info["grid"].values()))) or len(rows)
        finished = int(rows["status"].isin(tuple(ui.FINISHED_STATUSES)).sum())
        st.subheader(f"Sweep #{sweep_id}: {info.get('name')}")
        st.progress(
            finished / max(total, 1), text=f"{finished} of {total} trials finished · sweep {info['status']}"
        )
        points = sweep_points(rows)
        budget = st.session_state.get("sweep_budget_bytes") or (info.get("summary") or {}).get(
            "memory_budget_bytes"
        )
        best = sweep.recommend(points.to_dict("records"), budget) if not points.empty else None
        best_id = best["id"] if best else None
        plot(charts.pareto_figure(points, budget_bytes=budget, recommended_id=best_id), key="sweep_pareto")
        if best:
            run = store.get_run(int(best_id))
            st.success(
                f"**Recommended: {ui.run_label(run)}**: {ui.format_rate(best['images_per_second'])} "
                f"at a peak of {ui.format_bytes(best['peak_rss_bytes'])}.",
                icon=":material/star:",
            )
            if run.get("snippet"):
                st.code(run["snippet"], language="python")
        st.dataframe(points.drop(columns=["on_front"], errors="ignore"), hide_index=True, width="stretch")


def sweep_points(rows: pd.DataFrame) -> pd.DataFrame:
    done = rows[rows["status"] == "completed"].dropna(subset=["peak_rss_bytes", "images_per_second"])
    points = pd.DataFrame(
        {
            "id": done["id"].astype(int),
            "label": [ui.run_label(store.get_run(int(i))) for i in done["id"]],
            "peak_rss_bytes": done["peak_rss_bytes"],
            "images_per_second": done["images_per_second"],
        }
    )
    front = (
        {int(p["id"]) for p in sweep.pareto_front(points.to_dict("records"))} if not points.empty else set()
    )
    points["on_front"] = points["id"].isin(front)
    return points


sweep_view()
