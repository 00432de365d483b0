"""Intake: documents arrive from the upload page, the API or a folder, and are queued for triage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from agents import services
from agents.models import Document, Process
from agents.text_extraction import ACCEPTED_SUFFIXES, UnsupportedFile
from review import trail
from review.tasks import enqueue_triage
from review.trail import Action, System


class Rejected(ValueError):
    """A delivery the product does not take; the message is for the sender."""


@dataclass(frozen=True)
class Received:
    document: Document
    created: bool


def receive(
    *, process: Process, filename: str, data: bytes, source: str, actor: User | None, channel: str = ""
) -> Received:
    """Store a delivered file (once per content) and queue it for triage. Raises Rejected."""
    check_size(filename, len(data))
    with transaction.atomic():
        try:
            stored = services.store_document(
                process=process, filename=filename, data=data, source=source, actor=actor
            )
        except UnsupportedFile as exc:
            raise Rejected(f"{filename}: {exc}") from None
        if stored.created:
            trail.record(
                Action.DOCUMENT_RECEIVED,
                actor=actor or System(channel or source),
                document=stored.document,
                data={
                    "name": stored.document.original_name,
                    "source": source,
                    "checksum": stored.document.checksum,
                    "size": stored.document.size,
                    "text_problem": stored.document.text_problem,
                },
            )
            enqueue_triage(stored.document.pk)
    return Received(stored.document, stored.created)


def check_size(filename: str, size: int) -> None:
    """Raise Rejected for an empty file or one over MAX_UPLOAD_BYTES."""
    if size == 0:
        raise Rejected(f"{filename}: the file is empty.")
    if size > settings.MAX_UPLOAD_BYTES:
        raise Rejected(
            f"{filename}: the file is {size:,} bytes; the limit is {settings.MAX_UPLOAD_BYTES:,} bytes."
        )


def files_in(path: Path) -> list[Path]:
    """The files a folder import takes: accepted types, recursively, in a stable order."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ACCEPTED_SUFFIXES)
