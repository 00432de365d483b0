"""Upload to accepted, and upload to a review queue, through a real Celery worker over Redis."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents import services
from agents.models import Document
from review.models import ReviewTask
from tests.helpers import CLEAN_INVOICE
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_uploaded_documents_are_triaged_by_the_worker(client, paula, invoices, celery_worker):
    services.set_autonomy(
        process=invoices,
        changes={"autonomy_mode": "autonomous", "confidence_threshold": "0.5", "audit_sample_rate": "0"},
    )
    client.force_login(paula)
    files = [
        SimpleUploadedFile("good.txt", CLEAN_INVOICE.encode()),
        SimpleUploadedFile("bad.txt", b"A letter that is not an invoice.\nKind regards\n"),
    ]
    response = client.post(reverse("review:upload"), {"process": invoices.pk, "files": files})
    assert response.status_code == 302

    good = Document.objects.get(original_name="good.txt")
    bad = Document.objects.get(original_name="bad.txt")
    settled = (Document.State.AUTO_ACCEPTED, Document.State.IN_REVIEW)
    wait_for(
        lambda: Document.objects.filter(pk__in=[good.pk, bad.pk], state__in=settled).count() == 2,
        what="both documents to be triaged by the worker",
    )

    good.refresh_from_db()
    assert good.state == Document.State.AUTO_ACCEPTED
    assert good.final_fields["invoice_number"] == "INV-2024-0042"
    task = ReviewTask.objects.get(document=bad)
    assert task.queue.slug == "invoice-extraction-review" and task.reason == "validation_failed"
