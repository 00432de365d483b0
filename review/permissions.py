"""Who may see and do what. The only module that imports guardian.

Roles are groups (reviewer, specialist, process admin, auditor); scope is object permissions on
queues (work_queue) and processes (administer_process, audit_process), granted to users or groups.
A forbidden object looks exactly like a missing one: the helpers answer 404.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from guardian.shortcuts import assign_perm, get_group_perms, get_objects_for_user, get_user_perms, remove_perm

from agents.models import Document, Process
from review.models import Queue, ReviewTask

WORK_QUEUE = "review.work_queue"
ADMINISTER_PROCESS = "agents.administer_process"
AUDIT_PROCESS = "agents.audit_process"


class Role:
    REVIEWER = "reviewer"
    SPECIALIST = "specialist"
    PROCESS_ADMIN = "process-admin"
    AUDITOR = "auditor"

    ALL = (REVIEWER, SPECIALIST, PROCESS_ADMIN, AUDITOR)


def queues_for_user(user: User) -> QuerySet[Queue]:
    return get_objects_for_user(user, WORK_QUEUE, klass=Queue, accept_global_perms=False)


def administered_processes(user: User) -> QuerySet[Process]:
    return get_objects_for_user(user, ADMINISTER_PROCESS, klass=Process, accept_global_perms=False)


def audited_processes(user: User) -> QuerySet[Process]:
    return get_objects_for_user(user, AUDIT_PROCESS, klass=Process, accept_global_perms=False)


def visible_processes(user: User) -> QuerySet[Process]:
    """Processes a user works on in any role: a queue they hold, or administer, or audit."""
    return Process.objects.filter(
        Q(pk__in=queues_for_user(user).values("process_id"))
        | Q(pk__in=administered_processes(user).values("pk"))
        | Q(pk__in=audited_processes(user).values("pk"))
    )


def visible_process_ids(user: User) -> set[int]:
    return set(visible_processes(user).values_list("pk", flat=True))


def get_process_for_user(user: User, slug: str) -> Process:
    return get_object_or_404(Process, slug=slug, pk__in=visible_process_ids(user))


def get_document_for_user(user: User, pk: int) -> Document:
    return get_object_or_404(
        Document.objects.select_related("process"), pk=pk, process_id__in=visible_process_ids(user)
    )


def grant_queue(queue: Queue, to: User | Group) -> None:
    assign_perm("work_queue", to, queue)


def revoke_queue(queue: Queue, to: User | Group) -> None:
    remove_perm("work_queue", to, queue)


def grant_process(codename: str, process: Process, to: User | Group) -> None:
    assign_perm(codename, to, process)


def get_queue_for_user(user: User, slug: str) -> Queue:
    """A queue the user holds (work_queue, directly or through a group), else 404."""
    return get_object_or_404(queues_for_user(user).select_related("process"), slug=slug)


def get_task_for_user(user: User, pk: int) -> ReviewTask:
    """A task of a queue the user holds, else 404 (a forbidden task looks like a missing one)."""
    return get_object_or_404(
        ReviewTask.objects.select_related("queue__process", "document__process", "agent_run__agent_version"),
        pk=pk,
        queue__in=queues_for_user(user),
    )


def revoke_process(codename: str, process: Process, to: User | Group) -> None:
    remove_perm(codename, to, process)


def holds_directly(holder: User | Group, codename: str, obj: Queue | Process) -> bool:
    """Whether the permission was granted to this user or group itself (not through a group)."""
    perms = get_user_perms(holder, obj) if isinstance(holder, User) else get_group_perms(holder, obj)
    return codename in perms
