"""Who may see and do what. The only module that imports guardian.

Roles are groups (reviewer, specialist, process admin, auditor); scope is object permissions on
queues (work_queue) and processes (administer_process, audit_process), granted to users or groups.
A forbidden object looks exactly like a missing one: the helpers answer 404.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

from agents.models import Document, Process
from backoffice.sql import JoinedRead, column_list, fetch_instance, is_stored_key
from review.models import (
    ProcessGroupObjectPermission,
    ProcessUserObjectPermission,
    Queue,
    QueueGroupObjectPermission,
    QueueUserObjectPermission,
    ReviewTask,
)


class Role:
    REVIEWER = "reviewer"
    SPECIALIST = "specialist"
    PROCESS_ADMIN = "process-admin"
    AUDITOR = "auditor"

    ALL = (REVIEWER, SPECIALIST, PROCESS_ADMIN, AUDITOR)


def _granted(model, user_grants, group_grants, user: User, codename: str) -> QuerySet:
    """Objects whose permission `codename` the user holds directly or through one of their groups.

    Reads guardian's direct foreign-key tables with two EXISTS subqueries: one SQL query, no
    per-request permission or group look-ups (guardian's generic helper costs several queries
    on every request, and claiming is on the hot path).
    """
    if not user.is_authenticated or not user.is_active:
        return model.objects.none()
    by_user = user_grants.objects.filter(
        content_object=OuterRef("pk"), user=user, permission__codename=codename
    )
    by_group = group_grants.objects.filter(
        content_object=OuterRef("pk"), group__user=user, permission__codename=codename
    )
    return model.objects.filter(Exists(by_user) | Exists(by_group))


def queues_for_user(user: User) -> QuerySet[Queue]:
    return _granted(Queue, QueueUserObjectPermission, QueueGroupObjectPermission, user, "work_queue")


def administered_processes(user: User) -> QuerySet[Process]:
    return _granted(
        Process, ProcessUserObjectPermission, ProcessGroupObjectPermission, user, "administer_process"
    )


def audited_processes(user: User) -> QuerySet[Process]:
    return _granted(Process, ProcessUserObjectPermission, ProcessGroupObjectPermission, user, "audit_process")


def visible_processes(user: User) -> QuerySet[Process]:
    """Processes a user works on in any role: a queue they hold, or administer, or audit."""
    return Process.objects.filter(
        Q(pk__in=queues_for_user(user).values("process_id"))
        | Q(pk__in=administered_processes(user).values("pk"))
        | Q(pk__in=audited_processes(user).values("pk"))
    )


def intake_processes(user: User) -> QuerySet[Process]:
    """Processes a user may deliver documents to: those they work (a queue) or administer.
    Auditors change nothing, so auditing alone does not count."""
    return Process.objects.filter(
        Q(pk__in=queues_for_user(user).values("process_id"))
        | Q(pk__in=administered_processes(user).values("pk"))
    )


def visible_process_ids(user: User) -> set[int]:
    return set(visible_processes(user).values_list("pk", flat=True))


def get_process_for_user(user: User, slug: str) -> Process:
    return get_object_or_404(Process, slug=slug, pk__in=visible_process_ids(user))


def documents_for_user(user: User) -> QuerySet[Document]:
    """Every document of the processes a user administers or audits; of the others, only the
    documents that reached a queue the user holds (a reviewer sees their items, not the process)."""
    whole_process = Q(process__in=administered_processes(user)) | Q(process__in=audited_processes(user))
    in_held_queue = Exists(
        ReviewTask.objects.filter(document=OuterRef("pk"), queue__in=queues_for_user(user).values("pk"))
    )
    return Document.objects.filter(whole_process | in_held_queue)


def get_administered_process(user: User, slug: str) -> Process:
    """A process the user administers, else 404."""
    return get_object_or_404(administered_processes(user), slug=slug)


def get_document_for_user(user: User, pk: int) -> Document:
    return get_object_or_404(documents_for_user(user).select_related("process"), pk=pk)


def grant_queue(queue: Queue, to: User | Group) -> None:
    assign_perm("work_queue", to, queue)


def revoke_queue(queue: Queue, to: User | Group) -> None:
    remove_perm("work_queue", to, queue)


def grant_process(codename: str, process: Process, to: User | Group) -> None:
    assign_perm(codename, to, process)


def _held_queue_ids_sql(user: str) -> str:
    """The ids of the queues the user whose id is the placeholder `user` (given twice) holds: the
    same grant test as queues_for_user, as plain SQL. The reviewer's hot path ("next item", every
    action on a task) runs it, and compiling the ORM's EXISTS subqueries costs more than running
    them (about 1.3 ms of CPU a request). It names no table of the query it is used in, so it
    holds wherever Django puts or renames that query. tests/test_access_registry.py checks every
    URL for every persona."""
    return f"""
    SELECT g.content_object_id FROM {QueueUserObjectPermission._meta.db_table} g
    JOIN auth_permission p ON p.id = g.permission_id
    WHERE g.user_id = {user} AND p.codename = 'work_queue'
    UNION ALL
    SELECT g.content_object_id FROM {QueueGroupObjectPermission._meta.db_table} g
    JOIN auth_permission p ON p.id = g.permission_id
    JOIN auth_user_groups ug ON ug.group_id = g.group_id
    WHERE ug.user_id = {user} AND p.codename = 'work_queue'
"""


HOLDS_QUEUE_SQL = f"""
SELECT {column_list(Queue, "q")} FROM {Queue._meta.db_table} q
WHERE q.slug = %(slug)s AND q.id IN ({_held_queue_ids_sql("%(user)s")})
"""


def held_queue(user: User, slug: str) -> Queue | None:
    """The queue with this slug if the user holds it (work_queue, directly or through a group)."""
    if not user.is_authenticated or not user.is_active:
        return None
    return fetch_instance(Queue, HOLDS_QUEUE_SQL, {"slug": slug, "user": user.pk})


def get_queue_for_user(user: User, slug: str) -> Queue:
    """A queue the user holds, else 404."""
    queue = held_queue(user, slug)
    if queue is None:
        raise Http404
    return queue


# The task with what every action on it needs (its queue and process, the document, the agent's
# run and version), in a queue the user holds.
TASK_READ = JoinedRead(ReviewTask, "queue__process", "document__process", "agent_run__agent_version")
TASK_FOR_USER_SQL = f"{TASK_READ.select} WHERE t0.id = %s AND t0.queue_id IN ({_held_queue_ids_sql('%s')})"


def get_task_for_user(user: User, pk: int) -> ReviewTask:
    """A task of a queue the user holds, else 404 (a forbidden task looks like a missing one).

    Every action on a task starts here (the screen, each heartbeat, each decision), so it is one
    hand-written, prepared statement: compiling the ORM's join cost the web worker about 2 ms of
    CPU a call, and planning it cost PostgreSQL as much."""
    if not user.is_authenticated or not user.is_active or not is_stored_key(pk):
        raise Http404
    task = TASK_READ.fetch(TASK_FOR_USER_SQL, [pk, user.pk, user.pk])
    if task is None:
        raise Http404
    return task


def revoke_process(codename: str, process: Process, to: User | Group) -> None:
    remove_perm(codename, to, process)


def holds_directly(holder: User | Group, codename: str, obj: Queue | Process) -> bool:
    """Whether the permission was granted to this user or group itself (not through a group)."""
    perms = get_user_perms(holder, obj) if isinstance(holder, User) else get_group_perms(holder, obj)
    return codename in perms
