"""Issue 13 item 11: the dashboard's Streamlit settings (no Deploy button, no file watcher)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_deploy_button_and_no_file_watcher():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")  # hides Deploy
    # Watching would follow data and store folders ("Inotify queue overflowed" floods).
    assert config["server"]["fileWatcherType"] == "none"


def test_streamlit_reads_those_settings_from_the_repo():
    code = (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print(config.get_option('client.toolbarMode'), config.get_option('server.fileWatcherType'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["viewer", "none"]
