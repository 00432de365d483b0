"""The drift guard demotes an autonomous process whose audited accuracy misses its target."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from agents.models import Process
from review import configuration
from review.evaluation import drift
from review.models import TrailEntry
from review.tasks import guard_against_drift
from review.trail import Action
from tests.autonomy_data import audit_samples
from tests.reviewing import media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def rita(processes) -> User:
    return User.objects.create_user("rita")


@pytest.fixture
def autonomous_invoices(invoices, paula) -> Process:
    configuration.change_autonomy(process=invoices, changes={"autonomy_mode": "shadow"}, actor=paula)
    configuration.change_autonomy(
        process=invoices,
        changes={"autonomy_mode": "autonomous", "target_accuracy": Decimal("0.95")},
        actor=paula,
    )
    return invoices


def guard_entries(process):
    return TrailEntry.objects.filter(
        process=process, action=Action.AUTONOMY_CHANGED, actor_label="drift guard"
    )


def test_falling_accuracy_demotes_to_shadow_with_the_evidence_in_the_trail(autonomous_invoices, rita):
    audit_samples(autonomous_invoices, rita, n=200, correct_every=5)  # 80% accurate
    check = drift.check_drift(autonomous_invoices)
    assert check.triggered
    autonomous_invoices.refresh_from_db()
    assert autonomous_invoices.autonomy_mode == "shadow"
    entry = guard_entries(autonomous_invoices).get()
    assert entry.actor_kind == "system"
    assert entry.data["changes"] == {"autonomy_mode": ["autonomous", "shadow"]}
    evidence = entry.data["evidence"]
    assert (evidence["audited_items"], evidence["correct"]) == (200, 160)
    assert evidence["interval"][1] < 0.95
    assert evidence["since"] is not None


def test_a_stable_agent_is_left_alone(autonomous_invoices, rita):
    audit_samples(autonomous_invoices, rita, n=200, correct_every=40)  # 97.5%
    check = drift.check_drift(autonomous_invoices)
    assert not check.triggered
    autonomous_invoices.refresh_from_db()
    assert autonomous_invoices.autonomy_mode == "autonomous"
    assert not guard_entries(autonomous_invoices).exists()


def test_too_few_audited_items_judge_nothing(autonomous_invoices, rita):
    audit_samples(autonomous_invoices, rita, n=10, correct_every=1)  # all wrong, but only ten
    assert not drift.check_drift(autonomous_invoices).triggered
    autonomous_invoices.refresh_from_db()
    assert autonomous_invoices.autonomy_mode == "autonomous"


def test_evidence_from_before_the_latest_promotion_does_not_count(invoices, paula, rita):
    audit_samples(invoices, rita, n=200, correct_every=2, created_at=timezone.now() - timedelta(days=2))
    configuration.change_autonomy(process=invoices, changes={"autonomy_mode": "shadow"}, actor=paula)
    configuration.change_autonomy(process=invoices, changes={"autonomy_mode": "autonomous"}, actor=paula)
    assert drift.promoted_at(invoices) > timezone.now() - timedelta(minutes=1)
    check = drift.check_drift(invoices)
    assert check.n == 0 and not check.triggered
    invoices.refresh_from_db()
    assert invoices.autonomy_mode == "autonomous"


def test_processes_that_are_not_autonomous_are_not_checked(invoices, rita):
    configuration.change_autonomy(process=invoices, changes={"autonomy_mode": "shadow"}, actor=None)
    audit_samples(invoices, rita, n=200, correct_every=2)
    assert drift.check_drift(invoices) is None
    assert not guard_entries(invoices).exists()


def test_the_periodic_task_demotes_only_the_drifting_processes(autonomous_invoices, receipts, paula, rita):
    configuration.change_autonomy(process=receipts, changes={"autonomy_mode": "autonomous"}, actor=paula)
    audit_samples(autonomous_invoices, rita, n=200, correct_every=5)
    audit_samples(receipts, rita, n=200)
    assert guard_against_drift.delay().get() == ["invoice-extraction"]
    receipts.refresh_from_db()
    assert receipts.autonomy_mode == "autonomous"
    assert guard_against_drift.delay().get() == []  # idempotent: already in shadow


def test_the_beat_schedule_runs_the_guard(settings):
    assert settings.CELERY_BEAT_SCHEDULE["drift-guard"]["task"] == "review.tasks.guard_against_drift"


def test_admins_see_a_banner_until_a_person_re_promotes(client, autonomous_invoices, paula, alice, rita):
    audit_samples(autonomous_invoices, rita, n=200, correct_every=5)
    drift.check_drift(autonomous_invoices)
    client.force_login(paula)
    for url in (
        reverse("review:home"),
        reverse("review:autonomy"),
        reverse("review:autonomy-process", args=["invoice-extraction"]),
    ):
        body = client.get(url).content.decode()
        assert "moved to shadow mode by the drift guard" in body, url
    client.force_login(alice)
    assert "drift guard" not in client.get(reverse("review:home")).content.decode()

    configuration.change_autonomy(
        process=autonomous_invoices, changes={"autonomy_mode": "autonomous"}, actor=paula
    )
    client.force_login(paula)
    assert (
        "moved to shadow mode by the drift guard"
        not in client.get(reverse("review:autonomy")).content.decode()
    )
    # Re-promotion is a human decision, and the old evidence no longer counts against it.
    assert not drift.check_drift(autonomous_invoices).triggered


def test_a_known_drop_in_accuracy_is_caught_within_a_bounded_number_of_audited_items(
    autonomous_invoices, rita
):
    """97% accurate, then 85% from a known point: the guard fires within 150 audited items of the drop."""
    audit_samples(autonomous_invoices, rita, n=200, correct_every=34)  # ~97%
    assert not drift.check_drift(autonomous_invoices).triggered
    audited_after_drop = 0
    while audited_after_drop < 150 and not drift.check_drift(autonomous_invoices).triggered:
        audit_samples(autonomous_invoices, rita, n=10, correct_every=7)  # ~85%
        audited_after_drop += 10
    assert audited_after_drop <= 150
    autonomous_invoices.refresh_from_db()
    assert autonomous_invoices.autonomy_mode == "shadow"
