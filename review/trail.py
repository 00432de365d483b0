"""The decision trail: append-only entries chained by hash.

`record` must be called inside the transaction of the change it describes: it locks the chain's
head row, so appends are serialised and the chain never forks, and the entry commits or rolls
back together with the change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agents.models import AgentVersion, Document, Process
from review.models import TrailEntry, TrailHead

GENESIS_HASH = "0" * 64


class Action:
    DOCUMENT_RECEIVED = "document.received"
    AGENT_AUTO_ACCEPTED = "agent.auto_accepted"
    AGENT_ROUTED_TO_REVIEW = "agent.routed_to_review"
    TASK_CLAIMED = "task.claimed"
    TASK_RELEASED = "task.released"
    DECISION_APPROVED = "decision.approved"
    DECISION_CORRECTED = "decision.corrected"
    DECISION_REJECTED = "decision.rejected"
    DECISION_ESCALATED = "decision.escalated"
    AUTONOMY_CHANGED = "config.autonomy_changed"
    VERSION_CREATED = "config.version_created"
    VERSION_ACTIVATED = "config.version_activated"
    PERMISSION_GRANTED = "config.permission_granted"
    PERMISSION_REVOKED = "config.permission_revoked"


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
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: TrailEntry) -> str:
    """The hash of an entry's content and of its predecessor's hash."""
    payload = {
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "actor": [entry.actor_kind, entry.actor_id, entry.actor_label],
        "action": entry.action,
        "process": entry.process_id,
        "document": entry.document_id,
        "data": entry.data,
        "prev": entry.prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def record(
    action: str,
    *,
    actor: Actor,
    process: Process | None = None,
    document: Document | None = None,
    data: dict[str, Any] | None = None,
) -> TrailEntry:
    """Append one entry. Requires an open transaction (raises otherwise)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("trail.record must run inside the transaction of the change it records")
    head, _ = TrailHead.objects.select_for_update().get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
    kind, actor_id, label = _actor_fields(actor)
    entry = TrailEntry(
        seq=head.seq + 1,
        created_at=timezone.now(),
        actor_kind=kind,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        process=process or (document.process if document else None),
        document=document,
        # Round-trip through JSON so the stored data is exactly what was hashed.
        data=json.loads(canonical_json(data or {})),
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    entry.save()
    TrailHead.objects.filter(pk=1).update(seq=entry.seq, hash=entry.hash)
    return entry
