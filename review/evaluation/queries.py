"""SQL aggregates feeding review.evaluation.stats: metrics never load the rows into Python.

Each query is bounded: by a time window, by the latest N labelled examples, or both. What comes
back is a handful of rows per query (one per confidence bin), which the pure functions in stats
turn into estimates. The weighting and binning rules are written twice, here in SQL and in stats
in Python; tests/test_evaluation_queries.py checks that the two agree on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Case, Count, F, FloatField, IntegerField, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Floor, Least
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import AgentRun, Process
from review.evaluation import stats
from review.models import Decision, LabelledExample, ReviewTask

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


# --- The evaluation page: metrics per process (and agent version) over a window -----------------

WINDOW_DAYS = (7, 30, 90)


class Window:
    """A time window ending now, optionally narrowed to one agent version of the process."""

    def __init__(self, *, days: int, now: datetime | None = None, agent_version_id: int | None = None):
        self.days = days
        self.until = now or timezone.now()
        self.since = self.until - timedelta(days=days)
        self.agent_version_id = agent_version_id


def run_totals(process: Process, window: Window) -> dict:
    """Runs of the window: count, auto-accepted, agent cost and tokens (one aggregate)."""
    runs = AgentRun.objects.filter(
        document__process=process, created_at__gte=window.since, created_at__lt=window.until
    ).exclude(outcome=AgentRun.Outcome.PENDING)
    if window.agent_version_id is not None:
        runs = runs.filter(agent_version_id=window.agent_version_id)
    return runs.aggregate(
        runs=Count("id"),
        auto_accepted=Count("id", filter=Q(outcome=AgentRun.Outcome.AUTO_ACCEPTED)),
        review=Count("id", filter=Q(outcome=AgentRun.Outcome.REVIEW)),
        cost=Sum("cost"),
        tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
    )


def exceptions_by_reason(process: Process, window: Window) -> dict[str, int]:
    """Runs sent to review in the window, per reason (one GROUP BY)."""
    runs = AgentRun.objects.filter(
        document__process=process,
        created_at__gte=window.since,
        created_at__lt=window.until,
        outcome=AgentRun.Outcome.REVIEW,
    )
    if window.agent_version_id is not None:
        runs = runs.filter(agent_version_id=window.agent_version_id)
    rows = runs.values("route_reason").annotate(n=Count("id")).order_by()
    return {row["route_reason"]: row["n"] for row in rows}


def _examples(process: Process, window: Window) -> QuerySet[LabelledExample]:
    examples = LabelledExample.objects.filter(
        process=process, created_at__gte=window.since, created_at__lt=window.until
    )
    if window.agent_version_id is not None:
        examples = examples.filter(agent_version_id=window.agent_version_id)
    return examples


def audited_accuracy(process: Process, window: Window) -> stats.Estimate:
    """Accuracy of would-be auto-accepted items, from the window's audit samples, with a Wilson interval.

    Audit samples are a uniform random draw among the items above the threshold, so their plain
    share of correct items estimates the accuracy of what was accepted unseen.
    """
    row = (
        _examples(process, window)
        .filter(route_reason=Reason.AUDIT_SAMPLE)
        .exclude(outcome=LabelledExample.Outcome.ESCALATED)
        .aggregate(n=Count("id"), correct=Sum(CORRECT))
    )
    n, correct = row["n"], row["correct"] or 0
    lower, upper = stats.wilson_interval(correct, n)
    return stats.Estimate(correct / n if n else None, lower, upper, n, float(n))


def field_accuracy(process: Process, window: Window) -> list[tuple[str, int, int]]:
    """(field, judged, correct) per schema field over the window's labelled examples (one aggregate)."""
    names = [spec.name for spec in process.field_specs if "__" not in spec.name]
    if not names:
        return []
    aggregates = {}
    for i, name in enumerate(names):
        aggregates[f"judged_{i}"] = Count("id", filter=Q(**{f"field_correct__{name}__isnull": False}))
        aggregates[f"correct_{i}"] = Count("id", filter=Q(**{f"field_correct__{name}": True}))
    row = _examples(process, window).aggregate(**aggregates)
    return [(name, row[f"judged_{i}"], row[f"correct_{i}"]) for i, name in enumerate(names)]


def reviewer_throughput(process: Process, window: Window) -> dict:
    """Decisions of the window: count, total and mean seconds (one aggregate)."""
    decisions = Decision.objects.filter(
        document__process=process, created_at__gte=window.since, created_at__lt=window.until
    )
    if window.agent_version_id is not None:
        decisions = decisions.filter(task__agent_run__agent_version_id=window.agent_version_id)
    return decisions.aggregate(
        decided=Count("id"), seconds=Sum("seconds_spent"), mean_seconds=Avg("seconds_spent")
    )


def queue_depth(process: Process, *, now: datetime | None = None) -> list[dict]:
    """Live review tasks per queue of the process, now: count and the oldest's creation (one GROUP BY)."""
    rows = (
        ReviewTask.objects.filter(queue__process=process, state__in=ReviewTask.LIVE_STATES)
        .values("queue__name", "queue__kind")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by("queue__kind")
    )
    now = now or timezone.now()
    return [
        {
            "queue": row["queue__name"],
            "kind": row["queue__kind"],
            "depth": row["n"],
            "oldest_age_hours": (now - row["oldest"]).total_seconds() / 3600 if row["oldest"] else None,
        }
        for row in rows
    ]


def window_simulation(process: Process, window: Window) -> stats.Simulation:
    """threshold_simulation over `window`, narrowed to its agent version if it names one (four queries)."""
    runs = AgentRun.objects.filter(
        document__process=process, created_at__gte=window.since, created_at__lt=window.until
    ).exclude(outcome=AgentRun.Outcome.PENDING)
    decisions = Decision.objects.filter(document__process=process, created_at__gte=window.since)
    if window.agent_version_id is not None:
        runs = runs.filter(agent_version_id=window.agent_version_id)
        decisions = decisions.filter(task__agent_run__agent_version_id=window.agent_version_id)
    total = runs.aggregate(n=Count("id"))["n"]
    rows = (
        runs.filter(error_code="", validation_errors={}, overall_confidence__isnull=False)
        .annotate(bin=percent_bin("overall_confidence"))
        .values("bin")
        .annotate(n=Count("id"))
        .order_by()
    )
    return stats.simulate_thresholds(
        label_bins=simulator_bins(process, since=window.since, agent_version_id=window.agent_version_id),
        run_bins={max(0, int(r["bin"])): r["n"] for r in rows},
        total_runs=total,
        days=window.days,
        audit_sample_rate=float(process.audit_sample_rate),
        target_accuracy=float(process.target_accuracy),
        current_threshold=float(process.confidence_threshold),
        seconds_per_item=decisions.aggregate(s=Avg("seconds_spent"))["s"],
    )


@dataclass(frozen=True)
class CandidateCost:
    """What a candidate threshold would cost per document: the agent's cost plus reviewer time."""

    threshold: float
    automation_rate: float
    agent_cost: float
    reviewer_cost: float

    @property
    def total(self) -> float:
        return self.agent_cost + self.reviewer_cost


def candidate_costs(
    simulation: stats.Simulation, *, agent_cost_per_run: float, hourly_rate: float
) -> list[CandidateCost]:
    """Fully loaded cost per document at each candidate threshold (pure: no query)."""
    seconds = simulation.seconds_per_item or 0.0
    return [
        CandidateCost(
            threshold=row.threshold,
            automation_rate=row.automation_rate,
            agent_cost=agent_cost_per_run,
            reviewer_cost=(1 - row.automation_rate) * seconds / 3600 * hourly_rate,
        )
        for row in simulation.rows
    ]


@dataclass(frozen=True)
class Evaluation:
    """Everything the evaluation page shows, for one process (or one of its versions) over a window."""

    window: Window
    runs: int
    auto_accepted: int
    agent_cost: float
    tokens: int
    exceptions: list[tuple[str, str, int]]
    audited: stats.Estimate
    fields: list[tuple[str, int, int, stats.Estimate]]
    reliability: list[stats.ReliabilityBin]
    ece: float | None
    decided: int
    reviewer_seconds: float
    mean_seconds: float | None
    queues: list[dict]
    hourly_rate: float
    simulation: stats.Simulation
    costs: list[CandidateCost] = field(default_factory=list)

    @property
    def automation_rate(self) -> float | None:
        return self.auto_accepted / self.runs if self.runs else None

    @property
    def items_per_hour(self) -> float | None:
        return self.decided / (self.reviewer_seconds / 3600) if self.reviewer_seconds else None

    @property
    def reviewer_cost(self) -> float:
        return self.reviewer_seconds / 3600 * self.hourly_rate

    @property
    def cost_per_document(self) -> float | None:
        return (self.agent_cost + self.reviewer_cost) / self.runs if self.runs else None


def evaluation(process: Process, window: Window, *, hourly_rate: float) -> Evaluation:
    """The evaluation of a process over a window: eleven aggregate queries, whatever the volume."""
    totals = run_totals(process, window)
    labels = dict(Reason.CHOICES)
    exceptions = sorted(exceptions_by_reason(process, window).items(), key=lambda item: -item[1])
    reliability = reliability_bins(process, since=window.since, agent_version_id=window.agent_version_id)
    throughput = reviewer_throughput(process, window)
    simulation = window_simulation(process, window)
    runs, agent_cost = totals["runs"], float(totals["cost"] or 0)
    return Evaluation(
        window=window,
        runs=runs,
        auto_accepted=totals["auto_accepted"],
        agent_cost=agent_cost,
        tokens=totals["tokens"] or 0,
        exceptions=[(code, labels.get(code, code or "unknown"), n) for code, n in exceptions],
        audited=audited_accuracy(process, window),
        fields=[
            (name, judged, correct, _proportion(correct, judged))
            for name, judged, correct in field_accuracy(process, window)
        ],
        reliability=reliability,
        ece=stats.expected_calibration_error(reliability),
        decided=throughput["decided"],
        reviewer_seconds=throughput["seconds"] or 0.0,
        mean_seconds=throughput["mean_seconds"],
        queues=queue_depth(process, now=window.until),
        hourly_rate=hourly_rate,
        simulation=simulation,
        costs=candidate_costs(
            simulation, agent_cost_per_run=agent_cost / runs if runs else 0.0, hourly_rate=hourly_rate
        ),
    )


def _proportion(successes: int, n: int) -> stats.Estimate:
    lower, upper = stats.wilson_interval(successes, n)
    return stats.Estimate(successes / n if n else None, lower, upper, n, float(n))
