from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db.models import Count

from agents.models import Document
from review.demo import seed as demo


class Command(BaseCommand):
    help = (
        "Demo users (one per role), the standard processes and generated documents, run through the agents."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--count", type=int, default=300)

    def handle(self, *args, **options):
        users, counts = demo.seed(seed=options["seed"], count=options["count"])
        self.stdout.write(f"documents: {counts['new']} new, {counts['duplicate']} already loaded")
        if counts.get("decided"):
            self.stdout.write(
                f"review items decided by the demo reviewers: {counts['decided']} (the rest are yours)"
            )
        states = dict(Document.objects.values_list("state").annotate(n=Count("id")).order_by())
        self.stdout.write("document states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin-demo")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo users (username / password, role):"))
        for user in users:
            self.stdout.write(f"  {user.username:8} / {user.password:16} {user.role:14} {user.does}")
        self.stdout.write("  admin    / admin-demo       superuser      Django admin at /admin/")
