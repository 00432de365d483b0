"""Persona fixtures and shared helpers.

alice reviews invoices, bob reviews receipts, sam is a specialist on the invoice escalations,
paula administers invoices, audrey audits everything, charlie has a login and nothing else.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from agents.models import Process
from review import permissions
from review.models import Queue
from review.permissions import Role
from review.provisioning import ensure_standard_processes

PASSWORD = "correct horse battery staple"


def pytest_configure(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(
            "The suite runs on PostgreSQL: run `make test`, or set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice and REDIS_URL=redis://127.0.0.1:6379/0."
        )


@pytest.fixture
def processes(db) -> dict[str, Process]:
    ensure_standard_processes()
    return {p.slug: p for p in Process.objects.all()}


@pytest.fixture
def invoices(processes) -> Process:
    return processes["invoice-extraction"]


@pytest.fixture
def receipts(processes) -> Process:
    return processes["receipt-extraction"]


def make_user(username: str, role: str | None = None) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    if role:
        # get_or_create: transactional tests flush the tables the data migration filled
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def alice(processes) -> User:
    user = make_user("alice", Role.REVIEWER)
    permissions.grant_queue(Queue.objects.get(slug="invoice-extraction-review"), user)
    return user


@pytest.fixture
def bob(processes) -> User:
    user = make_user("bob", Role.REVIEWER)
    permissions.grant_queue(Queue.objects.get(slug="receipt-extraction-review"), user)
    return user


@pytest.fixture
def sam(processes) -> User:
    user = make_user("sam", Role.SPECIALIST)
    permissions.grant_queue(Queue.objects.get(slug="invoice-extraction-escalation"), user)
    return user


@pytest.fixture
def paula(processes) -> User:
    user = make_user("paula", Role.PROCESS_ADMIN)
    permissions.grant_process("administer_process", processes["invoice-extraction"], user)
    return user


@pytest.fixture
def audrey(processes) -> User:
    user = make_user("audrey", Role.AUDITOR)
    for process in processes.values():
        permissions.grant_process("audit_process", process, user)
    return user


@pytest.fixture
def charlie(db) -> User:
    return make_user("charlie")
