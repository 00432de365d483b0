"""Pure statistics for evaluating agents: intervals, weighted estimates, the threshold simulator,
calibration and the drift guard. Standard library only, no Django: everything here is a function
of plain numbers, so it is tested on synthetic data with known truth (tests/test_evaluation_stats.py).

Weighting. Above a process's threshold an autonomous agent's output is accepted unseen, except for
a random audit sample drawn at rate r; below it, and in shadow or manual mode, every item is
reviewed. A labelled example therefore stands for 1/r items when it is an audit sample and for one
item otherwise (Horvitz-Thompson weights). Unweighted, the labelled set over-represents the
low-confidence items that routing sends to people, and error rates come out too high.

Intervals. Wilson score intervals, applied to weighted estimates through an effective sample size:
the smaller of Kish's (sum w)^2 / sum w^2 and the design-based p(1-p) / Var(p), so that neither
unequal weights nor errors concentrated in the heavy audit samples make the interval too narrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)

# Candidate thresholds in hundredths: 0.50 .. 0.99.
DEFAULT_THRESHOLDS: tuple[int, ...] = tuple(range(50, 100))
# Below this effective sample size the simulator recommends nothing. At 100 clean items the Wilson
# upper bound of the error rate is 3.7%, so a 95% target can be shown to hold; with fewer, one
# error moves the estimate by more than the margins admins choose between.
MIN_EFFECTIVE_N = 100.0
# The drift guard judges nothing on fewer audited items than this (Wilson's coverage is poor below).
DRIFT_MIN_ITEMS = 30
DRIFT_WINDOW = 200
DRIFT_Z = NormalDist().inv_cdf(0.995)  # two-sided 99%: a false demotion costs reviewer hours


def z_for(level: float) -> float:
    """The normal quantile of a two-sided interval at `level` (0.95 -> 1.96)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; `n` may be an effective (fractional) sample size.

    (0, 1) when n is 0: no evidence bounds nothing.
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def weight_for(route_reason: str, audit_sample_rate: float | None) -> float:
    """An example's sampling weight: 1 / rate for an audit sample, 1 for anything reviewed by routing.

    Mirrored in SQL by queries.WEIGHT; keep the two in step.
    """
    if route_reason == "audit_sample" and audit_sample_rate:
        return 1.0 / audit_sample_rate
    return 1.0


def confidence_bin(confidence: float, bins: int = 100) -> int:
    """The bin of a confidence: floor(c * bins), with a nudge so 0.29 lands in 29 as `decide` reads it.

    Mirrored in SQL by queries.percent_bin.
    """
    return min(bins, max(0, math.floor(confidence * bins + 1e-9)))


@dataclass(frozen=True)
class Record:
    """One labelled example as the statistics see it."""

    confidence: float
    correct: bool
    weight: float = 1.0


@dataclass
class WeightedSums:
    """Sufficient statistics of a weighted error rate; SQL computes the same per bin."""

    n: int = 0
    w: float = 0.0  # sum of weights
    w_err: float = 0.0  # sum of weights of wrong items
    w2: float = 0.0  # sum of squared weights
    w2_err: float = 0.0  # sum of squared weights of wrong items

    def add(self, weight: float, correct: bool) -> None:
        self.n += 1
        self.w += weight
        self.w2 += weight * weight
        if not correct:
            self.w_err += weight
            self.w2_err += weight * weight

    def __add__(self, other: WeightedSums) -> WeightedSums:
        return WeightedSums(
            self.n + other.n,
            self.w + other.w,
            self.w_err + other.w_err,
            self.w2 + other.w2,
            self.w2_err + other.w2_err,
        )


@dataclass(frozen=True)
class Estimate:
    """A weighted proportion with its interval and the evidence behind it."""

    value: float | None
    lower: float
    upper: float
    n: int
    n_effective: float


def effective_n(sums: WeightedSums) -> float:
    """The sample size an unweighted estimate of the same precision would need (see module docstring)."""
    if sums.w2 <= 0:
        return 0.0
    kish = sums.w * sums.w / sums.w2
    p = sums.w_err / sums.w
    # Var(p) of the ratio estimator: sum w^2 (y - p)^2 / W^2, with y in {0, 1}.
    variance = (sums.w2_err * (1 - 2 * p) + p * p * sums.w2) / (sums.w * sums.w)
    if 0 < p < 1 and variance > 0:
        return min(kish, p * (1 - p) / variance)
    return kish


def weighted_error_rate(sums: WeightedSums, z: float = Z95) -> Estimate:
    """The weighted share of wrong items, with a Wilson interval at the effective sample size."""
    if sums.n == 0 or sums.w <= 0:
        return Estimate(None, 0.0, 1.0, 0, 0.0)
    p = sums.w_err / sums.w
    n_eff = effective_n(sums)
    lower, upper = wilson_interval(p * n_eff, n_eff, z)
    return Estimate(p, lower, upper, sums.n, n_eff)


def bin_records(records: Iterable[Record], bins: int = 100) -> dict[int, WeightedSums]:
    """Weighted sums per confidence bin (what queries.simulator_bins computes in the database)."""
    out: dict[int, WeightedSums] = {}
    for record in records:
        out.setdefault(confidence_bin(record.confidence, bins), WeightedSums()).add(
            record.weight, record.correct
        )
    return out


def count_bins(confidences: Iterable[float], bins: int = 100) -> dict[int, int]:
    out: dict[int, int] = {}
    for confidence in confidences:
        key = confidence_bin(confidence, bins)
        out[key] = out.get(key, 0) + 1
    return out


# --- The threshold simulator -------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    automation_rate: float  # share of all runs that would be accepted unseen (after audit draws)
    auto_accepted_per_day: float
    review_items_per_day: float
    review_hours_per_day: float | None
    error: Estimate  # error rate among the items at or above the threshold
    enough_data: bool


@dataclass(frozen=True)
class Simulation:
    rows: tuple[ThresholdRow, ...]
    recommended: float | None
    message: str
    target_accuracy: float
    min_effective_n: float
    current_threshold: float | None = None
    runs: int = 0
    labelled: int = 0
    seconds_per_item: float | None = None

    def row(self, threshold: float) -> ThresholdRow:
        return next(row for row in self.rows if abs(row.threshold - threshold) < 1e-9)


def simulate_thresholds(
    *,
    label_bins: Mapping[int, WeightedSums],
    run_bins: Mapping[int, int],
    total_runs: int,
    days: float,
    audit_sample_rate: float,
    target_accuracy: float,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    current_threshold: float | None = None,
    seconds_per_item: float | None = None,
    min_effective_n: float = MIN_EFFECTIVE_N,
    z: float = Z95,
) -> Simulation:
    """What each candidate threshold (in hundredths) would mean, and the lowest one safe for the target.

    label_bins: weighted sums of labelled examples per percent bin of overall confidence (only
    runs that could be auto-accepted: no agent error, valid output). run_bins: count of such runs
    per percent bin; total_runs: every run in the same window, which lasted `days`. An item is
    auto-accepted at threshold t when its confidence is >= t and the audit draw spares it.
    The recommendation is the lowest threshold whose error interval's upper end is <= 1 - target
    among those with at least `min_effective_n` effective examples; none with too little data.
    """
    max_error = 1 - target_accuracy
    per_day = total_runs / days if days > 0 else 0.0
    rows = []
    for t in sorted(thresholds):
        sums = sum((s for b, s in label_bins.items() if b >= t), WeightedSums())
        eligible = sum(c for b, c in run_bins.items() if b >= t)
        automation = eligible * (1 - audit_sample_rate) / total_runs if total_runs else 0.0
        review_per_day = per_day * (1 - automation)
        estimate = weighted_error_rate(sums, z)
        rows.append(
            ThresholdRow(
                threshold=t / 100,
                automation_rate=automation,
                auto_accepted_per_day=per_day * automation,
                review_items_per_day=review_per_day,
                review_hours_per_day=review_per_day * seconds_per_item / 3600 if seconds_per_item else None,
                error=estimate,
                enough_data=estimate.n_effective >= min_effective_n,
            )
        )
    safe = [row for row in rows if row.enough_data and row.error.upper <= max_error]
    labelled = sum(s.n for s in label_bins.values())
    if safe:
        recommended = safe[0].threshold
        message = (
            f"Recommended threshold {recommended:.2f}: the error rate at or above it is at most "
            f"{safe[0].error.upper:.1%} (95% interval), within the target's {max_error:.1%}."
        )
    elif not any(row.enough_data for row in rows):
        recommended = None
        best = max((row.error.n_effective for row in rows), default=0.0)
        message = (
            f"Too little data to recommend a threshold: an effective sample of at least "
            f"{min_effective_n:.0f} labelled examples is needed, there are {best:.0f}."
        )
    else:
        recommended = None
        message = (
            f"No threshold is shown to meet the target accuracy {target_accuracy:.1%} with the "
            f"data at hand: keep the agent in review, or gather more audit samples."
        )
    return Simulation(
        rows=tuple(rows),
        recommended=recommended,
        message=message,
        target_accuracy=target_accuracy,
        min_effective_n=min_effective_n,
        current_threshold=current_threshold,
        runs=total_runs,
        labelled=labelled,
        seconds_per_item=seconds_per_item,
    )


# --- Calibration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability chart: mean confidence against observed accuracy, weighted."""

    lower: float
    upper: float
    n: int
    weight: float
    mean_confidence: float
    accuracy: float


def reliability_bins(records: Iterable[Record], bins: int = 10) -> list[ReliabilityBin]:
    """Python twin of queries.reliability_bins, for tests and synthetic data."""
    acc: dict[int, list[float]] = {}
    for r in records:
        key = min(confidence_bin(r.confidence, bins), bins - 1)
        n, w, wc, wa = acc.get(key, [0, 0.0, 0.0, 0.0])
        acc[key] = [n + 1, w + r.weight, wc + r.weight * r.confidence, wa + r.weight * r.correct]
    return [
        ReliabilityBin(k / bins, (k + 1) / bins, int(n), w, wc / w, wa / w)
        for k, (n, w, wc, wa) in sorted(acc.items())
        if w > 0
    ]


def expected_calibration_error(bins: Iterable[ReliabilityBin]) -> float | None:
    """ECE: the weight-averaged gap between confidence and accuracy over the bins."""
    bins = list(bins)
    total = sum(b.weight for b in bins)
    if total <= 0:
        return None
    return sum(b.weight * abs(b.accuracy - b.mean_confidence) for b in bins) / total


# --- The drift guard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftCheck:
    """The audited accuracy over the latest window and whether it shows the target is missed."""

    triggered: bool
    n: int
    correct: int
    accuracy: float | None
    lower: float
    upper: float
    target: float
    window: int
    reason: str

    def evidence(self) -> dict:
        return {
            "audited_items": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "interval": [round(self.lower, 4), round(self.upper, 4)],
            "target_accuracy": self.target,
            "window": self.window,
        }


def drift_verdict(
    n: int,
    correct: int,
    *,
    target: float,
    window: int = DRIFT_WINDOW,
    z: float = DRIFT_Z,
    min_items: int = DRIFT_MIN_ITEMS,
) -> DriftCheck:
    """Trigger when the upper end of the accuracy interval over the window is below the target."""
    if n < min_items:
        return DriftCheck(
            False,
            n,
            correct,
            correct / n if n else None,
            0.0,
            1.0,
            target,
            window,
            f"too few audited items ({n} < {min_items})",
        )
    lower, upper = wilson_interval(correct, n, z)
    triggered = upper < target
    reason = (
        f"audited accuracy {correct}/{n} = {correct / n:.1%}, "
        f"interval up to {upper:.1%} < target {target:.1%}"
        if triggered
        else f"audited accuracy {correct}/{n} = {correct / n:.1%} is consistent with target {target:.1%}"
    )
    return DriftCheck(triggered, n, correct, correct / n, lower, upper, target, window, reason)


def evaluate_drift(
    records: Sequence[bool],
    target: float,
    window: int = DRIFT_WINDOW,
    *,
    z: float = DRIFT_Z,
    min_items: int = DRIFT_MIN_ITEMS,
) -> DriftCheck:
    """The drift verdict over the most recent `window` audited items (records oldest first)."""
    recent = records[-window:] if window else records
    return drift_verdict(
        len(recent), sum(1 for r in recent if r), target=target, window=window, z=z, min_items=min_items
    )


def drift_trigger_table(
    target: float, window: int, *, z: float = DRIFT_Z, min_items: int = DRIFT_MIN_ITEMS
) -> list[int]:
    """For each n <= window, the largest correct count that triggers (-1: none, n < min_items).

    The interval's upper end grows with the correct count, so the guard fires iff correct <= table[n]:
    this lets a simulation check every item in O(1) and still apply exactly drift_verdict's rule.
    """
    table = [-1] * (window + 1)
    for n in range(min_items, window + 1):
        k = -1
        while k + 1 <= n and wilson_interval(k + 1, n, z)[1] < target:
            k += 1
        table[n] = k
    return table
