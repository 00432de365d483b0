"""Reads for the screens: bounded, indexed, aggregated in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents.autonomy import Reason
from agents.models import AgentRun, Document, Process
from agents.providers.base import FieldSpec
from backoffice.sql import JoinedRead, is_stored_key
from review.models import Decision, Queue, ReviewTask

PAGE_SIZE = 50


@dataclass
class ProcessSummary:
    process: Process
    by_state: dict[str, int] = field(default_factory=dict)
    waiting_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def auto_accepted(self) -> int:
        return self.by_state.get(Document.State.AUTO_ACCEPTED, 0)

    @property
    def waiting(self) -> int:
        return sum(self.waiting_by_reason.values())

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def reasons(self) -> list[tuple[str, str, int]]:
        labels = dict(Reason.CHOICES)
        return [
            (code, labels[code], self.waiting_by_reason[code])
            for code, _ in Reason.CHOICES
            if self.waiting_by_reason.get(code)
        ]


def process_summaries(process_ids: set[int]) -> list[ProcessSummary]:
    """Per process: documents by state, and live review tasks by reason. Two grouped queries."""
    summaries = {p.pk: ProcessSummary(p) for p in Process.objects.filter(pk__in=process_ids).order_by("name")}
    by_state = (
        Document.objects.filter(process_id__in=process_ids)
        .values("process_id", "state")
        .annotate(n=Count("id"))
    )
    for row in by_state:
        summaries[row["process_id"]].by_state[row["state"]] = row["n"]
    waiting = (
        ReviewTask.objects.filter(queue__process_id__in=process_ids, state__in=ReviewTask.LIVE_STATES)
        .values("queue__process_id", "reason")
        .annotate(n=Count("id"))
    )
    for row in waiting:
        summaries[row["queue__process_id"]].waiting_by_reason[row["reason"]] = row["n"]
    return list(summaries.values())


def document_page(
    documents: QuerySet[Document],
    *,
    process: Process | None = None,
    state: str = "",
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> tuple[list[Document], int | None]:
    """One page of `documents`, newest first, keyset-paginated on id, each with its latest run
    (`latest_run`); returns (page, next cursor). Two queries whatever the page size."""
    qs = documents.select_related("process")
    if process:
        qs = qs.filter(process=process)
    if state:
        qs = qs.filter(state=state)
    if before:
        qs = qs.filter(pk__lt=before)
    newest_run = AgentRun.objects.filter(document=OuterRef("pk")).order_by("-id").values("id")[:1]
    page = list(qs.annotate(latest_run_id=Subquery(newest_run)).order_by("-pk").defer("text")[: size + 1])
    runs = AgentRun.objects.in_bulk([d.latest_run_id for d in page if d.latest_run_id])
    for document in page:
        document.latest_run = runs.get(document.latest_run_id)
    next_cursor = page[size - 1].pk if len(page) > size else None
    return page[:size], next_cursor


def document_detail(document: Document) -> dict:
    runs = list(document.runs.select_related("agent_version").order_by("-id")[:20])
    tasks = list(document.review_tasks.select_related("queue", "claimed_by").order_by("-id")[:20])
    return {"runs": runs, "tasks": tasks}


# --- Reviewers: queue home page and the review screen -------------------------------------------


@dataclass
class QueueRow:
    queue: Queue
    open_count: int = 0
    overdue_count: int = 0
    oldest_created_at: datetime | None = None
    mine_today: int = 0
    held_by_me: int = 0

    @property
    def open_capped(self) -> bool:
        return self.open_count >= COUNT_CAP

    @property
    def overdue_capped(self) -> bool:
        return self.overdue_count >= COUNT_CAP


# Counting stops at this many: a queue of a million open items shows "10,000+", and the page
# stays as fast as with a hundred (each count reads at most this many index entries).
COUNT_CAP = 10_000

QUEUE_FIGURES_SQL = f"""
SELECT q.id,
    (SELECT count(*) FROM (SELECT 1 FROM {ReviewTask._meta.db_table} t
        WHERE t.queue_id = q.id AND t.state = %s LIMIT %s) s) AS open_count,
    (SELECT count(*) FROM (SELECT 1 FROM {ReviewTask._meta.db_table} t
        WHERE t.queue_id = q.id AND t.state = %s AND t.due_at < %s LIMIT %s) s) AS overdue,
    (SELECT t.created_at FROM {ReviewTask._meta.db_table} t
        WHERE t.queue_id = q.id AND t.state = %s ORDER BY t.id LIMIT 1) AS oldest
FROM {Queue._meta.db_table} q
WHERE q.id IN ({{ids}})
"""


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """A raw cursor gives SQLite's timestamps as text (the embedded demo); PostgreSQL's as datetimes."""
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
    return value


def queue_overview(user: User, queues: QuerySet[Queue]) -> list[QueueRow]:
    """The queues a user holds with open count, overdue count (both capped at COUNT_CAP), oldest
    open item, and the user's decisions today. Three queries whatever the number of queues."""
    rows = {q.pk: QueueRow(q) for q in queues.select_related("process").order_by("process__name", "kind")}
    if not rows:
        return []
    now = timezone.now()
    state = ReviewTask.State.OPEN
    now_in_db = ReviewTask._meta.get_field("due_at").get_db_prep_value(now, connection)
    params = [state, COUNT_CAP, state, now_in_db, COUNT_CAP, state, *rows]
    with connection.cursor() as cursor:
        cursor.execute(QUEUE_FIGURES_SQL.format(ids=", ".join(["%s"] * len(rows))), params)
        for queue_id, open_count, overdue, oldest in cursor.fetchall():
            rows[queue_id].open_count, rows[queue_id].overdue_count = open_count, overdue
            rows[queue_id].oldest_created_at = _as_datetime(oldest)
    held = (
        ReviewTask.objects.filter(queue_id__in=rows, state=ReviewTask.State.CLAIMED, claimed_by=user)
        .values("queue_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in held:
        rows[row["queue_id"]].held_by_me = row["n"]
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    mine = (
        Decision.objects.filter(reviewer=user, created_at__gte=start_of_day, task__queue_id__in=rows)
        .values("task__queue_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in mine:
        rows[row["task__queue_id"]].mine_today = row["n"]
    return list(rows.values())


SCREEN_READ = JoinedRead(
    ReviewTask, "queue__process", "document__process", "agent_run__agent_version", "claimed_by"
)
TASK_FOR_SCREEN_SQL = f"{SCREEN_READ.select} WHERE t0.id = %s"


def task_for_screen(pk: int) -> ReviewTask:
    """A task with everything the review screen shows, in one prepared statement (see
    permissions.get_task_for_user for why it is written by hand)."""
    task = SCREEN_READ.fetch(TASK_FOR_SCREEN_SQL, [pk]) if is_stored_key(pk) else None
    if task is None:
        raise ReviewTask.DoesNotExist(f"no review task {pk}")
    return task


@dataclass(frozen=True)
class FieldRow:
    spec: FieldSpec
    value: Any
    confidence: float | None
    method: str
    flagged: bool  # below its threshold, failed validation, or missing
    why: str  # why this field needs a look, for the person
    errors: tuple[str, ...]

    @property
    def confidence_band(self) -> str:
        if self.confidence is None:
            return "low"
        return "high" if self.confidence >= 0.9 else "mid" if self.confidence >= 0.7 else "low"


def field_rows(task: ReviewTask) -> list[FieldRow]:
    """The agent's fields for the review screen, the ones needing a look first (lowest confidence first)."""
    run = task.agent_run
    output = run.output if run else {}
    confidences = run.confidences if run else {}
    methods = run.confidence_methods if run else {}
    errors = run.validation_errors if run else {}
    policy = task.policy or {}
    low = set(policy.get("low_fields", ()))
    rows = []
    for spec in task.document.process.field_specs:
        confidence = confidences.get(spec.name)
        field_errors = tuple(errors.get(spec.name, ()))
        threshold = (policy.get("field_thresholds") or {}).get(spec.name, policy.get("threshold"))
        if field_errors:
            why = "failed validation: " + "; ".join(field_errors)
        elif spec.name in low:
            why = f"confidence below the threshold {threshold}" if threshold else "low confidence"
        elif confidence is None:
            why = "no confidence reported"
        else:
            why = ""
        rows.append(
            FieldRow(
                spec,
                output.get(spec.name),
                confidence,
                methods.get(spec.name, ""),
                bool(why),
                why,
                field_errors,
            )
        )
    return sorted(rows, key=lambda r: (not r.flagged, r.confidence if r.confidence is not None else -1.0))


# --- Agent spend: cost and tokens of agent runs ---------------------------------------------------

SPEND_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Spend:
    cost: Decimal = Decimal("0")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    runs: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _spend_rows(runs: QuerySet[AgentRun], key: str) -> QuerySet:
    return (
        runs.values(key)
        .annotate(
            # Names differ from the columns': an annotation may not shadow a model field.
            spent=Sum("cost"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            runs=Count("id"),
        )
        .order_by()
    )


def _spend(row: dict[str, Any]) -> Spend:
    return Spend(row["spent"] or Decimal("0"), row["prompt"] or 0, row["completion"] or 0, row["runs"])


def _runs_in_window(since: datetime | None, until: datetime | None) -> QuerySet[AgentRun]:
    runs = AgentRun.objects.filter(created_at__gte=since or timezone.now() - SPEND_WINDOW)
    return runs.filter(created_at__lt=until) if until else runs


def spend_by_process(
    process_ids: set[int], *, since: datetime | None = None, until: datetime | None = None
) -> dict[int, Spend]:
    """Cost, tokens and run count of agent runs per process, from `since` (default 30 days ago) to
    `until` (default now). Failed runs and retries count: they were paid for. One grouped query."""
    rows = _spend_rows(
        _runs_in_window(since, until).filter(document__process_id__in=process_ids), "document__process_id"
    )
    return {row["document__process_id"]: _spend(row) for row in rows}


def spend_by_document(
    process_ids: set[int],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    document_ids: list[int] | None = None,
    limit: int = PAGE_SIZE,
) -> list[tuple[int, Spend]]:
    """(document id, spend) of the costliest documents of these processes in the window, costliest
    first (re-runs of a document add up), optionally only `document_ids`. One grouped query."""
    runs = _runs_in_window(since, until).filter(document__process_id__in=process_ids)
    if document_ids is not None:
        runs = runs.filter(document_id__in=document_ids)
    rows = _spend_rows(runs, "document_id").order_by("-spent", "-document_id")[:limit]
    return [(row["document_id"], _spend(row)) for row in rows]
