"""Triage: run the agent, decide, then auto-accept or route to review — once."""

from decimal import Decimal

import pytest

from agents import services
from agents.models import AgentRun, Document, Process
from agents.providers.base import ProviderError
from review import triage
from review.models import ReviewTask, TrailEntry
from tests.helpers import CLEAN_INVOICE, receive_text

pytestmark = pytest.mark.django_db


def set_policy(process: Process, **changes) -> None:
    services.set_autonomy(process=process, changes=changes)


def test_confident_document_is_accepted_with_the_agent_output_and_the_policy_recorded(invoices):
    set_policy(invoices, autonomy_mode="autonomous", confidence_threshold="0.5", audit_sample_rate="0")
    document = receive_text(invoices, CLEAN_INVOICE).document

    assert triage.triage_document(document.pk) == "auto_accepted"

    document.refresh_from_db()
    run = AgentRun.objects.get(document=document)
    assert document.state == Document.State.AUTO_ACCEPTED
    assert document.final_fields == run.output
    assert run.output["total"] == "192.00" and run.output["invoice_number"] == "INV-2024-0042"
    assert run.policy["mode"] == "autonomous" and run.policy["threshold"] == "0.500"
    assert run.policy["audit_sample_rate"] == "0.000"
    assert not ReviewTask.objects.filter(document=document).exists()
    entry = TrailEntry.objects.get(document=document, action="agent.auto_accepted")
    assert entry.data["policy"]["threshold"] == "0.500" and entry.data["output"] == run.output


def test_low_confidence_document_goes_to_the_review_queue_with_its_reason(invoices):
    set_policy(invoices, autonomy_mode="autonomous", confidence_threshold="0.999", audit_sample_rate="0")
    document = receive_text(invoices, CLEAN_INVOICE).document

    assert triage.triage_document(document.pk) == "review:low_confidence"

    task = ReviewTask.objects.get(document=document)
    assert task.reason == "low_confidence" and task.queue.slug == "invoice-extraction-review"
    assert task.policy["threshold"] == "0.999" and task.state == ReviewTask.State.OPEN
    document.refresh_from_db()
    assert document.state == Document.State.IN_REVIEW and document.final_fields is None


@pytest.mark.parametrize(
    ("mode", "rate", "reason"),
    [("manual", "0", "autonomy_off"), ("shadow", "0", "shadow_mode"), ("autonomous", "1", "audit_sample")],
)
def test_policy_reasons_route_to_review(invoices, mode, rate, reason):
    set_policy(invoices, autonomy_mode=mode, confidence_threshold="0.5", audit_sample_rate=rate)
    document = receive_text(invoices, CLEAN_INVOICE).document
    assert triage.triage_document(document.pk) == f"review:{reason}"
    assert ReviewTask.objects.get(document=document).reason == reason


def test_invalid_output_goes_to_review_even_at_threshold_zero(invoices):
    set_policy(invoices, autonomy_mode="autonomous", confidence_threshold="0", audit_sample_rate="0")
    text = "Some note with no invoice in it at all\nthanks\n"
    document = receive_text(invoices, text).document
    assert triage.triage_document(document.pk) == "review:validation_failed"
    run = AgentRun.objects.get(document=document)
    assert run.validation_errors  # e.g. total and date are required


def test_running_triage_twice_changes_nothing_the_second_time(invoices):
    document = receive_text(invoices, CLEAN_INVOICE).document
    first = triage.triage_document(document.pk)
    entries = TrailEntry.objects.count()

    assert triage.triage_document(document.pk) == "skipped"
    assert first != "skipped"
    assert AgentRun.objects.filter(document=document).count() == 1
    assert ReviewTask.objects.filter(document=document).count() <= 1
    assert TrailEntry.objects.count() == entries


def test_triage_of_a_missing_document_is_a_no_op(db):
    assert triage.triage_document(987654) == "skipped"


def test_an_agent_that_raises_leaves_the_document_in_review_with_the_error(invoices, monkeypatch):
    class Exploding:
        name = "rules"

        def run(self, spec, text):
            raise RuntimeError("boom")

    monkeypatch.setattr("agents.runtime.get_provider", lambda name: Exploding())
    set_policy(invoices, autonomy_mode="autonomous", confidence_threshold="0", audit_sample_rate="0")
    document = receive_text(invoices, CLEAN_INVOICE).document

    assert triage.triage_document(document.pk) == "review:agent_error"

    run = AgentRun.objects.get(document=document)
    assert run.error_code == "agent_crashed" and "boom" in run.error_message
    assert ReviewTask.objects.get(document=document).reason == "agent_error"
    document.refresh_from_db()
    assert document.state == Document.State.IN_REVIEW


def test_a_provider_error_is_recorded_with_its_code(invoices, monkeypatch):
    class TimingOut:
        name = "rules"

        def run(self, spec, text):
            raise ProviderError("timeout", "no answer in 20 s", attempts=[{"error": "timeout"}])

    monkeypatch.setattr("agents.runtime.get_provider", lambda name: TimingOut())
    document = receive_text(invoices, CLEAN_INVOICE).document
    triage.triage_document(document.pk)
    run = AgentRun.objects.get(document=document)
    assert (run.error_code, run.attempts) == ("timeout", [{"error": "timeout"}])
    assert run.outcome == AgentRun.Outcome.REVIEW and run.route_reason == "agent_error"


def test_a_process_without_an_active_version_routes_to_review(invoices):
    invoices.versions.update(is_active=False)
    set_policy(invoices, autonomy_mode="autonomous", confidence_threshold="0", audit_sample_rate="0")
    document = receive_text(invoices, CLEAN_INVOICE).document
    assert triage.triage_document(document.pk) == "review:agent_error"
    assert AgentRun.objects.get(document=document).error_code == "no_active_version"


def test_stalled_documents_are_put_back_for_triage(invoices):
    from datetime import timedelta

    from django.utils import timezone

    document = receive_text(invoices, CLEAN_INVOICE).document
    assert services.begin_processing(document.pk) is not None  # a worker took it, then died
    Document.objects.filter(pk=document.pk).update(processing_started_at=timezone.now() - timedelta(hours=1))

    assert services.requeue_stalled(older_than=timedelta(minutes=10)) == [document.pk]
    assert triage.triage_document(document.pk) != "skipped"


def test_the_audit_draw_recorded_on_the_run_is_the_documents_own(invoices):
    set_policy(
        invoices, autonomy_mode="autonomous", confidence_threshold="0", audit_sample_rate=Decimal("0.5")
    )
    document = receive_text(invoices, CLEAN_INVOICE).document
    triage.triage_document(document.pk)
    from agents.autonomy import audit_draw

    assert AgentRun.objects.get(document=document).audit_draw == pytest.approx(
        audit_draw(invoices.slug, document.checksum)
    )


def test_a_failed_attempt_puts_the_document_back_and_the_retry_reuses_the_paid_run(invoices, monkeypatch):
    from django.db import OperationalError

    document = receive_text(invoices, CLEAN_INVOICE).document
    real_act = triage.act_on_run
    calls = {"provider": 0}

    def flaky_act(run):
        monkeypatch.setattr(triage, "act_on_run", real_act)  # the next attempt succeeds
        raise OperationalError("connection lost")

    monkeypatch.setattr(triage, "act_on_run", flaky_act)
    with pytest.raises(OperationalError):
        triage.triage_document(document.pk)
    document.refresh_from_db()
    assert document.state == Document.State.RECEIVED  # not stranded in processing

    from agents import runtime

    def counting_run_agent(doc, version=None):
        calls["provider"] += 1
        return runtime.run_agent(doc, version)

    monkeypatch.setattr(triage.runtime, "run_agent", counting_run_agent)
    assert triage.triage_document(document.pk) != "skipped"
    assert calls["provider"] == 0  # the first attempt's run was used, not paid for again
    assert AgentRun.objects.filter(document=document).count() == 1


def test_the_policy_read_lets_only_its_own_transaction_commit_without_waiting_for_disk(
    invoices, transactional_db
):
    from django.db import connection, transaction

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    with transaction.atomic():
        process = triage._process_committing_without_waiting_for_disk(invoices.pk)
        assert (process.pk, process.slug, synchronous_commit()) == (invoices.pk, invoices.slug, "off")
    assert synchronous_commit() == "on"  # the next transaction (a human decision, say) waits for the disk
