from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agents.models import Document, Process
from review import intake


class Command(BaseCommand):
    help = "Ingest a file, or every text/PDF file under a folder, into a process."

    def add_arguments(self, parser):
        parser.add_argument("process", help="process slug, e.g. invoice-extraction")
        parser.add_argument("path", type=Path, help="a file or a folder")

    def handle(self, *args, process: str, path: Path, **options):
        found = Process.objects.filter(slug=process).first()
        if found is None:
            known = ", ".join(Process.objects.order_by("slug").values_list("slug", flat=True)) or "none"
            raise CommandError(f"Unknown process '{process}'. Known processes: {known}.")
        if not path.exists():
            raise CommandError(f"No such file or folder: {path}")
        files = intake.files_in(path)
        if not files:
            raise CommandError(f"No text or PDF files under {path}.")
        counts = {"new": 0, "duplicate": 0, "rejected": 0}
        for file in files:
            try:
                received = intake.receive(
                    process=found,
                    filename=file.name,
                    data=file.read_bytes(),
                    source=Document.Source.FOLDER,
                    actor=None,
                    channel="ingest command",
                )
            except intake.Rejected as exc:
                counts["rejected"] += 1
                self.stderr.write(f"rejected {exc}")
                continue
            counts["new" if received.created else "duplicate"] += 1
            self.stdout.write(
                f"{'stored' if received.created else 'already had'} {file} -> document {received.document.pk}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts['new']} new, {counts['duplicate']} already received, {counts['rejected']} rejected"
            )
        )
        if counts["rejected"] and not (counts["new"] or counts["duplicate"]):
            raise CommandError("Nothing was ingested.")
