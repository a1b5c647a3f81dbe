"""Text and tables the dashboard's pages and the HTML report show, one module per page (no
Streamlit here): ``run``, ``history``, ``compare``, ``sweep``, ``dataset``, ``xray``, ``scenarios``, and
``common`` for what several pages share (run labels, statuses, config differences, findings).
"""

from __future__ import annotations

from diagnostics.views import common, compare, dataset, history, run, scenarios, sweep, xray

__all__ = ["common", "compare", "dataset", "history", "run", "scenarios", "sweep", "xray"]
