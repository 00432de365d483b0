"""Exports of the decision trail: CSV and JSON Lines, streamed, each closed by a manifest.

An export is pinned to the chain's head at the moment it starts (`to_seq`): entries appended while
it streams are left out, so the same filter with the same `to_seq` always gives the same bytes. The
rows come from a server-side cursor (`.iterator(chunk_size=...)` inside a transaction, so
PostgreSQL streams instead of materialising a WITH HOLD cursor) and leave in blocks of a few hundred
rows: memory does not depend on the row count.

The last line is the manifest, and it covers everything before it:

- CSV: a final record whose first field is `#manifest` and whose second is the manifest as JSON;
- JSON Lines: a final line `{"manifest": {...}}`.

The manifest holds the format, the filter, the row count, the first and last seq and the hash of the
last exported entry, the chain's head the export was pinned to, the export checkpoint's id, and the
sha256 of every byte before the manifest line. `manifest_for` recomputes it without sending the rows
(the separate manifest download), which is how a file kept elsewhere is shown complete and unaltered.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Func, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from agents.models import Process
from review import trail
from review.models import TrailEntry
from review.trail import TrailFilter

COLUMNS = (
    "seq", "created_at", "actor_kind", "actor_id", "actor_label", "action",
    "process", "document", "data", "prev_hash", "hash",
)  # fmt: skip
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
CHUNK_SIZE = 5000  # rows per fetch from the server-side cursor
BLOCK_ROWS = 500  # rows per block handed to the web server


class ExportTooNew(ValueError):
    """An export asked for a `to_seq` beyond the chain's head."""


@dataclass(frozen=True)
class ExportPlan:
    trail_filter: TrailFilter
    fmt: str
    to_seq: int
    head_hash: str
    checkpoint_id: int | None = None

    @property
    def filename(self) -> str:
        scope = self.trail_filter.process.slug if self.trail_filter.process else "all-audited"
        return f"trail-{scope}-to-{self.to_seq}.{self.fmt}"


def start_export(*, trail_filter: TrailFilter, fmt: str, to_seq: int | None = None) -> ExportPlan:
    """Pin an export to the chain's head (or to an earlier `to_seq`) and write its checkpoint.

    The checkpoint anchors the head outside the table; it is the only write an export makes.
    Raises ExportTooNew when `to_seq` is beyond the head.
    """
    with transaction.atomic():
        checkpoint = trail.write_checkpoint(reason="export")
    if to_seq is None or to_seq == checkpoint.seq:
        return ExportPlan(trail_filter, fmt, checkpoint.seq, checkpoint.hash, checkpoint.pk)
    if to_seq > checkpoint.seq or to_seq < 0:
        raise ExportTooNew(f"to_seq {to_seq} is beyond the trail's head (#{checkpoint.seq})")
    head_hash = TrailEntry.objects.filter(seq=to_seq).values_list("hash", flat=True).first()
    return ExportPlan(trail_filter, fmt, to_seq, head_hash or trail.GENESIS_HASH, checkpoint.pk)


def stream_export(plan: ExportPlan, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The export's bytes, block by block, ending with the manifest line."""
    digest = hashlib.sha256()
    stats: dict[str, Any] = {"rows": 0, "first_seq": None, "last_seq": None, "last_hash": None}
    for block in _blocks(plan, stats, chunk_size):
        digest.update(block)
        yield block
    manifest = _manifest(plan, stats, digest.hexdigest())
    yield _manifest_line(plan.fmt, manifest)


def manifest_for(plan: ExportPlan, *, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """The manifest of an export, computed by producing it without sending it (constant memory)."""
    digest = hashlib.sha256()
    stats: dict[str, Any] = {"rows": 0, "first_seq": None, "last_seq": None, "last_hash": None}
    for block in _blocks(plan, stats, chunk_size):
        digest.update(block)
    return _manifest(plan, stats, digest.hexdigest())


def _blocks(plan: ExportPlan, stats: dict[str, Any], chunk_size: int) -> Iterator[bytes]:
    slugs = dict(Process.objects.filter(pk__in=plan.trail_filter.process_ids).values_list("pk", "slug"))
    rows = (
        trail.filtered_entries(plan.trail_filter, up_to_seq=plan.to_seq)
        .order_by("seq")
        .values_list(
            "seq", _created_at_text(), "actor_kind", "actor_id", "actor_label", "action",
            "process_id", "document_id", Cast("data", TextField()), "prev_hash", "hash",
        )
    )  # fmt: skip
    encode = _csv_encoder() if plan.fmt == "csv" else _jsonl_encoder()
    header = encode(None)
    if header:
        yield header
    pending: list[tuple] = []
    # A transaction keeps the named cursor alive without WITH HOLD (which would copy the whole result).
    with transaction.atomic():
        for seq, created, kind, actor, label, action, process_id, doc, data, prev, hash_ in rows.iterator(
            chunk_size=chunk_size
        ):
            created = created if isinstance(created, str) else created.isoformat()
            pending.append(
                (seq, created, kind, actor, label, action, slugs.get(process_id, ""), doc, data, prev, hash_)
            )
            if len(pending) >= BLOCK_ROWS:
                yield _flush(encode, pending, stats)
        if pending:
            yield _flush(encode, pending, stats)


def _created_at_text() -> Func | F:
    """created_at as ISO 8601 in UTC, formatted by PostgreSQL (parsing timestamps costs Python more)."""
    if connection.vendor == "postgresql":
        return Func(
            F("created_at"),
            template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
            output_field=TextField(),
        )
    return F("created_at")


def _flush(encode, pending: list[tuple], stats: dict[str, Any]) -> bytes:
    if stats["first_seq"] is None:
        stats["first_seq"] = pending[0][0]
    stats["rows"] += len(pending)
    stats["last_seq"], stats["last_hash"] = pending[-1][0], pending[-1][10]
    block = encode(pending)
    pending.clear()
    return block


def _csv_field(value: str) -> str:
    """Quote as csv.QUOTE_MINIMAL would (done by hand: the csv module is the export's bottleneck)."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_encoder():
    def encode(rows: list[tuple] | None) -> bytes:
        if rows is None:
            return (",".join(COLUMNS) + "\n").encode()
        q = _csv_field
        lines = [
            f"{seq},{created},{q(kind)},{q(actor)},{q(label)},{q(action)},{q(slug)},"
            f'{"" if doc is None else doc},"{data.replace(chr(34), chr(34) * 2)}",{prev},{hash_}\n'
            for seq, created, kind, actor, label, action, slug, doc, data, prev, hash_ in rows
        ]
        return "".join(lines).encode()

    return encode


def _jsonl_encoder():
    def encode(rows: list[tuple] | None) -> bytes:
        if rows is None:
            return b""
        # `data` is already JSON (jsonb's text): splice it in rather than parse and re-serialise it.
        lines = []
        for row in rows:
            head = json.dumps(dict(zip(COLUMNS[:8], row[:8], strict=True)), ensure_ascii=False)[:-1]
            tail = json.dumps({"prev_hash": row[9], "hash": row[10]})[1:]
            lines.append(f'{head}, "data": {row[8]}, {tail}\n')
        return "".join(lines).encode()

    return encode


def _manifest(plan: ExportPlan, stats: dict[str, Any], sha256: str) -> dict[str, Any]:
    return {
        "format": plan.fmt,
        "filter": plan.trail_filter.as_dict(),
        "rows": stats["rows"],
        "first_seq": stats["first_seq"],
        "last_seq": stats["last_seq"],
        "last_entry_hash": stats["last_hash"],
        "chain_head": {"seq": plan.to_seq, "hash": plan.head_hash},
        "to_seq": plan.to_seq,
        "checkpoint": plan.checkpoint_id,
        "sha256": sha256,
        "sha256_covers": "every byte before the manifest line",
        "generated_at": timezone.now().isoformat(),
    }


def _manifest_line(fmt: str, manifest: dict[str, Any]) -> bytes:
    payload = json.dumps(manifest, sort_keys=True, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["#manifest", payload])
        return buffer.getvalue().encode()
    return (json.dumps({"manifest": manifest}, sort_keys=True, ensure_ascii=False) + "\n").encode()
