"""The evaluation page: metrics per process and agent version over a window, as SQL aggregates."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from agents.autonomy import Reason
from review import configuration
from tests.autonomy_data import audit_samples, seed_examples, shadow_data
from tests.reviewing import make_task, media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def rita(processes) -> User:
    return User.objects.create_user("rita")


@pytest.fixture
def evaluated(invoices, rita):
    shadow_data(invoices, rita)  # 700 reviewed, 120 wrong
    audit_samples(invoices, rita, n=100, correct_every=10)  # 90 of 100 correct
    seed_examples(
        invoices,
        rita,
        [(0.5, False, Reason.LOW_CONFIDENCE)] * 50,
        created_at=timezone.now() - timedelta(days=40),
    )
    make_task(invoices)  # one waiting in the queue
    return invoices


def url(process, **params):
    return reverse("review:evaluation", args=[process.slug]), params


def test_the_page_shows_the_windows_metrics(client, paula, evaluated, settings):
    settings.REVIEWER_HOURLY_RATE = 60
    client.force_login(paula)
    response = client.get(*url(evaluated, days="30"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.runs == 801  # the waiting task's run too; the 40-day-old ones are outside the window
    assert report.audited.n == 100 and report.audited.value == pytest.approx(0.9)
    assert report.audited.lower < 0.9 < report.audited.upper
    assert dict((code, n) for code, _, n in report.exceptions) == {
        "shadow_mode": 700,
        "audit_sample": 100,
        "low_confidence": 1,
    }
    fields = {name: (judged, correct) for name, judged, correct, _ in report.fields}
    assert fields["total"] == (800, 800 - 120 - 10) and fields["vendor"] == (800, 800)
    assert report.mean_seconds == pytest.approx(30)
    assert report.items_per_hour == pytest.approx(120)
    assert report.cost_per_document == pytest.approx((800 * 0.002 + 800 * 30 / 3600 * 60) / 801)
    assert report.ece is not None and report.reliability
    assert sum(q["depth"] for q in report.queues) == 1
    body = response.content.decode()
    assert 'class="reliability-chart"' in body and 'class="risk-chart"' in body
    assert response.context["report"].window.days == 30


def test_ninety_days_include_older_examples(client, paula, evaluated):
    client.force_login(paula)
    assert client.get(*url(evaluated, days="90")).context["report"].runs == 851


def test_a_version_narrows_the_metrics_to_its_runs(client, paula, evaluated, rita):
    version = configuration.create_agent_version(process=evaluated, actor=paula, provider="rules")
    seed_examples(evaluated, rita, [(0.97, True, Reason.AUDIT_SAMPLE)] * 40, version=version)
    client.force_login(paula)
    report = client.get(*url(evaluated, version=str(version.number))).context["report"]
    assert report.runs == 40 and report.audited.n == 40 and report.audited.value == 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days": "45"}, "The window must be 7, 30 or 90 days."),
        ({"version": "x"}, "The version must be a version number."),
        ({"version": "999"}, "has no agent version 999"),
    ],
)
def test_bad_window_or_version_is_refused(client, paula, invoices, params, message):
    client.force_login(paula)
    response = client.get(*url(invoices, **params))
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize(
    "table", ["summary", "exceptions", "fields", "calibration", "thresholds", "costs", "queues"]
)
def test_every_table_downloads_as_csv(client, paula, evaluated, table):
    client.force_login(paula)
    response = client.get(reverse("review:evaluation-csv", args=[evaluated.slug, table]), {"days": "30"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) >= 2


def test_an_unknown_table_is_404(client, paula, invoices):
    client.force_login(paula)
    assert client.get(reverse("review:evaluation-csv", args=[invoices.slug, "secrets"])).status_code == 404


def test_the_summary_csv_has_the_audited_interval(client, paula, evaluated):
    client.force_login(paula)
    response = client.get(reverse("review:evaluation-csv", args=[evaluated.slug, "summary"]))
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["audited_accuracy"]["value"] == "0.9000" and rows["audited_accuracy"]["n"] == "100"


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_volume(
    client, paula, evaluated, rita, django_assert_num_queries
):
    client.force_login(paula)
    # session and user (one query), process, versions, 7 metric aggregates (runs, reasons, audited, fields,
    # calibration, decisions, queues), 4 simulator aggregates, the nav link's group check
    with django_assert_num_queries(15):
        client.get(*url(evaluated))
    audit_samples(evaluated, rita, n=300)
    with django_assert_num_queries(15):
        client.get(*url(evaluated))
