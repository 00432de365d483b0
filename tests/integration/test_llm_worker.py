"""An LLM agent version through a real Celery worker over Redis and the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from agents import services
from agents.models import AgentRun, Document
from review.models import ReviewTask
from tests.fake_openai import FakeOpenAI, RecordedRequest, answer, status
from tests.helpers import CLEAN_INVOICE, receive_text
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

GOOD = {
    "vendor": "ACME Industrial Supplies Ltd",
    "invoice_number": "INV-2024-0042",
    "date": "2024-03-14",
    "total": "192.00",
    "currency": "GBP",
}


def _model(request: RecordedRequest):
    if "OUTAGE" in request.user_text:
        return status(500)
    return answer(GOOD, logprobs=-0.001, usage=(1000, 200))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(default=_model) as server:
        yield server


@pytest.fixture
def worker_prices(monkeypatch) -> None:
    """The worker is a subprocess: it reads its price table from the environment."""
    monkeypatch.setenv(
        "LLM_PRICES_JSON", json.dumps({"fake-llm": {"input_per_1k": "0.001", "output_per_1k": "0.002"}})
    )


def test_worker_runs_llm_agent_and_routes_failures_to_review(invoices, fake, worker_prices, celery_worker):
    version = services.create_version(
        process=invoices,
        provider="openai",
        model="fake-llm",
        instructions="Extract the invoice fields.",
        settings={
            "endpoints": [{"base_url": fake.base_url}],
            "timeout_s": 2,
            "max_retries": 1,
            "backoff_s": 0,
            "confidence": "logprobs",
        },
        actor=None,
    )
    services.activate_version(version=version)
    services.set_autonomy(
        process=invoices,
        changes={"autonomy_mode": "autonomous", "confidence_threshold": "0.85", "audit_sample_rate": "0"},
    )

    good = receive_text(invoices, CLEAN_INVOICE, name="good.txt").document
    broken = receive_text(invoices, CLEAN_INVOICE + "\nOUTAGE\n", name="broken.txt").document
    settled = (Document.State.AUTO_ACCEPTED, Document.State.IN_REVIEW)
    wait_for(
        lambda: Document.objects.filter(pk__in=[good.pk, broken.pk], state__in=settled).count() == 2,
        timeout=60,
        what="both documents to be triaged by the worker",
    )

    good.refresh_from_db()
    run = AgentRun.objects.get(document=good)
    assert good.state == Document.State.AUTO_ACCEPTED and good.final_fields == GOOD
    assert run.model_used == "fake-llm" and run.cost == Decimal("0.001400") and run.latency_ms > 0
    assert set(run.confidence_methods.values()) == {"logprobs"}
    failed = AgentRun.objects.get(document=broken)
    assert failed.error_code == "server_error" and [a["status"] for a in failed.attempts] == [500, 500]
    assert ReviewTask.objects.get(document=broken).reason == "agent_error"
