"""Synthetic data with known truth, for testing and benchmarking the statistics (no Django).

A synthetic agent's overall confidence is c = 0.5 + 0.5 * u ** SKEW (u uniform, so most items are
confident) and it is wrong with probability error_at(c). Routing follows agents.autonomy.decide
in autonomous mode: below the threshold every item is reviewed; at or above it only an audit
sample drawn at `audit_rate` is, the rest being accepted unseen.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from review.evaluation.stats import Record, weight_for

SKEW = 0.35


def confidence_at(u: float) -> float:
    return 0.5 + 0.5 * u**SKEW


def error_at(c: float) -> float:
    """An over-confident agent: 3% wrong at 0.93 claimed, 20% at 0.60."""
    return 0.6 * (1 - c) ** 1.2


def true_error_rate(
    threshold: float, error: Callable[[float], float] = error_at, steps: int = 20_000
) -> float:
    """The expected error rate among items with confidence >= threshold (midpoint rule over u)."""
    total = count = 0.0
    for i in range(steps):
        c = confidence_at((i + 0.5) / steps)
        if c >= threshold:
            total += error(c)
            count += 1
    return total / count


@dataclass(frozen=True)
class RoutedSample:
    labelled: list[Record]  # reviewed items, weighted as the app weights them
    run_confidences: list[float]  # every run (the automation rate counts all of them)


def routed_sample(
    rng: random.Random,
    n: int,
    *,
    threshold: float,
    audit_rate: float,
    error: Callable[[float], float] = error_at,
) -> RoutedSample:
    """n runs of the synthetic agent routed in autonomous mode; the labels people would produce."""
    labelled: list[Record] = []
    confidences: list[float] = []
    weight = weight_for("audit_sample", audit_rate)
    rand = rng.random
    for _ in range(n):
        c = 0.5 + 0.5 * rand() ** SKEW
        confidences.append(c)
        correct = rand() >= error(c)
        if c < threshold:
            labelled.append(Record(c, correct, 1.0))
        elif rand() < audit_rate:
            labelled.append(Record(c, correct, weight))
    return RoutedSample(labelled, confidences)


def first_trigger(
    rng: random.Random,
    *,
    accuracy_before: float,
    accuracy_after: float,
    change_at: int,
    length: int,
    window: int,
    table: list[int],
) -> int | None:
    """Audited items seen when the guard first fires (None: never within `length`).

    Each audited item is correct with accuracy_before until item `change_at`, accuracy_after from
    then on; the guard is checked after every item (the worst case for false alarms, the best for
    delay: a periodic job adds at most its period). `table` is stats.drift_trigger_table.
    """
    recent: list[bool] = []
    correct = 0
    rand = rng.random
    for i in range(length):
        ok = rand() < (accuracy_before if i < change_at else accuracy_after)
        recent.append(ok)
        correct += ok
        if len(recent) > window:
            correct -= recent[len(recent) - window - 1]
        n = min(len(recent), window)
        if correct <= table[n]:
            return i + 1
    return None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank: the figure that q% of runs do not exceed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
