"""Benchmarks of the diagnostics tool itself: ``python -m bench [--quick] [--json OUT]``.

Measures what users must trust before they trust the numbers: the sampler's overhead, the
exactness of the peak, a side-by-side with memory_profiler's ``mprof``, the time a trial and a
sweep take, how good the recommendation is, and how close the best loader gets to the machine's
decode limit. See docs/BENCHMARKS.md for the method and the latest results.
"""

from __future__ import annotations

__all__: list[str] = []
