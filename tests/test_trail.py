"""The trail is append-only: the database trigger and the ORM both refuse to change it."""

import pytest
from django.db import DatabaseError, connection, transaction

from review import tasks, trail
from review.models import TrailCheckpoint, TrailEntry, TrailHead, TrailImmutable
from review.trail import GENESIS_HASH, Action, System, entry_hash
from review.trail_verify import verify_trail
from tests.reviewing import run_at_once

pytestmark = pytest.mark.django_db


def append(n: int = 3, **kwargs) -> list[TrailEntry]:
    with transaction.atomic():
        return [
            trail.record(Action.AUTONOMY_CHANGED, actor=System("test"), data={"i": i}, **kwargs)
            for i in range(n)
        ]


def run_sql(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_record_chains_each_entry_to_the_previous_one_and_moves_the_head():
    first, second, third = append(3)

    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert (
        first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash and third.prev_hash == second.hash
    )
    stored = TrailEntry.objects.get(seq=2)
    assert entry_hash(stored) == stored.hash == second.hash
    head = TrailHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (3, third.hash)


WEIRD_DATA = {
    "quote": 'say "hi"\\ and \\u0000',
    "unicode": "Café, 東京, 🙂",
    "nested": {"z": [1, 2.5, None, True], "a": {"k": "v"}},
    "prev": "not the chain's prev",
    "seq": 999,
}


def test_the_database_hashes_exactly_as_entry_hash_with_awkward_data(invoices):
    """What is stored (JSON through PostgreSQL's jsonb) hashes as what was hashed when it was
    written, whatever the data holds: the verifier recomputes from the stored row."""
    with transaction.atomic():
        entries = [
            trail.record(Action.AUTONOMY_CHANGED, actor=System("test"), data=WEIRD_DATA),
            trail.record(Action.AUTONOMY_CHANGED, actor=System('tést "x"'), process=invoices, data={}),
        ]
    for entry in entries:
        stored = TrailEntry.objects.get(pk=entry.pk)
        assert entry_hash(stored) == stored.hash == entry.hash
        assert stored.data == entry.data


def test_a_transaction_ending_with_its_entry_commits_with_it(transactional_db):
    """The block's last write is its entry, sent to PostgreSQL with COMMIT: the changes before it
    and the entry commit together, and the block's on-commit callbacks still run."""
    committed = []
    with trail.transaction_ending_with_entry() as last:
        TrailCheckpoint.objects.create(seq=0, hash=GENESIS_HASH, reason="the change being recorded")
        transaction.on_commit(lambda: committed.append("callback"))
        last.set(Action.AUTONOMY_CHANGED, actor=System("test"), data=WEIRD_DATA)
        assert not TrailEntry.objects.exists()  # written when the block ends
    assert committed == ["callback"]
    stored = TrailEntry.objects.get(pk=last.entry.pk)
    assert (stored.seq, stored.prev_hash) == (1, GENESIS_HASH)
    assert stored.hash == last.entry.hash == entry_hash(stored)
    assert TrailCheckpoint.objects.filter(reason="the change being recorded").exists()
    assert verify_trail().ok


def test_a_block_that_fails_writes_no_entry_and_keeps_nothing(transactional_db):
    committed = []
    with pytest.raises(RuntimeError, match="late"), trail.transaction_ending_with_entry() as last:
        TrailCheckpoint.objects.create(seq=0, hash=GENESIS_HASH, reason="rolled back")
        transaction.on_commit(lambda: committed.append("callback"))
        last.set(Action.AUTONOMY_CHANGED, actor=System("test"))
        raise RuntimeError("a late failure")
    assert (last.entry, committed) == (None, [])
    assert not TrailEntry.objects.exists() and not TrailCheckpoint.objects.exists()


def test_nested_in_an_outer_transaction_the_entry_leaves_the_commit_to_it(transactional_db):
    with pytest.raises(RuntimeError, match="outer"), transaction.atomic():
        with trail.transaction_ending_with_entry() as last:
            last.set(Action.AUTONOMY_CHANGED, actor=System("test"))
        assert last.entry is not None
        assert connection.connection.info.transaction_status.name == "INTRANS"
        raise RuntimeError("the outer transaction fails: the entry goes with it")
    assert not TrailEntry.objects.exists()


def test_with_autocommit_already_off_the_entry_leaves_the_commit_to_the_caller(transactional_db):
    transaction.set_autocommit(False)
    try:
        with trail.transaction_ending_with_entry() as last:
            last.set(Action.AUTONOMY_CHANGED, actor=System("test"))
        assert connection.connection.info.transaction_status.name == "INTRANS"
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert not TrailEntry.objects.exists()


def test_concurrent_transactions_ending_with_entries_form_one_unbroken_chain(transactional_db):
    def append_one(i: int) -> int:
        with trail.transaction_ending_with_entry() as last:
            last.set(Action.AUTONOMY_CHANGED, actor=System(f"writer {i}"))
        return last.entry.seq

    seqs = run_at_once(append_one, list(range(16)))

    assert sorted(seqs.values()) == list(range(1, 17))
    result = verify_trail()
    assert result.ok and result.entries_checked == 16, result
    assert TrailHead.objects.get(pk=1).seq == 16


def test_numbers_are_stored_as_jsonb_returns_them_so_the_entry_still_verifies():
    data = {"big": 1e16, "huge": 1e23, "minus_zero": -0.0, "small": 1e-7, "nested": [{"x": 2.5e20}], "n": 3}
    with transaction.atomic():
        entry = trail.record(Action.AUTONOMY_CHANGED, actor=System("test"), data=data)
    stored = TrailEntry.objects.get(pk=entry.pk)
    assert (
        stored.data
        == entry.data
        == {
            "big": 10**16,
            "huge": 10**23,
            "minus_zero": 0.0,
            "small": 1e-7,
            "nested": [{"x": 25 * 10**19}],
            "n": 3,
        }
    )
    assert entry_hash(stored) == stored.hash
    assert verify_trail().ok


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_json_is_refused(value):
    with pytest.raises(ValueError, match="not JSON"), transaction.atomic():
        trail.record(Action.AUTONOMY_CHANGED, actor=System("test"), data={"x": [value]})
    assert not TrailEntry.objects.exists()


def test_record_refuses_to_run_outside_a_transaction(transactional_db):
    with pytest.raises(RuntimeError):
        trail.record(Action.AUTONOMY_CHANGED, actor=System("test"))
    assert not TrailEntry.objects.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE review_trailentry SET actor_label = 'someone else'",
        "DELETE FROM review_trailentry",
    ],
)
def test_the_database_rejects_updates_and_deletes_of_entries(sql):
    append(2)

    with pytest.raises(DatabaseError, match="append-only"):
        run_sql(sql)

    assert list(TrailEntry.objects.order_by("seq").values_list("actor_label", flat=True)) == ["test", "test"]


def test_the_database_rejects_truncate_by_the_application_role():
    append(2)
    # The test connection is a superuser (allowed to TRUNCATE so that Django's flush works);
    # an ordinary role that owns no trigger-bypass is refused.
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks from the inserts above
        cursor.execute("CREATE ROLE trail_test_app NOLOGIN")
        cursor.execute("GRANT ALL ON review_trailentry TO trail_test_app")
        cursor.execute("SET LOCAL ROLE trail_test_app")
        cursor.execute("TRUNCATE review_trailentry")

    assert TrailEntry.objects.count() == 2


def test_the_database_rejects_changes_to_checkpoints():
    append(1)
    with transaction.atomic():
        trail.write_checkpoint(reason="periodic")

    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("UPDATE review_trailcheckpoint SET seq = 0")
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("DELETE FROM review_trailcheckpoint")

    assert TrailCheckpoint.objects.get().seq == 1


def test_the_orm_refuses_to_change_or_delete_an_entry():
    entry = append(1)[0]

    entry.actor_label = "someone else"
    with pytest.raises(TrailImmutable):
        entry.save()
    with pytest.raises(TrailImmutable):
        entry.delete()


@pytest.mark.parametrize(
    "change",
    [
        lambda qs: qs.update(actor_label="someone else"),
        lambda qs: qs.delete(),
        lambda qs: qs.filter(seq=1).delete(),
        lambda qs: TrailEntry.objects.bulk_update(list(qs), ["actor_label"]),
    ],
)
def test_the_orm_refuses_bulk_updates_and_deletes(change):
    append(2)

    with pytest.raises(TrailImmutable):
        change(TrailEntry.objects.all())

    assert TrailEntry.objects.count() == 2


def test_a_checkpoint_copies_the_head_out_of_the_table():
    entries = append(3)

    with transaction.atomic():
        checkpoint = trail.write_checkpoint(reason="periodic")

    assert (checkpoint.seq, checkpoint.hash, checkpoint.reason) == (3, entries[-1].hash, "periodic")


def test_the_periodic_checkpoint_task_records_the_head():
    append(2)

    assert tasks.checkpoint_trail() == 2
    assert TrailCheckpoint.objects.get(reason="periodic").seq == 2


def test_the_checkpoint_task_is_in_the_beat_schedule(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "review.tasks.checkpoint_trail" in tasks_scheduled


def test_a_checkpoint_of_an_empty_trail_names_the_genesis():
    with transaction.atomic():
        checkpoint = trail.write_checkpoint(reason="periodic")

    assert (checkpoint.seq, checkpoint.hash) == (0, GENESIS_HASH)
