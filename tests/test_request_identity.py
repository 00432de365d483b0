"""Each request reads its session and its user with one query; Django's rules still apply."""

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Session
from backoffice.request_identity import SessionStore, UserBackend
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def log_in(client, user: User) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def test_signing_in_records_the_user_on_the_session_row(client, alice):
    log_in(client, alice)

    session = Session.objects.get(session_key=client.session.session_key)
    assert session.user_id == alice.pk
    assert session.get_decoded()["_auth_user_id"] == str(alice.pk)


def test_a_page_reads_its_session_and_user_in_one_query(client, alice):
    log_in(client, alice)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("review:queues")).status_code == 200

    identity = [q["sql"] for q in queries if "accounts_session" in q["sql"] or '"auth_user"' in q["sql"]]
    assert len(identity) == 1, identity
    assert "JOIN auth_user" in identity[0]


def test_a_deactivated_user_is_signed_out_on_the_next_request(client, alice):
    log_in(client, alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = client.get(reverse("review:queues"))

    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_password_change_ends_the_other_sessions(client, alice):
    log_in(client, alice)
    alice.set_password("a-completely-new-password-42")
    alice.save()

    response = client.get(reverse("review:queues"))

    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not Session.objects.filter(user=alice).exists()  # flushed by Django's session-hash check


def test_deleting_a_user_ends_their_sessions(client, charlie):
    log_in(client, charlie)
    assert Session.objects.filter(user=charlie).exists()

    charlie.delete()

    assert not Session.objects.filter(user_id=charlie.pk).exists()


def test_the_user_read_with_a_session_serves_only_that_user(alice, bob):
    store = SessionStore()
    store["_auth_user_id"] = str(alice.pk)
    store.save()
    User.objects.filter(pk=bob.pk).update(first_name="Robert")

    SessionStore(session_key=store.session_key).load()  # reads alice with the session
    fetched = UserBackend().get_user(bob.pk)  # another id: read now, fresh

    assert (fetched.pk, fetched.first_name) == (bob.pk, "Robert")
    SessionStore(session_key=store.session_key).load()
    assert UserBackend().get_user(str(alice.pk)).pk == alice.pk


def test_the_user_read_with_a_session_does_not_outlive_its_request(alice):
    store = SessionStore()
    store["_auth_user_id"] = str(alice.pk)
    store.save()
    SessionStore(session_key=store.session_key).load()  # reads alice with the session...
    request_finished.disconnect(close_old_connections)  # (it would close the test's connection)
    try:
        request_finished.send(sender=None)  # ...and the request ends before anything asked for her
    finally:
        request_finished.connect(close_old_connections)
    User.objects.filter(pk=alice.pk).update(is_active=False)

    assert UserBackend().get_user(alice.pk) is None  # read now: the request's copy was dropped
