"""Process admins: autonomy settings, the threshold simulator, and the drift guard's banners.

Scope is the agents.administer_process object permission: a process the user does not administer
answers 404, exactly like a missing one. Every change goes through review.configuration, which
writes the trail entry.
"""

from __future__ import annotations

import csv
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.models import Process
from backoffice.types import AuthedRequest
from review import configuration, permissions
from review.evaluation import charts, drift, queries, stats
from review.forms import AutonomyForm, WindowForm
from review.models import TrailEntry
from review.views.params import number_text

TRAIL_ENTRIES_SHOWN = 15


def get_administered_process(request: AuthedRequest, slug: str) -> Process:
    return permissions.get_administered_process(request.user, slug)


@require_GET
def process_list(request: AuthedRequest) -> HttpResponse:
    processes = permissions.administered_processes(request.user).order_by("name")
    return render(
        request,
        "review/process_admin_list.html",
        {"processes": list(processes), "drift_banners": drift.banners(processes)},
    )


@require_http_methods(["GET", "POST"])
def process_page(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    if request.method == "POST":
        form = AutonomyForm(request.POST, process=process)
        if form.is_valid():
            diff = configuration.change_autonomy(process=process, changes=form.changes(), actor=request.user)
            if diff:
                changed = ", ".join(sorted(diff))
                messages.success(request, f"Saved: {changed} changed (recorded in the trail).")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("review:autonomy-process", slug=process.slug)
        return _page(request, process, form=form, status=400)
    return _page(request, process, form=AutonomyForm(process=process))


@require_POST
def apply_recommended(request: AuthedRequest, slug: str) -> HttpResponse:
    """Set the document threshold to the simulator's recommendation, recomputed here, not trusted."""
    process = get_administered_process(request, slug)
    window, error = _window(request.POST)
    simulation = queries.window_simulation(process, window) if window else None
    if error is None and (simulation is None or simulation.recommended is None):
        error = "There is no recommended threshold to apply."
    elif error is None and request.POST.get("threshold") != f"{simulation.recommended:.2f}":
        error = "The recommendation has changed since the page was shown: look at it again, then apply."
    if error:
        return _page(request, process, form=AutonomyForm(process=process), status=409, apply_error=error)
    threshold = Decimal(f"{simulation.recommended:.2f}")
    changes = {"confidence_threshold": threshold}
    configuration.change_autonomy(process=process, changes=changes, actor=request.user)
    messages.success(request, f"Threshold set to the recommended {threshold} (recorded in the trail).")
    return redirect(f"{reverse('review:autonomy-process', args=[process.slug])}?days={window.days}")


@require_GET
def simulator_csv(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    window, error = _window(request.GET)
    if error:
        return HttpResponse(error, status=400, content_type="text/plain")
    simulation = queries.window_simulation(process, window)
    rows = simulator_rows(simulation, float(settings.REVIEWER_HOURLY_RATE))
    return csv_response(f"{process.slug}-simulator-{window.days}d.csv", rows)


def simulator_rows(simulation: stats.Simulation, hourly_rate: float) -> list[list]:
    """The simulator's numbers, one row per candidate threshold (the chart's data, and the CSV)."""
    header = [
        "threshold", "automation_rate", "error_rate", "error_lower", "error_upper", "effective_n",
        "enough_data", "auto_accepted_per_day", "review_items_per_day", "review_hours_per_day",
        "reviewer_cost_per_document",
    ]  # fmt: skip
    seconds = simulation.seconds_per_item or 0.0
    rows = [header]
    for r in simulation.rows:
        rows.append([
            f"{r.threshold:.2f}", number_text(r.automation_rate), number_text(r.error.value),
            number_text(r.error.lower), number_text(r.error.upper), number_text(r.error.n_effective, 1),
            r.enough_data,
            number_text(r.auto_accepted_per_day, 2),
            number_text(r.review_items_per_day, 2), number_text(r.review_hours_per_day, 2),
            number_text((1 - r.automation_rate) * seconds / 3600 * hourly_rate, 4),
        ])  # fmt: skip
    return rows


def csv_response(filename: str, rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(rows)
    return response


def _page(
    request: AuthedRequest, process: Process, *, form: AutonomyForm, status: int = 200, apply_error: str = ""
) -> HttpResponse:
    window, window_error = _window(request.GET)
    simulation = queries.window_simulation(process, window) if window else None
    context = {
        "process": process,
        "form": form,
        "window_form": WindowForm(request.GET or None),
        "window": window,
        "window_error": window_error,
        "simulation": simulation,
        "chart": charts.risk_coverage(simulation) if simulation else None,
        "apply_error": apply_error,
        "entries": TrailEntry.objects.filter(process=process, action__startswith="config.").order_by("-seq")[
            :TRAIL_ENTRIES_SHOWN
        ],
        "drift_banners": drift.banners(Process.objects.filter(pk=process.pk)),
        "versions_url": _versions_url(process),
    }
    template = "review/process_admin.html#simulator" if request.htmx else "review/process_admin.html"
    return render(request, template, context, status=400 if window_error else status)


def _window(params) -> tuple[queries.Window | None, str | None]:
    form = WindowForm({"days": params.get("days", "")})
    if not form.is_valid():
        return None, " ".join(form.errors.get("days", ["Invalid window."]))
    return queries.Window(days=form.cleaned_data["days"]), None


def _versions_url(process: Process) -> str | None:
    try:
        return reverse("review:versions", args=[process.slug])
    except NoReverseMatch:  # the agent-versions screens are optional here
        return None
