"""Every configuration change leaves a trail entry with its actor and the values before and after."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from agents.models import AgentVersion
from review import configuration, permissions
from review.models import Queue, TrailEntry
from review.trail import Action

pytestmark = pytest.mark.django_db


def last_entry() -> TrailEntry:
    return TrailEntry.objects.order_by("-seq").first()


def test_changing_autonomy_records_the_actor_and_each_field_before_and_after(invoices, paula):
    threshold_before = invoices.confidence_threshold
    diff = configuration.change_autonomy(
        process=invoices, changes={"confidence_threshold": "0.75", "autonomy_mode": "shadow"}, actor=paula
    )

    assert diff["confidence_threshold"] == (threshold_before, Decimal("0.75"))
    entry = last_entry()
    assert (entry.action, entry.actor_kind, entry.actor_id, entry.actor_label) == (
        Action.AUTONOMY_CHANGED, "user", str(paula.pk), "paula",
    )  # fmt: skip
    assert entry.process == invoices
    assert entry.data["changes"] == {
        "confidence_threshold": [str(threshold_before), "0.75"],
        "autonomy_mode": ["autonomous", "shadow"],
    }
    invoices.refresh_from_db()
    assert invoices.confidence_threshold == Decimal("0.750")


def test_an_autonomy_change_that_changes_nothing_writes_nothing(invoices, paula):
    before = TrailEntry.objects.count()

    assert (
        configuration.change_autonomy(process=invoices, changes={"autonomy_mode": "autonomous"}, actor=paula)
        == {}
    )

    assert TrailEntry.objects.count() == before


def test_an_invalid_autonomy_change_writes_nothing(invoices, paula):
    before = TrailEntry.objects.count()

    with pytest.raises(ValueError):
        configuration.change_autonomy(process=invoices, changes={"name": "renamed"}, actor=paula)

    assert TrailEntry.objects.count() == before


def test_creating_a_version_records_its_specification(invoices, paula):
    version = configuration.create_agent_version(
        process=invoices, actor=paula, provider="openai", model="gpt-4o-mini", instructions="Extract.",
        settings={"temperature": 0}, notes="try the LLM",
    )  # fmt: skip

    entry = last_entry()
    assert entry.action == Action.VERSION_CREATED and entry.actor_label == "paula"
    assert entry.data["version"] == version.number == 2
    assert entry.data["model"] == "gpt-4o-mini" and entry.data["settings"] == {"temperature": 0}
    assert not version.is_active


def test_activating_a_version_records_the_versions_before_and_after(invoices, paula):
    version = configuration.create_agent_version(process=invoices, actor=paula, provider="rules")

    previous = configuration.activate_agent_version(version=version, actor=paula)

    assert previous.number == 1
    entry = last_entry()
    assert entry.action == Action.VERSION_ACTIVATED and entry.actor_label == "paula"
    assert entry.data["version"] == [1, 2]
    assert AgentVersion.objects.get(process=invoices, is_active=True).number == 2


def test_activating_the_active_version_writes_nothing(invoices, paula):
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    before = TrailEntry.objects.count()

    configuration.activate_agent_version(version=active, actor=paula)

    assert TrailEntry.objects.count() == before


def test_rolling_back_returns_to_the_previous_version_and_records_it(invoices, paula):
    version = configuration.create_agent_version(process=invoices, actor=paula, provider="rules")
    configuration.activate_agent_version(version=version, actor=paula)

    restored = configuration.roll_back_agent_version(process=invoices, actor=paula)

    assert restored.number == 1
    assert AgentVersion.objects.get(process=invoices, is_active=True).number == 1
    entry = last_entry()
    assert entry.action == Action.VERSION_ROLLED_BACK and entry.data["version"] == [2, 1]


def test_rolling_back_the_first_version_is_refused_and_writes_nothing(invoices, paula):
    before = TrailEntry.objects.count()

    with pytest.raises(configuration.NothingToRollBack):
        configuration.roll_back_agent_version(process=invoices, actor=paula)

    assert TrailEntry.objects.count() == before


def test_granting_and_revoking_a_queue_is_recorded_with_holder_and_before_after(invoices, paula, charlie):
    queue = Queue.objects.get(slug="invoice-extraction-review")

    assert configuration.grant_queue_access(queue=queue, to=charlie, actor=paula)
    granted = last_entry()
    assert configuration.revoke_queue_access(queue=queue, to=charlie, actor=paula)
    revoked = last_entry()

    assert granted.action == Action.PERMISSION_GRANTED and granted.actor_label == "paula"
    assert granted.process == invoices
    assert granted.data["permission"] == "work_queue"
    assert granted.data["object"] == {"kind": "queue", "id": queue.pk, "slug": queue.slug}
    assert granted.data["holder"] == {"kind": "user", "id": charlie.pk, "name": "charlie"}
    assert granted.data["held"] == [False, True]
    assert revoked.action == Action.PERMISSION_REVOKED and revoked.data["held"] == [True, False]
    assert not permissions.queues_for_user(charlie).exists()


def test_granting_what_is_already_held_writes_nothing(alice, paula):
    queue = Queue.objects.get(slug="invoice-extraction-review")
    before = TrailEntry.objects.count()

    assert not configuration.grant_queue_access(queue=queue, to=alice, actor=paula)
    assert not configuration.revoke_queue_access(
        queue=Queue.objects.get(slug="receipt-extraction-review"), to=alice, actor=paula
    )

    assert TrailEntry.objects.count() == before


def test_process_permissions_granted_to_a_group_are_recorded(invoices, paula):
    group = Group.objects.create(name="external-auditors")

    assert configuration.grant_process_permission(
        codename="audit_process", process=invoices, to=group, actor=paula
    )
    assert configuration.revoke_process_permission(
        codename="audit_process", process=invoices, to=group, actor=paula
    )

    granted, revoked = TrailEntry.objects.order_by("-seq")[1], last_entry()
    assert granted.data["holder"] == {"kind": "group", "id": group.pk, "name": "external-auditors"}
    assert granted.data["permission"] == "audit_process" and granted.data["object"]["kind"] == "process"
    assert revoked.action == Action.PERMISSION_REVOKED


def test_only_process_permissions_can_be_granted_on_a_process(invoices, paula, charlie):
    with pytest.raises(ValueError):
        configuration.grant_process_permission(
            codename="delete_process", process=invoices, to=charlie, actor=paula
        )
