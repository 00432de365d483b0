"""Audited configuration changes: autonomy, agent versions, permission grants.

Each service changes through the owning module (agents.services, review.permissions) and writes
its trail entry, with the actor and the values before and after, in the same transaction. A change
that changes nothing writes nothing. Callers (views, commands) check that the actor may do it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction

from agents import services
from agents.models import AgentVersion, Process
from review import permissions, trail
from review.models import Queue
from review.trail import Action, Actor

PROCESS_PERMISSIONS = ("administer_process", "audit_process")


class NothingToRollBack(Exception):
    """The process has no earlier agent version to go back to."""


@transaction.atomic
def change_autonomy(
    *, process: Process, changes: dict[str, Any], actor: Actor, evidence: dict[str, Any] | None = None
) -> dict[str, tuple[Any, Any]]:
    """Change a process's autonomy settings; trail entry with {field: [before, after]} if anything changed.

    `evidence` (what justified an automatic change, such as the drift guard's) goes into the same
    entry. Raises ValueError for a field that is not an autonomy setting (agents.services.set_autonomy).
    """
    diff = services.set_autonomy(process=process, changes=changes)
    if diff:
        data: dict[str, Any] = {"changes": {name: [before, after] for name, (before, after) in diff.items()}}
        if evidence is not None:
            data["evidence"] = evidence
        trail.record(Action.AUTONOMY_CHANGED, actor=actor, process=process, data=data)
    return diff


@transaction.atomic
def create_agent_version(
    *,
    process: Process,
    actor: Actor,
    provider: str,
    model: str = "",
    instructions: str = "",
    settings: dict[str, Any] | None = None,
    notes: str = "",
) -> AgentVersion:
    """A new, inactive agent version; the trail entry holds its whole specification."""
    version = services.create_version(
        process=process, provider=provider, model=model, instructions=instructions,
        settings=settings, notes=notes, actor=actor if isinstance(actor, User) else None,
    )  # fmt: skip
    trail.record(
        Action.VERSION_CREATED,
        actor=actor,
        process=process,
        data={
            "version": version.number,
            "version_id": version.pk,
            "provider": provider,
            "model": model,
            "instructions": instructions,
            "settings": version.settings,
            "notes": notes,
        },
    )
    return version


@transaction.atomic
def activate_agent_version(*, version: AgentVersion, actor: Actor) -> AgentVersion | None:
    """Make `version` the active one; trail entry with the versions before and after (none if no change)."""
    previous = services.activate_version(version=version)
    if previous is None or previous.pk != version.pk:
        trail.record(
            Action.VERSION_ACTIVATED,
            actor=actor,
            process=version.process,
            data={"version": [_number(previous), version.number], "version_id": [_pk(previous), version.pk]},
        )
    return previous


@transaction.atomic
def roll_back_agent_version(
    *, process: Process, actor: Actor, to_version: AgentVersion | None = None
) -> AgentVersion:
    """Go back to `to_version`, or to the newest version older than the active one.

    Raises NothingToRollBack when there is none. Trail entry: rolled back, with before and after.
    """
    active = AgentVersion.objects.filter(process=process, is_active=True).first()
    if to_version is None:
        older = AgentVersion.objects.filter(process=process)
        if active:
            older = older.filter(number__lt=active.number)
        to_version = older.order_by("-number").first()
    if to_version is None or to_version.process_id != process.pk or (active and active.pk == to_version.pk):
        raise NothingToRollBack(process.slug)
    services.activate_version(version=to_version)
    trail.record(
        Action.VERSION_ROLLED_BACK,
        actor=actor,
        process=process,
        data={"version": [_number(active), to_version.number], "version_id": [_pk(active), to_version.pk]},
    )
    return to_version


@transaction.atomic
def grant_queue_access(*, queue: Queue, to: User | Group, actor: Actor) -> bool:
    """Let a user or group work a queue. Returns False (and writes nothing) if they already could."""
    if permissions.holds_directly(to, "work_queue", queue):
        return False
    permissions.grant_queue(queue, to)
    _record_permission(Action.PERMISSION_GRANTED, "work_queue", queue, queue.process, to, actor)
    return True


@transaction.atomic
def revoke_queue_access(*, queue: Queue, to: User | Group, actor: Actor) -> bool:
    """Take a queue away from a user or group. Returns False (and writes nothing) if they did not hold it."""
    if not permissions.holds_directly(to, "work_queue", queue):
        return False
    permissions.revoke_queue(queue, to)
    _record_permission(Action.PERMISSION_REVOKED, "work_queue", queue, queue.process, to, actor)
    return True


@transaction.atomic
def grant_process_permission(*, codename: str, process: Process, to: User | Group, actor: Actor) -> bool:
    """Grant administer_process or audit_process on one process. False (nothing written) if already held."""
    _check_codename(codename)
    if permissions.holds_directly(to, codename, process):
        return False
    permissions.grant_process(codename, process, to)
    _record_permission(Action.PERMISSION_GRANTED, codename, process, process, to, actor)
    return True


@transaction.atomic
def revoke_process_permission(*, codename: str, process: Process, to: User | Group, actor: Actor) -> bool:
    """Revoke administer_process or audit_process on one process. False (nothing written) if not held."""
    _check_codename(codename)
    if not permissions.holds_directly(to, codename, process):
        return False
    permissions.revoke_process(codename, process, to)
    _record_permission(Action.PERMISSION_REVOKED, codename, process, process, to, actor)
    return True


def _check_codename(codename: str) -> None:
    if codename not in PROCESS_PERMISSIONS:
        raise ValueError(f"not a process permission: {codename!r}")


def _record_permission(
    action: str, codename: str, obj: Queue | Process, process: Process, to: User | Group, actor: Actor
) -> None:
    granted = action == Action.PERMISSION_GRANTED
    holder = (
        {"kind": "user", "id": to.pk, "name": to.get_username()}
        if isinstance(to, User)
        else {"kind": "group", "id": to.pk, "name": to.name}
    )
    trail.record(
        action,
        actor=actor,
        process=process,
        data={
            "permission": codename,
            "object": {"kind": obj._meta.model_name, "id": obj.pk, "slug": obj.slug},
            "holder": holder,
            "held": [not granted, granted],
        },
    )


def _number(version: AgentVersion | None) -> int | None:
    return version.number if version else None


def _pk(version: AgentVersion | None) -> int | None:
    return version.pk if version else None
