"""SQL aggregates feeding review.evaluation.stats: metrics never load the rows into Python.

Each query is bounded: by a time window, by the latest N labelled examples, or both. What comes
back is a handful of rows per query (one per confidence bin), which the pure functions in stats
turn into estimates. The weighting and binning rules are written twice, here in SQL and in stats
in Python; tests/test_evaluation_queries.py checks that the two agree on the same data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Case, Count, F, FloatField, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Floor, Least
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import AgentRun, Process
from review.evaluation import stats
from review.models import Decision, LabelledExample

# The newest labelled examples the simulator and calibration read (the window stays bounded).
EXAMPLE_LIMIT = 20_000
DEFAULT_DAYS = 28

# Examples that say something about auto-accepted output: the run could have been accepted
# (no agent error, valid output, a confidence), and the human reached a verdict (not escalated:
# the specialist's decision on the escalation is the verdict, recorded as its own example).
NOT_AUTO_ACCEPTABLE = [Reason.UNREADABLE, Reason.AGENT_ERROR, Reason.VALIDATION_FAILED]
ELIGIBLE = (
    ~Q(route_reason__in=NOT_AUTO_ACCEPTABLE)
    & Q(overall_confidence__isnull=False)
    & ~Q(outcome=LabelledExample.Outcome.ESCALATED)
)
# stats.weight_for in SQL: an audit sample stands for 1 / rate items, anything else for one.
WEIGHT = Case(
    When(route_reason=Reason.AUDIT_SAMPLE, audit_sample_rate__gt=0, then=Value(1.0) / F("audit_sample_rate")),
    default=Value(1.0),
    output_field=FloatField(),
)
# A rejection of a document the agent would have accepted counts as an error.
WRONG = Case(When(all_correct=True, then=Value(0)), default=Value(1), output_field=IntegerField())
CORRECT = Case(When(all_correct=True, then=Value(1)), default=Value(0), output_field=IntegerField())


def percent_bin(field: str, bins: int = 100):
    """stats.confidence_bin in SQL: floor(c * bins) with the same nudge, capped at `bins`."""
    return Least(Floor(F(field) * bins + Value(1e-9)), Value(bins), output_field=IntegerField())


def labelled_window(
    process: Process,
    *,
    since: datetime | None = None,
    limit: int = EXAMPLE_LIMIT,
    agent_version_id: int | None = None,
) -> QuerySet[LabelledExample]:
    """The process's latest `limit` eligible labelled examples (optionally since a time, of a version)."""
    latest = LabelledExample.objects.filter(ELIGIBLE, process=process)
    if since is not None:
        latest = latest.filter(created_at__gte=since)
    if agent_version_id is not None:
        latest = latest.filter(agent_version_id=agent_version_id)
    ids = latest.order_by("-created_at", "-id").values("id")[:limit]
    return LabelledExample.objects.filter(pk__in=ids)


def simulator_records(process: Process, **window) -> QuerySet:
    """(confidence, correct, weight) triples of the window, computed in SQL; for exports and checks."""
    return (
        labelled_window(process, **window)
        .annotate(correct=CORRECT, weight=WEIGHT)
        .order_by("id")
        .values_list("overall_confidence", "correct", "weight")
    )


def simulator_bins(process: Process, **window) -> dict[int, stats.WeightedSums]:
    """stats.bin_records over the window, as one GROUP BY on percent bins of confidence."""
    rows = (
        labelled_window(process, **window)
        .annotate(bin=percent_bin("overall_confidence"))
        .values("bin")
        .annotate(
            n=Count("id"),
            w=Sum(WEIGHT),
            w_err=Sum(WEIGHT * WRONG),
            w2=Sum(WEIGHT * WEIGHT),
            w2_err=Sum(WEIGHT * WEIGHT * WRONG),
        )
        .order_by()
    )
    return {
        max(0, int(r["bin"])): stats.WeightedSums(r["n"], r["w"], r["w_err"], r["w2"], r["w2_err"])
        for r in rows
    }


def run_bins(process: Process, *, since: datetime, until: datetime) -> tuple[dict[int, int], int]:
    """Runs of the window that could be auto-accepted, per percent bin, and the count of all runs."""
    runs = AgentRun.objects.filter(
        document__process=process, created_at__gte=since, created_at__lt=until
    ).exclude(outcome=AgentRun.Outcome.PENDING)
    total = runs.aggregate(n=Count("id"))["n"]
    rows = (
        runs.filter(error_code="", validation_errors={}, overall_confidence__isnull=False)
        .annotate(bin=percent_bin("overall_confidence"))
        .values("bin")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {max(0, int(r["bin"])): r["n"] for r in rows}, total


def seconds_per_item(process: Process, *, since: datetime) -> float | None:
    """Mean reviewer time per decided item of the process since `since`."""
    return Decision.objects.filter(document__process=process, created_at__gte=since).aggregate(
        s=Avg("seconds_spent")
    )["s"]


def threshold_simulation(
    process: Process,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    limit: int = EXAMPLE_LIMIT,
    min_effective_n: float = stats.MIN_EFFECTIVE_N,
) -> stats.Simulation:
    """The threshold simulator for a process over the last `days` (four aggregate queries)."""
    until = now or timezone.now()
    since = until - timedelta(days=days)
    bins, total = run_bins(process, since=since, until=until)
    return stats.simulate_thresholds(
        label_bins=simulator_bins(process, since=since, limit=limit),
        run_bins=bins,
        total_runs=total,
        days=days,
        audit_sample_rate=float(process.audit_sample_rate),
        target_accuracy=float(process.target_accuracy),
        current_threshold=float(process.confidence_threshold),
        seconds_per_item=seconds_per_item(process, since=since),
        min_effective_n=min_effective_n,
    )


def reliability_bins(process: Process, *, bins: int = 10, **window) -> list[stats.ReliabilityBin]:
    """Weighted reliability chart in tenths of confidence: one GROUP BY floor(confidence * 10)."""
    rows = (
        labelled_window(process, **window)
        .annotate(bin=Least(percent_bin("overall_confidence", bins), Value(bins - 1)))
        .values("bin")
        .annotate(
            n=Count("id"),
            w=Sum(WEIGHT),
            wc=Sum(WEIGHT * F("overall_confidence")),
            wa=Sum(WEIGHT * CORRECT),
        )
        .order_by("bin")
    )
    return [
        stats.ReliabilityBin(
            lower=r["bin"] / bins,
            upper=(r["bin"] + 1) / bins,
            n=r["n"],
            weight=r["w"],
            mean_confidence=r["wc"] / r["w"],
            accuracy=r["wa"] / r["w"],
        )
        for r in rows
        if r["w"]
    ]


def audited_window(process: Process, *, window: int, since: datetime | None = None) -> tuple[int, int]:
    """(audited items, correct ones) among the process's latest `window` audit samples since `since`.

    `since` should be when the process last became autonomous, so evidence from before a human
    re-promotion does not demote it again at once.
    """
    latest = LabelledExample.objects.filter(process=process, route_reason=Reason.AUDIT_SAMPLE).exclude(
        outcome=LabelledExample.Outcome.ESCALATED
    )
    if since is not None:
        latest = latest.filter(created_at__gte=since)
    ids = latest.order_by("-created_at", "-id").values("id")[:window]
    row = LabelledExample.objects.filter(pk__in=ids).aggregate(n=Count("id"), correct=Sum(CORRECT))
    return row["n"], row["correct"] or 0


def drift_check(
    process: Process, *, window: int = stats.DRIFT_WINDOW, since: datetime | None = None
) -> stats.DriftCheck:
    """The drift guard's verdict on a process's latest audited items (one aggregate query)."""
    n, correct = audited_window(process, window=window, since=since)
    return stats.drift_verdict(n, correct, target=float(process.target_accuracy), window=window)
