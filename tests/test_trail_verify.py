"""Verification names the first entry that does not match: altered, unlinked, deleted, or cut off."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from review import trail
from review.models import TrailCheckpoint, TrailEntry
from review.trail import Action, System, entry_hash
from review.trail_verify import Problem, verify_trail

pytestmark = pytest.mark.django_db


def append(n: int) -> list[TrailEntry]:
    with transaction.atomic():
        return [trail.record(Action.AUTONOMY_CHANGED, actor=System("test"), data={"i": i}) for i in range(n)]


def behind_the_trigger(*statements: tuple[str, list]) -> None:
    """Change the table as its owner would: with the append-only trigger switched off."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE review_trailentry DISABLE TRIGGER review_trailentry_append_only")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE review_trailentry ENABLE TRIGGER review_trailentry_append_only")


def as_replica(*statements: tuple[str, list]) -> None:
    """Change the table as a superuser would: with every ordinary trigger off for the session."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            for sql, params in statements:
                cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def checkpoint() -> TrailCheckpoint:
    with transaction.atomic():
        return trail.write_checkpoint(reason="periodic")


def test_an_intact_trail_verifies():
    entries = append(5)
    checkpoint()

    result = verify_trail(chunk_size=2)

    assert result.ok and result.finding is None
    assert result.entries_checked == 5 and result.last_hash == entries[-1].hash == result.head_hash
    assert result.checkpoints_checked == 1


def test_an_empty_trail_verifies():
    assert verify_trail().ok


def test_an_entry_altered_behind_the_trigger_is_named():
    entries = append(5)
    behind_the_trigger(
        ("UPDATE review_trailentry SET data = %s WHERE seq = 3", [json.dumps({"i": 99})]),
    )

    result = verify_trail(chunk_size=2)

    assert not result.ok
    assert (result.finding.kind, result.finding.seq, result.finding.entry_id) == (
        Problem.ALTERED,
        3,
        entries[2].pk,
    )
    assert result.entries_checked == 2


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link():
    append(5)
    forged = TrailEntry.objects.get(seq=3)
    forged.actor_label = "nobody"
    forged_hash = entry_hash(forged)
    as_replica(
        ("UPDATE review_trailentry SET actor_label = 'nobody', hash = %s WHERE seq = 3", [forged_hash]),
    )

    result = verify_trail()

    assert (result.finding.kind, result.finding.seq) == (Problem.BROKEN_LINK, 4)
    assert "#3 was rewritten" in result.finding.message


def test_a_deleted_middle_entry_is_named():
    append(5)
    behind_the_trigger(("DELETE FROM review_trailentry WHERE seq = 3", []))

    result = verify_trail()

    assert (result.finding.kind, result.finding.seq) == (Problem.MISSING, 4)
    assert "#3 missing" in result.finding.message


def test_deleting_the_newest_entries_is_caught_by_the_head():
    append(5)
    as_replica(("DELETE FROM review_trailentry WHERE seq >= 4", []))

    result = verify_trail()

    assert (result.finding.kind, result.finding.seq) == (Problem.HEAD_MISMATCH, 4)
    assert result.entries_checked == 3


def test_deleting_the_newest_entries_and_rewinding_the_head_is_caught_by_a_checkpoint():
    entries = append(5)
    checkpoint()
    as_replica(
        ("DELETE FROM review_trailentry WHERE seq >= 4", []),
        ("UPDATE review_trailhead SET seq = 3, hash = %s", [entries[2].hash]),
    )

    result = verify_trail()

    assert (result.finding.kind, result.finding.seq) == (Problem.CHECKPOINT_MISMATCH, 4)
    assert "names entry #5" in result.finding.message


def test_a_checkpoint_naming_another_hash_is_caught():
    append(3)
    checkpoint()
    as_replica(("UPDATE review_trailcheckpoint SET hash = %s", ["f" * 64]))

    result = verify_trail()

    assert (result.finding.kind, result.finding.seq) == (Problem.CHECKPOINT_MISMATCH, 3)


def test_entries_appended_during_a_verification_are_not_mistaken_for_tampering():
    append(3)
    checkpoint()
    append(2)  # after the checkpoint: the checkpoint names #3, the head #5

    assert verify_trail().ok


def test_the_command_succeeds_on_an_intact_trail_and_can_record_a_checkpoint(capsys):
    append(3)

    call_command("verify_trail", "--checkpoint")

    assert "trail intact: 3 entries" in capsys.readouterr().out
    assert TrailCheckpoint.objects.get(reason="verification").seq == 3


def test_the_command_fails_and_names_the_entry_when_the_trail_was_altered():
    append(4)
    behind_the_trigger(("UPDATE review_trailentry SET action = 'nothing.happened' WHERE seq = 2", []))

    with pytest.raises(CommandError, match=r"entry #2 \(altered\)"):
        call_command("verify_trail")

    assert not TrailCheckpoint.objects.filter(reason="verification").exists()
