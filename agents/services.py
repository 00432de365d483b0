"""The only writers of the agents app. Callers (review) wrap them with their trail entries.

State changes of a document are compare-and-set updates on its `state` column, so a duplicate
or retried task finds nothing to do instead of doing it twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from agents.autonomy import RunFacts, Verdict, decide
from agents.confidence import decisive_confidences
from agents.models import AgentRun, AgentVersion, Document, Process
from agents.schema import fields_from_json
from agents.text_extraction import read_text
from backoffice.sql import column_list, fetch_instance


class StateConflict(Exception):
    """The document was not in the state the change expects (someone else changed it first)."""


class VersionLocked(Exception):
    """An agent version that has runs cannot be changed; create a new version instead."""


@dataclass(frozen=True)
class Stored:
    document: Document
    created: bool


def checksum_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_document(
    *, process: Process, filename: str, data: bytes, source: str, actor: User | None
) -> Stored:
    """Store a delivered file once per process. Raises UnsupportedFile for files it cannot take.

    Re-delivery of the same bytes returns the existing document with created=False.
    """
    checksum = checksum_of(data)
    existing = Document.objects.filter(process=process, checksum=checksum).first()
    if existing:
        return Stored(existing, False)
    read = read_text(filename, data)
    document = Document(
        process=process,
        source=source,
        original_name=filename[-255:],
        content_type=read.content_type,
        size=len(data),
        checksum=checksum,
        text=read.text,
        text_encoding=read.encoding,
        text_problem=read.problem,
        received_by=actor,
    )
    document.file.save(f"{checksum[:16]}-{_safe_name(filename)}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # the same bytes arrived concurrently
        document.file.delete(save=False)
        return Stored(Document.objects.get(process=process, checksum=checksum), False)
    return Stored(document, True)


def _safe_name(filename: str) -> str:
    name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename.rsplit("/", 1)[-1])
    return name[-80:] or "document"


# begin_processing in one statement (triage runs it for every document): the compare-and-set from
# received to processing, the document's columns, whether an earlier attempt left a run without
# its verdict, and the process's active version.
BEGIN_PROCESSING_SQL = f"""
UPDATE {Document._meta.db_table} SET state = %s, processing_started_at = %s, updated_at = %s
WHERE id = %s AND state = %s
RETURNING {column_list(Document)},
    EXISTS (SELECT 1 FROM {AgentRun._meta.db_table} r
            WHERE r.document_id = {Document._meta.db_table}.id AND r.outcome = %s) AS has_unsettled_run,
    (SELECT v.id FROM {AgentVersion._meta.db_table} v
     WHERE v.process_id = {Document._meta.db_table}.process_id AND v.is_active) AS active_version_id
"""


def begin_processing(document_id: int) -> Document | None:
    """Claim a received document for triage. None when it is missing or someone else has it.

    The document comes back with two more attributes: `has_unsettled_run` (an earlier attempt
    left a run without its verdict: see unsettled_run) and `active_version_id` (None if none).
    """
    now = timezone.now()
    params = [
        Document.State.PROCESSING,
        _db(Document, "processing_started_at", now),
        _db(Document, "updated_at", now),
        document_id,
        Document.State.RECEIVED,
        AgentRun.Outcome.PENDING,
    ]
    extra = ("has_unsettled_run", "active_version_id")
    return fetch_instance(Document, BEGIN_PROCESSING_SQL, params, extra=extra)


def _db(model: type[models.Model], field: str, value: Any) -> Any:
    """A value as the column stores it (raw SQL gets no field conversion; SQLite keeps datetimes as text)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def unsettled_run(document: Document) -> AgentRun | None:
    """The newest run of the document that never got its verdict (its attempt failed after it)."""
    if not getattr(document, "has_unsettled_run", True):
        return None  # begin_processing already looked: there is none
    return (
        AgentRun.objects.select_related("agent_version__process", "document")
        .filter(document=document, outcome=AgentRun.Outcome.PENDING)
        .order_by("-id")
        .first()
    )


def release_processing(document_id: int) -> bool:
    """Put a document this attempt was processing back to received (compare-and-set)."""
    return bool(
        Document.objects.filter(pk=document_id, state=Document.State.PROCESSING).update(
            state=Document.State.RECEIVED, updated_at=timezone.now()
        )
    )


def judge_run(*, run: AgentRun, process: Process) -> Verdict:
    """Apply the process's current policy to a run (pure; see agents.autonomy.decide)."""
    version = run.agent_version
    fields = fields_from_json(version.schema_snapshot) if version else process.field_specs
    facts = RunFacts(
        confidences=decisive_confidences(fields, run.output, run.confidences),
        overall_confidence=run.overall_confidence,
        validation_errors=run.validation_errors,
        error_code=run.error_code,
    )
    return decide(
        facts=facts,
        mode=process.autonomy_mode,
        threshold=process.confidence_threshold,
        field_thresholds=process.field_thresholds,
        audit_sample_rate=process.audit_sample_rate,
        process_slug=process.slug,
        document_checksum=run.document.checksum,
    )


def settle_run(*, run: AgentRun, verdict: Verdict) -> None:
    """Record the verdict on the run and move its document out of processing (compare-and-set).

    Must run inside the caller's transaction. Raises StateConflict if the document is not processing.
    """
    accepted = verdict.accept
    new_state = Document.State.AUTO_ACCEPTED if accepted else Document.State.IN_REVIEW
    # Plain SQL: triage settles every document, and these are two indexed single-row updates.
    document_params = [new_state, _db(Document, "updated_at", timezone.now())]
    if accepted:
        document_params.append(_db(Document, "final_fields", run.output))
    with connection.cursor() as cursor:
        cursor.execute(
            SETTLE_DOCUMENT_SQL.format(final_fields=", final_fields = %s" if accepted else ""),
            [*document_params, run.document_id, Document.State.PROCESSING],
        )
        if cursor.rowcount != 1:
            raise StateConflict(run.document_id)
        run.outcome = AgentRun.Outcome.AUTO_ACCEPTED if accepted else AgentRun.Outcome.REVIEW
        run.route_reason = verdict.reason
        run.would_auto_accept = verdict.would_auto_accept
        run.policy = verdict.policy.as_dict() | {"low_fields": list(verdict.low_fields)}
        run.audit_draw = verdict.audit_draw
        cursor.execute(
            SETTLE_RUN_SQL,
            [
                run.outcome,
                run.route_reason,
                run.would_auto_accept,
                _db(AgentRun, "policy", run.policy),
                run.audit_draw,
                run.pk,
            ],
        )


SETTLE_DOCUMENT_SQL = (
    f"UPDATE {Document._meta.db_table} SET state = %s, updated_at = %s{{final_fields}} "
    "WHERE id = %s AND state = %s"
)
SETTLE_RUN_SQL = (
    f"UPDATE {AgentRun._meta.db_table} SET outcome = %s, route_reason = %s, would_auto_accept = %s, "
    "policy = %s, audit_draw = %s WHERE id = %s"
)


def finish_review(*, document: Document, accepted: bool, final_fields: dict[str, Any] | None) -> None:
    """Close a document after a human decision (compare-and-set from in_review)."""
    state = Document.State.ACCEPTED if accepted else Document.State.REJECTED
    updated = Document.objects.filter(pk=document.pk, state=Document.State.IN_REVIEW).update(
        state=state, final_fields=final_fields, updated_at=timezone.now()
    )
    if updated != 1:
        raise StateConflict(document.pk)


def requeue_stalled(*, older_than: timedelta) -> list[int]:
    """Documents stuck in processing (a worker died) or never picked up go back to received."""
    cutoff = timezone.now() - older_than
    stalled = list(
        Document.objects.filter(
            state=Document.State.PROCESSING, processing_started_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    if stalled:
        Document.objects.filter(pk__in=stalled, state=Document.State.PROCESSING).update(
            state=Document.State.RECEIVED, updated_at=timezone.now()
        )
    waiting = list(
        Document.objects.filter(state=Document.State.RECEIVED, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )
    return sorted(set(stalled) | set(waiting))


@transaction.atomic
def create_version(
    *,
    process: Process,
    provider: str,
    model: str = "",
    instructions: str = "",
    settings: dict[str, Any] | None = None,
    notes: str = "",
    actor: User | None,
) -> AgentVersion:
    """A new, inactive version numbered after the process's last; snapshots the current schema."""
    Process.objects.select_for_update().get(pk=process.pk)  # serialise numbering
    last = (
        AgentVersion.objects.filter(process=process)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return AgentVersion.objects.create(
        process=process,
        number=(last or 0) + 1,
        provider=provider,
        model=model,
        instructions=instructions,
        schema_snapshot=process.fields,
        settings=settings or {},
        notes=notes,
        created_by=actor,
    )


@transaction.atomic
def activate_version(*, version: AgentVersion) -> AgentVersion | None:
    """Make `version` the active one of its process; returns the previously active version."""
    previous = (
        AgentVersion.objects.select_for_update().filter(process=version.process_id, is_active=True).first()
    )
    if previous and previous.pk == version.pk:
        return previous
    if previous:
        AgentVersion.objects.filter(pk=previous.pk).update(is_active=False)
    AgentVersion.objects.filter(pk=version.pk).update(is_active=True)
    version.is_active = True
    return previous


AUTONOMY_FIELDS = (
    "autonomy_mode",
    "confidence_threshold",
    "field_thresholds",
    "audit_sample_rate",
    "target_accuracy",
)


@transaction.atomic
def set_autonomy(*, process: Process, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Change a process's autonomy settings; returns {field: (before, after)} for what changed."""
    unknown = set(changes) - set(AUTONOMY_FIELDS)
    if unknown:
        raise ValueError(f"not autonomy settings: {sorted(unknown)}")
    locked = Process.objects.select_for_update().get(pk=process.pk)
    diff = {}
    for name, value in changes.items():
        before = getattr(locked, name)
        if isinstance(before, Decimal):
            value = Decimal(str(value))
        if before != value:
            diff[name] = (before, value)
            setattr(locked, name, value)
    if diff:
        locked.save(update_fields=[*diff, "updated_at"])
        for name, (_, after) in diff.items():
            setattr(process, name, after)
    return diff
