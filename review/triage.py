"""Triage: ask the agents to run and decide, then act on the verdict.

Flow for one document: claim it (received -> processing, compare-and-set), run the active agent
version (the run is logged whatever happens), judge the run against the policy in force, then in
one transaction settle the document (auto-accepted or in review), create the review task when
needed, and write the trail entry with the agent's output and the policy that decided.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import connection

from agents import runtime, services
from agents.autonomy import Verdict
from agents.models import AgentRun, Process
from backoffice.sql import column_list, fetch_instance
from review import queues, trail
from review.models import ReviewTask
from review.trail import Action, System

logger = logging.getLogger(__name__)


def triage_document(document_id: int) -> str:
    """Run and route one document. Idempotent: returns "skipped" when it is not (or no longer) received."""
    document = services.begin_processing(document_id)
    if document is None:
        return "skipped"
    try:
        # A run left by an attempt that failed before its verdict is used again, not paid twice.
        run = services.unsettled_run(document) or runtime.run_agent(document)
        return act_on_run(run)
    except services.StateConflict:
        return "skipped"  # settled meanwhile by another attempt (after a requeue)
    except Exception:
        services.release_processing(document_id)  # so the task's retry finds it received
        raise


PROCESS_SQL = f"SELECT {column_list(Process)} FROM {Process._meta.db_table} WHERE id = %s"
# On PostgreSQL the same read also lets the transaction commit without waiting for the WAL flush
# (see _process_committing_without_waiting_for_disk): one round trip fewer for every document.
PROCESS_ASYNC_COMMIT_SQL = (
    f"SELECT {column_list(Process)}, set_config('synchronous_commit', 'off', true) "
    f"FROM {Process._meta.db_table} WHERE id = %s"
)


def act_on_run(run: AgentRun) -> str:
    """Judge the run with the process's current policy and settle its document (one transaction,
    whose last write is the trail entry: on PostgreSQL it goes with COMMIT)."""
    with trail.transaction_ending_with_entry() as last_entry:
        process = _process_committing_without_waiting_for_disk(run.document.process_id)  # its policy, now
        verdict = services.judge_run(run=run, process=process)
        services.settle_run(run=run, verdict=verdict)
        task = None
        if not verdict.accept:
            queue = queues.review_queue_for(process)
            task = ReviewTask.objects.create(
                document=run.document,
                queue=queue,
                agent_run=run,
                reason=verdict.reason,
                policy=run.policy,
                priority=queues.priority_for(verdict.reason),
                due_at=queues.due_at_for(process),
            )
        last_entry.set(
            Action.AGENT_AUTO_ACCEPTED if verdict.accept else Action.AGENT_ROUTED_TO_REVIEW,
            actor=run.agent_version or System("triage"),
            process=process,
            document=run.document,
            data=_run_summary(run, verdict) | ({"task": task.pk, "queue": task.queue.slug} if task else {}),
        )
    return "auto_accepted" if verdict.accept else f"review:{verdict.reason}"


def _process_committing_without_waiting_for_disk(process_id: int) -> Process:
    """The process, read in this transaction, which then commits without waiting for the WAL
    flush (PostgreSQL only).

    Every triage commit holds the trail head lock until it commits, so a synchronous flush caps
    triage throughput for all workers together. If the server crashes before the flush, the whole
    transaction vanishes (document, task and trail entry together): the document is still
    "processing" and the requeue job runs it again, so nothing is lost or half-recorded. Human
    decisions keep synchronous commits.
    """
    if connection.vendor == "postgresql":
        return fetch_instance(Process, PROCESS_ASYNC_COMMIT_SQL, [process_id], extra=("synchronous_commit",))
    return fetch_instance(Process, PROCESS_SQL, [process_id])


def _run_summary(run: AgentRun, verdict: Verdict) -> dict:
    version = run.agent_version
    return {
        "run": run.pk,
        "agent_version": version.number if version else None,
        "provider": version.provider if version else None,
        "model": run.model_used,
        "input": {"document": run.document_id, "checksum": run.document.checksum},
        "output": run.output,
        "confidences": run.confidences,
        "confidence_methods": run.confidence_methods,
        "overall_confidence": run.overall_confidence,
        "validation_errors": run.validation_errors,
        "reasoning": run.reasoning[:2000],
        "tokens": {"prompt": run.prompt_tokens, "completion": run.completion_tokens},
        "cost": str(Decimal(run.cost)),
        "latency_ms": run.latency_ms,
        "error": {"code": run.error_code, "message": run.error_message[:500]} if run.error_code else None,
        "attempts": run.attempts,
        "decision": "auto_accept" if verdict.accept else "review",
        "reason": verdict.reason,
        "would_auto_accept": verdict.would_auto_accept,
        "audit_draw": round(verdict.audit_draw, 6),
        "policy": verdict.policy.as_dict(),
        "low_fields": list(verdict.low_fields),
    }
