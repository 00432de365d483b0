from django.core.management.base import BaseCommand

from review.provisioning import ensure_standard_processes


class Command(BaseCommand):
    help = "Create the standard processes, their queues and their active rules agent (idempotent)."

    def handle(self, *args, **options):
        created = ensure_standard_processes()
        for process in created:
            self.stdout.write(f"created process {process.slug}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} process(es) created"))
