"""Setting up the standard processes, their queues and their first agent version (audited)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from agents.catalogue import STANDARD_PROCESSES
from agents.models import Process
from review import configuration, queues, trail
from review.trail import Action, System


@transaction.atomic
def ensure_standard_processes(
    *, actor: User | None = None, mode: str = Process.Mode.AUTONOMOUS
) -> list[Process]:
    """Create any missing standard process with its queues and an active rules agent (idempotent)."""
    who = actor or System("setup")
    created = []
    for definition in STANDARD_PROCESSES:
        process, was_created = Process.objects.get_or_create(
            slug=definition["slug"],
            defaults={
                "name": definition["name"],
                "description": definition["description"],
                "fields": definition["fields"],
                "confidence_threshold": definition["threshold"],
                "autonomy_mode": mode,
            },
        )
        queues.ensure_queues(process)
        if not was_created:
            continue
        trail.record(
            Action.PROCESS_CREATED,
            actor=who,
            process=process,
            data={
                "fields": process.fields,
                "autonomy_mode": process.autonomy_mode,
                "confidence_threshold": str(process.confidence_threshold),
                "audit_sample_rate": str(process.audit_sample_rate),
                "target_accuracy": str(process.target_accuracy),
            },
        )
        version = configuration.create_agent_version(
            process=process,
            actor=who,
            provider="rules",
            model="rules-v1",
            instructions="Offline rules agent.",
            settings={"ruleset": definition["ruleset"]},
            notes="Created with the process.",
        )
        configuration.activate_agent_version(version=version, actor=who)
        created.append(process)
    return created
