"""Decisions on review tasks: approve, correct, reject, escalate.

Each is one transaction: a compare-and-set closes the claimed task (so a double submit or a
replay finds nothing to close and raises LeaseLost), then the Decision, its LabelledExample,
the document's new state (through agents.services.finish_review) and the trail entry are
written together. An escalation leaves the document in review and opens a task in the
process's escalation queue carrying the note.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from agents import services as agent_services
from agents.autonomy import Reason
from agents.providers.base import FieldSpec
from agents.validation import FieldValueError, canonical_value, comparable_value
from review import trail
from review.claims import LeaseLost, as_uuid
from review.models import Decision, LabelledExample, Queue, ReviewTask
from review.trail import Action

Token = uuid.UUID | str | None


class InvalidFields(ValueError):
    """Final values that do not fit the process's schema: {field: [message]} for the person."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in errors.items()))
        self.errors = errors


class CannotEscalate(ValueError):
    """The task is already in an escalation queue, or its process has none."""


TRAIL_ACTION = {
    Decision.Action.APPROVE: Action.DECISION_APPROVED,
    Decision.Action.CORRECT: Action.DECISION_CORRECTED,
    Decision.Action.REJECT: Action.DECISION_REJECTED,
    Decision.Action.ESCALATE: Action.DECISION_ESCALATED,
}
OUTCOME = {
    Decision.Action.APPROVE: LabelledExample.Outcome.APPROVED,
    Decision.Action.CORRECT: LabelledExample.Outcome.CORRECTED,
    Decision.Action.REJECT: LabelledExample.Outcome.REJECTED,
    Decision.Action.ESCALATE: LabelledExample.Outcome.ESCALATED,
}


def final_values(specs: tuple[FieldSpec, ...], values: dict[str, Any]) -> dict[str, str | None]:
    """The canonical final fields for `values`; raises InvalidFields for bad types or unknown names."""
    errors: dict[str, list[str]] = {}
    final: dict[str, str | None] = {}
    for spec in specs:
        try:
            final[spec.name] = canonical_value(spec, values.get(spec.name))
        except FieldValueError as exc:
            errors[spec.name] = [str(exc)]
    known = {spec.name for spec in specs}
    for name in values:
        if name not in known:
            errors[name] = ["is not a field of this process"]
    if errors:
        raise InvalidFields(errors)
    return final


def approve_task(*, task: ReviewTask, reviewer: User, lease_token: Token) -> Decision:
    """Accept the agent's fields as final. Raises InvalidFields when they do not pass the schema
    (the reviewer must correct them), LeaseLost when the claim is no longer theirs."""
    specs = task.document.process.field_specs
    final = final_values(specs, _agent_output(task, specs))
    return _decide(
        task=task, reviewer=reviewer, lease_token=lease_token, action=Decision.Action.APPROVE, final=final
    )


def correct_task(*, task: ReviewTask, reviewer: User, lease_token: Token, values: dict[str, Any]) -> Decision:
    """Accept the reviewer's values as final. Values equal to the agent's count as an approval.

    Raises InvalidFields (wrong type, unknown field) or LeaseLost.
    """
    specs = task.document.process.field_specs
    final = final_values(specs, values)
    changed = _changes(specs, _agent_output(task, specs), final)
    action = Decision.Action.CORRECT if changed else Decision.Action.APPROVE
    return _decide(task=task, reviewer=reviewer, lease_token=lease_token, action=action, final=final)


def reject_task(*, task: ReviewTask, reviewer: User, lease_token: Token, reason: str) -> Decision:
    """Reject the document (with the reviewer's reason). Raises LeaseLost."""
    return _decide(
        task=task,
        reviewer=reviewer,
        lease_token=lease_token,
        action=Decision.Action.REJECT,
        final=None,
        note=reason.strip(),
    )


def escalate_task(*, task: ReviewTask, reviewer: User, lease_token: Token, note: str) -> Decision:
    """Send the task to its process's escalation queue with a note for the specialist.

    Raises CannotEscalate from an escalation queue, LeaseLost. The document stays in review.
    """
    if task.queue.kind == Queue.Kind.ESCALATION:
        raise CannotEscalate("this item is already with the specialists")
    target = Queue.objects.filter(process_id=task.queue.process_id, kind=Queue.Kind.ESCALATION).first()
    if target is None:
        raise CannotEscalate("this process has no escalation queue")
    return _decide(
        task=task,
        reviewer=reviewer,
        lease_token=lease_token,
        action=Decision.Action.ESCALATE,
        final=None,
        note=note.strip(),
        escalate_to=target,
    )


@transaction.atomic
def _decide(
    *,
    task: ReviewTask,
    reviewer: User,
    lease_token: Token,
    action: str,
    final: dict[str, Any] | None,
    note: str = "",
    escalate_to: Queue | None = None,
) -> Decision:
    now = timezone.now()
    new_state = ReviewTask.State.ESCALATED if escalate_to else ReviewTask.State.DECIDED
    updated = ReviewTask.objects.filter(
        pk=task.pk,
        state=ReviewTask.State.CLAIMED,
        claimed_by=reviewer,
        lease_token=as_uuid(lease_token),
        lease_expires_at__gt=now,
    ).update(state=new_state, decided_at=now, lease_token=None, lease_expires_at=None)
    if updated != 1:
        raise LeaseLost(task.pk)
    task.refresh_from_db(fields=["claimed_at", "started_at", "state", "decided_at"])
    specs = task.document.process.field_specs
    before = _agent_output(task, specs)
    changes = _changes(specs, before, final) if final is not None else {}
    started = task.started_at or task.claimed_at or now
    decision = Decision.objects.create(
        task=task,
        document=task.document,
        reviewer=reviewer,
        action=action,
        final_fields=final,
        changes=changes,
        note=note,
        seconds_spent=round((now - started).total_seconds(), 3),
        claimed_at=task.claimed_at or started,
    )
    example = record_labelled_example(task=task, decision=decision)
    escalation = None
    if escalate_to is not None:
        escalation = ReviewTask.objects.create(
            document=task.document,
            queue=escalate_to,
            agent_run=task.agent_run,
            reason=task.reason,
            policy=task.policy,
            priority=task.priority,
            due_at=task.due_at,
            note=note,
            escalated_from=task,
        )
    else:
        agent_services.finish_review(document=task.document, accepted=final is not None, final_fields=final)
    trail.record(
        TRAIL_ACTION[action],
        actor=reviewer,
        document=task.document,
        data={
            "task": task.pk,
            "queue": task.queue.slug,
            "decision": decision.pk,
            "labelled_example": example.pk,
            "before": before,
            "after": final,
            "changes": changes,
            "claimed_at": decision.claimed_at,
            "seconds_spent": decision.seconds_spent,
            "note": note,
            "route_reason": task.reason,
            "agent_version": example.agent_version_id,
            "escalated_to": {"task": escalation.pk, "queue": escalate_to.slug} if escalation else None,
        },
    )
    return decision


def record_labelled_example(*, task: ReviewTask, decision: Decision) -> LabelledExample:
    """The decision as labelled data: agent output and confidences against the human's values.

    Per-field correctness only for approvals and corrections; rejections and escalations are
    recorded as such (human_fields None). Must run inside the decision's transaction.
    """
    run = task.agent_run
    specs = task.document.process.field_specs
    output = _agent_output(task, specs)
    field_correct: dict[str, bool] = {}
    if decision.final_fields is not None:
        field_correct = {
            spec.name: comparable_value(spec, output.get(spec.name)) == decision.final_fields.get(spec.name)
            for spec in specs
        }
    policy = task.policy or (run.policy if run else {})
    rate = policy.get("audit_sample_rate") if task.reason == Reason.AUDIT_SAMPLE else None
    return LabelledExample.objects.create(
        process_id=task.document.process_id,
        document=task.document,
        decision=decision,
        agent_run=run,
        agent_version_id=run.agent_version_id if run else None,
        outcome=OUTCOME[decision.action],
        agent_output=run.output if run else {},
        agent_confidences=run.confidences if run else {},
        overall_confidence=run.overall_confidence if run else None,
        human_fields=decision.final_fields,
        field_correct=field_correct,
        all_correct=all(field_correct.values()) if field_correct else None,
        route_reason=task.reason,
        audit_sample_rate=float(rate) if rate is not None else None,
    )


def _agent_output(task: ReviewTask, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    output = task.agent_run.output if task.agent_run_id else {}
    return {spec.name: output.get(spec.name) for spec in specs}


def _changes(
    specs: tuple[FieldSpec, ...], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, list[Any]]:
    return {
        spec.name: [before.get(spec.name), after.get(spec.name)]
        for spec in specs
        if comparable_value(spec, before.get(spec.name)) != after.get(spec.name)
    }
