"""Decisions: approve, correct, reject, escalate; labelled examples; trail entries; misuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import Document
from review import claims, decisions
from review.claims import LeaseLost
from review.decisions import CannotEscalate, InvalidFields
from review.models import Decision, LabelledExample, Queue, ReviewTask, TrailEntry
from tests.reviewing import INVOICE_OUTPUT, make_task, media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")


def claim(task: ReviewTask, user) -> ReviewTask:
    claimed = claims.claim_next_task(queue=task.queue, reviewer=user)
    assert claimed.pk == task.pk
    return claimed


def test_approve_accepts_the_agent_fields_and_records_who_when_and_how_long(alice, invoices):
    task = claim(make_task(invoices), alice)
    ReviewTask.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(seconds=42))
    task.refresh_from_db()

    decision = decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    assert decision.action == Decision.Action.APPROVE and decision.reviewer == alice
    assert 41 < decision.seconds_spent < 60
    assert decision.final_fields == INVOICE_OUTPUT | {"total": "192"}  # canonical decimal
    assert decision.changes == {}
    document = Document.objects.get(pk=task.document_id)
    assert document.state == Document.State.ACCEPTED and document.final_fields == decision.final_fields
    task.refresh_from_db()
    assert task.state == ReviewTask.State.DECIDED and task.decided_at is not None and task.lease_token is None


def test_approval_becomes_a_labelled_example_with_every_field_correct(alice, invoices):
    task = claim(make_task(invoices), alice)

    decision = decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    example = LabelledExample.objects.get(decision=decision)
    assert example.outcome == LabelledExample.Outcome.APPROVED
    assert example.agent_output == INVOICE_OUTPUT and example.agent_confidences["date"] == 0.55
    assert example.human_fields == decision.final_fields
    assert example.field_correct == {name: True for name in INVOICE_OUTPUT} and example.all_correct is True
    assert example.agent_version == task.agent_run.agent_version and example.agent_version is not None
    assert example.route_reason == Reason.LOW_CONFIDENCE and example.audit_sample_rate is None


def test_approval_writes_a_trail_entry_with_before_after_and_time(alice, invoices):
    task = claim(make_task(invoices), alice)

    decision = decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    entry = TrailEntry.objects.get(action="decision.approved")
    assert entry.actor_label == "alice" and entry.document_id == task.document_id
    assert entry.data["before"] == INVOICE_OUTPUT and entry.data["after"] == decision.final_fields
    assert entry.data["decision"] == decision.pk and entry.data["seconds_spent"] == decision.seconds_spent


def test_correction_records_before_and_after_and_per_field_flags(alice, invoices):
    task = claim(make_task(invoices), alice)
    values = INVOICE_OUTPUT | {"total": "1,920.50", "date": "2024-03-15"}

    decision = decisions.correct_task(task=task, reviewer=alice, lease_token=task.lease_token, values=values)

    assert decision.action == Decision.Action.CORRECT
    assert decision.changes == {"total": ["192.00", "1920.50"], "date": ["2024-03-14", "2024-03-15"]}
    assert decision.final_fields["total"] == "1920.50"
    example = decision.example
    assert example.outcome == LabelledExample.Outcome.CORRECTED and example.all_correct is False
    assert example.field_correct == {
        "vendor": True,
        "invoice_number": True,
        "date": False,
        "total": False,
        "currency": True,
    }
    assert example.human_fields == decision.final_fields
    entry = TrailEntry.objects.get(action="decision.corrected")
    assert entry.data["changes"] == {"total": ["192.00", "1920.50"], "date": ["2024-03-14", "2024-03-15"]}
    assert Document.objects.get(pk=task.document_id).final_fields["total"] == "1920.50"


def test_a_correction_without_changes_counts_as_an_approval(alice, invoices):
    task = claim(make_task(invoices), alice)

    decision = decisions.correct_task(
        task=task, reviewer=alice, lease_token=task.lease_token, values=INVOICE_OUTPUT
    )

    assert decision.action == Decision.Action.APPROVE and decision.example.outcome == "approved"


def test_a_correction_with_a_value_of_the_wrong_type_changes_nothing(alice, invoices):
    task = claim(make_task(invoices), alice)

    with pytest.raises(InvalidFields) as raised:
        decisions.correct_task(
            task=task,
            reviewer=alice,
            lease_token=task.lease_token,
            values=INVOICE_OUTPUT | {"total": "twelve", "date": "14/03/2024"},
        )

    assert set(raised.value.errors) == {"total", "date"}
    assert not Decision.objects.exists() and not LabelledExample.objects.exists()
    assert ReviewTask.objects.get(pk=task.pk).state == ReviewTask.State.CLAIMED
    assert Document.objects.get(pk=task.document_id).state == Document.State.IN_REVIEW


def test_a_correction_naming_a_field_outside_the_schema_is_refused(alice, invoices):
    task = claim(make_task(invoices), alice)

    with pytest.raises(InvalidFields) as raised:
        decisions.correct_task(
            task=task, reviewer=alice, lease_token=task.lease_token, values=INVOICE_OUTPUT | {"iban": "GB00"}
        )

    assert raised.value.errors == {"iban": ["is not a field of this process"]}
    assert not Decision.objects.exists()


def test_approving_output_that_fails_the_schema_is_refused(alice, invoices):
    task = claim(
        make_task(invoices, output=INVOICE_OUTPUT | {"total": None}, reason=Reason.VALIDATION_FAILED), alice
    )

    with pytest.raises(InvalidFields) as raised:
        decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    assert raised.value.errors == {"total": ["is required"]}
    assert not Decision.objects.exists()


def test_reject_closes_the_document_and_is_recorded_as_a_rejection(alice, invoices):
    task = claim(make_task(invoices), alice)

    decision = decisions.reject_task(
        task=task, reviewer=alice, lease_token=task.lease_token, reason=" Not an invoice "
    )

    assert decision.action == Decision.Action.REJECT and decision.note == "Not an invoice"
    assert decision.final_fields is None
    example = decision.example
    assert example.outcome == LabelledExample.Outcome.REJECTED
    assert example.human_fields is None and example.field_correct == {} and example.all_correct is None
    assert Document.objects.get(pk=task.document_id).state == Document.State.REJECTED
    assert TrailEntry.objects.get(action="decision.rejected").data["note"] == "Not an invoice"


def test_escalate_moves_the_item_to_the_specialists_with_the_note(alice, sam, invoices):
    task = claim(make_task(invoices, priority=1), alice)

    decision = decisions.escalate_task(
        task=task, reviewer=alice, lease_token=task.lease_token, note="Two totals on the page; which one?"
    )

    assert decision.action == Decision.Action.ESCALATE and decision.example.outcome == "escalated"
    assert decision.example.human_fields is None
    assert ReviewTask.objects.get(pk=task.pk).state == ReviewTask.State.ESCALATED
    follow_up = ReviewTask.objects.get(escalated_from=task)
    assert follow_up.queue.kind == Queue.Kind.ESCALATION and follow_up.queue.process == invoices
    assert follow_up.state == ReviewTask.State.OPEN and follow_up.note == "Two totals on the page; which one?"
    assert follow_up.agent_run_id == task.agent_run_id and follow_up.priority == 1
    assert Document.objects.get(pk=task.document_id).state == Document.State.IN_REVIEW
    entry = TrailEntry.objects.get(action="decision.escalated")
    assert entry.data["escalated_to"] == {"task": follow_up.pk, "queue": "invoice-extraction-escalation"}


def test_the_specialist_resolves_an_escalation(alice, sam, invoices):
    task = claim(make_task(invoices), alice)
    decisions.escalate_task(task=task, reviewer=alice, lease_token=task.lease_token, note="check total")
    follow_up = claims.claim_next_task(
        queue=Queue.objects.get(slug="invoice-extraction-escalation"), reviewer=sam
    )

    decision = decisions.correct_task(
        task=follow_up,
        reviewer=sam,
        lease_token=follow_up.lease_token,
        values=INVOICE_OUTPUT | {"total": "160.5"},
    )

    assert decision.example.outcome == "corrected" and decision.example.field_correct["total"] is False
    document = Document.objects.get(pk=task.document_id)
    assert document.state == Document.State.ACCEPTED and document.final_fields["total"] == "160.5"


def test_an_escalated_item_cannot_be_escalated_again(sam, invoices):
    task = make_task(invoices, kind=Queue.Kind.ESCALATION)
    task = claim(task, sam)

    with pytest.raises(CannotEscalate):
        decisions.escalate_task(task=task, reviewer=sam, lease_token=task.lease_token, note="again")
    assert not Decision.objects.exists()


def test_a_double_submit_records_one_decision(alice, invoices):
    task = claim(make_task(invoices), alice)
    decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    with pytest.raises(LeaseLost):
        decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)
    with pytest.raises(LeaseLost):
        decisions.reject_task(task=task, reviewer=alice, lease_token=task.lease_token, reason="x")

    assert Decision.objects.count() == 1 and LabelledExample.objects.count() == 1
    assert TrailEntry.objects.filter(action__startswith="decision.").count() == 1


def test_someone_who_does_not_hold_the_claim_cannot_decide(alice, invoices):
    from tests.conftest import make_user

    task = claim(make_task(invoices), alice)
    colleague = make_user("carol", "reviewer")

    with pytest.raises(LeaseLost):
        decisions.approve_task(task=task, reviewer=colleague, lease_token=task.lease_token)
    assert not Decision.objects.exists()


def test_an_audit_sample_keeps_its_sample_rate_for_weighting(alice, invoices):
    confident = {name: 0.99 for name in INVOICE_OUTPUT}
    task = claim(make_task(invoices, reason=Reason.AUDIT_SAMPLE, confidences=confident), alice)

    decision = decisions.approve_task(task=task, reviewer=alice, lease_token=task.lease_token)

    assert decision.example.route_reason == Reason.AUDIT_SAMPLE
    assert decision.example.audit_sample_rate == pytest.approx(0.05)
