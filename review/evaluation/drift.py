"""The drift guard: take autonomy back from a process whose audited accuracy falls below its target.

Evidence counts only from the process's latest promotion to autonomous mode, read from the trail
(the config.autonomy_changed entry whose autonomy_mode change ends in "autonomous"), so the audit
samples that caused a demotion cannot demote the process again after a human re-promotes it.
Re-promotion is always a person's decision: the guard only ever demotes, to shadow mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max, QuerySet

from agents.models import Process
from review.configuration import change_autonomy
from review.evaluation import queries, stats
from review.models import TrailEntry
from review.trail import Action, System

GUARD = System("drift guard")


def promoted_at(process: Process) -> datetime | None:
    """When the process last became autonomous, from the trail; None if the trail never saw it."""
    return (
        _mode_changes(process.pk)
        .filter(data__changes__autonomy_mode__1=Process.Mode.AUTONOMOUS)
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )


def check_drift(process: Process) -> stats.DriftCheck | None:
    """Demote an autonomous process to shadow when its audited accuracy is shown to miss the target.

    Locks the process row, so a concurrent human change is either seen or waits. Returns the check
    (None when the process is not autonomous). On demotion writes one config.autonomy_changed
    entry, actor "drift guard", with the evidence under data["evidence"].
    """
    with transaction.atomic():
        locked = Process.objects.select_for_update().get(pk=process.pk)
        if locked.autonomy_mode != Process.Mode.AUTONOMOUS:
            return None
        since = promoted_at(locked)
        check = queries.drift_check(locked, since=since)
        if check.triggered:
            since_text = since.isoformat() if since else None
            evidence = check.evidence() | {"since": since_text, "reason": check.reason}
            change_autonomy(
                process=locked,
                changes={"autonomy_mode": Process.Mode.SHADOW},
                actor=GUARD,
                evidence=evidence,
            )
            process.autonomy_mode = locked.autonomy_mode
    return check


def check_all_autonomous() -> list[str]:
    """Run the guard on every autonomous process; returns the slugs of those it demoted."""
    demoted = []
    for process in Process.objects.filter(autonomy_mode=Process.Mode.AUTONOMOUS).order_by("pk"):
        check = check_drift(process)
        if check is not None and check.triggered:
            demoted.append(process.slug)
    return demoted


@dataclass(frozen=True)
class Banner:
    """A demotion by the guard that no person has answered yet (the process is still not autonomous)."""

    process: Process
    demoted_at: datetime
    evidence: dict


def banners(processes: QuerySet[Process]) -> list[Banner]:
    """Per process, its latest mode change if the guard made it and the mode is still not autonomous.

    One query for the processes, one for their latest mode changes.
    """
    by_pk = {p.pk: p for p in processes.exclude(autonomy_mode=Process.Mode.AUTONOMOUS)}
    if not by_pk:
        return []
    newest = _mode_changes(list(by_pk)).values("process_id").annotate(seq=Max("seq")).values("seq")
    latest = TrailEntry.objects.filter(seq__in=newest).only(
        "process_id", "created_at", "actor_kind", "actor_label", "data"
    )
    return [
        Banner(by_pk[e.process_id], e.created_at, e.data.get("evidence", {}))
        for e in latest
        if e.actor_kind == "system" and e.actor_label == GUARD.name
    ]


def _mode_changes(process_ids: int | list[int]) -> QuerySet[TrailEntry]:
    ids = [process_ids] if isinstance(process_ids, int) else process_ids
    return TrailEntry.objects.filter(
        action=Action.AUTONOMY_CHANGED, process_id__in=ids, data__changes__has_key="autonomy_mode"
    )
