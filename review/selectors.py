"""Reads for the screens: bounded, indexed, aggregated in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet

from agents.autonomy import Reason
from agents.models import AgentRun, Document, Process
from review.models import ReviewTask

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
        return [(code, labels[code], self.waiting_by_reason[code]) for code, _ in Reason.CHOICES
                if self.waiting_by_reason.get(code)]


def process_summaries(process_ids: set[int]) -> list[ProcessSummary]:
    """Per process: documents by state, and live review tasks by reason. Two grouped queries."""
    summaries = {p.pk: ProcessSummary(p) for p in Process.objects.filter(pk__in=process_ids).order_by("name")}
    by_state = Document.objects.filter(process_id__in=process_ids).values("process_id", "state").annotate(n=Count("id"))
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
    process_ids: set[int], *, process: Process | None = None, state: str = "", before: int | None = None
) -> tuple[list[Document], int | None]:
    """One page of documents, newest first, keyset-paginated on id; returns (page, next cursor)."""
    qs: QuerySet[Document] = Document.objects.filter(process_id__in=process_ids).select_related("process")
    if process:
        qs = qs.filter(process=process)
    if state:
        qs = qs.filter(state=state)
    if before:
        qs = qs.filter(pk__lt=before)
    latest_runs = Prefetch("runs", queryset=AgentRun.objects.order_by("-id"), to_attr="runs_newest_first")
    page = list(qs.order_by("-pk").defer("text").prefetch_related(latest_runs)[: PAGE_SIZE + 1])
    next_cursor = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    return page[:PAGE_SIZE], next_cursor


def document_detail(document: Document) -> dict:
    runs = list(document.runs.select_related("agent_version").order_by("-id")[:20])
    tasks = list(document.review_tasks.select_related("queue", "claimed_by").order_by("-id")[:20])
    return {"runs": runs, "tasks": tasks}


def live_task_counts(queue_ids: list[int]) -> dict[int, int]:
    rows = (
        ReviewTask.objects.filter(queue_id__in=queue_ids, state__in=ReviewTask.LIVE_STATES)
        .values("queue_id")
        .annotate(n=Count("id", filter=Q(state__in=ReviewTask.LIVE_STATES)))
    )
    return {row["queue_id"]: row["n"] for row in rows}
