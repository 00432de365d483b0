"""Django's PostgreSQL backend, with a health check that needs no round trip while all is well.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before a request first uses it,
by sending `SELECT 1` and waiting for the answer: a round trip on every request (measured in
the claim benchmark: about a tenth of the app's CPU for the claim, and the database's work).
A connection the server ended (restart, `pg_terminate_backend`, idle timeout) has something to
read: the server's error message, or the end of the stream. So when the connection is idle and
its socket has nothing to read, it is usable; in every other case Django's own check (`SELECT 1`)
decides, as before. A server that vanished without a word (its host gone) is not noticed before
the request's first query, which then fails as `SELECT 1` would have.

settings.py selects this backend (ENGINE "backoffice.postgresql") for PostgreSQL URLs.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        if _quietly_idle(self.connection):
            return True
        return super().is_usable()


def _quietly_idle(connection) -> bool:
    """Open, outside any transaction, with nothing from the server waiting to be read."""
    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    try:
        poller = select.poll()  # not select(): no limit on the descriptor's number
        poller.register(pgconn.socket, select.POLLIN)
        return not poller.poll(0)
    except (OSError, psycopg.Error):
        return False
