"""Run: pick a folder and a pipeline, start a trial, watch it live, read the verdict."""

from __future__ import annotations

import streamlit as st

from diagnostics import form, queries, views
from diagnostics.config import TrialConfig, dashboard_text, option_label
from diagnostics.dataset import decoded_bytes
from diagnostics.loaders import LOADER_NAMES, get_loader, validate
from diagnostics.status import ACTIVE_STATUSES
from pages import _views
from pages._common import (
    dataset_picker,
    get_store,
    limits_form,
    loader_options_form,
    page_header,
    user_errors,
)
from pages._folders import folder_job

page_header(
    "Run a trial", "Short TensorFlow epochs in a separate worker; memory and throughput side by side."
)
store = get_store()

# Open only until this session picks a run: a run ending must not push its results below the fold.
chosen = st.session_state.get("run_id") or st.query_params.get("run") or store.active_runs()
with st.expander("Trial set-up", expanded=not chosen):
    with user_errors():
        folder = dataset_picker("run")
        path_error = form.path_problem(folder) if folder else None
        if path_error:  # next to the field it is about
            st.error(path_error, icon=":material/folder_off:")
        job = None if path_error else folder_job(folder)
        if job is not None:
            st.caption(views.dataset.listing_caption(job.listing))
        left, middle, right = st.columns(3)
        loader = left.selectbox(
            option_label("loader"),
            LOADER_NAMES,
            format_func=lambda n: f"{n}: {dashboard_text(get_loader(n).description)}",
            key="run_loader",
        )
        mode = middle.selectbox(
            option_label("mode"),
            form.OPTION_CHOICES["mode"],
            key="run_mode",
            help="iterate: the input pipeline alone; fit: model.fit on a small model.",
        )
        model = right.selectbox(
            option_label("model"), form.OPTION_CHOICES["model"], key="run_model", disabled=mode != "fit"
        )
        a, b, c, d = st.columns(4)
        # No min/max on the widgets: an out-of-range value must refuse the run, not be replaced.
        epochs = a.number_input(
            form.label("epochs"), value=3, key="run_epochs", help="3 or more give a leak verdict."
        )
        steps = b.number_input(
            form.label("steps"), value=None, step=1, key="run_steps", help="Empty = the default below."
        )
        height = c.number_input(form.label("height"), value=128, key="run_h")
        width = d.number_input(form.label("width"), value=128, key="run_w")
        steps_note = st.empty()  # filled below, once the config the default depends on is known
        options = loader_options_form(loader, "run")
        limits, limit_problems = limits_form("run")
        problems = form.problems(dict(epochs=epochs, steps=steps, height=height, width=width))
        problems += form.option_problems(options) + limit_problems + ([path_error] if path_error else [])
        if problems:
            st.error("Not run until this is fixed: " + " ".join(problems[:3]), icon=":material/error:")
        image_size = (int(height), int(width))
        config = TrialConfig(
            dataset=folder,
            loader=loader,
            mode=mode,
            model=model if mode == "fit" else "tiny_cnn",
            epochs=int(epochs),
            steps=int(steps) if steps else None,
            image_size=image_size,
            **options,
            **limits,
        )
        if job is not None:
            per_image = decoded_bytes(config.image_size, config.color_mode, config.dtype)
            st.caption(views.dataset.decoded_caption(per_image, views.dataset.listing_images(job.listing)))
            if not steps and not problems:  # the default needs a valid batch size
                listed = config.replace(dataset=job.listing.root)
                steps_note.caption(
                    views.run.steps_default_caption(views.dataset.listing_images(job.listing), listed, store)
                )
            if not job.finished:
                st.caption(views.dataset.WAIT_FOR_VERIFICATION)
        if (
            st.button(
                "Run",
                type="primary",
                icon=":material/play_arrow:",
                key="run_start",
                disabled=bool(problems) or job is None,
            )
            and not problems
        ):  # a click that reaches the server anyway still runs nothing
            from diagnostics.runner import start_trial_in_background

            run_id = start_trial_in_background(validate(config), store)
            st.session_state["run_id"] = run_id
            st.query_params["run"] = str(run_id)
            st.rerun()


asked = st.query_params.get("run")
if asked is not None and queries.run_status(store, queries.parse_run_id(asked)) is None:
    # A mistyped or stale link (or a run deleted elsewhere): say so, then show what a plain visit shows.
    st.warning(f"No such run: {views.common.escape_markdown(asked)}.", icon=":material/search_off:")
    st.session_state.pop("run_id", None)
    asked = None
run_id = queries.run_to_show(store, asked or st.session_state.get("run_id"))
if run_id is None:
    st.info("No runs yet: choose a folder and a loader above and press Run.", icon=":material/arrow_upward:")
    st.stop()

status = queries.run_status(store, run_id)
if status is None:
    st.session_state.pop("run_id", None)
    st.query_params.pop("run", None)
    st.rerun()


@st.fragment(run_every=1.0 if status in ACTIVE_STATUSES else None)
def live() -> None:
    with user_errors():
        run = queries.live_run(store, run_id)  # a run whose runner died reads as interrupted
        if run["status"] in ACTIVE_STATUSES:
            if st.button(
                "Cancel",
                icon=":material/stop_circle:",
                key="run_cancel",
                disabled=bool(run.get("cancel_requested")),
            ):
                store.request_cancel(run_id)
        run = _views.run_view(store, run_id)
        if (run["status"] in ACTIVE_STATUSES) != (status in ACTIVE_STATUSES):
            st.rerun(scope="app")  # finished (or started): switch the fragment's refresh on or off


st.divider()
live()
