"""An auditor's trail verification, walked by a real Celery worker over Redis."""

import pytest
from django.db import transaction
from django.urls import reverse

from review import trail
from review.models import TrailEntry, TrailVerification
from review.trail import Action, System
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_the_worker_verifies_the_trail_an_auditor_asked_for(client, audrey, invoices, celery_worker):
    with transaction.atomic():
        for i in range(30):
            trail.record(Action.AUTONOMY_CHANGED, actor=System("bulk"), process=invoices, data={"i": i})
    client.force_login(audrey)

    assert client.post(reverse("review:trail-verify")).status_code == 302

    verification = TrailVerification.objects.get()
    wait_for(
        lambda: TrailVerification.objects.filter(pk=verification.pk, state="done").exists(),
        what="the worker to verify the trail",
    )
    verification.refresh_from_db()
    assert verification.intact and verification.entries_checked == TrailEntry.objects.count() >= 30
    assert b"The trail is intact" in client.get(reverse("review:trail-verify")).content
