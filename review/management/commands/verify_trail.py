"""Verify the decision trail: exit status 0 when the chain is intact, 1 with the first mismatch otherwise."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from review import trail
from review.trail_verify import verify_trail


class Command(BaseCommand):
    help = "Walk the decision trail, recompute every hash, compare the head with the checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows per fetch from the cursor")
        parser.add_argument(
            "--checkpoint", action="store_true", help="record the head as a checkpoint if it verifies"
        )

    def handle(self, *args, chunk_size: int, checkpoint: bool, **options):
        result = verify_trail(chunk_size=chunk_size)
        if not result.ok:
            finding = result.finding
            raise CommandError(
                f"trail verification failed at entry #{finding.seq} ({finding.kind}): {finding.message}. "
                f"{result.entries_checked} entries verified before it."
            )
        if checkpoint:
            with transaction.atomic():
                trail.write_checkpoint(reason="verification")
        self.stdout.write(
            self.style.SUCCESS(
                f"trail intact: {result.entries_checked} entries up to #{result.last_seq}, "
                f"{result.checkpoints_checked} checkpoints matched, head {result.head_hash}"
            )
        )
