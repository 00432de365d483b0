"""Django's PostgreSQL backend, with a health check that needs no round trip while all is well.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before a request first uses it,
by sending `SELECT 1` and waiting for the answer: a round trip on every request (measured in
the claim benchmark: about a tenth of the app's CPU for the claim, and the database's work).
A connection the server ended (restart, `pg_terminate_backend`, idle timeout) has something to
read: the server's error message, or the end of the stream. So when the connection is idle, its
socket has nothing to read and Django's own check (`SELECT 1`) passed less than
ROUND_TRIP_EVERY seconds ago, it is usable; in every other case `SELECT 1` decides, as before. A
server that vanished without a word (its host gone in a failover, a firewall dropping the flow)
sends nothing: within those seconds a request on such a connection fails at its first query
instead of reconnecting, after them the round trip finds it out as Django's check does.

settings.py selects this backend (ENGINE "backoffice.postgresql") for PostgreSQL URLs.
"""

from __future__ import annotations

import select
import time

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

ROUND_TRIP_EVERY = 10.0  # seconds: at most this long without Django's own check


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        checked = getattr(self, "_round_trip_checked_at", None)
        fresh = checked is not None and time.monotonic() - checked < ROUND_TRIP_EVERY
        if fresh and _quietly_idle(self.connection):
            return True
        usable = super().is_usable()
        self._round_trip_checked_at = time.monotonic() if usable else None
        return usable


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
