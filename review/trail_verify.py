"""Verifying the decision trail: the chain, its head, and the checkpoints taken out of the table.

The walk streams the entries in seq order from a server-side cursor (constant memory) and, for each
one, checks that seq follows on, that prev_hash is its predecessor's hash, and that the stored hash
is the hash of its content. It stops at the first entry that does not match and names it.

Deleting the newest entries leaves a consistent chain; the head row and the checkpoints (periodic,
one per export) still name a later seq or another hash, and that is reported too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.utils import timezone

from review.models import TrailCheckpoint, TrailEntry
from review.trail import GENESIS_HASH, current_head, entry_hash


class Problem:
    ALTERED = "altered"  # the stored hash is not the hash of the entry's content
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    MISSING = "missing"  # a gap in seq: entries were deleted
    HEAD_MISMATCH = "head_mismatch"  # the head row names an entry the table no longer has
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # a checkpoint names an entry that is gone or differs


@dataclass(frozen=True)
class Finding:
    kind: str
    seq: int  # the first entry (or position) that does not match
    message: str
    entry_id: int | None = None


@dataclass
class Verification:
    entries_checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    checkpoints_checked: int = 0
    finding: Finding | None = None
    started_at: object = field(default_factory=timezone.now)

    @property
    def ok(self) -> bool:
        return self.finding is None


def verify_trail(
    *, chunk_size: int = 5000, on_progress: Callable[[Verification], None] | None = None
) -> Verification:
    """Walk the whole chain and compare it with its head and checkpoints. Reads only, writes nothing.

    The head is read first and the walk stops at it, so entries appended meanwhile are not mistaken
    for tampering; checkpoints taken after the head was read are ignored for the same reason.
    `on_progress` is called with the result so far once the head is read, then after every
    `chunk_size` entries.
    """
    result = Verification()
    result.head_seq, result.head_hash = current_head()
    if on_progress:
        on_progress(result)
    checkpoints = _checkpoints(created_before=timezone.now(), chunk_size=chunk_size)
    pending = next(checkpoints, None)
    expected_seq, prev_hash = 1, GENESIS_HASH
    entries = TrailEntry.objects.filter(seq__lte=result.head_seq).order_by("seq")
    for entry in entries.iterator(chunk_size=chunk_size):
        finding = _check_entry(entry, expected_seq, prev_hash)
        while finding is None and pending is not None and pending.seq <= entry.seq:
            finding = _check_checkpoint(pending, entry)
            result.checkpoints_checked += 1
            pending = next(checkpoints, None)
        if finding:
            result.finding = finding
            return result
        result.entries_checked += 1
        result.last_seq, result.last_hash = entry.seq, entry.hash
        expected_seq, prev_hash = entry.seq + 1, entry.hash
        if on_progress and result.entries_checked % chunk_size == 0:
            on_progress(result)
    result.finding = _check_end(result, pending)
    return result


def _check_entry(entry: TrailEntry, expected_seq: int, prev_hash: str) -> Finding | None:
    if entry.seq != expected_seq:
        gap = f"#{expected_seq}" if entry.seq == expected_seq + 1 else f"#{expected_seq} to #{entry.seq - 1}"
        return Finding(
            Problem.MISSING, entry.seq, f"entry #{entry.seq} follows a gap: {gap} missing", entry.pk
        )
    if entry.prev_hash != prev_hash:
        return Finding(
            Problem.BROKEN_LINK,
            entry.seq,
            f"entry #{entry.seq} does not link to #{entry.seq - 1}: its prev_hash is not that entry's hash "
            f"(#{entry.seq - 1} was rewritten, or this entry was)",
            entry.pk,
        )
    if entry_hash(entry) != entry.hash:
        return Finding(
            Problem.ALTERED,
            entry.seq,
            f"entry #{entry.seq} was altered: its content does not match its hash",
            entry.pk,
        )
    return None


def _check_checkpoint(checkpoint: TrailCheckpoint, entry: TrailEntry) -> Finding | None:
    # Checkpoints arrive in seq order; one whose seq was skipped by the walk names a deleted entry.
    if checkpoint.seq == entry.seq and checkpoint.hash == entry.hash:
        return None
    if checkpoint.seq == 0:
        return None
    return Finding(
        Problem.CHECKPOINT_MISMATCH,
        checkpoint.seq,
        f"checkpoint {checkpoint.pk} ({checkpoint.reason}, {checkpoint.created_at:%Y-%m-%d %H:%M}) names "
        f"entry #{checkpoint.seq} with another hash, or an entry that is gone",
    )


def _check_end(result: Verification, pending: TrailCheckpoint | None) -> Finding | None:
    if result.last_seq != result.head_seq or result.last_hash != result.head_hash:
        return Finding(
            Problem.HEAD_MISMATCH,
            result.last_seq + 1,
            f"the chain ends at #{result.last_seq} but its head names #{result.head_seq}: "
            "the newest entries were deleted or replaced",
        )
    if pending is not None and pending.seq > 0:
        return Finding(
            Problem.CHECKPOINT_MISMATCH,
            result.last_seq + 1,
            f"checkpoint {pending.pk} ({pending.reason}, {pending.created_at:%Y-%m-%d %H:%M}) names entry "
            f"#{pending.seq}, but the chain ends at #{result.last_seq}: the newest entries were deleted",
        )
    return None


def _checkpoints(*, created_before, chunk_size: int) -> Iterator[TrailCheckpoint]:
    """Checkpoints in seq order, keyset-paged so the walk holds only one page of them."""
    last = (-1, 0)
    while True:
        page = list(
            TrailCheckpoint.objects.filter(created_at__lte=created_before)
            .filter(seq__gte=last[0])
            .exclude(seq=last[0], pk__lte=last[1])
            .order_by("seq", "pk")[:chunk_size]
        )
        yield from page
        if len(page) < chunk_size:
            return
        last = (page[-1].seq, page[-1].pk)
