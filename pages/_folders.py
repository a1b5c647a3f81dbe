"""Streamlit side of choosing a dataset folder: the picker, the listing and verification progress.

Nothing here reads image content. The picker offers the default (last folder used, else
sample_data, never a root) and the datasets found under the allowed roots; the listing is names
and sizes only; content verification runs in a background job (``dataset.start_verification``,
shared by every session and the runner) whose progress a fragment refreshes until it ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from diagnostics import folders, views

OTHER = "Other folder…"
REFRESH_SECONDS = 1.0


def _home() -> str:
    from diagnostics.store import diag_home

    return str(diag_home())


def _roots() -> tuple[str, ...]:
    from diagnostics.dataset import allowed_roots

    return tuple(str(r) for r in allowed_roots())


@st.cache_data(ttl=60, show_spinner=False)
def _datasets(roots: tuple[str, ...]) -> list[str]:
    from diagnostics.dataset import find_datasets

    return [str(f) for f in find_datasets([Path(r) for r in roots])]


def dataset_picker(key: str = "dataset") -> str:
    """A dataset folder under the allowed roots, or '' until one is picked. Lists nothing itself."""
    from diagnostics.dataset import SAMPLE_DATA

    roots = _roots()
    default = folders.default_folder(folders.last_folder(_home()), roots, str(SAMPLE_DATA))
    choices = folders.folder_choices(default, _datasets(roots))
    choice = st.selectbox(
        "Dataset folder",
        [*choices, OTHER],
        index=0 if default else None,
        placeholder="Pick a dataset folder",
        key=f"{key}_choice",
        help="One sub-folder per class. Offered: the datasets found under the allowed roots "
        f"({', '.join(roots)}).",
    )
    if choice == OTHER:
        return st.text_input("Folder path", key=f"{key}_path", help="Must lie under an allowed root.").strip()
    return choice or ""


@st.cache_resource(ttl=30, show_spinner=False, max_entries=8)
def _verification(path: str, roots: tuple[str, ...]) -> Any:
    # One job per folder and server process; after the TTL a fresh listing finds the same job
    # again (start_verification shares it per root and fingerprint) unless the folder changed.
    from diagnostics.dataset import resolve_dataset, start_verification

    return start_verification(resolve_dataset(path, [Path(r) for r in roots]))


def folder_job(path: str) -> Any:
    """List the picked folder at once, start verifying it, and show the progress right here.

    Returns the VerificationJob (``.listing`` is ready), or None until a folder is picked.
    DatasetError (folder missing, outside the roots, no class folders) propagates to user_errors.
    """
    if not path:
        st.info("Pick a dataset folder to list it.", icon=":material/folder_open:")
        return None
    job = _verification(path, _roots())
    folders.remember_folder(_home(), path)
    verification_status(job)
    return job


def verification_status(job: Any) -> None:
    """Verification progress (done/total, unreadable so far), refreshed until the job ends."""
    finished_before = job.finished

    @st.fragment(run_every=None if finished_before else REFRESH_SECONDS)
    def status() -> None:
        done, total = job.progress()
        bad = job.bad_files()
        error = job.error
        fraction, text = views.dataset.verification_state(
            done, total, job.bad_count(), job.finished, str(error.args[0]) if error else None
        )
        if error:
            st.error(text, icon=":material/error:")
        elif job.finished:
            st.caption(f":material/verified: {text}")
        else:
            st.progress(fraction, text=text)
        if bad and not error:
            st.caption("Unreadable: " + views.dataset.bad_files_text(bad))
        if job.finished and not finished_before:
            st.rerun(scope="app")  # the page now shows the verified figures; the refresh stops

    status()
