"""Trail exports: streamed CSV and JSON Lines, complete, reproducible, closed by a manifest."""

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from review import configuration, permissions
from review.models import TrailCheckpoint, TrailEntry
from review.trail import GENESIS_HASH, entry_hash
from tests.conftest import make_user
from tests.helpers import CLEAN_INVOICE, receive_text

pytestmark = pytest.mark.django_db


def export(client, fmt="csv", **params):
    return client.get(reverse("review:trail-export", args=[fmt]), params)


def body_and_manifest(response, fmt):
    assert isinstance(response, StreamingHttpResponse)
    content = b"".join(response.streaming_content)
    body, _, last = content.rstrip(b"\n").rpartition(b"\n")
    body = body + b"\n" if body else b""
    if fmt == "csv":
        marker, payload = next(csv.reader(io.StringIO(last.decode())))
        assert marker == "#manifest"
        return body, json.loads(payload)
    return body, json.loads(last)["manifest"]


@pytest.fixture
def activity(invoices, receipts, paula):
    """Entries in both processes, beyond the setup ones: documents received and a configuration change."""
    receive_text(invoices, CLEAN_INVOICE, "a.txt")
    receive_text(invoices, CLEAN_INVOICE + "\n2", "b.txt")
    receive_text(receipts, "RECEIPT\nTOTAL 3.00", "r.txt")
    configuration.change_autonomy(process=invoices, changes={"audit_sample_rate": "0.2"}, actor=paula)


def test_the_csv_export_holds_every_entry_of_the_process_and_ends_with_its_manifest(
    client, audrey, invoices, activity
):
    client.force_login(audrey)

    response = export(client, process="invoice-extraction")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body, manifest = body_and_manifest(response, "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    expected = list(TrailEntry.objects.filter(process=invoices).order_by("seq"))
    assert [int(r["seq"]) for r in rows] == [e.seq for e in expected]
    assert {r["process"] for r in rows} == {"invoice-extraction"}
    assert json.loads(rows[-1]["data"]) == expected[-1].data and rows[-1]["actor_label"] == "paula"
    assert manifest["rows"] == len(expected)
    assert manifest["last_entry_hash"] == expected[-1].hash and manifest["last_seq"] == expected[-1].seq
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["filter"]["process"] == "invoice-extraction"
    head = TrailEntry.objects.order_by("-seq").first()
    assert manifest["chain_head"] == {"seq": head.seq, "hash": head.hash}


def test_the_jsonl_export_rows_can_be_rehashed_offline(client, audrey, activity):
    client.force_login(audrey)

    response = export(client, "jsonl")

    assert response["Content-Type"].startswith("application/x-ndjson")
    body, manifest = body_and_manifest(response, "jsonl")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == manifest["rows"] == TrailEntry.objects.count()
    for line in lines:
        stored = TrailEntry.objects.get(seq=line["seq"])
        copy = TrailEntry(
            seq=line["seq"],
            created_at=datetime.fromisoformat(line["created_at"]),
            actor_kind=line["actor_kind"],
            actor_id=line["actor_id"],
            actor_label=line["actor_label"],
            action=line["action"],
            process_id=stored.process_id,
            document_id=line["document"],
            data=line["data"],
            prev_hash=line["prev_hash"],
        )
        assert entry_hash(copy) == line["hash"] == stored.hash
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()


def test_each_export_writes_a_checkpoint_of_the_head(client, audrey, activity):
    client.force_login(audrey)

    response = export(client)
    _, manifest = body_and_manifest(response, "csv")

    checkpoint = TrailCheckpoint.objects.get(reason="export")
    assert manifest["checkpoint"] == checkpoint.pk
    assert (
        checkpoint.seq == int(response["X-Trail-To-Seq"]) == TrailEntry.objects.order_by("-seq").first().seq
    )


def test_an_export_is_reproducible_with_its_to_seq_and_the_manifest_download(
    client, audrey, invoices, paula, activity
):
    client.force_login(audrey)
    _, first = body_and_manifest(export(client, process="invoice-extraction"), "csv")
    configuration.change_autonomy(process=invoices, changes={"audit_sample_rate": "0.3"}, actor=paula)

    again = export(client, process="invoice-extraction", to_seq=first["to_seq"])
    _, second = body_and_manifest(again, "csv")
    alone = client.get(
        reverse("review:trail-manifest", args=["csv"]),
        {"process": "invoice-extraction", "to_seq": first["to_seq"]},
    ).json()

    assert second["sha256"] == alone["sha256"] == first["sha256"]
    assert second["rows"] == alone["rows"] == first["rows"]
    assert alone["chain_head"] == first["chain_head"]


def test_a_filter_that_matches_nothing_gives_an_empty_export_with_its_manifest(client, audrey, activity):
    client.force_login(audrey)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    for fmt in ("csv", "jsonl"):
        response = export(client, fmt, date_to=yesterday)
        body, manifest = body_and_manifest(response, fmt)
        assert response.status_code == 200
        assert manifest["rows"] == 0 and manifest["last_entry_hash"] is None
        assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
        assert manifest["filter"]["date_to"] == yesterday
    assert body_and_manifest(export(client, date_to=yesterday), "csv")[0].startswith(b"seq,created_at,")


def test_an_export_of_an_empty_trail_still_has_a_manifest(client, db):
    auditor = make_user("solo")
    from agents.models import Process

    process = Process.objects.create(slug="empty", name="Empty")
    permissions.grant_process("audit_process", process, auditor)
    client.force_login(auditor)

    _, manifest = body_and_manifest(export(client, "jsonl"), "jsonl")

    assert manifest["rows"] == 0 and manifest["chain_head"] == {"seq": 0, "hash": GENESIS_HASH}


def test_filters_by_document_actor_action_and_dates_combine(client, audrey, invoices, paula, activity):
    client.force_login(audrey)
    document = TrailEntry.objects.filter(process=invoices, action="document.received").first().document_id
    today = timezone.localdate().isoformat()

    _, by_document = body_and_manifest(export(client, document=document), "csv")
    _, by_actor = body_and_manifest(export(client, actor="paula", date_from=today, date_to=today), "csv")
    _, by_action = body_and_manifest(
        export(client, action="config.autonomy_changed", process="invoice-extraction"), "csv"
    )

    assert by_document["rows"] == TrailEntry.objects.filter(document_id=document).count() >= 1
    assert by_actor["rows"] == 1 and by_actor["filter"]["actor"] == f"user:{paula.pk}"
    assert (
        by_action["rows"]
        == TrailEntry.objects.filter(process=invoices, action="config.autonomy_changed").count()
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2024-03-10", "date_to": "2024-03-01"}, "inverted"),
        ({"date_from": "10/03/2024"}, "date_from must be a date"),
        ({"date_to": "2024-02-30"}, "date_to must be a date"),
        ({"action": "drop.table"}, "unknown action"),
        ({"to_seq": "-1"}, "whole number"),
        ({"to_seq": "999999"}, "beyond the trail's head"),
        ({"document": "abc"}, "document must be"),
    ],
)
def test_bad_filters_get_a_clear_400_and_no_rows(client, audrey, activity, params, message):
    client.force_login(audrey)

    response = export(client, **params)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_an_unknown_process_is_404(client, audrey, activity):
    client.force_login(audrey)
    assert export(client, process="no-such-process").status_code == 404


def test_an_unknown_format_is_404(client, audrey, activity):
    client.force_login(audrey)
    assert export(client, "xlsx").status_code == 404


@pytest.mark.parametrize("persona", ["charlie", "alice", "paula", "bob"])
def test_users_without_the_audit_permission_get_nothing(client, request, activity, persona):
    client.force_login(request.getfixturevalue(persona))
    before = TrailCheckpoint.objects.count()

    assert export(client, process="invoice-extraction").status_code == 404
    assert export(client).status_code == 404
    assert client.get(reverse("review:trail-manifest", args=["csv"])).status_code == 404
    assert TrailCheckpoint.objects.count() == before


def test_an_auditor_of_one_process_cannot_export_another(client, invoices, receipts, activity):
    auditor = make_user("rita")
    permissions.grant_process("audit_process", receipts, auditor)
    client.force_login(auditor)

    assert export(client, process="invoice-extraction").status_code == 404
    invoice_document = TrailEntry.objects.filter(process=invoices).exclude(document=None).first().document_id
    assert export(client, document=invoice_document).status_code == 404
    _, manifest = body_and_manifest(export(client), "csv")
    assert manifest["rows"] == TrailEntry.objects.filter(process=receipts).count()


def test_exports_require_login(client, activity):
    response = export(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
