"""Reviewers at work: the queues they hold, claiming the next item, deciding it.

Every action is one POST; through htmx the answer is the next item's review panel (already
claimed ahead of time when possible), so the reviewer never waits for a full page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from agents.services import StateConflict
from backoffice.types import AuthedRequest
from review import claims, decisions, permissions, selectors
from review.claims import LeaseLost
from review.decisions import CannotEscalate, InvalidFields
from review.forms import FIELD_PREFIX, CorrectionForm, EscalateForm, RejectForm
from review.models import Queue, ReviewTask

PDF = "application/pdf"


@require_GET
def queue_list(request: AuthedRequest) -> HttpResponse:
    rows = selectors.queue_overview(request.user, permissions.queues_for_user(request.user))
    return render(request, "review/queues.html", {"rows": rows})


@require_POST
def queue_next(request: AuthedRequest, slug: str) -> HttpResponse:
    """Resume the reviewer's held item in this queue, or claim the next open one."""
    queue, task = claims.next_in_queue(slug=slug, reviewer=request.user)
    if queue is None:
        raise Http404
    return _show_next(request, queue, task)


@require_POST
def queue_prefetch(request: AuthedRequest, slug: str) -> HttpResponse:
    """Claim one item ahead while the reviewer works, so the next one appears without waiting."""
    queue = permissions.get_queue_for_user(request.user, slug)
    claims.prefetch_task(queue=queue, reviewer=request.user)
    return HttpResponse(status=204)


@require_GET
def task_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    if _is_live_claim(task, request.user):
        try:
            claims.start_task(task=task, reviewer=request.user)
        except LeaseLost:  # expired between the read and the renewal: shown read-only below
            task.refresh_from_db(fields=["state", "lease_expires_at"])
    return render(request, "review/task.html", _screen(request, task))


@require_POST
def heartbeat(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    try:
        claims.renew_lease(task=task, reviewer=request.user, lease_token=request.POST.get("lease"))
    except LeaseLost:
        return _lease_lost(request, task)
    return HttpResponse(status=204)


@require_POST
def release(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    try:
        claims.release_task(task=task, reviewer=request.user, lease_token=request.POST.get("lease"))
    except LeaseLost:
        return _lease_lost(request, task)
    messages.info(request, f"Item {task.pk} is back in {task.queue.name}.")
    return _redirect(request, reverse("review:queues"))


@require_POST
def approve(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    try:
        decisions.approve_task(task=task, reviewer=request.user, lease_token=request.POST.get("lease"))
    except InvalidFields as exc:
        form = CorrectionForm(_agent_data(task), specs=task.document.process.field_specs)
        form.is_valid()
        form.add_field_errors(exc.errors)
        error = "The agent's values do not pass the schema: correct them, then save."
        return _panel(request, task, status=422, form=form, error=error)
    except (LeaseLost, StateConflict):
        return _lease_lost(request, task)
    return _next_response(request, task.queue, done=task)


@require_POST
def correct(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    form = CorrectionForm(request.POST, specs=task.document.process.field_specs)
    if not form.is_valid():
        return _panel(request, task, status=422, form=form, error="Some values need fixing.")
    try:
        decisions.correct_task(
            task=task, reviewer=request.user, lease_token=request.POST.get("lease"), values=form.values()
        )
    except InvalidFields as exc:
        form.add_field_errors(exc.errors)
        return _panel(request, task, status=422, form=form, error="Some values need fixing.")
    except (LeaseLost, StateConflict):
        return _lease_lost(request, task)
    return _next_response(request, task.queue, done=task)


@require_POST
def reject(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _panel(request, task, status=422, reject_form=form)
    try:
        decisions.reject_task(
            task=task,
            reviewer=request.user,
            lease_token=request.POST.get("lease"),
            reason=form.cleaned_data["reason"],
        )
    except (LeaseLost, StateConflict):
        return _lease_lost(request, task)
    return _next_response(request, task.queue, done=task)


@require_POST
def escalate(request: AuthedRequest, pk: int) -> HttpResponse:
    task = permissions.get_task_for_user(request.user, pk)
    form = EscalateForm(request.POST)
    if not form.is_valid():
        return _panel(request, task, status=422, escalate_form=form)
    try:
        decisions.escalate_task(
            task=task,
            reviewer=request.user,
            lease_token=request.POST.get("lease"),
            note=form.cleaned_data["note"],
        )
    except CannotEscalate as exc:
        return _panel(request, task, status=422, error=str(exc))
    except LeaseLost:
        return _lease_lost(request, task)
    return _next_response(request, task.queue, done=task)


# --- helpers ------------------------------------------------------------------------------------


def _next_response(request: AuthedRequest, queue: Queue, done: ReviewTask | None = None) -> HttpResponse:
    task = claims.next_task_for(queue=queue, reviewer=request.user, exclude=done.pk if done else None)
    return _show_next(request, queue, task, done)


def _show_next(
    request: AuthedRequest, queue: Queue, task: ReviewTask | None, done: ReviewTask | None = None
) -> HttpResponse:
    """The next item's screen (its panel through htmx), or the queue-empty answer."""
    if task is None:
        if request.htmx:
            response = render(request, "review/task.html#queue-empty", {"queue": queue, "done": done})
            return push_url(response, reverse("review:queues"))
        messages.info(request, f"{queue.name}: nothing left to review.")
        return redirect("review:queues")
    url = reverse("review:task", args=[task.pk])
    if request.htmx:
        return push_url(_panel(request, selectors.task_for_screen(task.pk)), url)
    return HttpResponseRedirect(url)  # a path already: redirect() would first try it as a URL name


def _panel(request: AuthedRequest, task: ReviewTask, status: int = 200, **forms) -> HttpResponse:
    template = "review/task.html#review-panel" if request.htmx else "review/task.html"
    return render(request, template, _screen(request, task, **forms), status=status)


def _lease_lost(request: AuthedRequest, task: ReviewTask) -> HttpResponse:
    task.refresh_from_db(fields=["state", "claimed_by", "lease_expires_at"])
    decided = task.state in (ReviewTask.State.DECIDED, ReviewTask.State.ESCALATED)
    context = {"task": task, "queue": task.queue, "decided": decided, "lost": True}
    template = "review/task.html#lease-lost" if request.htmx else "review/task.html"
    return render(request, template, context, status=409)


def _redirect(request: AuthedRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


def _is_live_claim(task: ReviewTask, user) -> bool:
    return (
        task.state == ReviewTask.State.CLAIMED
        and task.claimed_by_id == user.pk
        and task.lease_expires_at is not None
        and task.lease_expires_at > timezone.now()
    )


def _agent_data(task: ReviewTask) -> dict[str, str]:
    output = task.agent_run.output if task.agent_run_id else {}
    return {
        FIELD_PREFIX + spec.name: "" if output.get(spec.name) is None else str(output.get(spec.name))
        for spec in task.document.process.field_specs
    }


def _screen(
    request: AuthedRequest,
    task: ReviewTask,
    form: CorrectionForm | None = None,
    reject_form: RejectForm | None = None,
    escalate_form: EscalateForm | None = None,
    error: str = "",
) -> dict:
    specs = task.document.process.field_specs
    form = form or CorrectionForm(initial=_agent_data(task), specs=specs)
    rows = selectors.field_rows(task)
    return {
        "task": task,
        "queue": task.queue,
        "document": task.document,
        "run": task.agent_run,
        "rows": [(row, form[FIELD_PREFIX + row.spec.name]) for row in rows],
        "form": form,
        "reject_form": reject_form or RejectForm(),
        "escalate_form": escalate_form or EscalateForm(),
        "error": error,
        "mine": _is_live_claim(task, request.user),
        "overdue": task.due_at < timezone.now() and task.state in ReviewTask.LIVE_STATES,
        "is_pdf": task.document.content_type == PDF,
        "can_escalate": task.queue.kind == Queue.Kind.REVIEW,
        "heartbeat_seconds": settings.REVIEW_HEARTBEAT_SECONDS,
    }
