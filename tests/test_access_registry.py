"""Every URL that names a queue, task or document, checked for every persona.

(URLs naming a process, under autonomy/, belong to the process admin screens and are not covered
here yet.)

A user who may not see the object gets 404 (never 403, never the data) and changes nothing; a
user who may see it does not get 404. A new URL naming an object must be added to REGISTRY: the
completeness test fails until it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, get_resolver, reverse

from review.models import Decision, Queue, ReviewTask, TrailEntry
from tests.reviewing import make_task, media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")

PERSONAS = ("alice", "bob", "sam", "paula", "audrey", "charlie")


@dataclass(frozen=True)
class Entry:
    name: str
    method: str
    names: str  # "queue" | "task" | "document" | "process" (slug) | "version" (slug + active number)
    # | "evaluation-table" (slug + a table name)
    # Who may reach it, per target: "reviewers" = holders of the target's queue,
    # "process" = anyone working on the target's process, "auditors" = its auditors,
    # "admins" = its process admins.
    scope: str


REGISTRY = (
    Entry("review:queue-next", "post", "queue", "reviewers"),
    Entry("review:queue-prefetch", "post", "queue", "reviewers"),
    Entry("review:task", "get", "task", "reviewers"),
    Entry("review:task-heartbeat", "post", "task", "reviewers"),
    Entry("review:task-release", "post", "task", "reviewers"),
    Entry("review:task-approve", "post", "task", "reviewers"),
    Entry("review:task-correct", "post", "task", "reviewers"),
    Entry("review:task-reject", "post", "task", "reviewers"),
    Entry("review:task-escalate", "post", "task", "reviewers"),
    Entry("review:document", "get", "document", "documents"),
    Entry("review:document-file", "get", "document", "documents"),
    Entry("review:timeline", "get", "document", "auditors"),
    Entry("review:versions", "get", "process", "admins"),
    Entry("review:version-create", "post", "process", "admins"),
    Entry("review:version-compare", "get", "process", "admins"),
    Entry("review:version-rollback", "post", "process", "admins"),
    Entry("review:version-evaluate", "post", "version", "admins"),
    Entry("review:version-progress", "get", "version", "admins"),
    Entry("review:version-activate", "post", "version", "admins"),
    Entry("review:regression-case", "post", "document", "admins"),
    Entry("review:autonomy-process", "get", "process", "admins"),
    Entry("review:autonomy-process", "post", "process", "admins"),
    Entry("review:autonomy-apply", "post", "process", "admins"),
    Entry("review:autonomy-simulator-csv", "get", "process", "admins"),
    Entry("review:evaluation", "get", "process", "admins"),
    Entry("review:evaluation-csv", "get", "evaluation-table", "admins"),
)

# Who may reach each target (see the persona fixtures in conftest.py).
ALLOWED = {
    ("invoice-review", "reviewers"): {"alice"},
    ("invoice-escalation", "reviewers"): {"sam"},
    ("receipt-review", "reviewers"): {"bob"},
    ("invoice-review", "process"): {"alice", "sam", "paula", "audrey"},
    ("invoice-escalation", "process"): {"alice", "sam", "paula", "audrey"},
    ("receipt-review", "process"): {"bob", "audrey"},
    # a document: its process's admins and auditors, and whoever holds a queue it reached
    ("invoice-review", "documents"): {"alice", "paula", "audrey"},
    ("invoice-escalation", "documents"): {"sam", "paula", "audrey"},
    ("receipt-review", "documents"): {"bob", "audrey"},
    ("invoice-review", "auditors"): {"audrey"},
    ("invoice-escalation", "auditors"): {"audrey"},
    ("receipt-review", "auditors"): {"audrey"},
    ("invoice-review", "admins"): {"paula"},
    ("invoice-escalation", "admins"): {"paula"},
    ("receipt-review", "admins"): set(),
}


@pytest.fixture
def people(alice, bob, sam, paula, audrey, charlie):
    return {"alice": alice, "bob": bob, "sam": sam, "paula": paula, "audrey": audrey, "charlie": charlie}


@pytest.fixture
def targets(invoices, receipts) -> dict[str, ReviewTask]:
    return {
        "invoice-review": make_task(invoices),
        "invoice-escalation": make_task(invoices, kind=Queue.Kind.ESCALATION),
        "receipt-review": make_task(receipts),
    }


def url_for(entry: Entry, task: ReviewTask) -> str:
    if entry.names == "queue":
        return reverse(entry.name, kwargs={"slug": task.queue.slug})
    if entry.names == "task":
        return reverse(entry.name, kwargs={"pk": task.pk})
    if entry.names == "process":
        return reverse(entry.name, kwargs={"slug": task.queue.process.slug})
    if entry.names == "evaluation-table":
        return reverse(entry.name, kwargs={"slug": task.queue.process.slug, "table": "summary"})
    if entry.names == "version":
        active = task.queue.process.versions.get(is_active=True)
        return reverse(entry.name, kwargs={"slug": task.queue.process.slug, "number": active.number})
    return reverse(entry.name, kwargs={"pk": task.document_id})


def snapshot() -> tuple:
    tasks = tuple(
        ReviewTask.objects.order_by("pk").values_list("pk", "state", "claimed_by_id", "lease_token")
    )
    return tasks, Decision.objects.count(), TrailEntry.objects.count()


NAMES_AN_OBJECT = re.compile(r"(^|/)(queues|tasks|documents)/<")


def test_every_url_naming_a_queue_task_or_document_is_in_the_registry():
    named = set()

    def walk(patterns, prefix="", route=""):
        for p in patterns:
            if isinstance(p, URLPattern):
                if NAMES_AN_OBJECT.search(route + str(p.pattern)):
                    named.add(f"{prefix}{p.name}")
            else:
                walk(
                    p.url_patterns,
                    prefix + (f"{p.namespace}:" if p.namespace else ""),
                    route + str(p.pattern),
                )

    walk(get_resolver().url_patterns)
    assert "review:task-approve" in named and "review:timeline" in named  # the walk finds them
    missing = named - {entry.name for entry in REGISTRY}
    assert not missing, f"add these URLs to REGISTRY: {sorted(missing)}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_objects_a_persona_may_not_see_answer_404_and_nothing_changes(client, people, targets, persona):
    client.force_login(people[persona])
    before = snapshot()
    checked = 0
    for entry in REGISTRY:
        for target_name, task in targets.items():
            if persona in ALLOWED[(target_name, entry.scope)]:
                continue
            url = url_for(entry, task)
            response = getattr(client, entry.method)(url, {"lease": "00000000-0000-0000-0000-000000000000"})
            assert response.status_code == 404, f"{persona} {entry.method.upper()} {url}"
            checked += 1
    assert snapshot() == before
    assert checked > 0


@pytest.mark.parametrize("persona", PERSONAS)
def test_objects_a_persona_may_see_do_not_answer_404(client, people, targets, persona):
    client.force_login(people[persona])
    for entry in REGISTRY:
        for target_name, task in targets.items():
            if persona not in ALLOWED[(target_name, entry.scope)]:
                continue
            url = url_for(entry, task)
            response = getattr(client, entry.method)(url, {"lease": "00000000-0000-0000-0000-000000000000"})
            assert response.status_code != 404, f"{persona} {entry.method.upper()} {url}"
            assert response.status_code < 500


def test_anonymous_visitors_are_sent_to_the_login_page(client, targets):
    for entry in REGISTRY:
        url = url_for(entry, targets["invoice-review"])
        response = getattr(client, entry.method)(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
