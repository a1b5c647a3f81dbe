"""The CLI summary's X-ray lines: top attributed parts with their share, the remainder, the bottleneck."""

from __future__ import annotations

from diagnostics.cli._summary import TOP_COMPONENTS, xray_lines

MiB = 1024**2


def test_top_components_share_unattributed_and_bottleneck():
    components = [
        {"name": f"part {i}", "kind": "tfdata_stage", "bytes": (i + 1) * 10 * MiB} for i in range(7)
    ]
    summary = {
        "attribution": {
            "overhead_bytes": 400 * MiB,
            "unattributed_bytes": 120 * MiB,
            "components": components,
        },
        "pipeline": {
            "bottleneck": {"stage": "parallel map in flight", "images_per_second": 812.0},
            "bound": {"kind": "input", "detail": "training waited 3.00 s of 10.00 s (30%)"},
        },
    }
    lines = xray_lines(summary)
    texts = [t for _, t in lines]
    assert texts[0].startswith("400.0 MiB over baseline")
    parts = [t for t in texts if "part " in t]
    assert len(parts) == TOP_COMPONENTS and "part 6" in parts[0] and "18%" in parts[0]  # 70 of 400 MiB
    assert any("120.0 MiB" in t and "30%" in t and t.endswith("unattributed") for t in texts)
    assert ("bottleneck", "parallel map in flight: 812 img/s on its own") in lines
    assert any(label == "bound" and "input-bound" in t for label, t in lines)


def test_nothing_without_probe_data():
    assert xray_lines({}) == []
