"""Replay of a process's labelled examples through a candidate agent version.

The replay calls the version's provider directly on each document's stored text (runtime.spec_for):
it creates no AgentRun and never touches a document, a task or the trail. It reads the approved or
corrected examples (the ones with human truth, newest REPLAY_LIMIT) and every pinned regression
case, and stores aggregates on the VersionEvaluation: per-field accuracy, reliability bins and ECE,
the automation projected at the process's target accuracy, and which pinned cases fail.

A pinned case without human fields (a rejection, an escalation) fails when the candidate would
accept it unseen: valid output with an overall confidence at or above the process's threshold.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from agents.confidence import overall_confidence
from agents.models import AgentVersion
from agents.providers import get_provider
from agents.providers.base import AgentSpec, FieldSpec, ProviderError
from agents.runtime import spec_for
from agents.validation import comparable_value, validate_output
from review.evaluation import stats
from review.models import LabelledExample, VersionEvaluation

logger = logging.getLogger(__name__)

REPLAY_LIMIT = 2000  # newest labelled examples replayed (each is a model call for an LLM version)
PROGRESS_EVERY = 10
STALE_AFTER = timedelta(minutes=10)  # a running replay without a heartbeat this long is taken over
MIN_EFFECTIVE_N = stats.MIN_EFFECTIVE_N
EXAMPLE_COLUMNS = (
    "id", "human_fields", "outcome", "route_reason", "audit_sample_rate", "is_regression_case",
    "document__text", "document__text_problem",
)  # fmt: skip


@dataclass
class Replayed:
    """What the candidate made of one example."""

    example: dict[str, Any]
    output: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None
    valid: bool = False
    error: str = ""


@dataclass
class Tally:
    fields: dict[str, list[int]]  # name -> [correct, compared]
    records: list[stats.Record] = field(default_factory=list)
    eligible_weight: dict[int, float] = field(default_factory=dict)  # percent bin -> weight
    total_weight: float = 0.0
    documents: int = 0
    documents_correct: int = 0
    agent_errors: int = 0
    regression_total: int = 0
    regression_failed: list[int] = field(default_factory=list)


def run_evaluation(evaluation_id: int) -> str:
    """Claim the evaluation (compare-and-set: queued, or running with a stale heartbeat), replay, store.

    Returns "done", "failed" or "skipped" (someone else has it, it is finished, or it is missing).
    """
    now = timezone.now()
    claimable = Q(state=VersionEvaluation.State.QUEUED) | Q(
        state=VersionEvaluation.State.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    updated = VersionEvaluation.objects.filter(claimable, pk=evaluation_id).update(
        state=VersionEvaluation.State.RUNNING, started_at=now, heartbeat_at=now, done=0
    )
    if updated != 1:
        return "skipped"
    evaluation = VersionEvaluation.objects.select_related("version__process").get(pk=evaluation_id)
    try:
        results = _store(evaluation, _replay(evaluation))
    except Exception as exc:  # a crash must leave the evaluation visibly failed, not running forever
        logger.exception("evaluation %s failed", evaluation_id)
        VersionEvaluation.objects.filter(pk=evaluation_id).update(
            state=VersionEvaluation.State.FAILED, error_message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )  # fmt: skip
        return "failed"
    return results


def examples_for(version: AgentVersion) -> list[dict[str, Any]]:
    """The newest REPLAY_LIMIT examples with human truth, plus every pinned case, oldest first."""
    examples = LabelledExample.objects.filter(process_id=version.process_id)
    labelled = examples.filter(
        human_fields__isnull=False,
        outcome__in=[LabelledExample.Outcome.APPROVED, LabelledExample.Outcome.CORRECTED],
    ).order_by("-id")[:REPLAY_LIMIT]
    rows = {row["id"]: row for row in labelled.values(*EXAMPLE_COLUMNS)}
    for row in examples.filter(is_regression_case=True).values(*EXAMPLE_COLUMNS):
        rows[row["id"]] = row
    return [rows[pk] for pk in sorted(rows)]


def _replay(evaluation: VersionEvaluation) -> Tally:
    version = evaluation.version
    spec = spec_for(version)
    examples = examples_for(version)
    VersionEvaluation.objects.filter(pk=evaluation.pk).update(total=len(examples))
    tally = Tally(fields={f.name: [0, 0] for f in spec.fields})
    threshold = float(version.process.confidence_threshold)
    workers = max(1, int(getattr(settings, "REPLAY_CONCURRENCY", 4)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="replay") as pool:
        for done, replayed in enumerate(pool.map(lambda row: replay_one(spec, row), examples), start=1):
            _count(tally, spec.fields, replayed, threshold)
            if done % PROGRESS_EVERY == 0 or done == len(examples):
                VersionEvaluation.objects.filter(pk=evaluation.pk).update(
                    done=done, heartbeat_at=timezone.now()
                )
    return tally


def replay_one(spec: AgentSpec, example: dict[str, Any]) -> Replayed:
    """Run the provider on the example's stored text; never raises for the agent's own failures."""
    replayed = Replayed(example)
    if example["document__text_problem"]:
        replayed.error = "unreadable"
        return replayed
    try:
        result = get_provider(spec.provider).run(spec, example["document__text"])
    except ProviderError as exc:
        replayed.error = exc.code
        return replayed
    except Exception as exc:  # a provider bug counts against the candidate, it does not stop the replay
        logger.warning("replay of example %s crashed: %s", example["id"], exc)
        replayed.error = "agent_crashed"
        return replayed
    replayed.output = {name: item.value for name, item in result.fields.items()}
    confidences = {name: float(item.confidence) for name, item in result.fields.items()}
    replayed.confidence = overall_confidence(spec.fields, replayed.output, confidences)
    replayed.valid = not validate_output(spec.fields, replayed.output)
    return replayed


def _count(tally: Tally, specs: tuple[FieldSpec, ...], replayed: Replayed, threshold: float) -> None:
    example, truth = replayed.example, replayed.example["human_fields"]
    tally.agent_errors += bool(replayed.error)
    if truth is None:  # a pinned rejection or escalation: wrong if it would have been accepted unseen
        accepted = replayed.valid and (replayed.confidence or 0.0) >= threshold
        _regression(tally, example, passed=not accepted)
        return
    correct = {s.name: comparable_value(s, replayed.output.get(s.name)) == truth.get(s.name) for s in specs}
    for name, ok in correct.items():
        tally.fields[name][0] += ok
        tally.fields[name][1] += 1
    all_correct = bool(correct) and all(correct.values()) and not replayed.error
    tally.documents += 1
    tally.documents_correct += all_correct
    weight = stats.weight_for(example["route_reason"], example["audit_sample_rate"])
    tally.total_weight += weight
    if not replayed.error and replayed.valid and replayed.confidence is not None:
        tally.records.append(stats.Record(replayed.confidence, all_correct, weight))
        key = stats.confidence_bin(replayed.confidence)
        tally.eligible_weight[key] = tally.eligible_weight.get(key, 0.0) + weight
    if example["is_regression_case"]:
        _regression(tally, example, passed=all_correct)


def _regression(tally: Tally, example: dict[str, Any], *, passed: bool) -> None:
    if example["is_regression_case"]:
        tally.regression_total += 1
        if not passed:
            tally.regression_failed.append(example["id"])


def _store(evaluation: VersionEvaluation, tally: Tally) -> str:
    process = evaluation.version.process
    compared = sum(n for _, n in tally.fields.values())
    bins = stats.reliability_bins(tally.records)
    simulation = stats.simulate_thresholds(
        label_bins=stats.bin_records(tally.records),
        run_bins=tally.eligible_weight,
        total_runs=tally.total_weight,
        days=1,
        audit_sample_rate=float(process.audit_sample_rate),
        target_accuracy=float(process.target_accuracy),
        min_effective_n=MIN_EFFECTIVE_N,
    )
    recommended = simulation.recommended
    VersionEvaluation.objects.filter(pk=evaluation.pk).update(
        state=VersionEvaluation.State.DONE,
        agent_errors=tally.agent_errors,
        field_accuracy=tally.fields,
        overall_accuracy=sum(c for c, _ in tally.fields.values()) / compared if compared else None,
        document_accuracy=tally.documents_correct / tally.documents if tally.documents else None,
        calibration=[
            {
                "lower": b.lower,
                "upper": b.upper,
                "n": b.n,
                "confidence": b.mean_confidence,
                "accuracy": b.accuracy,
            }
            for b in bins
        ],
        ece=stats.expected_calibration_error(bins),
        target_accuracy=float(process.target_accuracy),
        recommended_threshold=recommended,
        projected_automation=simulation.row(recommended).automation_rate if recommended is not None else None,
        projection_message=simulation.message,
        regression_total=tally.regression_total,
        regression_failed=tally.regression_failed,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    return "done"
