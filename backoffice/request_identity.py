"""Who is asking: the session and its user, read together with one plain query per request.

Every page, every htmx request and every claim first reads the session row and then the user
row. Django's own database session store and ModelBackend do that with two ORM queries, whose
compilation costs more than the indexed lookups themselves. Here the session row names its user
(accounts.models.Session), so one query joins the two; the store hands the user it read to the
authentication backend of the same request. The expiry rule, the session-hash check that ends
sessions after a password change, inactive users being refused, and everything else are
Django's: these classes only change how the two rows are read.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connection
from django.utils import timezone

from backoffice.sql import column_list, execute_prepared, fetch_instance, instance_from_row

USER_SQL = f"SELECT {column_list(User)} FROM {User._meta.db_table} WHERE id = %s"

# The user row read with the session, for the backend's get_user() in the same request: set by
# every session read (None when there was no user), taken (and cleared) by get_user().
_user_read_with_session: ContextVar[User | None] = ContextVar("user_read_with_session", default=None)


def forget_user_read_with_session(**kwargs) -> None:
    """At the start and end of every request (accounts.apps): nothing outlives its request."""
    _user_read_with_session.set(None)


@functools.cache
def _session_sql() -> str:
    from accounts.models import Session

    return (
        f"SELECT {column_list(Session, 's')}, {column_list(User, 'u')} "
        f"FROM {Session._meta.db_table} s LEFT JOIN {User._meta.db_table} u ON u.id = s.user_id "
        "WHERE s.session_key = %s AND s.expire_date > %s"
    )


class SessionStore(DatabaseSessionStore):
    """Django's database sessions, in accounts.models.Session (SESSION_ENGINE = this module)."""

    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = _user_id(data.get(SESSION_KEY))
        return session

    def _get_session_from_db(self):
        _user_read_with_session.set(None)
        session_model = self.get_model_class()
        with connection.cursor() as cursor:
            execute_prepared(cursor, _session_sql(), [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's store does: a missing or expired session is a new one
            return None
        width = len(session_model._meta.concrete_fields)
        session = instance_from_row(session_model, row[:width])
        if row[width] is not None:  # the user's id column: the user exists
            _user_read_with_session.set(instance_from_row(User, row[width:]))
        return session


def _user_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class UserBackend(ModelBackend):
    """Django's ModelBackend; the per-request user comes from the session's query when it can."""

    def get_user(self, user_id) -> User | None:
        user = _user_read_with_session.get()
        _user_read_with_session.set(None)
        if user is None or str(user.pk) != str(user_id):  # not read with this session: read it now
            user = fetch_instance(User, USER_SQL, [user_id], prepare=True)
        return user if user is not None and self.user_can_authenticate(user) else None
