"""The hand-written hot-path statements store and load exactly what the ORM would."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, models
from django.forms.models import model_to_dict
from django.http import Http404
from django.test.utils import CaptureQueriesContext, isolate_apps

from agents.models import AgentRun, Process
from backoffice.request_identity import USER_SQL
from backoffice.sql import JoinedRead, execute_prepared, fetch_instance, insert_instance
from review import permissions
from review.models import Decision, Queue, ReviewTask
from tests.helpers import receive_text
from tests.reviewing import make_task, media  # noqa: F401

pytestmark = pytest.mark.django_db

AWKWARD = {"total": "1.50", "note": 'Café "東京" \\ 🙂', "nested": {"b": [1, 2.5, None, True], "a": {}}}


def a_run(document) -> AgentRun:
    return AgentRun(
        document=document,
        output=AWKWARD,
        confidences={"total": 0.93},
        reasoning="because",
        cost=Decimal("0.001234"),
        attempts=[{"endpoint": "x", "error": "timeout"}],
    )


def test_insert_instance_stores_what_save_stores(invoices):
    document = receive_text(invoices, "ACME\nTOTAL 1.50").document
    by_helper, by_orm = a_run(document), a_run(document)

    insert_instance(by_helper)
    by_orm.save()

    assert by_helper.pk and not by_helper._state.adding
    helper_row = model_to_dict(AgentRun.objects.get(pk=by_helper.pk))
    orm_row = model_to_dict(AgentRun.objects.get(pk=by_orm.pk))
    assert helper_row.pop("id") != orm_row.pop("id")
    assert helper_row == orm_row
    stored = AgentRun.objects.get(pk=by_helper.pk)
    assert stored.output == AWKWARD and stored.created_at is not None  # auto_now_add was applied


def test_fetch_instance_loads_what_the_orm_loads_and_none_when_missing(invoices, alice):
    loaded = fetch_instance(User, USER_SQL, [alice.pk])
    assert model_to_dict(loaded) == model_to_dict(User.objects.get(pk=alice.pk))
    assert not loaded._state.adding
    assert fetch_instance(User, USER_SQL, [alice.pk + 1000]) is None

    sql = "SELECT {} , 42 FROM agents_process WHERE id = %s".format(
        ", ".join(f.column for f in Process._meta.concrete_fields)
    )
    process = fetch_instance(Process, sql, [invoices.pk], extra=("answer",))
    assert process.answer == 42
    assert model_to_dict(process) == model_to_dict(Process.objects.get(pk=invoices.pk))  # JSON fields decoded


def test_insert_instance_refuses_a_stored_row_or_a_chosen_key(invoices):
    document = receive_text(invoices, "ACME\nTOTAL 1.50").document
    stored = a_run(document)
    insert_instance(stored)
    with pytest.raises(ValueError, match="new rows"):
        insert_instance(stored)
    chosen = a_run(document)
    chosen.pk = stored.pk + 1000
    with pytest.raises(ValueError, match="new rows"):
        insert_instance(chosen)
    assert AgentRun.objects.filter(document=document).count() == 1


def prepared_on_connection() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        return [row[0] for row in cursor.fetchall()]


def test_execute_prepared_prepares_only_what_asks_and_django_still_counts_it(alice):
    marker_sql = "SELECT username FROM auth_user WHERE id = %s AND 'execute_prepared' <> ''"
    plain_sql = "SELECT username FROM auth_user WHERE id = %s AND 'plain' <> ''"
    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):  # psycopg would prepare a plain statement after 5 runs if it could
            with connection.cursor() as cursor:
                execute_prepared(cursor, marker_sql, [alice.pk])
                assert cursor.fetchone() == ("alice",)
                cursor.execute(plain_sql, [alice.pk])
                assert cursor.fetchone() == ("alice",)

    statements = prepared_on_connection()
    assert sum("'execute_prepared'" in statement for statement in statements) == 1  # once per connection
    assert not any("'plain'" in statement for statement in statements)
    assert sum("'execute_prepared'" in query["sql"] for query in queries.captured_queries) == 10


def test_fetch_instance_can_prepare(alice):
    assert fetch_instance(User, USER_SQL, [alice.pk], prepare=True).username == "alice"
    assert fetch_instance(User, USER_SQL, [alice.pk], prepare=True).username == "alice"
    statements = prepared_on_connection()
    assert sum(statement.startswith("SELECT") and "auth_user" in statement for statement in statements) == 1


@pytest.mark.usefixtures("media")
def test_the_task_read_behind_every_action_is_prepared_and_checks_the_grant(invoices, receipts, alice, bob):
    mine, others = make_task(invoices), make_task(receipts)
    for _ in range(3):
        assert permissions.get_task_for_user(alice, mine.pk).document.process == invoices
        with pytest.raises(Http404):
            permissions.get_task_for_user(alice, others.pk)
    assert permissions.get_task_for_user(bob, others.pk).pk == others.pk
    task_reads = [
        statement
        for statement in prepared_on_connection()
        if "review_reviewtask t0" in statement and "queueuserobjectpermission" in statement
    ]
    # Prepared, not planned on every call: one statement here (psycopg keys its statements on the
    # parameters' types too, so ids past 32767 and 2**31 add a variant each).
    assert len(task_reads) == 1

    team = Group.objects.create(name="receipt team")
    permissions.grant_queue(receipts.queues.get(kind=Queue.Kind.REVIEW), team)
    alice.groups.add(team)
    assert permissions.get_task_for_user(alice, others.pk).pk == others.pk  # held through a group
    with CaptureQueriesContext(connection) as queries, pytest.raises(Http404):
        permissions.get_task_for_user(alice, 10**20)  # past bigint: no such task, and no query
    assert not queries.captured_queries
    alice.is_active = False
    with pytest.raises(Http404):
        permissions.get_task_for_user(alice, mine.pk)


RELATED = ("queue__process", "document__process", "agent_run__agent_version", "claimed_by")


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.usefixtures("media")
@pytest.mark.parametrize("with_run", [True, False])
def test_a_joined_read_loads_what_select_related_loads(invoices, alice, with_run):
    task = make_task(invoices)
    if not with_run:
        task.agent_run = None
    task.claimed_by = alice if with_run else None
    task.save()
    read = JoinedRead(ReviewTask, *RELATED)
    assert "LEFT JOIN agents_agentrun" in read.select and "LEFT JOIN agents_agentversion" in read.select
    assert "LEFT JOIN auth_user" in read.select and "LEFT JOIN review_queue" not in read.select
    loaded = read.fetch(f"{read.select} WHERE t0.id = %s", [task.pk])
    expected = ReviewTask.objects.select_related(*RELATED).get(pk=task.pk)

    with CaptureQueriesContext(connection) as queries:
        for path in RELATED:
            mine, theirs = loaded, expected
            for name in path.split("__"):
                mine, theirs = getattr(mine, name), getattr(theirs, name)
                assert (mine is None) == (theirs is None), path
                if mine is None:
                    break
                assert type(mine) is type(theirs) and fields_of(mine) == fields_of(theirs), path
    assert not queries.captured_queries  # everything was loaded: no lazy query
    assert fields_of(loaded) == fields_of(expected)
    assert loaded.agent_run is None if not with_run else loaded.agent_run.output == task.agent_run.output
    assert not loaded._state.adding and loaded.queue.process.field_specs == invoices.field_specs


@pytest.mark.usefixtures("media")
def test_a_joined_read_keeps_the_row_when_a_nullable_key_is_empty(invoices):
    task = make_task(invoices)  # not escalated: escalated_from is empty, its queue cannot be joined
    read = JoinedRead(ReviewTask, "escalated_from__queue")
    loaded = read.fetch(f"{read.select} WHERE t0.id = %s", [task.pk])
    assert loaded is not None and loaded.pk == task.pk and loaded.escalated_from is None


def test_a_joined_read_follows_many_to_one_keys_to_a_primary_key_only():
    with pytest.raises(ValueError, match="not a many-to-one foreign key"):
        JoinedRead(ReviewTask, "queue__name")
    with pytest.raises(ValueError, match="not a many-to-one foreign key"):
        JoinedRead(Decision, "task")  # one-to-one
    with isolate_apps("review"):  # throwaway models: no table, only their metadata

        class Coded(models.Model):  # noqa: DJ008
            code = models.CharField(max_length=8, unique=True)

            class Meta:
                app_label = "review"

        class ByCode(models.Model):  # noqa: DJ008
            coded = models.ForeignKey(Coded, to_field="code", on_delete=models.CASCADE)

            class Meta:
                app_label = "review"

        class MoreCoded(Coded):  # noqa: DJ008
            class Meta:
                app_label = "review"

        class ByMoreCoded(models.Model):  # noqa: DJ008
            coded = models.ForeignKey(MoreCoded, on_delete=models.CASCADE)

            class Meta:
                app_label = "review"

        for model in (ByCode, ByMoreCoded):
            with pytest.raises(ValueError, match="primary key"):
                JoinedRead(model, "coded")


@pytest.mark.django_db(transaction=True)
def test_execute_prepared_survives_a_migration_that_changes_what_the_statement_returns():
    import psycopg

    def call():
        with connection.cursor() as cursor:
            execute_prepared(cursor, "SELECT * FROM prepared_shape_test(%s)", [1])
            return cursor.fetchone()

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION prepared_shape_test(x integer) RETURNS TABLE (a integer) "
            "LANGUAGE sql AS 'SELECT x'"
        )
    try:
        assert call() == (1,)
        assert call() == (1,)
        dsn = connection.connection.info.dsn  # another session, as `migrate` would be
        with psycopg.connect(
            dsn, password=connection.settings_dict["PASSWORD"] or None, autocommit=True
        ) as other:
            other.execute("DROP FUNCTION prepared_shape_test(integer)")
            other.execute(
                "CREATE FUNCTION prepared_shape_test(x integer) RETURNS TABLE (a integer, b text) "
                "LANGUAGE sql AS 'SELECT x, ''two'''"
            )
        assert call() == (1, "two")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION IF EXISTS prepared_shape_test(integer)")
