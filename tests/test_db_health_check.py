"""The connection health check: no round trip while the connection is quiet, Django's own check
(`SELECT 1`) whenever the server has sent something, and an ended connection is never reused."""

import time

import pytest
from django.db import connection, connections

from backoffice.postgresql import base as health_check

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_connection():
    """A connection of its own, so that ending it leaves the test's connection alone."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    wrapper.set_autocommit(True)
    yield wrapper
    wrapper.close()


def last_query_of(wrapper) -> str:
    """What the server saw last from `wrapper`'s session, read from another session."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [wrapper.connection.info.backend_pid]
        )
        return cursor.fetchone()[0]


def wait_until_readable(wrapper) -> None:
    import select

    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN)
    assert poller.poll(5000), "the server sent nothing"


def test_a_quiet_connection_recently_checked_is_usable_without_a_query(own_connection):
    assert own_connection.is_usable()  # the first check is Django's own
    assert last_query_of(own_connection) == "SELECT 1"
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    assert own_connection.is_usable()
    assert last_query_of(own_connection) == "SELECT 'the last query'"


def test_a_quiet_connection_not_checked_for_a_while_gets_select_1(own_connection, monkeypatch):
    assert own_connection.is_usable()
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    monkeypatch.setattr(health_check, "ROUND_TRIP_EVERY", 0.0)  # the last check is now too old
    assert own_connection.is_usable()
    assert last_query_of(own_connection) == "SELECT 1"


def test_a_connection_the_server_ended_is_not_usable_and_django_reconnects(own_connection):
    pid = own_connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until_readable(own_connection)

    assert not own_connection.is_usable()
    own_connection.health_check_done = False
    own_connection.close_if_health_check_failed()  # what Django does before a request's first query
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_something_else_waiting_to_be_read_falls_back_to_select_1(own_connection):
    assert own_connection.is_usable()  # checked just now: only what is waiting sends SELECT 1
    with own_connection.cursor() as cursor:
        cursor.execute("LISTEN health_check_test")
    with connection.cursor() as cursor:
        cursor.execute("NOTIFY health_check_test")
    wait_until_readable(own_connection)

    assert own_connection.is_usable()
    deadline = time.monotonic() + 5
    while last_query_of(own_connection) != "SELECT 1" and time.monotonic() < deadline:
        time.sleep(0.05)  # the statistics view is updated asynchronously
    assert last_query_of(own_connection) == "SELECT 1"


def test_inside_a_transaction_django_check_decides(own_connection):
    assert own_connection.is_usable()  # checked just now: only the open transaction sends SELECT 1
    own_connection.set_autocommit(False)
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'in a transaction'")
    assert own_connection.is_usable()
    assert last_query_of(own_connection) == "SELECT 1"
    own_connection.rollback()
    own_connection.set_autocommit(True)


def test_the_backend_is_in_use():
    assert type(connections["default"]).__module__ == "backoffice.postgresql.base"
