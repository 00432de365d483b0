"""Process admins: a process's agent versions: list, compare, create, evaluate, activate, roll back,
and regression cases.

Scope is the agents.administer_process object permission: a process (or a document of a process)
the user does not administer answers 404. Versions are never edited: "new version from this one"
prefills the form instead. Writes go through review.agent_versions, which writes the trail entries.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents.models import AgentVersion, Document, Process
from backoffice.types import AuthedRequest
from review import agent_versions, permissions
from review.forms import ActivationForm, AgentVersionForm
from review.views.params import whole_number


def get_administered_process(request: AuthedRequest, slug: str) -> Process:
    return permissions.get_administered_process(request.user, slug)


def get_version(process: Process, number: int) -> AgentVersion:
    return get_object_or_404(AgentVersion.objects.select_related("process"), process=process, number=number)


@require_GET
def version_list(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    source = request.GET.get("from", "")
    initial = {}
    if whole_number(source) is not None:
        initial = AgentVersionForm.initial_from(get_version(process, whole_number(source)))
    return _page(request, process, form=AgentVersionForm(process=process, initial=initial))


@require_POST
def version_create(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    form = AgentVersionForm(request.POST, process=process)
    if not form.is_valid():
        return _page(request, process, form=form, status=400)
    data = form.cleaned_data
    version = agent_versions.create_version(
        process=process, actor=request.user, provider=data["provider"], model=data["model"],
        instructions=data["instructions"].strip(), settings=data["settings"], notes=data["notes"],
    )  # fmt: skip
    messages.success(request, f"Created version {version.number} (inactive). Evaluate it before activating.")
    return redirect("review:versions", slug=process.slug)


@require_GET
def version_compare(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    number_a, number_b = whole_number(a), whole_number(b)
    if number_a is None or number_b is None:
        return render(request, "review/versions.html#comparison", {"process": process}, status=400)
    left, right = get_version(process, number_a), get_version(process, number_b)
    context = {"process": process, "comparison": agent_versions.side_by_side(left, right)}
    template = "review/versions.html#comparison" if request.htmx else "review/versions_compare.html"
    return render(request, template, context)


@require_POST
def version_evaluate(request: AuthedRequest, slug: str, number: int) -> HttpResponse:
    process = get_administered_process(request, slug)
    version = get_version(process, number)
    evaluation = agent_versions.start_evaluation(version=version, actor=request.user)
    if request.htmx:
        return render(
            request, "review/versions.html#progress", {"version": version, "evaluation": evaluation}
        )
    messages.info(request, f"Evaluation of version {version.number} started.")
    return redirect("review:versions", slug=process.slug)


@require_GET
def version_progress(request: AuthedRequest, slug: str, number: int) -> HttpResponse:
    process = get_administered_process(request, slug)
    version = get_version(process, number)
    evaluation = agent_versions.latest_evaluations([version.pk]).get(version.pk)
    return render(request, "review/versions.html#progress", {"version": version, "evaluation": evaluation})


@require_POST
def version_activate(request: AuthedRequest, slug: str, number: int) -> HttpResponse:
    process = get_administered_process(request, slug)
    return _activate(request, process, get_version(process, number), rollback=False)


@require_POST
def version_rollback(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    previous = agent_versions.previous_version(process)
    if previous is None:
        messages.error(request, "There is no earlier version to roll back to.")
        return _page(request, process, form=AgentVersionForm(process=process), status=409)
    return _activate(request, process, previous, rollback=True)


def _activate(request: AuthedRequest, process: Process, version: AgentVersion, *, rollback: bool):
    form = ActivationForm(request.POST)
    reason = form.cleaned_data["override_reason"] if form.is_valid() else ""
    try:
        comparison = agent_versions.activate(
            version=version, actor=request.user, override_reason=reason, rollback=rollback
        )
    except agent_versions.AlreadyActive:
        messages.info(request, f"Version {version.number} is already active.")
        return _page(request, process, form=AgentVersionForm(process=process), status=409)
    except agent_versions.OverrideRequired as refused:
        context = {"process": process, "comparison": refused.comparison, "rollback": rollback,
                   "version": version, "form": form}  # fmt: skip
        return render(request, "review/versions_override.html", context, status=409)
    verb = "Rolled back to" if rollback else "Activated"
    messages.success(
        request,
        f"{verb} version {version.number} ({comparison.verdict}). The process is in shadow mode until "
        "an admin re-promotes it on the new version's own audited evidence.",
    )
    return redirect("review:versions", slug=process.slug)


@require_POST
def regression_case(request: AuthedRequest, pk: int) -> HttpResponse:
    """Pin (pinned=1) or unpin (pinned=0) a decided document as a regression case."""
    document = get_object_or_404(
        Document.objects.select_related("process"),
        pk=pk, process__in=permissions.administered_processes(request.user),
    )  # fmt: skip
    pinned = request.POST.get("pinned") == "1"
    try:
        agent_versions.set_regression_case(document_id=document.pk, pinned=pinned, actor=request.user)
    except agent_versions.NotDecided:
        messages.error(request, "Only a decided item can be a regression case.")
        return _back(request, document)
    messages.success(request, "Pinned as a regression case." if pinned else "No longer a regression case.")
    return _back(request, document)


def _back(request: AuthedRequest, document: Document) -> HttpResponse:
    if request.POST.get("next") == "versions":
        return redirect("review:versions", slug=document.process.slug)
    return redirect("review:document", pk=document.pk)


def _page(request: AuthedRequest, process: Process, *, form: AgentVersionForm, status: int = 200):
    versions = agent_versions.version_rows(process)
    context = {
        "process": process,
        "versions": versions,
        "active": next((v for v in versions if v.is_active), None),
        "previous": agent_versions.previous_version(process),
        "pinned": agent_versions.regression_cases(process)[:100],
        "form": form,
    }
    return render(request, "review/versions.html", context, status=status)
