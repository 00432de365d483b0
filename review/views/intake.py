"""The upload page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from agents.models import Document
from backoffice.types import AuthedRequest
from review import intake, permissions
from review.forms import UploadForm


def upload(request: AuthedRequest) -> HttpResponse:
    processes = permissions.intake_processes(request.user).order_by("name")
    form = UploadForm(request.POST or None, request.FILES or None, processes=processes)
    if request.method == "POST" and form.is_valid():
        process = form.cleaned_data["process"]
        results = []
        for upload_file in form.cleaned_data["files"]:
            results.append(_receive_one(request, process, upload_file))
        if any(result is not None for result in results) and all(result is not None for result in results):
            return redirect("review:documents")
        status = 400
    else:
        status = 400 if request.method == "POST" else 200
    return render(request, "review/upload.html", {"form": form}, status=status)


def _receive_one(request: AuthedRequest, process, upload_file) -> Document | None:
    name = upload_file.name
    try:
        intake.check_size(name, upload_file.size)  # before reading a too-large file into memory
        received = intake.receive(
            process=process,
            filename=name,
            data=upload_file.read(),
            source=Document.Source.UPLOAD,
            actor=request.user,
        )
    except intake.Rejected as exc:
        messages.error(request, str(exc))
        return None
    if received.created:
        messages.success(request, f"{name}: received, queued for the agent.")
    else:
        messages.info(
            request, f"{name}: already received earlier (document {received.document.pk}); not stored twice."
        )
    return received.document
