"""Builders and fixtures for the reviewer tests: documents already routed to review, with an agent run.

Import the fixtures into a test module with `from tests.reviewing import media  # noqa: F401`.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from django.core.files.base import ContentFile
from django.db import connections
from django.utils import timezone

from agents.autonomy import Reason
from agents.models import AgentRun, Document, Process
from review.models import Queue, ReviewTask
from tests.helpers import CLEAN_INVOICE

T = TypeVar("T")
R = TypeVar("R")

INVOICE_OUTPUT = {
    "vendor": "ACME Industrial Supplies Ltd",
    "invoice_number": "INV-2024-0042",
    "date": "2024-03-14",
    "total": "192.00",
    "currency": "GBP",
}
INVOICE_CONFIDENCES = {"vendor": 0.95, "invoice_number": 0.97, "date": 0.55, "total": 0.99, "currency": 0.98}
RECEIPT_OUTPUT = {
    "vendor": "Corner Cafe",
    "date": "2024-05-02",
    "address": "",
    "total": "8.40",
    "currency": "EUR",
}

_counter = itertools.count(1)


@pytest.fixture
def media(settings, tmp_path):
    """Stored files go to a temporary folder, never to the project's media/; persona passwords
    are hashed with a fast hasher (the default takes a good part of a second per user)."""
    settings.MEDIA_ROOT = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path


def make_task(
    process: Process,
    *,
    text: str = CLEAN_INVOICE,
    output: dict[str, Any] | None = None,
    confidences: dict[str, float] | None = None,
    reason: str = Reason.LOW_CONFIDENCE,
    priority: int = 1,
    due_in: timedelta = timedelta(hours=24),
    kind: str = Queue.Kind.REVIEW,
    content_type: str = "text/plain",
    data: bytes | None = None,
    policy: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    reasoning: str = "Found the total on the TOTAL DUE line.",
) -> ReviewTask:
    """A document in review with its agent run and an open task in the process's queue of `kind`."""
    n = next(_counter)
    if output is None:
        output = dict(INVOICE_OUTPUT) if process.slug == "invoice-extraction" else dict(RECEIPT_OUTPUT)
    if confidences is None:
        confidences = {name: INVOICE_CONFIDENCES.get(name, 0.6) for name in output}
    data = data if data is not None else f"{text}\n#{n}".encode()
    document = Document(
        process=process,
        source=Document.Source.UPLOAD,
        original_name=f"doc-{n}.txt",
        content_type=content_type,
        size=len(data),
        checksum=hashlib.sha256(data).hexdigest(),
        text=text,
        state=Document.State.IN_REVIEW,
    )
    document.file.save(
        f"doc-{n}{'.pdf' if content_type == 'application/pdf' else '.txt'}", ContentFile(data), save=False
    )
    document.save()
    policy = (
        policy
        if policy is not None
        else {
            "mode": "autonomous",
            "threshold": "0.85",
            "field_thresholds": {},
            "audit_sample_rate": "0.050",
            "low_fields": sorted(name for name, c in confidences.items() if c is not None and c < 0.85),
        }
    )
    run = AgentRun.objects.create(
        document=document,
        agent_version=process.versions.filter(is_active=True).first(),
        output=output,
        confidences=confidences,
        confidence_methods={name: "rules" for name in output},
        overall_confidence=min((c for c in confidences.values() if c is not None), default=None),
        validation_errors=errors or {},
        reasoning=reasoning,
        outcome=AgentRun.Outcome.REVIEW,
        route_reason=reason,
        policy=policy,
    )
    return ReviewTask.objects.create(
        document=document,
        queue=Queue.objects.get(process=process, kind=kind),
        agent_run=run,
        reason=reason,
        policy=policy,
        priority=priority,
        due_at=timezone.now() + due_in,
    )


def run_at_once(work: Callable[[T], R], inputs: list[T], *, timeout: float = 60) -> dict[int, R]:
    """Run work(input) in one thread per input, all released together; each thread's database
    connection is closed after. Returns {index: result}; re-raises the first failure."""
    barrier = threading.Barrier(len(inputs))
    results: dict[int, R] = {}
    failures: list[BaseException] = []

    def run(index: int, item: T) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(item)
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(inputs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if failures:
        raise failures[0]
    assert len(results) == len(inputs), "a thread did not finish in time"
    return results
