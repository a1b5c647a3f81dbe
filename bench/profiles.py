"""How much each benchmark measures: `smoke` (the test suite), `quick` (< 10 min on 2 cores), `full`.

Counts are repeats of alternated pairs or rounds; more repeats tighten the medians. Trial sizes
stay small so the fixed cost of a trial (Python + TensorFlow imports, 3 to 7 s here) does not
swamp the epochs being timed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diagnostics.loaders import LOADER_NAMES

__all__ = ["PROFILES", "Profile"]

# The recommendation grid: loader x batch x cache x prefetch x parallel calls. Each loader only gets
# the options that apply to it (TrialConfig validation refuses the others).
FULL_GRID: list[tuple[str, dict[str, list[Any]]]] = [
    (
        "tfdata_map_batch",
        {
            "batch_size": [32, 128],
            "cache": ["none", "memory"],
            "prefetch": ["none", "auto"],
            "num_parallel_calls": [1, "auto"],
        },
    ),
    ("keras_directory", {"batch_size": [32, 128], "cache": ["none", "memory"], "prefetch": ["none", "auto"]}),
]
QUICK_GRID: list[tuple[str, dict[str, list[Any]]]] = [
    (
        "tfdata_map_batch",
        {"batch_size": [32, 128], "cache": ["none", "memory"], "num_parallel_calls": [1, "auto"]},
    ),
    ("keras_directory", {"batch_size": [32], "cache": ["none", "memory"]}),
]
SMOKE_GRID: list[tuple[str, dict[str, list[Any]]]] = [
    ("keras_directory", {"batch_size": [16, 32]}),
]


# Every loader in iterate mode with its defaults, issue 11's cache + shuffle(300) trial, and fit.
COVERAGE: list[tuple[str, dict[str, Any]]] = [
    *[(f"{loader} iterate", {"loader": loader}) for loader in LOADER_NAMES],
    (
        "tfdata_map_batch iterate cache memory, shuffle 300",
        {"loader": "tfdata_map_batch", "cache": "memory", "shuffle": True, "shuffle_buffer": 300},
    ),
    ("keras_directory fit tiny_cnn", {"loader": "keras_directory", "mode": "fit", "model": "tiny_cnn"}),
    (
        "keras_directory fit mobilenet_v2",
        {"loader": "keras_directory", "mode": "fit", "model": "mobilenet_v2", "steps": 6},
    ),
]
SMOKE_COVERAGE: list[tuple[str, dict[str, Any]]] = [
    ("tfdata_map_batch iterate", {"loader": "tfdata_map_batch"})
]


@dataclass(frozen=True)
class Profile:
    name: str
    image_size: tuple[int, int] = (128, 128)
    # 1. sampler overhead: alternated pairs (sampled at 50 Hz, sampler off) of one trial
    # Trial-to-trial noise (up to 2x here) dwarfs the ~1% being measured: many pairs, not long trials.
    overhead_pairs: int = 15
    overhead_epochs: int = 15  # ~0.4 s each on sample_data: long enough steady time per trial
    # 2. peak fidelity on a spiky trial: the whole dataset in one batch at a larger image size
    spike_image_size: tuple[int, int] = (192, 192)
    spike_epochs: int = 2
    # 3. mprof vs bare vs ours, rotated rounds
    mprof_rounds: int = 2
    mprof_epochs: int = 5
    mprof_interval_seconds: float = 0.02  # 50 Hz, the rate our sampler runs at
    # 4. default sweep wall time; fixed cost per trial against a bare `import tensorflow`
    fixed_pairs: int = 3
    sweep_grid: dict[str, list[Any]] | None = None  # None: diagnostics.sweep.DEFAULT_GRID
    # 5. recommendation quality: grid once, then the leaders re-measured in alternated rounds
    grid: list[tuple[str, dict[str, list[Any]]]] = field(default_factory=lambda: QUICK_GRID)
    grid_epochs: int = 5  # 4 steady epochs: a single grid run is still noisy, hence re-measuring
    remeasure_rounds: int = 2
    remeasure_candidates: int = 4  # the fastest of the first pass, plus the pick
    # 6. decode limit: alternated pairs (in-memory limit, best no-cache loader)
    decode_pairs: int = 2
    decode_epochs: int = 8
    steps: int | None = None  # steps per epoch for every trial; None = the whole dataset
    # 7. probe overhead (issue 11): alternated pairs (probe at its default 4 Hz, DIAG_PROBE_HZ=0)
    # of the sampler-overhead trial
    probe_pairs: int = 15
    # 8. attribution coverage: (label, options) trials whose unattributed share is tabled
    coverage: list[tuple[str, dict[str, Any]]] = field(default_factory=lambda: COVERAGE)
    coverage_epochs: int = 3


PROFILES = {
    "smoke": Profile(
        name="smoke",
        image_size=(32, 32),
        overhead_pairs=1,
        overhead_epochs=2,
        mprof_epochs=2,
        spike_image_size=(64, 64),
        spike_epochs=1,
        mprof_rounds=1,
        fixed_pairs=1,
        sweep_grid={"batch_size": [16, 32]},
        grid=SMOKE_GRID,
        grid_epochs=2,
        remeasure_rounds=1,
        remeasure_candidates=2,
        decode_pairs=1,
        decode_epochs=2,
        steps=3,
        probe_pairs=1,
        coverage=SMOKE_COVERAGE,
        coverage_epochs=2,
    ),
    "quick": Profile(name="quick"),
    "full": Profile(
        name="full",
        overhead_pairs=21,
        overhead_epochs=20,
        mprof_rounds=5,
        fixed_pairs=7,
        grid=FULL_GRID,
        remeasure_rounds=3,
        remeasure_candidates=6,
        decode_pairs=5,
        decode_epochs=10,
        probe_pairs=21,
    ),
}
