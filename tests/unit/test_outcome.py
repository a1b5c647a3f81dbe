"""diagnostics.outcome: what a run that did not complete shows, on small run dicts (no store, no TF).

A run dict here has the keys ``store.get_run`` gives that outcome reads: status, error, t_ready,
config (epochs planned) and summary (samples, duration, peak, epochs completed).
"""

from __future__ import annotations

import pytest

from diagnostics import outcome, throughput
from diagnostics.status import ACTIVE_STATUSES, FINISHED_STATUSES
from diagnostics.units import MiB

# Each ended status with the cause the runner records for it (the text is the user's, verbatim).
CAUSES = {
    "failed": "the worker exited with code 1: ValueError: bad image file flowers/0001.jpg",
    "killed_budget": "tree RSS 1,300.0 MiB crossed the memory budget of 1,200.0 MiB",
    "timed_out": "the trial ran past its 60 s timeout",
    "cancelled": "cancelled from the Run page",
    "interrupted": "the process running it (pid 4242) died",
}
STATUS_TEXT = {
    "failed": "Failed",
    "killed_budget": "Killed: memory budget crossed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
    "interrupted": "Interrupted (the process running it died)",
}


def _epoch(index: int, images: int = 500, seconds: float = 2.0) -> dict:
    return {"index": index, "images": images, "seconds": seconds, "images_per_second": images / seconds}


def _run(
    status: str, *, error: str | None = None, ready: bool = True, epochs_done: int = 1, **summary
) -> dict:
    return {
        "id": 7,
        "status": status,
        "error": error,
        "t_ready": 100.0 if ready else None,
        "config": {"loader": "keras_directory", "epochs": 3},
        "summary": {
            "samples": 240,
            "duration_seconds": 12.5,
            "peak_rss_bytes": 900 * MiB,
            "peak_source": "sampled VmHWM",
            "epochs": [_epoch(i) for i in range(epochs_done)],
            **summary,
        },
    }


def test_the_ended_statuses_are_the_finished_ones_but_completed():
    # If a status is added, it needs a cause here and a text in views.common.STATUS_TEXT.
    assert set(CAUSES) == set(FINISHED_STATUSES) - {"completed"}


@pytest.mark.parametrize("status", sorted(CAUSES))
def test_each_ended_status_leads_with_its_name_and_its_cause(status):
    text = outcome.outcome_text(_run(status, error=CAUSES[status]))
    assert text is not None
    first, rest = text.split("\n\n", 1)
    assert first == f"**{STATUS_TEXT[status]}**: {CAUSES[status]}"
    assert rest.startswith(
        "Measured before it stopped: 240 memory samples over 12.5 s; 1 of 3 epochs completed; "
        "peak RSS sampled 900.0 MiB."
    )
    # It got past ready, so what is missing is said to need a completed run.
    assert rest.endswith("Overhead, memory model and leak verdict need a completed run and are not shown.")
    assert "never reported ready" not in text


@pytest.mark.parametrize("status", ["completed", *ACTIVE_STATUSES])
def test_a_completed_or_live_run_has_no_outcome_text(status):
    assert outcome.outcome_text(_run(status, error="left over from an earlier attempt")) is None


def test_an_ended_run_without_an_error_says_no_reason_was_recorded():
    text = outcome.outcome_text(_run("failed", error=None))
    assert text.startswith("**Failed**: no reason was recorded\n\n")
    padded = outcome.outcome_text(_run("timed_out", error="  ran past 60 s\n"))
    assert padded.startswith("**Timed out**: ran past 60 s\n\n")


def test_an_unknown_status_is_shown_as_stored():
    assert outcome.outcome_text(_run("exploded", error="boom")).startswith("**exploded**: boom")


def test_a_run_that_never_became_ready_says_no_pipeline_code_ran():
    run = _run("killed_budget", error=CAUSES["killed_budget"], ready=False, epochs_done=0)
    text = outcome.outcome_text(run)
    assert "0 of 3 epochs completed" in text
    assert "The worker never reported ready (it stopped while importing TensorFlow and Keras)" in text
    assert "no pipeline code ran and there is no baseline to measure an overhead against." in text
    assert "Overhead, memory model and leak verdict" not in text
    assert not outcome.reached_ready(run)
    # No code ran, so the run's code gets no caption (the page and the report leave it out).
    assert outcome.snippet_caption(run) is None


def test_an_empty_summary_still_gives_a_sentence_without_numbers():
    run = {"status": "failed", "error": "spawn failed", "t_ready": None, "config": {}, "summary": None}
    text = outcome.outcome_text(run)
    assert (
        "Measured before it stopped: 0 memory samples over –; 0 of 0 epochs completed; peak RSS sampled –."
        in text
    )
    assert outcome.measured_metrics(run) == [
        ("Peak RSS until it stopped", "–", "Highest memory measured before the run ended (no data)."),
        ("Epochs completed", "0 of 0", "Epochs that finished before the run ended."),
    ]


def test_measured_metrics_show_the_peak_and_epochs_and_no_throughput_from_one_epoch():
    metrics = outcome.measured_metrics(_run("timed_out", epochs_done=1))
    assert metrics == [
        (
            "Peak RSS until it stopped",
            "900.0 MiB",
            "Highest memory measured before the run ended (sampled VmHWM).",
        ),
        ("Epochs completed", "1 of 3", "Epochs that finished before the run ended."),
    ]


def test_measured_metrics_add_throughput_once_two_epochs_finished():
    run = _run("cancelled", epochs_done=2)
    labels = [label for label, _, _ in outcome.measured_metrics(run)]
    assert labels == ["Peak RSS until it stopped", "Epochs completed", "Throughput"]
    _, value, help_text = outcome.measured_metrics(run)[2]
    assert value == "250 img/s"  # 500 images in 2 s, epoch 2 (epoch 1 is the warm-up)
    assert help_text.startswith(throughput.DEFINITION)
    assert outcome.measured_metrics(run)[1][1] == "2 of 3"


def test_completed_and_reached_ready():
    assert outcome.completed(_run("completed"))
    assert not outcome.completed(_run("killed_budget"))
    assert outcome.reached_ready(_run("failed", ready=True))
    assert not outcome.reached_ready(_run("failed", ready=False))
    # t_ready 0.0 is a time, not a missing value.
    assert outcome.reached_ready({**_run("failed"), "t_ready": 0.0})


def test_snippet_caption_says_whether_the_code_ran_to_the_end():
    assert outcome.snippet_caption(_run("completed")) == (
        "This is the code the worker ran; copy it with the button at the top right."
    )
    assert outcome.snippet_caption(_run("killed_budget")) == (
        "The code of this trial. It did not complete (Killed: memory budget crossed); "
        "the worker was stopped part-way."
    )
    # A completed run always ran its code, whatever t_ready says.
    assert outcome.snippet_caption(_run("completed", ready=False)).startswith(
        "This is the code the worker ran"
    )
