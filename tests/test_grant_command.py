"""The grant command: audited grants and revocations, clear errors for unknown names."""

import io

import pytest
from django.core.management import CommandError, call_command

from review import permissions
from review.models import TrailEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_granting_and_revoking_a_queue_is_audited(processes):
    dora = make_user("dora")
    out = io.StringIO()

    call_command("grant", "--user", "dora", "--queue", "receipt-extraction-review", stdout=out)

    assert list(permissions.queues_for_user(dora).values_list("slug", flat=True)) == [
        "receipt-extraction-review"
    ]
    assert "granted queue receipt-extraction-review for dora" in out.getvalue()
    call_command("grant", "--user", "dora", "--queue", "receipt-extraction-review", "--revoke", stdout=out)
    assert not permissions.queues_for_user(dora).exists()
    actions = list(
        TrailEntry.objects.filter(action__startswith="config.permission")
        .order_by("seq")  # without it, PostgreSQL may return them in any order (seen once in the full suite)
        .values_list("action", flat=True)
    )
    assert actions == ["config.permission_granted", "config.permission_revoked"]


def test_a_process_permission_can_go_to_a_group(processes):
    dora = make_user("dora", "auditor")
    call_command(
        "grant", "--group", "auditor", "--process", "invoice-extraction", "--permission", "audit_process"
    )
    assert list(permissions.audited_processes(dora).values_list("slug", flat=True)) == ["invoice-extraction"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody", "--queue", "invoice-extraction-review"], "Unknown user 'nobody'"),
        (["--group", "wizards", "--queue", "invoice-extraction-review"], "Unknown group 'wizards'"),
        (["--user", "dora", "--queue", "nope"], "Unknown queue 'nope'. Known queues:"),
        (["--user", "dora", "--process", "nope", "--permission", "audit_process"], "Unknown process 'nope'"),
        (["--user", "dora", "--process", "invoice-extraction"], "--process needs --permission"),
    ],
)
def test_bad_names_get_a_clear_error_and_change_nothing(processes, args, message):
    make_user("dora")
    before = TrailEntry.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("grant", *args)
    assert TrailEntry.objects.count() == before
