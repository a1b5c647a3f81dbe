"""The benchmark's pure parts: alternation order, spreads, target verdicts, the docs block."""

from __future__ import annotations

from bench import report
from bench.stats import alternate, spread
from bench.trials import steady_images_per_second


def test_alternate_runs_pairs_in_turn_and_rotates_rounds():
    calls: list[str] = []
    out = alternate([lambda: calls.append("A") or "a", lambda: calls.append("B") or "b"], 3)
    assert calls == ["A", "B", "A", "B", "A", "B"]
    assert out == [["a", "a", "a"], ["b", "b", "b"]]
    calls.clear()
    alternate(
        [lambda: calls.append("A"), lambda: calls.append("B"), lambda: calls.append("C")], 3, rotate=True
    )
    assert calls == ["A", "B", "C", "B", "C", "A", "C", "A", "B"]


def test_spread_reports_median_min_max_and_drops_missing():
    s = spread([0.98, None, 1.02, 0.99])
    assert (s["median"], s["min"], s["max"], s["n"]) == (0.99, 0.98, 1.02, 3)
    assert spread([None])["median"] is None


def test_steady_rate_skips_the_warm_up_epoch():
    epochs = [
        {"images": 100, "seconds": 10.0},
        {"images": 100, "seconds": 1.0},
        {"images": 100, "seconds": 3.0},
    ]
    assert steady_images_per_second(epochs) == 50.0
    assert steady_images_per_second(epochs[:1]) == 10.0
    assert steady_images_per_second([]) is None


def _result(overhead: float, peak_error: int) -> dict:
    sections = {
        "overhead": {"monitor_overhead_ratio": spread([overhead, overhead - 0.02, overhead + 0.02])},
        "recommend": {"pick": "a", "best": "b", "pick_within_5_percent": False, "lowest_peak_near_best": "b"},
    }
    result = {
        "mode": "quick",
        "monitor_overhead_ratio": overhead,
        "peak_error_bytes": peak_error,
        "recommend_throughput_ratio": 0.90,
        "recommend_peak_ratio": 1.0,
        "load_average_start": [1.5, 1.0, 0.5],
        "load_average_end": [2.5, 1.0, 0.5],
        "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "versions": {"python": "3.11"}},
        "sections": sections,
        "errors": {},
    }
    result["targets"] = report.evaluate(result, sections)
    return result


def test_targets_say_met_or_missed_with_a_reason_from_the_numbers():
    result = _result(overhead=0.985, peak_error=0)
    targets = result["targets"]
    assert targets["peak_error_bytes"]["met"] is True
    assert targets["monitor_overhead_ratio"]["met"] is False
    assert "0.965-1.005" in targets["monitor_overhead_ratio"]["why"]  # pairs straddle the target
    assert targets["recommend_throughput_ratio"]["met"] is False
    assert "outside 5%" in targets["recommend_throughput_ratio"]["why"]
    assert _result(overhead=0.995, peak_error=4096)["targets"]["peak_error_bytes"]["met"] is False


def test_refresh_docs_replaces_only_the_results_block(tmp_path):
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text(f"# B\n\nmethod text\n\n{report.START}\nold\n{report.END}\n\ntail\n", encoding="utf-8")
    report.refresh_docs(_result(overhead=0.995, peak_error=0), docs)
    text = docs.read_text(encoding="utf-8")
    assert "old" not in text and "method text" in text and text.endswith("tail\n")
    assert "Test CPU, 2 cores" in text
    assert "| `monitor_overhead_ratio` |" in text and "**met**" in text
    report.refresh_docs(_result(overhead=0.9, peak_error=0), docs)  # a second refresh, same one block
    assert docs.read_text(encoding="utf-8").count(report.START) == 1


def test_candidates_are_the_first_pass_leaders_plus_the_pick():
    from bench.measures import choose_candidates

    rates = [100.0, 95.0, 60.0, 85.0, None]
    assert choose_candidates(rates, pick=0, cap=3) == [0, 1, 3]
    assert choose_candidates(rates, pick=2, cap=2) == [0, 1, 2]  # the pick is always judged


def test_judge_compares_the_pick_with_the_best_round_by_round():
    from bench.measures import judge

    mib = 2**20
    # Candidate 1 was lucky in the grid; re-measured, 0 is the best and 2 is within 5% of it.
    measured = {
        0: [(90.0, 900 * mib), (100.0, 900 * mib), (102.0, 902 * mib)],
        1: [(120.0, 700 * mib), (80.0, 700 * mib), (82.0, 700 * mib)],
        2: [(97.0, 600 * mib), (97.0, 600 * mib), (99.0, 600 * mib)],
    }
    rounds = {0: [100.0, 102.0], 1: [80.0, 82.0], 2: [97.0, 99.0]}
    verdict = judge(1, measured, rounds)
    assert verdict["best"] == 0 and verdict["lowest_peak_near_best"] == 2
    assert verdict["throughput_ratios"] == [0.8, 82.0 / 102.0]
    assert verdict["pick_within_5_percent"] is False
    assert verdict["peak_ratio"] == 700 / 600
    best_pick = judge(2, measured, rounds)
    assert best_pick["peak_ratio"] == 1.0 and best_pick["pick_within_5_percent"] is True
    assert judge(0, measured, {0: [], 1: [], 2: []})["throughput_ratios"] == [1.0]  # no rounds: medians
