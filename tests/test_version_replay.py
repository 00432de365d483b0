"""Candidate evaluation: labelled set and pinned cases replayed through a version, off the live path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import AgentRun, AgentVersion, Document
from agents.providers import get_provider
from review import agent_versions, configuration
from review.evaluation import replay
from review.models import LabelledExample, TrailEntry, VersionEvaluation
from tests.fake_openai import FakeOpenAI, answer
from tests.reviewing import media  # noqa: F401
from tests.versions_data import INVOICE_TRUTH, decided_example, new_version

pytestmark = pytest.mark.usefixtures("media")

PRICES = {"fake-llm": {"input_per_1k": Decimal("0.001"), "output_per_1k": Decimal("0.002")}}


@pytest.fixture
def fake(settings) -> Iterator[FakeOpenAI]:
    settings.LLM_PRICES = PRICES
    get_provider.cache_clear()
    with FakeOpenAI() as server:
        yield server
    get_provider.cache_clear()


@pytest.fixture
def labelled(invoices) -> list[LabelledExample]:
    """Four invoices the rules agent reads right, one a person corrected to a total it misses."""
    right = [decided_example(invoices) for _ in range(4)]
    corrected = decided_example(
        invoices, truth=INVOICE_TRUTH | {"total": "200.00"}, outcome=LabelledExample.Outcome.CORRECTED
    )
    return [*right, corrected]


def evaluate(client, version: AgentVersion, capture) -> VersionEvaluation:
    with capture(execute=True):
        response = client.post(
            reverse("review:version-evaluate", args=[version.process.slug, version.number]),
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    return VersionEvaluation.objects.filter(version=version).latest("id")


def test_it_replays_the_labelled_set_and_reports_field_accuracy(
    client, paula, invoices, labelled, django_capture_on_commit_callbacks
):
    candidate = new_version(invoices)
    client.force_login(paula)
    evaluation = evaluate(client, candidate, django_capture_on_commit_callbacks)
    assert evaluation.state == VersionEvaluation.State.DONE
    assert evaluation.total == evaluation.done == 5
    assert evaluation.field_accuracy["total"] == [4, 5]
    assert evaluation.field_accuracy["vendor"] == [5, 5]
    assert evaluation.overall_accuracy == pytest.approx(24 / 25)
    assert evaluation.document_accuracy == pytest.approx(4 / 5)
    assert evaluation.ece is not None and sum(b["n"] for b in evaluation.calibration) == 5
    assert evaluation.projected_automation is None and "Too little data" in evaluation.projection_message


def test_the_replay_creates_no_runs_and_touches_no_document_or_trail(
    client, paula, invoices, labelled, django_capture_on_commit_callbacks
):
    candidate = new_version(invoices)
    client.force_login(paula)
    runs, states = (
        AgentRun.objects.count(),
        list(Document.objects.order_by("pk").values_list("state", "final_fields")),
    )
    trail = TrailEntry.objects.count()
    evaluate(client, candidate, django_capture_on_commit_callbacks)
    assert AgentRun.objects.count() == runs
    assert list(Document.objects.order_by("pk").values_list("state", "final_fields")) == states
    assert TrailEntry.objects.count() == trail


def test_progress_is_polled_while_running_and_stops_when_done(client, paula, invoices, labelled):
    candidate = new_version(invoices)
    client.force_login(paula)
    url = reverse("review:version-progress", args=[invoices.slug, candidate.number])
    queued = VersionEvaluation.objects.create(version=candidate, total=5, done=2, state="running")
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "2/5" in page
    VersionEvaluation.objects.filter(pk=queued.pk).update(state="queued")
    assert replay.run_evaluation(queued.pk) == "done"
    page = client.get(url).content.decode()
    assert "every 2s" not in page and "field accuracy" in page


def test_the_job_is_idempotent_and_takes_over_a_stale_run(invoices, labelled):
    candidate = new_version(invoices)
    evaluation = VersionEvaluation.objects.create(version=candidate)
    assert replay.run_evaluation(evaluation.pk) == "done"
    assert replay.run_evaluation(evaluation.pk) == "skipped"
    assert replay.run_evaluation(10**9) == "skipped"
    busy = VersionEvaluation.objects.create(version=candidate, state="running", heartbeat_at=timezone.now())
    assert replay.run_evaluation(busy.pk) == "skipped"
    VersionEvaluation.objects.filter(pk=busy.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert replay.run_evaluation(busy.pk) == "done"


def test_starting_twice_queues_one_evaluation_and_the_active_version_is_evaluated_too(
    paula, invoices, labelled
):
    candidate = new_version(invoices)
    first = agent_versions.start_evaluation(version=candidate, actor=paula)
    assert agent_versions.start_evaluation(version=candidate, actor=paula) == first
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    assert VersionEvaluation.objects.filter(version=active).count() == 1
    assert VersionEvaluation.objects.filter(version=candidate).count() == 1


def test_pinned_cases_are_always_replayed_and_failures_reported_separately(invoices, labelled, monkeypatch):
    monkeypatch.setattr(replay, "REPLAY_LIMIT", 2)  # the pinned cases come on top of the newest examples
    pinned_wrong = labelled[-1]
    LabelledExample.objects.filter(pk=pinned_wrong.pk).update(is_regression_case=True)
    pinned_right = labelled[0]
    LabelledExample.objects.filter(pk=pinned_right.pk).update(is_regression_case=True)
    rejected = decided_example(invoices, outcome=LabelledExample.Outcome.REJECTED, pinned=True)
    candidate = new_version(invoices)
    evaluation = VersionEvaluation.objects.create(version=candidate)
    replay.run_evaluation(evaluation.pk)
    evaluation.refresh_from_db()
    assert evaluation.total == 4  # the two newest (one of them pinned) + two older pinned cases
    assert evaluation.regression_total == 3
    # The rules agent reads the rejected invoice confidently: accepting it unseen is the failure.
    assert sorted(evaluation.regression_failed) == sorted([pinned_wrong.pk, rejected.pk])


def test_projected_automation_at_the_target_accuracy_with_enough_data(invoices, labelled, monkeypatch):
    monkeypatch.setattr(replay, "MIN_EFFECTIVE_N", 3)
    invoices.target_accuracy = Decimal("0.3")  # five examples bound the error rate only loosely
    invoices.save()
    evaluation = VersionEvaluation.objects.create(version=new_version(invoices))
    replay.run_evaluation(evaluation.pk)
    evaluation.refresh_from_db()
    assert evaluation.recommended_threshold is not None
    assert 0 < evaluation.projected_automation <= 1


def test_an_openai_candidate_is_replayed_through_the_real_client_and_refused_when_worse(
    client, paula, invoices, labelled, fake, django_capture_on_commit_callbacks
):
    fake.default = answer(INVOICE_TRUTH | {"total": "1.00"}, logprobs=-0.01)
    candidate = configuration.create_agent_version(
        process=invoices, actor=paula, provider="openai", model="fake-llm", instructions="Extract.",
        settings={"endpoints": [{"base_url": fake.base_url, "model": "fake-llm", "api_key_env": "NO_KEY"}],
                  "timeout_s": 5, "max_retries": 0, "confidence": "logprobs"},
    )  # fmt: skip
    client.force_login(paula)
    evaluation = evaluate(client, candidate, django_capture_on_commit_callbacks)
    assert len(fake.chat_requests) == 5 and evaluation.field_accuracy["total"] == [0, 5]
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    assert agent_versions.latest_finished(active).overall_accuracy > evaluation.overall_accuracy
    response = client.post(reverse("review:version-activate", args=[invoices.slug, candidate.number]))
    assert response.status_code == 409
    assert AgentVersion.objects.get(process=invoices, is_active=True) == active


def test_an_agent_failure_counts_against_the_candidate(invoices, labelled, fake):
    from tests.fake_openai import status

    fake.default = status(500)
    candidate = configuration.create_agent_version(
        process=invoices, actor=None, provider="openai", model="fake-llm", instructions="Extract.",
        settings={"endpoints": [{"base_url": fake.base_url, "model": "fake-llm"}], "timeout_s": 2,
                  "max_retries": 0, "backoff_s": 0},
    )  # fmt: skip
    evaluation = VersionEvaluation.objects.create(version=candidate)
    assert replay.run_evaluation(evaluation.pk) == "done"
    evaluation.refresh_from_db()
    assert evaluation.agent_errors == 5 and evaluation.overall_accuracy == 0
