"""Process admins: the autonomy form, the threshold simulator, apply-recommended, access."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from agents.models import Process
from review.models import TrailEntry
from review.trail import Action
from tests.autonomy_data import shadow_data
from tests.reviewing import media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")

VALID = {
    "autonomy_mode": "autonomous",
    "confidence_threshold": "0.920",
    "audit_sample_rate": "0.100",
    "target_accuracy": "0.960",
}


@pytest.fixture
def rita(processes) -> User:
    return User.objects.create_user("rita")


def page_url(process: Process) -> str:
    return reverse("review:autonomy-process", args=[process.slug])


def autonomy_entries(process: Process):
    return TrailEntry.objects.filter(process=process, action=Action.AUTONOMY_CHANGED)


def test_the_list_shows_only_the_processes_the_admin_administers(client, paula, invoices, receipts):
    client.force_login(paula)
    response = client.get(reverse("review:autonomy"))
    assert response.status_code == 200
    assert [p.slug for p in response.context["processes"]] == ["invoice-extraction"]
    assert b'href="/autonomy/"' in response.content  # the nav link


@pytest.mark.parametrize("persona", ["alice", "audrey", "charlie"])
def test_others_get_an_empty_list_and_no_nav_link(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("review:autonomy"))
    assert response.status_code == 200
    assert response.context["processes"] == []
    assert "You administer no process" in response.content.decode()
    assert b'href="/autonomy/"' not in response.content


@pytest.mark.parametrize("persona", ["alice", "audrey", "charlie", "paula"])
def test_every_admin_url_of_a_process_not_administered_answers_404(client, request, persona, receipts):
    process = receipts if persona == "paula" else receipts.__class__.objects.get(slug="invoice-extraction")
    client.force_login(request.getfixturevalue(persona))
    before = TrailEntry.objects.count()
    slug = process.slug
    assert client.get(reverse("review:autonomy-process", args=[slug])).status_code == 404
    assert client.post(reverse("review:autonomy-process", args=[slug]), VALID).status_code == 404
    assert (
        client.post(reverse("review:autonomy-apply", args=[slug]), {"threshold": "0.61"}).status_code == 404
    )
    assert client.get(reverse("review:autonomy-simulator-csv", args=[slug])).status_code == 404
    assert client.get(reverse("review:evaluation", args=[slug])).status_code == 404
    assert client.get(reverse("review:evaluation-csv", args=[slug, "summary"])).status_code == 404
    assert TrailEntry.objects.count() == before


def test_saving_the_form_changes_autonomy_and_writes_the_trail_with_before_and_after(client, paula, invoices):
    client.force_login(paula)
    response = client.post(page_url(invoices), VALID | {"threshold-total": "0.990"})
    assert response.status_code == 302
    invoices.refresh_from_db()
    assert invoices.autonomy_mode == "autonomous"
    assert invoices.confidence_threshold == Decimal("0.920")
    assert invoices.field_thresholds == {"total": "0.99"}
    entry = autonomy_entries(invoices).get()
    assert entry.actor_label == "paula"
    assert entry.data["changes"]["confidence_threshold"][1] == "0.920"
    assert entry.data["changes"]["field_thresholds"] == [{}, {"total": "0.99"}]
    page = client.get(page_url(invoices))
    assert entry in page.context["entries"]
    assert "confidence_threshold" in page.content.decode()


def test_saving_unchanged_values_writes_nothing(client, paula, invoices):
    client.force_login(paula)
    client.post(page_url(invoices), VALID)
    client.post(page_url(invoices), VALID)
    assert autonomy_entries(invoices).count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"confidence_threshold": "1.5"}, "Document threshold must be a number between 0 and 1."),
        ({"confidence_threshold": "-0.1"}, "Document threshold must be a number between 0 and 1."),
        ({"audit_sample_rate": "lots"}, "Audit sample rate must be a number between 0 and 1."),
        ({"target_accuracy": "NaN"}, "Target accuracy must be a number between 0 and 1."),
        ({"confidence_threshold": "0.12345"}, "at most 3 decimal places"),
        ({"confidence_threshold": ""}, "Document threshold is required."),
        ({"threshold-total": "2"}, "must be a number between 0 and 1."),
        ({"threshold-total": "abc"}, "must be a number between 0 and 1."),
        ({"threshold-colour": "0.9"}, "&#x27;colour&#x27; is not a field of this process."),
        ({"autonomy_mode": "reckless"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_changes(
    client, paula, invoices, change, message
):
    client.force_login(paula)
    before = (invoices.autonomy_mode, invoices.confidence_threshold, invoices.field_thresholds)
    response = client.post(page_url(invoices), VALID | change)
    assert response.status_code == 400
    assert message in response.content.decode()
    invoices.refresh_from_db()
    assert (invoices.autonomy_mode, invoices.confidence_threshold, invoices.field_thresholds) == before
    assert not autonomy_entries(invoices).exists()


def test_with_too_little_data_the_simulator_says_so_and_offers_nothing_to_apply(client, paula, invoices):
    client.force_login(paula)
    response = client.get(page_url(invoices))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Too little data to recommend a threshold" in body
    assert "Apply recommended threshold" not in body
    response = client.post(reverse("review:autonomy-apply", args=[invoices.slug]), {"threshold": "0.61"})
    assert response.status_code == 409
    assert "no recommended threshold" in response.content.decode()
    assert not autonomy_entries(invoices).exists()


def test_apply_recommended_sets_the_threshold_in_one_audited_step(client, paula, invoices, rita):
    shadow_data(invoices, rita)
    before = str(invoices.confidence_threshold)
    client.force_login(paula)
    page = client.get(page_url(invoices))
    assert page.context["simulation"].recommended == pytest.approx(0.61)
    body = page.content.decode()
    assert "Apply recommended threshold 0.61" in body
    assert 'class="marker current"' in body and 'class="marker recommended"' in body
    response = client.post(
        reverse("review:autonomy-apply", args=[invoices.slug]), {"threshold": "0.61", "days": "30"}
    )
    assert response.status_code == 302
    invoices.refresh_from_db()
    assert invoices.confidence_threshold == Decimal("0.610")
    entry = autonomy_entries(invoices).get()
    assert entry.actor_label == "paula"
    assert entry.data["changes"] == {"confidence_threshold": [before, "0.61"]}


def test_apply_refuses_a_threshold_that_is_not_the_current_recommendation(client, paula, invoices, rita):
    shadow_data(invoices, rita)
    before = invoices.confidence_threshold
    client.force_login(paula)
    response = client.post(reverse("review:autonomy-apply", args=[invoices.slug]), {"threshold": "0.50"})
    assert response.status_code == 409
    assert "recommendation has changed" in response.content.decode()
    invoices.refresh_from_db()
    assert invoices.confidence_threshold == before
    assert not autonomy_entries(invoices).exists()


def test_the_simulator_csv_has_one_row_per_candidate_threshold(client, paula, invoices, rita):
    shadow_data(invoices, rita)
    client.force_login(paula)
    response = client.get(reverse("review:autonomy-simulator-csv", args=[invoices.slug]), {"days": "7"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 50
    row = next(r for r in rows if r["threshold"] == "0.61")
    assert float(row["error_rate"]) == 0.0 and row["enough_data"] == "True"
    assert float(row["error_upper"]) < 0.05


def test_a_bad_window_is_refused(client, paula, invoices):
    client.force_login(paula)
    response = client.get(page_url(invoices), {"days": "45"})
    assert response.status_code == 400
    assert "The window must be 7, 30 or 90 days." in response.content.decode()
    response = client.get(reverse("review:autonomy-simulator-csv", args=[invoices.slug]), {"days": "x"})
    assert response.status_code == 400


def test_the_simulator_window_is_an_htmx_fragment(client, paula, invoices):
    client.force_login(paula)
    response = client.get(page_url(invoices), {"days": "90"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Threshold simulator" in body and "<html" not in body
    assert '<option value="90" selected>' in body


def test_the_admin_pages_run_a_fixed_number_of_queries(
    client, paula, invoices, rita, django_assert_num_queries
):
    shadow_data(invoices, rita)
    client.force_login(paula)
    client.post(page_url(invoices), VALID)
    # session and user (one query), the administered process, 4 simulator aggregates, the banner's process
    # (autonomous: no trail read), the nav link's group check, the trail entries
    with django_assert_num_queries(9):
        client.get(page_url(invoices))
    # session and user (one query), the processes, the banners' processes, the nav link's group check
    with django_assert_num_queries(4):
        client.get(reverse("review:autonomy"))
