"""Scenarios: pick a classic question, run its before/after on a folder, read the measured verdict."""

from __future__ import annotations

import streamlit as st

from diagnostics import charts, report, scenarios, views
from pages._common import dataset_picker, get_store, page_header, plot, user_errors

page_header(
    "Scenarios",
    "The questions people actually ask, answered by a measured before/after on your own folder.",
)
store = get_store()
catalogue = {s.name: s for s in scenarios.list_scenarios()}
jobs = scenarios.list_jobs(store)
scenario_of_job = {j["id"]: j["scenario"] for j in jobs}


def _ask(scenario_name: str | None) -> None:
    if scenario_name in catalogue:
        st.session_state["scn_name"] = scenario_name


# The Question box asks the open run's question, so the result below never answers another one:
# a fresh session (a reload) opens the newest run, and opening another run switches the question.
if "scn_name" not in st.session_state and jobs:
    _ask(scenario_of_job.get(st.session_state.get("scn_job"), jobs[0]["scenario"]))

with user_errors():
    name = st.selectbox(
        "Question",
        list(catalogue),
        format_func=lambda n: views.scenarios.question_option(catalogue[n].question, n),
        key="scn_name",
    )
    scenario = catalogue[name]
    folder = dataset_picker("scn")
    trials = scenario.configs(folder or ".")
    st.markdown(f"**Answered by:** {scenario.metric}.")
    st.markdown(views.scenarios.plan_text(trials, scenario.autorange))
    if st.button("Run scenario", type="primary", key="scn_run", icon=":material/play_arrow:"):
        st.session_state["scn_job"] = scenarios.start_job(name, folder, store)
        st.rerun()

if not jobs:
    st.info("No scenario has run yet: pick a question and press Run.", icon=":material/info:")
    st.stop()
# One read of the jobs per page run: the picker's labels and the job shown below come from it, so
# a job that ends meanwhile is never shown finished under a label that still says running (the
# live fragment sees the end and reruns the page).
labels = {j["id"]: views.scenarios.job_label(j) for j in jobs}
current = st.session_state.get("scn_job")
job_id = st.selectbox(
    "Scenario runs (newest first)",
    list(labels),
    format_func=labels.get,
    index=list(labels).index(current) if current in labels else 0,
    key="scn_open",
    on_change=lambda: _ask(scenario_of_job.get(st.session_state["scn_open"])),
)


@st.fragment(run_every=1.0)
def live_job() -> None:
    with user_errors():
        job = scenarios.read_job(store, job_id)
        fraction, text, _ = scenarios.job_progress(store, job)
        st.subheader(job.get("question") or job["scenario"])
        st.progress(fraction, text=text)
        if job["status"] != "running":
            st.rerun()  # the full page renders the result once, without a timer


with user_errors():
    job = next(j for j in jobs if j["id"] == job_id)
    if job["status"] == "running":
        live_job()
        st.stop()
    if job.get("error"):
        st.error(f"Scenario {job['status']}: {job['error']}", icon=":material/error:")
    result = job.get("result")
    if not result:
        st.stop()
    st.subheader(result["question"])
    st.success(f"**Verdict.** {result['verdict']}", icon=":material/gavel:")

    runs = {run_id: store.get_run(run_id) for run_id in result["run_ids"]}
    asked = catalogue.get(result["scenario"])
    planned = {label: config.epochs for label, config in asked.trials(".")} if asked else {}
    st.markdown(views.scenarios.ran_text(result, runs, planned))
    names = {
        run_id: f"{label} (#{run_id})"
        for run_id, label in zip(result["run_ids"], result["labels"], strict=True)
    }
    memory = {names[i]: (store.samples(i), run.get("t_ready")) for i, run in runs.items()}
    plot(charts.compare_memory_figure(memory, height=420), key="scn_memory")
    epochs = views.compare.epochs_frame({names[i]: run.get("summary") for i, run in runs.items()})
    plot(charts.compare_throughput_figure(epochs), key="scn_throughput")
    if result["scenario"] == "log_lines":
        for run_id, run in runs.items():
            if run.get("t_ready") is not None and run.get("log_groups"):
                st.markdown(f"**Log lines against GC: {names[run_id]}**")
                fig = charts.log_timeline_figure(run["log_groups"], store.events(run_id), run["t_ready"])
                plot(fig, key=f"scn_logs_{run_id}")

    with st.expander("Numbers behind the verdict"):
        st.json(result["metric"], expanded=False)
    better = result.get("better_run_id")
    if better is not None and runs.get(better, {}).get("snippet"):
        st.markdown(
            f"**The better pipeline: {result['better_label']}** (run #{better}), as the code that was measured:"
        )
        st.code(runs[better]["snippet"], language="python")
    st.download_button(
        "Download HTML report of this scenario",
        data=lambda: report.render_scenario_html(store, result),
        file_name=f"scenario-{result['scenario']}-{job_id}.html",
        mime="text/html",
        icon=":material/description:",
        key="scn_report",
    )
