"""Who is asking: the session and the user, read once per request with one plain query each.

Every page, every htmx request and every claim first reads the session row and then the user
row. Django's own database session store and ModelBackend build those two reads with the ORM,
whose query compilation costs more than the indexed lookups themselves (about half a
millisecond of CPU per request, measured with bench/claim_bench.py). These two classes run the
same lookups as plain SQL; the tables, the expiry rule, inactive users being refused,
and everything else are Django's.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from backoffice.sql import column_list

SESSION_SQL = (
    f"SELECT session_key, session_data, expire_date FROM {Session._meta.db_table} "
    "WHERE session_key = %s AND expire_date > %s"
)
USER_SQL = f"SELECT {column_list(User)} FROM {User._meta.db_table} WHERE id = %s"


class SessionStore(DatabaseSessionStore):
    """Django's database sessions (SESSION_ENGINE = "backoffice.request_identity")."""

    def _get_session_from_db(self) -> Session | None:
        session = next(iter(Session.objects.raw(SESSION_SQL, [self.session_key, timezone.now()])), None)
        if session is None:
            self._session_key = None  # as Django's store does: a missing or expired session is a new one
        return session


class UserBackend(ModelBackend):
    """Django's ModelBackend with the per-request user lookup as one plain query."""

    def get_user(self, user_id: int) -> User | None:
        user = next(iter(User.objects.raw(USER_SQL, [user_id])), None)
        return user if user is not None and self.user_can_authenticate(user) else None
