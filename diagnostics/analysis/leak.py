"""Leak verdict: the least-squares slope of epoch-end RSS against a floor and a noise band."""

from __future__ import annotations

import math
from typing import Any

from diagnostics.analysis._util import MiB, _mib, _num

# Leak rule of issue 4: the slope must beat both this floor and 2% of the baseline per epoch.
LEAK_FLOOR_BYTES = 16 * MiB
LEAK_BASELINE_FRACTION = 0.02


def _fit_line(xs: list[float], ys: list[float]) -> tuple[float, float, list[float]]:
    """Least squares y = a + b x; returns (b, a, residuals)."""
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = 0.0 if sxx == 0 else sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    return slope, intercept, residuals


# -- leak verdict ----------------------------------------------------------------------------------


def leak_verdict(
    epoch_end_rss_bytes: list[float | None],
    baseline_rss_bytes: float | None,
    jitter_bytes: float | None = None,
) -> dict[str, Any]:
    """Least-squares slope of epoch-end RSS over epochs 2..N (epoch 1 is warm-up).

    The noise band is two standard errors of the slope when there are 3 or more points after
    warm-up; with only 2 points there are no residuals, so the band is twice ``jitter_bytes`` (the
    RSS fluctuation sampled within the last epoch), because a one-epoch difference smaller than
    that jitter cannot be told from it.
    """
    values = [_num(v) for v in epoch_end_rss_bytes]
    baseline = _num(baseline_rss_bytes) or 0.0
    threshold = max(LEAK_FLOOR_BYTES, LEAK_BASELINE_FRACTION * baseline)
    result: dict[str, Any] = {
        "leak_bytes_per_epoch": None,
        "noise_band_bytes_per_epoch": None,
        "threshold_bytes_per_epoch": threshold,
        "epochs_used": [],
        "residual_std_bytes": None,
        "growing": False,
        "reason": "",
    }
    points = [(i, v) for i, v in enumerate(values) if i >= 1 and v is not None]
    if len(values) < 3:
        result["reason"] = (
            f"{len(values)} epoch(s) measured; a leak verdict needs at least 3 (epoch 1 is warm-up, "
            "the slope is fitted over epochs 2..N)"
        )
        return result
    if len(points) < 2:
        result["reason"] = "fewer than 2 epoch-end RSS values after warm-up"
        return result
    xs = [float(i) for i, _ in points]
    ys = [v for _, v in points]
    slope, _, residuals = _fit_line(xs, ys)
    result["epochs_used"] = [i for i, _ in points]
    result["leak_bytes_per_epoch"] = slope
    if len(points) >= 3:
        dof = len(points) - 2
        residual_std = math.sqrt(sum(r * r for r in residuals) / dof)
        mean_x = sum(xs) / len(xs)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        noise = 2.0 * residual_std / math.sqrt(sxx)
        result["residual_std_bytes"] = residual_std
        method = f"2 x standard error of the slope over {len(points)} epochs"
    else:
        noise = 2.0 * (_num(jitter_bytes) or 0.0)
        method = "2 x the RSS jitter sampled within the last epoch (only 2 epochs after warm-up)"
    result["noise_band_bytes_per_epoch"] = noise
    result["noise_method"] = method
    growing = slope > threshold and slope > noise
    result["growing"] = growing
    if growing:
        result["reason"] = (
            f"epoch-end RSS rises {_mib(slope)} per epoch over epochs {points[0][0] + 1}..{points[-1][0] + 1}, "
            f"above the threshold {_mib(threshold)} and the noise band {_mib(noise)}"
        )
    elif slope <= threshold:
        result["reason"] = f"slope {_mib(slope)}/epoch is below the threshold {_mib(threshold)}/epoch"
    else:
        result["reason"] = f"slope {_mib(slope)}/epoch is inside the noise band ±{_mib(noise)}/epoch"
    return result
