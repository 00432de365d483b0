"""The statistics of review.evaluation on synthetic data with known truth (no database).

Run alone with: .venv/bin/python -m pytest tests/test_evaluation_stats.py -p no:django --noconftest
"""

from __future__ import annotations

import random

import pytest

from review.evaluation import simulation as sim
from review.evaluation import stats

TARGET = 0.95
THRESHOLD, AUDIT_RATE = 0.90, 0.05


# --- intervals and weights ---------------------------------------------------------------------


def test_wilson_interval_matches_known_values():
    lower, upper = stats.wilson_interval(81, 263)  # the textbook example (Wilson 1927 via Newcombe)
    assert lower == pytest.approx(0.2553, abs=1e-3)
    assert upper == pytest.approx(0.3662, abs=1e-3)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    lower, upper = stats.wilson_interval(0, 100)
    assert lower == 0.0
    assert upper == pytest.approx(0.0370, abs=1e-3)


def test_audit_samples_weigh_one_over_their_rate_and_everything_else_one():
    assert stats.weight_for("audit_sample", 0.05) == pytest.approx(20)
    assert stats.weight_for("low_confidence", None) == 1
    assert stats.weight_for("shadow_mode", None) == 1
    assert stats.weight_for("audit_sample", None) == 1  # a missing rate cannot be guessed


def test_confidence_bins_agree_with_decimal_comparison_at_the_edges():
    assert stats.confidence_bin(0.29) == 29  # 0.29 * 100 is 28.999999999999996 in binary
    assert stats.confidence_bin(0.87) == 87
    assert stats.confidence_bin(1.0) == 100
    assert stats.confidence_bin(0.999) == 99


def test_equal_weights_give_the_plain_sample_size():
    sums = stats.WeightedSums()
    for i in range(200):
        sums.add(20.0, correct=i >= 10)
    estimate = stats.weighted_error_rate(sums)
    assert estimate.value == pytest.approx(0.05)
    assert estimate.n_effective == pytest.approx(200)
    assert (estimate.lower, estimate.upper) == pytest.approx(stats.wilson_interval(10, 200))


# --- the threshold simulator -------------------------------------------------------------------


def simulate(sample: sim.RoutedSample, **kwargs) -> stats.Simulation:
    return stats.simulate_thresholds(
        label_bins=stats.bin_records(sample.labelled),
        run_bins=stats.count_bins(sample.run_confidences),
        total_runs=len(sample.run_confidences),
        days=10,
        audit_sample_rate=AUDIT_RATE,
        target_accuracy=kwargs.pop("target_accuracy", TARGET),
        current_threshold=THRESHOLD,
        **kwargs,
    )


def test_simulator_intervals_cover_the_true_error_rate_in_at_least_90_percent_of_runs():
    """Routed data: full review below the current threshold, 5% audit samples above it."""
    seeds, checked = 80, (0.70, 0.80, 0.90, 0.95)
    truth = {t: sim.true_error_rate(t) for t in checked}
    covered = dict.fromkeys(checked, 0)
    for seed in range(seeds):
        result = simulate(
            sim.routed_sample(random.Random(seed), 8000, threshold=THRESHOLD, audit_rate=AUDIT_RATE)
        )
        for t in checked:
            error = result.row(t).error
            covered[t] += error.lower <= truth[t] <= error.upper
    coverage = {t: covered[t] / seeds for t in checked}
    assert all(share >= 0.90 for share in coverage.values()), coverage


def test_without_weights_the_estimate_below_the_current_threshold_is_biased():
    """The same data unweighted over-counts the reviewed low-confidence items: errors look ~50% worse."""
    seeds, t = 40, 0.80
    truth = sim.true_error_rate(t)
    weighted, unweighted, unweighted_covered = [], [], 0
    for seed in range(seeds):
        sample = sim.routed_sample(random.Random(seed), 8000, threshold=THRESHOLD, audit_rate=AUDIT_RATE)
        k = round(t * 100)
        above = [r for r in sample.labelled if stats.confidence_bin(r.confidence) >= k]
        w = stats.weighted_error_rate(sum((stats.bin_records(above).values()), stats.WeightedSums()))
        flat = stats.bin_records(stats.Record(r.confidence, r.correct, 1.0) for r in above)
        u = stats.weighted_error_rate(sum(flat.values(), stats.WeightedSums()))
        weighted.append(w.value)
        unweighted.append(u.value)
        unweighted_covered += u.lower <= truth <= u.upper
    mean_w, mean_u = sum(weighted) / seeds, sum(unweighted) / seeds
    assert abs(mean_w - truth) / truth < 0.05
    assert (mean_u - truth) / truth > 0.30
    assert unweighted_covered / seeds < 0.10


def test_simulator_projects_automation_and_workload_from_all_runs():
    sample = sim.routed_sample(random.Random(1), 8000, threshold=THRESHOLD, audit_rate=AUDIT_RATE)
    result = simulate(sample, seconds_per_item=36)
    row = result.row(0.90)
    share_above = sum(c >= 0.90 for c in sample.run_confidences) / 8000
    assert row.automation_rate == pytest.approx(share_above * (1 - AUDIT_RATE))
    assert row.review_items_per_day == pytest.approx(800 * (1 - row.automation_rate))
    assert row.auto_accepted_per_day + row.review_items_per_day == pytest.approx(800)
    assert row.review_hours_per_day == pytest.approx(row.review_items_per_day * 36 / 3600)
    rates = [r.automation_rate for r in result.rows]
    assert rates == sorted(rates, reverse=True)


def test_recommendation_is_the_lowest_threshold_whose_upper_bound_meets_the_target():
    sample = sim.routed_sample(random.Random(3), 20000, threshold=THRESHOLD, audit_rate=AUDIT_RATE)
    result = simulate(sample, target_accuracy=0.97)
    assert result.recommended is not None
    chosen = result.row(result.recommended)
    assert chosen.enough_data and chosen.error.upper <= 0.03 + 1e-12
    below = [r for r in result.rows if r.threshold < result.recommended]
    assert all(not r.enough_data or r.error.upper > 0.03 for r in below)
    # With the known truth: the recommended threshold really does meet the target.
    assert sim.true_error_rate(result.recommended) <= 0.03


def test_too_little_data_recommends_nothing_and_says_how_much_is_needed():
    sample = sim.routed_sample(random.Random(5), 120, threshold=THRESHOLD, audit_rate=AUDIT_RATE)
    result = simulate(sample, target_accuracy=0.5)  # a target anything would meet, given evidence
    assert result.recommended is None
    assert "Too little data" in result.message and "100" in result.message
    assert not any(r.enough_data for r in result.rows if r.threshold >= 0.80)


def test_no_data_at_all_recommends_nothing():
    result = stats.simulate_thresholds(
        label_bins={}, run_bins={}, total_runs=0, days=28, audit_sample_rate=0.05, target_accuracy=0.95
    )
    assert result.recommended is None
    assert "Too little data" in result.message
    assert all(r.error.value is None and r.automation_rate == 0 for r in result.rows)


def test_an_agent_that_never_meets_the_target_gets_no_recommendation():
    sample = sim.routed_sample(
        random.Random(7), 8000, threshold=THRESHOLD, audit_rate=AUDIT_RATE, error=lambda c: 0.2
    )
    result = simulate(sample)
    assert result.recommended is None
    assert "No threshold is shown to meet" in result.message


# --- calibration -------------------------------------------------------------------------------


def test_a_calibrated_agent_has_a_small_ece_and_an_overconfident_one_a_large_one():
    rng = random.Random(11)
    confidences = [rng.uniform(0.5, 1.0) for _ in range(20000)]
    calibrated = [stats.Record(c, rng.random() < c) for c in confidences]
    overconfident = [stats.Record(c, rng.random() < c - 0.15) for c in confidences]
    assert stats.expected_calibration_error(stats.reliability_bins(calibrated)) < 0.02
    assert stats.expected_calibration_error(stats.reliability_bins(overconfident)) == pytest.approx(
        0.15, abs=0.02
    )
    bins = stats.reliability_bins(calibrated)
    assert [b.lower for b in bins] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert stats.expected_calibration_error([]) is None


# --- the drift guard ---------------------------------------------------------------------------


def test_evaluate_drift_triggers_only_when_the_upper_end_is_below_target():
    good = [True] * 194 + [False] * 6  # 97%
    bad = [True] * 170 + [False] * 30  # 85%
    assert not stats.evaluate_drift(good, TARGET, 200).triggered
    check = stats.evaluate_drift(bad, TARGET, 200)
    assert check.triggered and check.upper < TARGET
    assert check.evidence()["audited_items"] == 200
    # Only the window counts: old failures followed by 200 good items do not trigger.
    assert not stats.evaluate_drift([False] * 500 + good, TARGET, 200).triggered


def test_evaluate_drift_judges_nothing_on_too_few_items():
    check = stats.evaluate_drift([False] * 10, TARGET, 200)
    assert not check.triggered and "too few" in check.reason


def test_the_trigger_table_applies_exactly_the_verdict_rule():
    table = stats.drift_trigger_table(TARGET, 120)
    for n in range(0, 121, 7):
        for k in range(n + 1):
            assert (k <= table[n]) == stats.drift_verdict(n, k, target=TARGET, window=120).triggered


DRIFT_SEEDS = 60


def test_a_drop_from_97_to_85_percent_is_detected_within_a_bounded_number_of_audited_items():
    """Bound checked here on 60 seeds; bench/drift_guard_sim.py measures it on many more."""
    change_at, window = 1000, stats.DRIFT_WINDOW
    table = stats.drift_trigger_table(TARGET, window)
    delays = []
    for seed in range(DRIFT_SEEDS):
        fired = sim.first_trigger(
            random.Random(seed),
            accuracy_before=0.97,
            accuracy_after=0.85,
            change_at=change_at,
            length=change_at + 1000,
            window=window,
            table=table,
        )
        assert fired is not None
        if fired > change_at:  # an alarm before the drop is a false alarm, measured below
            delays.append(fired - change_at)
    assert len(delays) >= DRIFT_SEEDS - 3
    assert sim.percentile(delays, 95) <= 200
    assert max(delays) <= 300  # bench, 1000 seeds: max 263


def test_a_stable_97_percent_agent_rarely_triggers_in_a_long_run():
    window = stats.DRIFT_WINDOW
    table = stats.drift_trigger_table(TARGET, window)
    alarms = sum(
        sim.first_trigger(
            random.Random(10_000 + seed),
            accuracy_before=0.97,
            accuracy_after=0.97,
            change_at=0,
            length=5000,
            window=window,
            table=table,
        )
        is not None
        for seed in range(DRIFT_SEEDS)
    )
    assert alarms / DRIFT_SEEDS <= 0.05
