"""The evaluation page of a process (or one of its agent versions) over 7, 30 or 90 days.

Process admins only (404 otherwise). Every number comes from SQL aggregates over the window
(review.evaluation.queries); each table and chart has a CSV of the same numbers.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from agents.models import AgentVersion, Process
from backoffice.types import AuthedRequest
from review.evaluation import charts, queries
from review.forms import WindowForm
from review.views.params import number_text
from review.views.process_admin import csv_response, get_administered_process, simulator_rows


@require_GET
def evaluation_page(request: AuthedRequest, slug: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    versions = list(AgentVersion.objects.filter(process=process).order_by("-number"))
    form = WindowForm(request.GET)
    window, version, error = _window(form, process, versions)
    context = {"process": process, "versions": versions, "form": form, "version": version, "error": error}
    if error:
        return render(request, "review/evaluation.html", context, status=400)
    report = queries.evaluation(process, window, hourly_rate=float(settings.REVIEWER_HOURLY_RATE))
    context |= {
        "report": report,
        "risk_chart": charts.risk_coverage(report.simulation),
        "reliability_chart": charts.reliability(report.reliability),
        "query": request.GET.urlencode(),
    }
    return render(request, "review/evaluation.html", context)


@require_GET
def table_csv(request: AuthedRequest, slug: str, table: str) -> HttpResponse:
    process = get_administered_process(request, slug)
    if table not in TABLES:
        raise Http404("No such table.")
    versions = list(AgentVersion.objects.filter(process=process))
    window, version, error = _window(WindowForm(request.GET), process, versions)
    if error:
        return HttpResponse(error, status=400, content_type="text/plain")
    report = queries.evaluation(process, window, hourly_rate=float(settings.REVIEWER_HOURLY_RATE))
    suffix = f"-v{version.number}" if version else ""
    return csv_response(f"{process.slug}{suffix}-{table}-{window.days}d.csv", TABLES[table](report))


def _window(
    form: WindowForm, process: Process, versions: list[AgentVersion]
) -> tuple[queries.Window | None, AgentVersion | None, str]:
    if not form.is_valid():
        return None, None, " ".join(message for errors in form.errors.values() for message in errors)
    number = form.cleaned_data["version"]
    version = next((v for v in versions if v.number == number), None)
    if number is not None and version is None:
        return None, None, f"{process.name} has no agent version {number}."
    window = queries.Window(days=form.cleaned_data["days"], agent_version_id=version.pk if version else None)
    return window, version, ""


def _summary(r: queries.Evaluation) -> list[list]:
    a = r.audited
    return [
        ["metric", "value", "lower", "upper", "n"],
        ["runs", r.runs, "", "", ""],
        ["automation_rate", number_text(r.automation_rate), "", "", r.runs],
        ["audited_accuracy", number_text(a.value), number_text(a.lower), number_text(a.upper), a.n],
        ["expected_calibration_error", number_text(r.ece), "", "", ""],
        ["decided_items", r.decided, "", "", ""],
        ["reviewer_seconds_per_item", number_text(r.mean_seconds, 1), "", "", r.decided],
        ["items_per_hour", number_text(r.items_per_hour, 1), "", "", r.decided],
        ["agent_cost", number_text(r.agent_cost, 6), "", "", ""],
        ["reviewer_cost", number_text(r.reviewer_cost, 2), "", "", ""],
        ["cost_per_document", number_text(r.cost_per_document, 4), "", "", r.runs],
    ]


def _exceptions(r: queries.Evaluation) -> list[list]:
    return [["reason", "label", "items", "share_of_runs"]] + [
        [code, label, n, number_text(n / r.runs if r.runs else None)] for code, label, n in r.exceptions
    ]


def _fields(r: queries.Evaluation) -> list[list]:
    return [["field", "judged", "correct", "accuracy", "lower", "upper"]] + [
        [name, judged, correct, number_text(e.value), number_text(e.lower), number_text(e.upper)]
        for name, judged, correct, e in r.fields
    ]


def _calibration(r: queries.Evaluation) -> list[list]:
    return [["bin_lower", "bin_upper", "n", "weight", "mean_confidence", "accuracy"]] + [
        [
            b.lower,
            b.upper,
            b.n,
            number_text(b.weight, 2),
            number_text(b.mean_confidence),
            number_text(b.accuracy),
        ]
        for b in r.reliability
    ]


def _costs(r: queries.Evaluation) -> list[list]:
    return [["threshold", "automation_rate", "agent_cost", "reviewer_cost", "cost_per_document"]] + [
        [f"{c.threshold:.2f}", number_text(c.automation_rate), number_text(c.agent_cost, 6),
         number_text(c.reviewer_cost, 4), number_text(c.total, 4)]
        for c in r.costs
    ]  # fmt: skip


def _queues(r: queries.Evaluation) -> list[list]:
    return [["queue", "kind", "depth", "oldest_age_hours"]] + [
        [q["queue"], q["kind"], q["depth"], number_text(q["oldest_age_hours"], 2)] for q in r.queues
    ]


TABLES = {
    "summary": _summary,
    "exceptions": _exceptions,
    "fields": _fields,
    "calibration": _calibration,
    "thresholds": lambda r: simulator_rows(r.simulation, r.hourly_rate),
    "costs": _costs,
    "queues": _queues,
}
