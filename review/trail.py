"""The decision trail: append-only entries chained by hash.

`record` must be called inside the transaction of the change it describes: it locks the chain's
head row, so appends are serialised and the chain never forks, and the entry commits or rolls
back together with the change. The lock is held until the transaction ends; a hot path whose
entry is its last write uses `transaction_ending_with_entry`, which on PostgreSQL sends the
append with COMMIT so that the lock is held only while the server runs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone
from psycopg import ClientCursor

from agents.models import AgentVersion, Document, Process
from review.models import TrailCheckpoint, TrailEntry, TrailHead

GENESIS_HASH = "0" * 64


class Action:
    DOCUMENT_RECEIVED = "document.received"
    AGENT_AUTO_ACCEPTED = "agent.auto_accepted"
    AGENT_ROUTED_TO_REVIEW = "agent.routed_to_review"
    TASK_RELEASED = "task.released"
    DECISION_APPROVED = "decision.approved"
    DECISION_CORRECTED = "decision.corrected"
    DECISION_REJECTED = "decision.rejected"
    DECISION_ESCALATED = "decision.escalated"
    PROCESS_CREATED = "config.process_created"
    VERSION_OVERRIDE = "config.version_override"
    REGRESSION_PINNED = "config.regression_pinned"
    REGRESSION_UNPINNED = "config.regression_unpinned"
    AUTONOMY_CHANGED = "config.autonomy_changed"
    VERSION_CREATED = "config.version_created"
    VERSION_ACTIVATED = "config.version_activated"
    VERSION_ROLLED_BACK = "config.version_rolled_back"
    PERMISSION_GRANTED = "config.permission_granted"
    PERMISSION_REVOKED = "config.permission_revoked"

    @classmethod
    def all(cls) -> list[str]:
        return sorted(value for name, value in vars(cls).items() if name.isupper())


@dataclass(frozen=True)
class System:
    """An actor that is neither a person nor an agent (a periodic job, a command)."""

    name: str


Actor = User | AgentVersion | System | None


def _actor_fields(actor: Actor) -> tuple[str, str, str]:
    if isinstance(actor, User):
        return "user", str(actor.pk), actor.get_username()
    if isinstance(actor, AgentVersion):
        return "agent", str(actor.pk), f"{actor.process.slug} v{actor.number} ({actor.provider})"
    if isinstance(actor, System):
        return "system", "", actor.name
    return "system", "", "system"


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(
        payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def entry_hash(entry: TrailEntry) -> str:
    """The hash of an entry's content and of its predecessor's hash."""
    return hashlib.sha256(canonical_json(_hashed_payload(entry)).encode()).hexdigest()


def _hashed_payload(entry: TrailEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "actor": [entry.actor_kind, entry.actor_id, entry.actor_label],
        "action": entry.action,
        "process": entry.process_id,
        "document": entry.document_id,
        "data": entry.data,
        "prev": entry.prev_hash,
    }


def record(
    action: str,
    *,
    actor: Actor,
    process: Process | None = None,
    document: Document | None = None,
    data: dict[str, Any] | None = None,
) -> TrailEntry:
    """Append one entry. Requires an open transaction (raises otherwise)."""
    return _append(_new_entry(action, actor, process, document, data), commit=False)


class LastEntry:
    """The trail entry a `transaction_ending_with_entry` block writes last (see there)."""

    def __init__(self) -> None:
        self.args: tuple | None = None
        self.entry: TrailEntry | None = None

    def set(
        self,
        action: str,
        *,
        actor: Actor,
        process: Process | None = None,
        document: Document | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """What to record, as `record` takes it; written when the block ends without an error."""
        self.args = (action, actor, process, document, data)


@contextmanager
def transaction_ending_with_entry() -> Iterator[LastEntry]:
    """An atomic block whose last write is its trail entry (named with `.set()` inside it).

    When the block owns its transaction (the outermost, on PostgreSQL), the append and COMMIT go
    to the server as one message, so the chain's head is locked only while the server runs them,
    never while this thread waits for its interpreter lock; the atomic block then finds nothing
    left to commit and runs its on-commit callbacks. Nested in an outer transaction, or on SQLite,
    the entry is appended and the transaction commits as usual. If the block raises, nothing is
    written and the transaction rolls back.
    """
    last = LastEntry()
    with transaction.atomic():
        yield last
        if last.args is not None:
            last.entry = _append(_new_entry(*last.args), commit=_owns_transaction())


def _owns_transaction() -> bool:
    """Whether the current atomic block is the outermost one and commits on exit."""
    return (
        connection.vendor == "postgresql"
        and len(connection.atomic_blocks) == 1
        and connection.commit_on_exit
        and not connection.savepoint_ids
        and not connection.needs_rollback
    )


def _new_entry(
    action: str, actor: Actor, process: Process | None, document: Document | None, data: dict[str, Any] | None
) -> TrailEntry:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("trail.record must run inside the transaction of the change it records")
    kind, actor_id, label = _actor_fields(actor)
    return TrailEntry(
        created_at=timezone.now(),
        actor_kind=kind,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        process=process or (document.process if document else None),
        document=document,
        # Round-trip through JSON so the stored data is exactly what was hashed, with numbers
        # as PostgreSQL's jsonb gives them back.
        data=json.loads(canonical_json(_as_jsonb_returns(data or {}))),
    )


def _as_jsonb_returns(value: Any) -> Any:
    """Floats as jsonb gives them back: it stores numbers as exact decimals, so a float that is
    a whole number written with an exponent (1e16) comes back an integer, and -0.0 comes back 0.0.
    Not-a-number and infinities are refused (they are not JSON)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"a trail entry cannot hold {value!r}: it is not JSON")
        if value == 0:
            return 0.0
        if value.is_integer() and "e" in repr(value):
            return int(Decimal(repr(value)))  # the decimal jsonb reads from the JSON text
        return value
    if isinstance(value, dict):
        return {key: _as_jsonb_returns(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_jsonb_returns(item) for item in value]
    return value


def _append(entry: TrailEntry, *, commit: bool) -> TrailEntry:
    if connection.vendor == "postgresql":
        _append_on_postgres(entry, commit=commit)
    else:  # SQLite (the embedded demo) runs one writer at a time: the head needs no row lock
        entry.seq, entry.prev_hash = _head()
        entry.seq += 1
        entry.hash = entry_hash(entry)
        entry.save()
        with connection.cursor() as cursor:
            cursor.execute(MOVE_HEAD_SQL, [entry.seq, entry.hash])
    return entry


def _json_around_chain(entry: TrailEntry) -> tuple[str, str]:
    """entry_hash()'s canonical JSON with two gaps, for the predecessor's hash and for the seq.

    Keys are sorted: "prev", "process" and "seq" come after every other key, so the JSON is the
    other keys' object, then `"prev":"<hash>","process":<id>,"seq":<n>}`.
    """
    payload = _hashed_payload(entry)
    del payload["prev"], payload["seq"]
    process = payload.pop("process")
    assert max(payload) < "prev"  # the gaps are where canonical_json puts them
    before_prev = canonical_json(payload)[:-1] + ',"prev":"'
    before_seq = '","process":' + canonical_json(process) + ',"seq":'
    return before_prev, before_seq


# Every change the product makes appends here, under the head's lock, which serialises all
# appends. On PostgreSQL one call of review_trail_append() (migration review/0010) locks the
# head, hashes, inserts and moves the head; sent with COMMIT, the lock is held server-side only.
APPEND_SQL = "SELECT r_id, r_seq, r_prev_hash, r_hash FROM review_trail_append(" + ", ".join(
    ["%s::timestamptz", "%s::text", "%s::text", "%s::text", "%s::text", "%s::bigint", "%s::bigint",
     "%s::jsonb", "%s::text", "%s::text"]
) + ")"  # fmt: skip
HEAD_SQL = f"SELECT seq, hash FROM {TrailHead._meta.db_table} WHERE id = 1"
MOVE_HEAD_SQL = f"UPDATE {TrailHead._meta.db_table} SET seq = %s, hash = %s WHERE id = 1"


def _append_on_postgres(entry: TrailEntry, *, commit: bool) -> None:
    data = TrailEntry._meta.get_field("data").get_db_prep_save(entry.data, connection)
    params = [
        entry.created_at, entry.actor_kind, entry.actor_id, entry.actor_label, entry.action,
        entry.process_id, entry.document_id, data, *_json_around_chain(entry),
    ]  # fmt: skip
    if commit:
        # Simple-query protocol (client-side binding): the append and COMMIT run as one message.
        cursor = connection._prepare_cursor(ClientCursor(connection.connection))
        sql = APPEND_SQL + "; COMMIT"
    else:
        cursor = connection.cursor()
        sql = APPEND_SQL
    with cursor:
        cursor.execute(sql, params)
        entry.pk, entry.seq, entry.prev_hash, entry.hash = cursor.fetchone()
    entry._state.adding = False  # stored: saving it again is refused like any stored entry


def _head() -> tuple[int, str]:
    """The chain's head (seq, hash), read without a row lock (SQLite)."""
    with connection.cursor() as cursor:
        cursor.execute(HEAD_SQL)
        row = cursor.fetchone()
    if row is None:  # the very first entry: create the head row
        head, _ = TrailHead.objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        return head.seq, head.hash
    return row[0], row[1]


def write_checkpoint(*, reason: str) -> TrailCheckpoint:
    """Copy the chain's head out of the trail table (periodic job, exports, verification).

    Reads the head row without locking it: a checkpoint names a committed head, and appends keep going.
    """
    head = TrailHead.objects.filter(pk=1).first()
    seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    return TrailCheckpoint.objects.create(seq=seq, hash=head_hash, reason=reason)


def current_head() -> tuple[int, str]:
    head = TrailHead.objects.filter(pk=1).first()
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


# Reads for the auditor's screens and the exports ------------------------------------------------


class InvalidFilter(ValueError):
    """A trail filter that cannot be applied (malformed or inverted date range, unknown action)."""


@dataclass(frozen=True)
class TrailFilter:
    """What an auditor asked for, already scoped to the processes they audit."""

    process_ids: frozenset[int]
    process: Process | None = None
    document_id: int | None = None
    actor_kind: str = ""
    actor_id: str = ""
    actor_label: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def as_dict(self) -> dict[str, Any]:
        """The filter as the auditor gave it (for manifests and links)."""
        return {
            "process": self.process.slug if self.process else None,
            "document": self.document_id,
            "actor": self.actor_param or None,
            "action": self.action or None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }

    @property
    def actor_param(self) -> str:
        if self.actor_kind == "system":
            return f"system:{self.actor_label}"
        return f"{self.actor_kind}:{self.actor_id}" if self.actor_kind else ""

    def querystring(self) -> str:
        params = {key: value for key, value in self.as_dict().items() if value not in (None, "")}
        return urlencode(params)


def parse_date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(f"{name} must be a date as YYYY-MM-DD, not {value[:40]!r}") from None


def parse_actor(value: str) -> tuple[str, str, str]:
    """ "user:12", "agent:3", "system:triage", or a bare username -> (kind, id, label)."""
    kind, sep, ident = value.partition(":")
    if not sep:
        user_id = User.objects.filter(username=value).values_list("pk", flat=True).first()
        return ("user", str(user_id) if user_id else "-", "")
    if kind in ("user", "agent") and ident.isdigit():
        return (kind, ident, "")
    if kind == "system" and ident:
        return (kind, "", ident)
    raise InvalidFilter("actor must be user:<id>, agent:<version id>, system:<name> or a username")


def build_filter(
    params: Mapping[str, str],
    *,
    process_ids: frozenset[int],
    process: Process | None,
    document_id: int | None,
) -> TrailFilter:
    """Validate the non-scoping parts of a filter. Raises InvalidFilter with a message for the user."""
    date_from = parse_date(params.get("date_from", "").strip(), "date_from")
    date_to = parse_date(params.get("date_to", "").strip(), "date_to")
    if date_from and date_to and date_from > date_to:
        raise InvalidFilter(f"the date range is inverted: date_from {date_from} is after date_to {date_to}")
    action = params.get("action", "").strip()
    if action and action not in Action.all():
        raise InvalidFilter(f"unknown action {action[:64]!r}")
    actor = params.get("actor", "").strip()
    kind, actor_id, label = parse_actor(actor) if actor else ("", "", "")
    return TrailFilter(
        process_ids=process_ids,
        process=process,
        document_id=document_id,
        actor_kind=kind,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        date_from=date_from,
        date_to=date_to,
    )


def filtered_entries(trail_filter: TrailFilter, *, up_to_seq: int | None = None) -> QuerySet[TrailEntry]:
    """The entries a filter selects, unordered. Date bounds become seq bounds too (see _seq_bounds)."""
    f = trail_filter
    qs = TrailEntry.objects.filter(process_id__in=[f.process.pk] if f.process else f.process_ids)
    if f.document_id is not None:
        qs = qs.filter(document_id=f.document_id)
    if f.actor_kind:
        qs = qs.filter(actor_kind=f.actor_kind)
        if f.actor_kind == "system":
            qs = qs.filter(actor_label=f.actor_label)
        else:
            qs = qs.filter(actor_id=f.actor_id)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.date_from:
        start = _start_of(f.date_from)
        qs = qs.filter(created_at__gte=start)
        first = TrailEntry.objects.filter(created_at__gte=start).order_by("created_at").values("seq")[:1]
        qs = qs.filter(seq__gte=Subquery(first))
    if f.date_to:
        end = _start_of(f.date_to + timedelta(days=1))
        qs = qs.filter(created_at__lt=end)
        last = TrailEntry.objects.filter(created_at__lt=end).order_by("-created_at").values("seq")[:1]
        qs = qs.filter(seq__lte=Subquery(last))
    if up_to_seq is not None:
        qs = qs.filter(seq__lte=up_to_seq)
    return qs


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


TRAIL_PAGE_SIZE = 50


def trail_page(
    trail_filter: TrailFilter, *, before: int | None = None, page_size: int = TRAIL_PAGE_SIZE
) -> tuple[list[TrailEntry], int | None]:
    """One page, newest first, keyset-paginated on seq; returns (page, next cursor). No COUNT(*)."""
    qs = filtered_entries(trail_filter)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    page = list(qs.select_related("process").order_by("-seq")[: page_size + 1])
    next_cursor = page[page_size - 1].seq if len(page) > page_size else None
    return page[:page_size], next_cursor


def document_timeline(
    document: Document, *, after: int | None = None, page_size: int = 200
) -> tuple[list[TrailEntry], int | None]:
    """Everything that happened to one document, oldest first, keyset-paginated on seq."""
    qs = TrailEntry.objects.filter(document=document)
    if after is not None:
        qs = qs.filter(seq__gt=after)
    page = list(qs.order_by("seq")[: page_size + 1])
    next_cursor = page[page_size - 1].seq if len(page) > page_size else None
    return page[:page_size], next_cursor
