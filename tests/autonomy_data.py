"""Synthetic labelled data for the autonomy, simulator, evaluation and drift-guard tests."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import AgentRun, AgentVersion, Document, Process
from review.models import Decision, LabelledExample, Queue, ReviewTask

_counter = itertools.count(1)

Row = tuple[float, bool, str]  # (overall confidence, all fields correct, route reason)


def seed_examples(
    process: Process,
    reviewer: User,
    rows: list[Row],
    *,
    audit_rate: float = 0.05,
    version: AgentVersion | None = None,
    created_at: datetime | None = None,
    seconds: float = 30.0,
    cost: str = "0.002",
) -> None:
    """Documents, their runs, decided tasks, decisions and labelled examples, in bulk."""
    now = timezone.now()
    queue = Queue.objects.get(process=process, kind=Queue.Kind.REVIEW)
    base = next(_counter) * 1_000_000
    docs = Document.objects.bulk_create(
        Document(
            process=process, source="demo", original_name=f"s{i}.txt", content_type="text/plain", size=1,
            file="x", checksum=f"{base + i:064d}", state=Document.State.ACCEPTED,
        )
        for i in range(len(rows))
    )  # fmt: skip
    runs = AgentRun.objects.bulk_create(
        AgentRun(
            document=doc, agent_version=version, overall_confidence=c, route_reason=reason,
            outcome=AgentRun.Outcome.REVIEW, cost=cost, prompt_tokens=100, completion_tokens=20,
        )
        for doc, (c, _, reason) in zip(docs, rows, strict=True)
    )  # fmt: skip
    tasks = ReviewTask.objects.bulk_create(
        ReviewTask(document=doc, queue=queue, agent_run=run, reason=row[2], state="decided", due_at=now)
        for doc, run, row in zip(docs, runs, rows, strict=True)
    )
    decisions = Decision.objects.bulk_create(
        Decision(
            task=task, document=task.document, reviewer=reviewer, seconds_spent=seconds, claimed_at=now,
            action="approve" if row[1] else "correct",
        )
        for task, row in zip(tasks, rows, strict=True)
    )  # fmt: skip
    examples = LabelledExample.objects.bulk_create(
        LabelledExample(
            process=process, document=d.document, decision=d, agent_run=run, agent_version=version,
            outcome="approved" if ok else "corrected", overall_confidence=c, all_correct=ok,
            field_correct={"total": ok, "vendor": True}, route_reason=reason,
            audit_sample_rate=audit_rate if reason == Reason.AUDIT_SAMPLE else None,
        )
        for d, run, (c, ok, reason) in zip(decisions, runs, rows, strict=True)
    )  # fmt: skip
    if created_at is not None:
        LabelledExample.objects.filter(pk__in=[e.pk for e in examples]).update(created_at=created_at)
        AgentRun.objects.filter(pk__in=[r.pk for r in runs]).update(created_at=created_at)
        Decision.objects.filter(pk__in=[d.pk for d in decisions]).update(created_at=created_at)


def shadow_data(process: Process, reviewer: User, **kwargs) -> None:
    """Enough reviewed data for a recommendation: 0.60 is 30% wrong, 0.95 never is -> recommends 0.61."""
    low = [(0.60, i % 10 >= 3, Reason.SHADOW_MODE) for i in range(400)]
    high = [(0.95, True, Reason.SHADOW_MODE)] * 300
    seed_examples(process, reviewer, low + high, **kwargs)


def audit_samples(process: Process, reviewer: User, *, n: int, correct_every: int = 0, **kwargs) -> None:
    """n audit samples at 0.97; every `correct_every`-th one wrong (0: all correct)."""
    rows = [(0.97, not (correct_every and i % correct_every == 0), Reason.AUDIT_SAMPLE) for i in range(n)]
    seed_examples(process, reviewer, rows, **kwargs)
