"""Sweep: a grid over pipeline options, run through the queue, the Pareto front and a pick."""

from __future__ import annotations

import streamlit as st

from diagnostics import charts, form, queries, sweep, views
from diagnostics.config import option_label
from diagnostics.loaders import LOADER_NAMES
from diagnostics.prepare import TRIAL_EPOCH_SECONDS
from diagnostics.status import ACTIVE_SWEEP_STATUSES
from pages._common import (
    dataset_picker,
    get_store,
    limits_form,
    page_header,
    plot,
    user_errors,
    where_trials_run,
)

page_header("Sweep", "Try a grid of input-pipeline options; see which ones are fast without eating memory.")
store = get_store()
new_tab, stored_tab = st.tabs(["New sweep", "Stored sweeps"])


with new_tab, user_errors():
    folder = dataset_picker("sweep")
    a, b, c, d = st.columns(4)
    base_loader = a.selectbox("Base loader", LOADER_NAMES, key="sweep_loader")
    # No min/max on the widgets: an out-of-range value must refuse the sweep, not be replaced.
    epochs = b.number_input(
        form.label("trial_epochs"),
        value=3,
        key="sweep_epochs",
        help="2 or more after the first give a throughput range.",
    )
    steps = c.number_input(
        form.label("steps"),
        value=None,
        step=1,
        key="sweep_steps",
        help=f"Empty = whole epochs when the folder fits in about {TRIAL_EPOCH_SECONDS:.0f} s an epoch, else as "
        "many steps as do (each trial's run says which it picked).",
    )
    side = d.number_input(form.label("side"), value=128, key="sweep_size")
    st.markdown("**Grid**: pick the values to try for each option you want to vary (empty = keep the base).")
    grid: dict[str, list] = {}
    columns = st.columns(4)
    for i, (name, values) in enumerate(form.SWEEP_CHOICES.items()):
        options = list(LOADER_NAMES) if name == "loader" else list(values)
        picked = columns[i % 4].multiselect(
            option_label(name), options, key=f"sweep_grid_{name}", format_func=views.common.format_value
        )
        if picked:
            grid[name] = form.grid_values(picked)
    limits, problems = limits_form(
        "sweep",
        budget_help="Each trial is killed above it, and the recommendation is the fastest config "
        "under it. Empty = 80% of available RAM.",
    )
    problems = form.problems(dict(trial_epochs=epochs, steps=steps, side=side)) + problems
    trials, invalid = [], []
    executor, slots = where_trials_run()
    if not problems:  # a value Streamlit would have replaced never reaches a trial
        base, trials, invalid, seconds = form.sweep_plan(
            store,
            grid,
            dataset=folder,
            loader=base_loader,
            epochs=epochs,
            steps=steps,
            side=side,
            limits=limits,
        )
        st.info(
            views.sweep.plan_text(len(trials), seconds, executor.name, slots), icon=":material/calculate:"
        )
    for item in invalid:
        st.caption(f"Skipped {item['options']}: {item['error']}")
    name = st.text_input("Sweep name", value=" × ".join(grid) or "sweep", key="sweep_name")
    if problems:  # right above the button it disables
        st.error("Not run until this is fixed: " + " ".join(problems), icon=":material/error:")
    if (
        st.button(
            "Run sweep",
            type="primary",
            disabled=not trials or bool(problems),
            key="sweep_start",
            icon=":material/science:",
        )
        and trials
        and not problems
    ):
        sweep_id = sweep.start_in_background(store, base, grid, name, executor)
        st.session_state["sweep_id"] = sweep_id
        st.rerun()

with stored_tab, user_errors():
    sweeps = queries.stored_sweeps(store)  # a sweep whose process died reads as interrupted
    if sweeps.empty:
        st.info("No sweeps yet.", icon=":material/info:")
    else:
        labels = views.sweep.sweep_labels(sweeps)
        current = st.session_state.get("sweep_id")
        chosen = st.selectbox(
            "Open a stored sweep",
            list(labels),
            format_func=labels.get,
            key="sweep_open",
            index=list(labels).index(current) if current in labels else 0,
        )
        if st.button("Open", key="sweep_open_button"):
            st.session_state["sweep_id"] = chosen


def sweep_view(sweep_id: int) -> None:
    with user_errors():
        stored = queries.live_sweep(store, sweep_id)  # a sweep whose process died reads as interrupted
        result = sweep.sweep_result(store, sweep_id)
        if stored["status"] not in ACTIVE_SWEEP_STATUSES and st.session_state.get("sweep_was_live"):
            st.session_state["sweep_was_live"] = False
            st.rerun(scope="app")  # finished: stop the one-second refresh
        fraction, progress, finished = views.sweep.progress(stored, result)
        st.subheader(f"Sweep #{sweep_id}: {result['name']}")
        st.progress(fraction, text=progress)
        if stored.get("error"):
            st.warning(f"Sweep {stored['status']}: {stored['error']}", icon=":material/warning:")
        points = views.sweep.sweep_points_frame(result)
        best = result["recommendation"]
        budget = (best or {}).get("memory_budget_bytes")
        plot(
            charts.pareto_figure(points, budget_bytes=budget, recommended_id=(best or {}).get("id")),
            key="sweep_pareto",
        )
        if best:
            st.success(
                f"**Recommended: {points.set_index('id').loc[best['id'], 'label']}**  \n{best['reason']}",
                icon=":material/star:",
            )
            if best.get("snippet"):
                with st.expander("Code of the recommended pipeline (copy button at the top right)"):
                    st.code(best["snippet"], language="python")
        elif finished:
            st.warning(result.get("refusal") or "No finished trial qualifies for a recommendation yet.")
        st.dataframe(views.sweep.sweep_trials_table(points), hide_index=True, width="stretch")


if st.session_state.get("sweep_id") is not None:
    sweep_id = int(st.session_state["sweep_id"])
    with user_errors():
        live = queries.live_sweep(store, sweep_id)["status"] in ACTIVE_SWEEP_STATUSES
        st.session_state["sweep_was_live"] = live
        st.fragment(sweep_view, run_every=1.0 if live else None)(sweep_id)
