"""Running a process's active agent version on a document and logging the run.

`run_agent` never raises for anything the agent does wrong (provider errors, timeouts, malformed
output, bugs in a provider): the failure is recorded on the AgentRun so the document goes to
review with the reason instead of being lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from agents.confidence import overall_confidence
from agents.models import AgentRun, AgentVersion, Document
from agents.providers import get_provider
from agents.providers.base import AgentSpec, ProviderError
from agents.schema import fields_from_json
from agents.validation import validate_output
from backoffice.sql import insert_instance

logger = logging.getLogger(__name__)

COST_QUANTUM = Decimal("0.000001")  # AgentRun.cost has six decimal places


def spec_for(version: AgentVersion) -> AgentSpec:
    return AgentSpec(
        process_slug=version.process.slug,
        provider=version.provider,
        model=version.model,
        instructions=version.instructions,
        fields=fields_from_json(version.schema_snapshot),
        settings=version.settings,
    )


def active_version(process_id: int) -> AgentVersion | None:
    return (
        AgentVersion.objects.select_related("process").filter(process_id=process_id, is_active=True).first()
    )


@dataclass(frozen=True)
class _Loaded:
    version: AgentVersion
    spec: AgentSpec


_loaded: dict[int, _Loaded] = {}
_loaded_lock = threading.Lock()
LOADED_VERSIONS_MAX = 256


def _load(version_id: int) -> _Loaded | None:
    """An agent version and its spec, kept per worker process: versions never change once created
    (only which one is active does, and triage asks the database that for every document)."""
    loaded = _loaded.get(version_id)
    if loaded is None:
        version = AgentVersion.objects.select_related("process").filter(pk=version_id).first()
        if version is None:
            return None
        loaded = _Loaded(version, spec_for(version))
        with _loaded_lock:
            if len(_loaded) >= LOADED_VERSIONS_MAX:
                _loaded.clear()
            _loaded[version_id] = loaded
    return loaded


def run_agent(document: Document, version: AgentVersion | None = None) -> AgentRun:
    """Run `version` (default: the process's active one) on the document and save the AgentRun.

    A document from services.begin_processing names its process's active version
    (`active_version_id`); otherwise the active version is looked up here.
    """
    if version is None and hasattr(document, "active_version_id"):
        loaded = _load(document.active_version_id) if document.active_version_id else None
        version, spec = (loaded.version, loaded.spec) if loaded else (None, None)
    else:
        version = version or active_version(document.process_id)
        spec = spec_for(version) if version else None
    run = AgentRun(document=document, agent_version=version)
    if document.text_problem:
        run.error_code, run.error_message = "unreadable", f"no text could be read: {document.text_problem}"
    elif version is None or spec is None:
        run.error_code, run.error_message = "no_active_version", "the process has no active agent version"
    else:
        _execute(run, spec, document.text)
    insert_instance(run)  # run.save(), without compiling the wide INSERT for every document
    return run


def _execute(run: AgentRun, spec: AgentSpec, text: str) -> None:
    started = time.perf_counter()
    try:
        result = get_provider(spec.provider).run(spec, text)
    except ProviderError as exc:
        run.error_code, run.error_message, run.attempts = exc.code, exc.message, exc.attempts
        run.prompt_tokens = int(exc.usage.get("prompt_tokens", 0))
        run.completion_tokens = int(exc.usage.get("completion_tokens", 0))
        run.cost = _stored_cost(exc.usage.get("cost", run.cost))
        run.model_used = exc.usage.get("model_used", "")
    except Exception as exc:  # a bug in a provider must not lose the document
        logger.exception("agent %s crashed on document %s", spec.provider, run.document_id)
        run.error_code, run.error_message = "agent_crashed", f"{type(exc).__name__}: {exc}"
    else:
        run.output = {name: _storable(item.value) for name, item in result.fields.items()}
        run.confidences = {name: round(float(item.confidence), 4) for name, item in result.fields.items()}
        run.confidence_methods = {name: item.method for name, item in result.fields.items()}
        run.overall_confidence = overall_confidence(spec.fields, run.output, run.confidences)
        run.validation_errors = validate_output(spec.fields, run.output)
        run.reasoning = _storable(result.reasoning)
        run.model_used = result.model_used or spec.model
        run.prompt_tokens, run.completion_tokens = result.prompt_tokens, result.completion_tokens
        run.cost = _stored_cost(result.cost)
        run.attempts = result.attempts
    run.latency_ms = int((time.perf_counter() - started) * 1000)


def _stored_cost(cost: Decimal) -> Decimal:
    """The cost as the column stores it, so the trail entry written from the run says the same."""
    return Decimal(cost).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _storable(value):
    """Model text as PostgreSQL can store it (a NUL character would fail the save and strand the run)."""
    return value.replace("\x00", "") if isinstance(value, str) else value
