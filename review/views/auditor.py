"""The auditor's screens: the filtered trail, a document's timeline, exports, verification.

Everything here reads, except that asking for a verification queues one (a job, not a trail
entry). Scope is the agents.audit_process object permission: a process, document or
export outside the processes a user audits answers 404, exactly like a missing one.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from agents.models import Document, Process
from backoffice.types import AuthedRequest
from review import exports, permissions, trail, trail_verification_runs
from review.trail import Action, InvalidFilter, TrailFilter
from review.views.params import whole_number


def _audited(request: AuthedRequest) -> dict[int, Process]:
    return {p.pk: p for p in permissions.audited_processes(request.user).order_by("name")}


def _trail_filter(request: AuthedRequest, audited: dict[int, Process]) -> TrailFilter:
    """The request's filter, scoped to `audited`. Http404 outside it; InvalidFilter for bad input."""
    slug = request.GET.get("process", "").strip()
    process = None
    if slug:
        process = next((p for p in audited.values() if p.slug == slug), None)
        if process is None:
            raise Http404("No such process.")
    document_id = None
    raw_document = request.GET.get("document", "").strip()
    if raw_document:
        document_id = whole_number(raw_document)
        if document_id is None:
            raise InvalidFilter("document must be a document number")
        if not Document.objects.filter(pk=document_id, process_id__in=audited).exists():
            raise Http404("No such document.")
    return trail.build_filter(
        request.GET, process_ids=frozenset(audited), process=process, document_id=document_id
    )


def _int_param(request: AuthedRequest, name: str) -> int | None:
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    number = whole_number(value)
    if number is None:
        raise InvalidFilter(f"{name} must be a whole number")
    return number


@require_GET
def trail_entries(request: AuthedRequest) -> HttpResponse:
    audited = _audited(request)
    context = {"processes": list(audited.values()), "actions": Action.all(), "params": request.GET}
    if not audited:
        return render(request, "review/trail.html", context)
    try:
        trail_filter = _trail_filter(request, audited)
        entries, next_cursor = trail.trail_page(trail_filter, before=_int_param(request, "before"))
    except InvalidFilter as error:
        return render(request, "review/trail.html", context | {"error": str(error)}, status=400)
    context |= {"filter": trail_filter, "entries": entries, "next_cursor": next_cursor}
    template = "review/trail.html#trail-rows" if request.htmx else "review/trail.html"
    return render(request, template, context)


@require_GET
def timeline(request: AuthedRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(
        Document.objects.select_related("process").defer("text"),
        pk=pk,
        process__in=permissions.audited_processes(request.user),
    )
    after = request.GET.get("after", "")
    entries, next_cursor = trail.document_timeline(document, after=whole_number(after))
    context = {"document": document, "entries": entries, "next_cursor": next_cursor}
    template = "review/timeline.html#timeline-rows" if request.htmx else "review/timeline.html"
    return render(request, template, context)


@require_GET
def export(request: AuthedRequest, fmt: str) -> HttpResponse:
    plan_or_error = _export_plan(request, fmt)
    if isinstance(plan_or_error, HttpResponse):
        return plan_or_error
    response = StreamingHttpResponse(exports.stream_export(plan_or_error), content_type=exports.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{plan_or_error.filename}"'
    response["X-Trail-To-Seq"] = str(plan_or_error.to_seq)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def export_manifest(request: AuthedRequest, fmt: str) -> HttpResponse:
    """The manifest of an export (give to_seq to reproduce an earlier one), without its rows."""
    plan_or_error = _export_plan(request, fmt)
    if isinstance(plan_or_error, HttpResponse):
        return plan_or_error
    response = JsonResponse(exports.manifest_for(plan_or_error), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{plan_or_error.filename}.manifest.json"'
    return response


def _export_plan(request: AuthedRequest, fmt: str) -> exports.ExportPlan | HttpResponse:
    audited = _audited(request)
    if fmt not in exports.FORMATS or not audited:
        raise Http404("No such export.")
    try:
        trail_filter = _trail_filter(request, audited)
        return exports.start_export(trail_filter=trail_filter, fmt=fmt, to_seq=_int_param(request, "to_seq"))
    except (InvalidFilter, exports.ExportTooNew) as error:
        return HttpResponseBadRequest(json.dumps({"error": str(error)}), content_type="application/json")


@require_http_methods(["GET", "POST"])
def verify(request: AuthedRequest) -> HttpResponse:
    """The chain's verification: POST queues one (or finds the one under way) for a worker; the
    page follows its progress and shows the outcome. Entries of unaudited processes stay unnamed."""
    audited = _audited(request)
    if not audited:
        raise Http404("No trail to verify.")
    if request.method == "POST":
        trail_verification_runs.request_verification(actor=request.user)
        if not request.htmx:
            return redirect("review:trail-verify")
    recent = trail_verification_runs.recent_verifications()
    latest = recent[0] if recent else None
    finding_entry = None
    if latest and latest.finding and latest.finding.get("entry_id"):
        finding_entry = trail.TrailEntry.objects.filter(
            pk=latest.finding["entry_id"], process_id__in=audited
        ).first()
    stalled = latest is not None and trail_verification_runs.is_stalled(latest)
    context = {"latest": latest, "stalled": stalled, "earlier": recent[1:], "finding_entry": finding_entry}
    template = "review/trail_verify.html#verification" if request.htmx else "review/trail_verify.html"
    return render(request, template, context)
