from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from agents.models import Process
from review import configuration
from review.models import Queue
from review.trail import System

PROCESS_PERMISSIONS = configuration.PROCESS_PERMISSIONS


class Command(BaseCommand):
    help = (
        "Grant (or --revoke) a queue to a user or group, or a process permission "
        f"({', '.join(PROCESS_PERMISSIONS)}). Every change is a trail entry."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user")
        who.add_argument("--group")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--queue", help="queue slug, e.g. invoice-extraction-review")
        what.add_argument("--process", help="process slug, with --permission")
        parser.add_argument("--permission", choices=PROCESS_PERMISSIONS)
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, **options):
        holder = self._holder(options["user"], options["group"])
        actor = System("grant command")
        if options["queue"]:
            queue = Queue.objects.filter(slug=options["queue"]).first()
            if queue is None:
                known = ", ".join(Queue.objects.order_by("slug").values_list("slug", flat=True)) or "none"
                raise CommandError(f"Unknown queue '{options['queue']}'. Known queues: {known}.")
            change = (
                configuration.revoke_queue_access if options["revoke"] else configuration.grant_queue_access
            )
            changed = change(queue=queue, to=holder, actor=actor)
            target = f"queue {queue.slug}"
        else:
            if not options["permission"]:
                raise CommandError(f"--process needs --permission ({', '.join(PROCESS_PERMISSIONS)}).")
            process = Process.objects.filter(slug=options["process"]).first()
            if process is None:
                known = ", ".join(Process.objects.order_by("slug").values_list("slug", flat=True)) or "none"
                raise CommandError(f"Unknown process '{options['process']}'. Known processes: {known}.")
            change = (
                configuration.revoke_process_permission
                if options["revoke"]
                else configuration.grant_process_permission
            )
            changed = change(codename=options["permission"], process=process, to=holder, actor=actor)
            target = f"{options['permission']} on {process.slug}"
        verb = "revoked" if options["revoke"] else "granted"
        self.stdout.write(
            f"{verb} {target} for {holder}" if changed else f"nothing to change: {target} for {holder}"
        )

    def _holder(self, username: str | None, group: str | None) -> User | Group:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"Unknown user '{username}'.")
            return user
        found = Group.objects.filter(name=group).first()
        if found is None:
            known = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(f"Unknown group '{group}'. Groups: {known}.")
        return found
