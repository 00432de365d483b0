"""Agent versions as process admins manage them: settings checks, evaluation, guarded activation,
regression cases.

Activation goes through review.configuration (audited) and adds two rules of its own: a version
that is worse than the active one on the labelled set, or that has no evaluation, needs an explicit
override with a reason (its own trail entry); and a newly active version puts the process in shadow
mode (audited by configuration.change_autonomy) until an admin re-promotes it on its own evidence.
A rollback follows the same rules, except that it is allowed without an evaluation.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum

from agents.models import AgentVersion, Process
from agents.providers.base import AgentSpec, ProviderError
from agents.providers.openai_provider import SECRET_PATTERNS, Settings
from review import configuration, trail
from review.models import LabelledExample, VersionEvaluation

VERSION_OVERRIDE = trail.Action.VERSION_OVERRIDE
REGRESSION_PINNED = trail.Action.REGRESSION_PINNED
REGRESSION_UNPINNED = trail.Action.REGRESSION_UNPINNED

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InvalidSettings(ValueError):
    """Provider settings that cannot work; the message never repeats a secret."""


class OverrideRequired(Exception):
    """Activating this version needs an explicit override with a reason (see `Comparison.worse`)."""

    def __init__(self, comparison: Comparison):
        super().__init__(comparison.verdict)
        self.comparison = comparison


class AlreadyActive(Exception):
    """The version is already the active one."""


class NotDecided(Exception):
    """The document has no labelled example (no human decision) to pin."""


# --- Settings -----------------------------------------------------------------------------------


def looks_like_secret(value: str) -> bool:
    """Whether a value given as an environment variable NAME looks like a key pasted in its place."""
    if not ENV_NAME.match(value) or SECRET_PATTERNS.search(value):
        return True
    has_digit = any(c.isdigit() for c in value)
    mixed_case = value != value.upper() and value != value.lower()
    # Variable names are words joined by underscores; keys are long runs of mixed characters.
    return len(value) > 64 or (has_digit and (mixed_case or "_" not in value) and len(value) >= 16)


def openai_settings(
    *,
    process: Process,
    endpoints: list[tuple[str, str]],
    api_key_env: str,
    instructions: str,
    timeout_s: float = 20.0,
    max_retries: int = 2,
    backoff_s: float = 0.5,
    confidence: str = "auto",
    samples: int = 3,
) -> dict[str, Any]:
    """The settings of an openai version, checked by the provider itself. Raises InvalidSettings.

    `endpoints` are (base_url, model) pairs in failover order; an empty base_url means OpenAI.
    """
    if looks_like_secret(api_key_env):
        # Never echo the value: it may be a key pasted in the wrong place.
        raise InvalidSettings(
            "the API key variable takes the NAME of an environment variable (such as OPENAI_API_KEY), "
            "not a key; the value given looks like a key or is not a valid variable name"
        )
    allowed = django_settings.LLM_API_KEY_ENVS
    if api_key_env not in allowed:
        # Otherwise an admin could have any server secret (SECRET_KEY, DATABASE_URL...) sent as a
        # bearer token to a URL of their choosing.
        raise InvalidSettings(
            f"the API key variable {api_key_env} is not one the operator allows for LLM keys "
            f"(LLM_API_KEY_ENVS: {', '.join(allowed)})"
        )
    if not endpoints:
        raise InvalidSettings("give at least one endpoint (base URL and model)")
    for url, model in endpoints:
        if not model:
            raise InvalidSettings(f"the endpoint {url or 'OpenAI'} has no model")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidSettings(f"{url!r} is not an http(s) URL")
            if parts.username or parts.password or parts.query:
                raise InvalidSettings(f"{url!r} must not carry credentials or a query string")
    settings = {
        "endpoints": [
            {**({"base_url": url} if url else {}), "model": model, "api_key_env": api_key_env}
            for url, model in endpoints
        ],
        "timeout_s": timeout_s,
        "max_retries": max_retries,
        "backoff_s": backoff_s,
        "confidence": confidence,
        "samples": samples,
    }
    spec = AgentSpec(
        process_slug=process.slug, provider="openai", model=endpoints[0][1],
        instructions=instructions, fields=process.field_specs, settings=settings,
    )  # fmt: skip
    try:
        Settings.from_spec(spec)
    except ProviderError as exc:
        raise InvalidSettings(exc.message) from None
    return settings


# --- Reads --------------------------------------------------------------------------------------


def version_rows(process: Process) -> list[AgentVersion]:
    """The process's versions, newest first, with run count, cost and latest evaluation (3 queries)."""
    versions = list(
        AgentVersion.objects.filter(process=process)
        .select_related("created_by")
        .annotate(run_count=Count("runs"), run_cost=Sum("runs__cost"))
        .order_by("-number")
    )
    latest = latest_evaluations([v.pk for v in versions])
    for version in versions:
        version.evaluation = latest.get(version.pk)
    return versions


def latest_evaluations(version_ids: list[int]) -> dict[int, VersionEvaluation]:
    """The newest evaluation of each version (one query; the index serves it)."""
    out: dict[int, VersionEvaluation] = {}
    for evaluation in VersionEvaluation.objects.filter(version_id__in=version_ids).order_by("-id"):
        out.setdefault(evaluation.version_id, evaluation)
    return out


def latest_finished(version: AgentVersion) -> VersionEvaluation | None:
    return (
        VersionEvaluation.objects.filter(version=version, state=VersionEvaluation.State.DONE)
        .order_by("-id")
        .first()
    )


def regression_cases(process: Process) -> QuerySet[LabelledExample]:
    return (
        LabelledExample.objects.filter(process=process, is_regression_case=True)
        .select_related("document")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Comparison:
    """A candidate against the active version on the labelled set, as the activation rule reads it."""

    candidate: AgentVersion
    active: AgentVersion | None
    candidate_evaluation: VersionEvaluation | None
    active_evaluation: VersionEvaluation | None

    @property
    def worse(self) -> bool:
        """No evaluation, or a lower overall field accuracy than the active version's evaluation."""
        if self.candidate_evaluation is None or self.candidate_evaluation.overall_accuracy is None:
            return True
        if self.active_evaluation is None or self.active_evaluation.overall_accuracy is None:
            return False
        return self.candidate_evaluation.overall_accuracy < self.active_evaluation.overall_accuracy

    @property
    def verdict(self) -> str:
        if self.candidate_evaluation is None or self.candidate_evaluation.overall_accuracy is None:
            return f"version {self.candidate.number} has no finished evaluation on the labelled set"
        mine = self.candidate_evaluation.overall_accuracy
        if self.active_evaluation is None or self.active_evaluation.overall_accuracy is None:
            number = self.candidate.number
            return f"version {number}: field accuracy {mine:.1%}; the active one has no evaluation"
        theirs = self.active_evaluation.overall_accuracy
        relation = "lower than" if mine < theirs else "at least"
        return (
            f"version {self.candidate.number}: field accuracy {mine:.1%}, {relation} "
            f"active version {self.active.number}'s {theirs:.1%}"
        )

    def evidence(self) -> dict[str, Any]:
        def summary(evaluation: VersionEvaluation | None) -> dict[str, Any] | None:
            if evaluation is None:
                return None
            return {
                "evaluation_id": evaluation.pk,
                "overall_accuracy": evaluation.overall_accuracy,
                "ece": evaluation.ece,
                "projected_automation": evaluation.projected_automation,
                "examples": evaluation.total,
            }

        return {
            "candidate": summary(self.candidate_evaluation),
            "active": summary(self.active_evaluation),
            "verdict": self.verdict,
        }


def compare(candidate: AgentVersion) -> Comparison:
    active = AgentVersion.objects.filter(process_id=candidate.process_id, is_active=True).first()
    return Comparison(
        candidate=candidate,
        active=active,
        candidate_evaluation=latest_finished(candidate),
        active_evaluation=latest_finished(active) if active else None,
    )


@dataclass(frozen=True)
class SideBySide:
    left: AgentVersion
    right: AgentVersion
    left_evaluation: VersionEvaluation | None
    right_evaluation: VersionEvaluation | None
    settings: list[tuple[str, Any, Any]]  # (key, left value, right value) for keys that differ
    instructions_diff: list[str]  # unified diff lines, empty when equal
    fields: list[tuple[str, float | None, float | None]]  # per-field accuracy, left and right

    @property
    def evaluations(self) -> tuple[VersionEvaluation | None, VersionEvaluation | None]:
        return self.left_evaluation, self.right_evaluation


def side_by_side(left: AgentVersion, right: AgentVersion) -> SideBySide:
    """Two versions' specifications diffed, and their latest finished evaluations field by field."""
    flat_left, flat_right = _flatten(_spec(left)), _flatten(_spec(right))
    keys = sorted(set(flat_left) | set(flat_right))
    evaluations = {v.pk: latest_finished(v) for v in (left, right)}
    names = [f["name"] for f in right.schema_snapshot] or [f["name"] for f in left.schema_snapshot]
    return SideBySide(
        left=left,
        right=right,
        left_evaluation=evaluations[left.pk],
        right_evaluation=evaluations[right.pk],
        settings=[
            (k, flat_left.get(k), flat_right.get(k)) for k in keys if flat_left.get(k) != flat_right.get(k)
        ],
        instructions_diff=list(
            difflib.unified_diff(
                left.instructions.splitlines(),
                right.instructions.splitlines(),
                f"version {left.number}",
                f"version {right.number}",
                lineterm="",
            )
        ),
        fields=[
            (name, _field_accuracy(evaluations[left.pk], name), _field_accuracy(evaluations[right.pk], name))
            for name in names
        ],
    )


def _spec(version: AgentVersion) -> dict[str, Any]:
    return {"provider": version.provider, "model": version.model, "settings": version.settings,
            "schema": version.schema_snapshot}  # fmt: skip


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def _field_accuracy(evaluation: VersionEvaluation | None, name: str) -> float | None:
    if evaluation is None:
        return None
    correct, compared = evaluation.field_accuracy.get(name, [0, 0])
    return correct / compared if compared else None


# --- Writes -------------------------------------------------------------------------------------


@transaction.atomic
def create_version(
    *, process: Process, actor: User, provider: str, model: str, instructions: str,
    settings: dict[str, Any], notes: str = "",
) -> AgentVersion:  # fmt: skip
    """A new inactive version (audited by configuration.create_agent_version)."""
    return configuration.create_agent_version(
        process=process, actor=actor, provider=provider, model=model,
        instructions=instructions, settings=settings, notes=notes,
    )  # fmt: skip


@transaction.atomic
def start_evaluation(*, version: AgentVersion, actor: User | None) -> VersionEvaluation:
    """Queue a replay of the labelled set through `version` (no-op if one is already under way).

    The active version is evaluated too when it has no evaluation yet, so the two can be compared.
    The Celery task is enqueued on commit.
    """
    from review import tasks

    AgentVersion.objects.select_for_update().filter(pk=version.pk).first()  # one start at a time
    evaluation = (
        VersionEvaluation.objects.filter(version=version, state__in=[VersionEvaluation.State.QUEUED,
                                                                      VersionEvaluation.State.RUNNING])
        .order_by("-id")
        .first()
    )  # fmt: skip
    if evaluation is None:
        evaluation = VersionEvaluation.objects.create(version=version, created_by=actor)
        tasks.enqueue_evaluation(evaluation.pk)
    active = AgentVersion.objects.filter(process_id=version.process_id, is_active=True).first()
    if active and active.pk != version.pk and not VersionEvaluation.objects.filter(version=active).exists():
        baseline = VersionEvaluation.objects.create(version=active, created_by=actor)
        tasks.enqueue_evaluation(baseline.pk)
    return evaluation


@transaction.atomic
def activate(
    *, version: AgentVersion, actor: User, override_reason: str = "", rollback: bool = False
) -> Comparison:
    """Make `version` active under the activation rules; returns the comparison it was judged on.

    Raises OverrideRequired when it is worse (or unevaluated, except for a rollback) and no reason
    is given. Trail: version activated or rolled back, the override with its reason and evidence,
    and the switch to shadow mode.
    """
    Process.objects.select_for_update().get(pk=version.process_id)  # one activation at a time
    if AgentVersion.objects.filter(pk=version.pk, is_active=True).exists():
        raise AlreadyActive(version.pk)
    comparison = compare(version)
    unevaluated = comparison.candidate_evaluation is None
    needs_override = comparison.worse and not (rollback and unevaluated)
    reason = override_reason.strip()
    if needs_override and not reason:
        raise OverrideRequired(comparison)
    if rollback:
        configuration.roll_back_agent_version(process=version.process, actor=actor, to_version=version)
    else:
        configuration.activate_agent_version(version=version, actor=actor)
    if needs_override:
        trail.record(
            VERSION_OVERRIDE,
            actor=actor,
            process=version.process,
            data={"version": version.number, "version_id": version.pk, "reason": reason,
                  "rollback": rollback, "comparison": comparison.evidence()},
        )  # fmt: skip
    configuration.change_autonomy(
        process=version.process,
        changes={"autonomy_mode": Process.Mode.SHADOW},
        actor=actor,
        evidence={"reason": "a newly active agent version starts in shadow mode", "version": version.number},
    )
    return comparison


def previous_version(process: Process) -> AgentVersion | None:
    """The newest version older than the active one: what a rollback goes back to."""
    active = AgentVersion.objects.filter(process=process, is_active=True).first()
    older = AgentVersion.objects.filter(process=process)
    if active:
        older = older.filter(number__lt=active.number)
    return older.order_by("-number").first()


def example_to_pin(document_id: int) -> LabelledExample | None:
    """The document's latest decided example, preferring a final verdict over an escalation."""
    examples = LabelledExample.objects.filter(document_id=document_id)
    return (
        examples.filter(~Q(outcome=LabelledExample.Outcome.ESCALATED)).order_by("-id").first()
        or examples.order_by("-id").first()
    )


@transaction.atomic
def set_regression_case(*, document_id: int, pinned: bool, actor: User) -> LabelledExample:
    """Pin (or unpin) a document's decided example as a regression case; trail entry if it changed.

    Raises NotDecided when no person has decided the document yet.
    """
    example = example_to_pin(document_id)
    if example is None:
        raise NotDecided(document_id)
    if not pinned:  # unpin every example of the document, whichever was pinned
        changed = LabelledExample.objects.filter(document_id=document_id, is_regression_case=True)
        ids = list(changed.values_list("pk", flat=True))
        updated = changed.update(is_regression_case=False)
    else:
        ids = [example.pk]
        updated = LabelledExample.objects.filter(pk=example.pk, is_regression_case=False).update(
            is_regression_case=True
        )
    if updated:
        trail.record(
            REGRESSION_PINNED if pinned else REGRESSION_UNPINNED,
            actor=actor,
            document=example.document,
            data={"examples": ids, "outcome": example.outcome, "decision_id": example.decision_id},
        )
    example.refresh_from_db(fields=["is_regression_case"])
    return example
