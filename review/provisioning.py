"""Setting up the standard processes, their queues and their first agent version (audited)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from agents import services
from agents.catalogue import STANDARD_PROCESSES
from agents.models import Process
from review import queues, trail
from review.trail import Action, System


@transaction.atomic
def ensure_standard_processes(
    *, actor: User | None = None, mode: str = Process.Mode.AUTONOMOUS
) -> list[Process]:
    """Create any missing standard process with its queues and an active rules agent (idempotent)."""
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
        if was_created:
            version = services.create_version(
                process=process,
                provider="rules",
                model="rules-v1",
                instructions="Offline rules agent.",
                settings={"ruleset": definition["ruleset"]},
                notes="Created with the process.",
                actor=actor,
            )
            services.activate_version(version=version)
            who = actor or System("setup")
            trail.record(
                Action.VERSION_CREATED,
                actor=who,
                process=process,
                data={"version": version.number, "provider": version.provider, "settings": version.settings},
            )
            trail.record(
                Action.VERSION_ACTIVATED,
                actor=who,
                process=process,
                data={"version": version.number, "previous": None},
            )
            trail.record(
                Action.AUTONOMY_CHANGED,
                actor=who,
                process=process,
                data={
                    "changes": {
                        "autonomy_mode": [None, process.autonomy_mode],
                        "confidence_threshold": [None, str(process.confidence_threshold)],
                        "audit_sample_rate": [None, str(process.audit_sample_rate)],
                    }
                },
            )
            created.append(process)
    return created
