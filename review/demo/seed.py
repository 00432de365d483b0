"""Demo data: users for each role with their grants, the standard processes, generated documents."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction

from agents.models import Document, Process
from review import claims, configuration, decisions, intake
from review.demo.generator import generate, to_pdf_bytes
from review.models import Queue, ReviewTask
from review.permissions import Role
from review.provisioning import ensure_standard_processes
from review.trail import System


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    does: str


DEMO_USERS = (
    DemoUser("alice", "alice-reviews", Role.REVIEWER, "reviews invoices and receipts"),
    DemoUser("bob", "bob-reviews", Role.REVIEWER, "reviews expense classification"),
    DemoUser("sam", "sam-specialist", Role.SPECIALIST, "works every escalation queue"),
    DemoUser("paula", "paula-admin", Role.PROCESS_ADMIN, "administers every process"),
    DemoUser("audrey", "audrey-audits", Role.AUDITOR, "reads and exports the trail of every process"),
)
REVIEWER_QUEUES = {
    "alice": ("invoice-extraction-review", "receipt-extraction-review"),
    "bob": ("expense-classification-review",),
}


@transaction.atomic
def create_demo_users() -> list[DemoUser]:
    processes = list(Process.objects.all())
    for demo in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=demo.username, defaults={"email": f"{demo.username}@example.com"}
        )
        if created:
            user.set_password(demo.password)
            user.save()
        user.groups.add(Group.objects.get(name=demo.role))
        # Through the audited services, like any grant: the demo's trail shows who may do what.
        actor = System("demo setup")
        if demo.role == Role.REVIEWER:
            for slug in REVIEWER_QUEUES[demo.username]:
                configuration.grant_queue_access(queue=Queue.objects.get(slug=slug), to=user, actor=actor)
        elif demo.role == Role.SPECIALIST:
            for queue in Queue.objects.filter(kind=Queue.Kind.ESCALATION):
                configuration.grant_queue_access(queue=queue, to=user, actor=actor)
        elif demo.role in (Role.PROCESS_ADMIN, Role.AUDITOR):
            codename = "administer_process" if demo.role == Role.PROCESS_ADMIN else "audit_process"
            for process in processes:
                configuration.grant_process_permission(
                    codename=codename, process=process, to=user, actor=actor
                )
    return list(DEMO_USERS)


def load_demo_documents(*, seed: int, count: int) -> dict[str, int]:
    """Deliver generated documents through the normal intake (so triage runs on each), then let
    the demo reviewers work through part of their queues with the generator's truth."""
    processes = {p.slug: p for p in Process.objects.all()}
    counts = {"new": 0, "duplicate": 0}
    generated = generate(seed, count)
    for doc in generated:
        data = to_pdf_bytes(doc.text) if doc.as_pdf else doc.text.encode()
        received = intake.receive(
            process=processes[doc.process_slug],
            filename=doc.filename,
            data=data,
            source=Document.Source.DEMO,
            actor=None,
            channel="demo generator",
        )
        counts["new" if received.created else "duplicate"] += 1
    if counts["new"]:
        counts["decided"] = decide_demo_items(
            truths={(d.process_slug, d.filename): d.truth for d in generated}
        )
    return counts


def decide_demo_items(*, truths: dict[tuple[str, str], dict[str, str]], share: float = 0.7) -> int:
    """The demo reviewers decide `share` of each review queue with the true values (through the
    same claims and decision services as the screens), so the evaluation, calibration and
    simulator screens have labelled data; the rest stays open for whoever tries the demo."""
    decided = 0
    for username, slugs in REVIEWER_QUEUES.items():
        reviewer = User.objects.get(username=username)
        for queue in Queue.objects.filter(slug__in=slugs).select_related("process"):
            specs = queue.process.field_specs
            todo = int(ReviewTask.objects.filter(queue=queue, state=ReviewTask.State.OPEN).count() * share)
            for _ in range(todo):
                task = claims.claim_next_task(queue=queue, reviewer=reviewer)
                if task is None:
                    break
                task = ReviewTask.objects.select_related("document__process", "agent_run", "queue").get(
                    pk=task.pk
                )
                truth = truths.get((queue.process.slug, task.document.original_name))
                if truth is None:  # not a generated document: leave it to a person
                    claims.release_task(task=task, reviewer=reviewer, lease_token=task.lease_token)
                    continue
                values = {spec.name: truth.get(spec.name) for spec in specs}
                decisions.correct_task(
                    task=task, reviewer=reviewer, lease_token=task.lease_token, values=values
                )
                decided += 1
    return decided


def seed(*, seed: int = 7, count: int = 300) -> tuple[list[DemoUser], dict[str, int]]:
    ensure_standard_processes()
    users = create_demo_users()
    return users, load_demo_documents(seed=seed, count=count)
