"""Sessions that name their user, so a request reads its session and its user in one query."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class Session(AbstractBaseSession):
    """Django's database session, plus the signed-in user (kept in step by the session store).

    The user column is a copy of what the session data says (the data stays the authority: the
    store checks that both agree). It lets every request load its session and user together
    (backoffice/request_identity.py), and a user's sessions end when the user is deleted.
    """

    # No database constraint: a session saved while its user is being deleted must not fail (the
    # session store would retry with new keys forever); deleting a user still deletes its sessions.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
    )

    @classmethod
    def get_session_store_class(cls):
        from backoffice.request_identity import SessionStore

        return SessionStore

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"
