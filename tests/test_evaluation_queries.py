"""The SQL aggregates of review.evaluation agree with the pure statistics on the same data."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import AgentRun, Document
from review.evaluation import queries, stats
from review.evaluation import simulation as sim
from review.models import Decision, LabelledExample, Queue, ReviewTask

THRESHOLD, AUDIT_RATE = 0.90, 0.05


@pytest.fixture
def reviewer(processes) -> User:
    return User.objects.create_user("rita")


def seed_examples(process, reviewer, rows, *, runs_only=()):
    """Bulk-insert documents, runs, tasks, decisions and examples.

    rows: (confidence, correct, route_reason, outcome); runs_only: confidences of runs nobody reviewed.
    """
    now = timezone.now()
    offset = Document.objects.count()
    queue = Queue.objects.get(process=process, kind=Queue.Kind.REVIEW)
    total = len(rows) + len(runs_only)
    docs = Document.objects.bulk_create(
        Document(
            process=process,
            source="demo",
            original_name=f"d{i}.txt",
            content_type="text/plain",
            size=1,
            file="x",
            checksum=f"{offset + i:064d}",
            state=Document.State.ACCEPTED,
        )
        for i in range(total)
    )
    confidences = [r[0] for r in rows] + list(runs_only)
    reasons = [r[2] for r in rows] + [""] * len(runs_only)
    runs = AgentRun.objects.bulk_create(
        AgentRun(
            document=doc,
            overall_confidence=c,
            route_reason=reason,
            outcome=AgentRun.Outcome.REVIEW if reason else AgentRun.Outcome.AUTO_ACCEPTED,
            validation_errors={"date": ["not a date"]} if reason == Reason.VALIDATION_FAILED else {},
        )
        for doc, c, reason in zip(docs, confidences, reasons, strict=True)
    )
    tasks = ReviewTask.objects.bulk_create(
        ReviewTask(
            document=docs[i], queue=queue, agent_run=runs[i], reason=row[2], state="decided", due_at=now
        )
        for i, row in enumerate(rows)
    )
    decisions = Decision.objects.bulk_create(
        Decision(
            task=task,
            document=task.document,
            reviewer=reviewer,
            action="approve",
            seconds_spent=30 + i % 13,
            claimed_at=now,
        )
        for i, task in enumerate(tasks)
    )
    LabelledExample.objects.bulk_create(
        LabelledExample(
            process=process,
            document=decision.document,
            decision=decision,
            agent_run=runs[i],
            outcome=row[3],
            overall_confidence=row[0],
            all_correct=row[1] if row[3] in ("approved", "corrected") else None,
            route_reason=row[2],
            audit_sample_rate=AUDIT_RATE if row[2] == Reason.AUDIT_SAMPLE else None,
        )
        for i, (decision, row) in enumerate(zip(decisions, rows, strict=True))
    )


def routed_rows(seed: int, n: int):
    """A synthetic routed sample as example rows, and the confidences of the unreviewed runs."""
    rng = random.Random(seed)
    rows, unreviewed = [], []
    for _ in range(n):
        c = round(sim.confidence_at(rng.random()), 3)
        correct = rng.random() >= sim.error_at(c)
        if c < THRESHOLD:
            rows.append((c, correct, Reason.LOW_CONFIDENCE, "approved" if correct else "corrected"))
        elif rng.random() < AUDIT_RATE:
            rows.append((c, correct, Reason.AUDIT_SAMPLE, "approved" if correct else "corrected"))
        else:
            unreviewed.append(c)
    return rows, unreviewed


@pytest.fixture
def routed_invoices(invoices, reviewer):
    invoices.audit_sample_rate = Decimal(str(AUDIT_RATE))
    invoices.confidence_threshold = Decimal(str(THRESHOLD))
    invoices.save()
    rows, unreviewed = routed_rows(seed=4, n=3000)
    # Examples the simulator must ignore: failed validation, escalations.
    rows += [(0.99, False, Reason.VALIDATION_FAILED, "corrected")] * 5
    rows += [(0.98, False, Reason.AUDIT_SAMPLE, "escalated")] * 3
    seed_examples(invoices, reviewer, rows, runs_only=unreviewed)
    eligible = [
        stats.Record(c, ok, stats.weight_for(reason, AUDIT_RATE if reason == Reason.AUDIT_SAMPLE else None))
        for c, ok, reason, outcome in rows
        if reason != Reason.VALIDATION_FAILED and outcome != "escalated"
    ]
    runs = [r[0] for r in rows] + unreviewed
    candidates = [r[0] for r in rows if r[2] != Reason.VALIDATION_FAILED] + unreviewed
    return invoices, eligible, runs, candidates


def test_sql_bins_equal_the_python_bins_of_the_same_examples(routed_invoices, django_assert_num_queries):
    process, records, _, _ = routed_invoices
    with django_assert_num_queries(1):
        sql = queries.simulator_bins(process)
    python = stats.bin_records(records)
    assert sql.keys() == python.keys()
    for key, sums in python.items():
        assert sql[key].n == sums.n
        for attr in ("w", "w_err", "w2", "w2_err"):
            assert getattr(sql[key], attr) == pytest.approx(getattr(sums, attr)), (key, attr)


def test_simulator_records_come_weighted_from_sql(routed_invoices):
    process, records, _, _ = routed_invoices
    fetched = sorted(queries.simulator_records(process))
    expected = sorted((r.confidence, int(r.correct), r.weight) for r in records)
    assert len(fetched) == len(expected)
    assert fetched == pytest.approx(expected)


def test_threshold_simulation_from_the_database_matches_the_pure_one(
    routed_invoices, django_assert_num_queries
):
    process, records, runs, candidates = routed_invoices
    with django_assert_num_queries(4):
        result = queries.threshold_simulation(process, days=28)
    assert result.runs == len(runs)
    # Validation failures never auto-accept: they count as runs, not as candidates.
    expected = stats.simulate_thresholds(
        label_bins=stats.bin_records(records),
        run_bins=stats.count_bins(candidates),
        total_runs=len(runs),
        days=28,
        audit_sample_rate=AUDIT_RATE,
        target_accuracy=0.95,
    )
    for row in result.rows:
        other = expected.row(row.threshold)
        assert row.error.value == pytest.approx(other.error.value)
        assert row.error.upper == pytest.approx(other.error.upper)
        assert row.automation_rate == pytest.approx(other.automation_rate)
        assert row.review_hours_per_day == pytest.approx(
            row.review_items_per_day * result.seconds_per_item / 3600
        )
    assert result.recommended == expected.recommended
    assert result.current_threshold == THRESHOLD


def test_reliability_bins_and_ece_come_from_one_grouped_query(routed_invoices, django_assert_num_queries):
    process, records, _, _ = routed_invoices
    with django_assert_num_queries(1):
        bins = queries.reliability_bins(process)
    python = stats.reliability_bins(records)
    assert [b.lower for b in bins] == pytest.approx([b.lower for b in python])
    assert [b.accuracy for b in bins] == pytest.approx([b.accuracy for b in python])
    assert [b.mean_confidence for b in bins] == pytest.approx([b.mean_confidence for b in python])
    assert stats.expected_calibration_error(bins) == pytest.approx(stats.expected_calibration_error(python))


def test_too_little_data_in_the_database_recommends_nothing(invoices, reviewer):
    rows, unreviewed = routed_rows(seed=9, n=60)
    seed_examples(invoices, reviewer, rows, runs_only=unreviewed)
    result = queries.threshold_simulation(invoices)
    assert result.recommended is None
    assert "Too little data" in result.message


def test_drift_check_reads_only_the_latest_window_of_audit_samples(
    invoices, reviewer, django_assert_num_queries
):
    invoices.target_accuracy = Decimal("0.950")
    invoices.save()
    good = [(0.97, True, Reason.AUDIT_SAMPLE, "approved")] * 200
    bad = [(0.97, i % 5 != 0, Reason.AUDIT_SAMPLE, "approved" if i % 5 else "corrected") for i in range(200)]
    low = [(0.5, False, Reason.LOW_CONFIDENCE, "corrected")] * 50  # not audited: ignored
    seed_examples(invoices, reviewer, bad + good + low)
    # All rows share a created_at to the microsecond at most; ids break ties, newest last.
    with django_assert_num_queries(1):
        check = queries.drift_check(invoices, window=200)
    assert (check.n, check.correct, check.triggered) == (200, 200, False)

    seed_examples(invoices, reviewer, bad)
    check = queries.drift_check(invoices, window=200)
    assert (check.n, check.correct) == (200, 160)
    assert check.triggered and check.upper < 0.95


def test_drift_check_ignores_audit_samples_from_before_since(invoices, reviewer):
    bad = [(0.97, False, Reason.AUDIT_SAMPLE, "corrected")] * 100
    seed_examples(invoices, reviewer, bad)
    assert queries.drift_check(invoices).triggered
    later = timezone.now() + timedelta(seconds=1)
    check = queries.drift_check(invoices, since=later)
    assert check.n == 0 and not check.triggered
