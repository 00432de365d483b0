"""The first screen after login, the document list and a document's page."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from agents.models import Document
from backoffice.types import AuthedRequest
from review import agent_versions, permissions, selectors
from review.views.params import whole_number


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    process_ids = permissions.visible_process_ids(request.user)
    summaries = selectors.process_summaries(process_ids)
    spend = selectors.spend_by_process(process_ids)
    for summary in summaries:
        summary.spend = spend.get(summary.process.pk, selectors.Spend())
    documents, more = selectors.document_page(permissions.documents_for_user(request.user), size=15)
    return render(
        request,
        "review/home.html",
        {
            "summaries": summaries,
            "spend_days": selectors.SPEND_WINDOW.days,
            "documents": documents,
            "has_more": more is not None,
        },
    )


@require_GET
def document_list(request: AuthedRequest) -> HttpResponse:
    process_ids = permissions.visible_process_ids(request.user)
    slug = request.GET.get("process", "")
    process = permissions.get_process_for_user(request.user, slug) if slug else None
    state = request.GET.get("state", "")
    if state not in Document.State.values:
        state = ""
    before = request.GET.get("before", "")
    documents, next_cursor = selectors.document_page(
        permissions.documents_for_user(request.user),
        process=process,
        state=state,
        before=whole_number(before),
    )
    context = {
        "documents": documents,
        "next_cursor": next_cursor,
        "process": process,
        "state": state,
        "states": Document.State.choices,
        "processes": selectors.Process.objects.filter(pk__in=process_ids).order_by("name"),
    }
    template = "review/documents.html#document-rows" if request.htmx else "review/documents.html"
    return render(request, template, context)


@require_GET
def document_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    document = permissions.get_document_for_user(request.user, pk)
    context = {"document": document, **selectors.document_detail(document)}
    if permissions.administered_processes(request.user).filter(pk=document.process_id).exists():
        context["regression_example"] = agent_versions.example_to_pin(document.pk)
    return render(request, "review/document.html", context)


@xframe_options_sameorigin  # shown in a frame beside the fields on the review screen
@require_GET
def document_file(request: AuthedRequest, pk: int) -> FileResponse:
    document = permissions.get_document_for_user(request.user, pk)
    response = FileResponse(document.file.open("rb"), content_type=document.content_type)
    response["Content-Disposition"] = f'inline; filename="{document.original_name.replace(chr(34), "")}"'
    response["Content-Security-Policy"] = "sandbox"
    return response
