"""Builders for the agent version tests: decided items with known human truth."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from agents.models import AgentVersion, Process
from review import configuration
from review.decisions import final_values
from review.models import Decision, LabelledExample, ReviewTask
from tests.helpers import CLEAN_INVOICE
from tests.reviewing import INVOICE_OUTPUT, make_task

INVOICE_TRUTH = dict(INVOICE_OUTPUT)


def decided_example(
    process: Process,
    *,
    truth: dict[str, Any] | None = None,
    text: str = CLEAN_INVOICE,
    outcome: str = LabelledExample.Outcome.APPROVED,
    pinned: bool = False,
) -> LabelledExample:
    """A document decided by a person: its task, Decision and LabelledExample, truth in canonical form."""
    task = make_task(process, text=text)
    ReviewTask.objects.filter(pk=task.pk).update(state=ReviewTask.State.DECIDED)
    reviewer = User.objects.get_or_create(username="reviewer-for-tests")[0]
    human = None
    if outcome in (LabelledExample.Outcome.APPROVED, LabelledExample.Outcome.CORRECTED):
        human = final_values(process.field_specs, truth or INVOICE_TRUTH)
    decision = Decision.objects.create(
        task=task, document=task.document, reviewer=reviewer,
        action="approve" if human else "reject", final_fields=human,
        seconds_spent=10, claimed_at=timezone.now(),
    )  # fmt: skip
    return LabelledExample.objects.create(
        process=process, document=task.document, decision=decision, agent_run=task.agent_run,
        agent_version=task.agent_run.agent_version, outcome=outcome,
        agent_output=task.agent_run.output, human_fields=human, route_reason=task.reason,
        is_regression_case=pinned,
    )  # fmt: skip


def new_version(process: Process, *, ruleset: str = "extraction", **kwargs: Any) -> AgentVersion:
    return configuration.create_agent_version(
        process=process, actor=None, provider="rules", model="rules-v1",
        settings={"ruleset": ruleset}, **kwargs,
    )  # fmt: skip
