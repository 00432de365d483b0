"""Intake: upload page and ingest command; bad input gets a clear error and loses nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from fpdf import FPDF

from agents.models import Document
from review import intake, triage
from review.demo.generator import to_pdf_bytes
from review.models import ReviewTask, TrailEntry
from tests.helpers import CLEAN_INVOICE, receive_text

pytestmark = pytest.mark.django_db


def pdf_without_text() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a scan-like page: graphics, no text layer
    return bytes(pdf.output())


def upload(client, process, name, data):
    return client.post(
        reverse("review:upload"),
        {"process": process.pk, "files": SimpleUploadedFile(name, data)},
        follow=True,
    )


def test_the_same_content_delivered_twice_is_stored_once(invoices):
    first = receive_text(invoices, CLEAN_INVOICE, "a.txt")
    second = receive_text(invoices, CLEAN_INVOICE, "copy-of-a.txt")
    assert first.created and not second.created
    assert first.document.pk == second.document.pk
    assert Document.objects.count() == 1
    assert TrailEntry.objects.filter(action="document.received").count() == 1


def test_upload_page_stores_a_pdf_with_its_text_layer(
    client, paula, invoices, django_capture_on_commit_callbacks
):
    client.force_login(paula)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, invoices, "inv.pdf", to_pdf_bytes(CLEAN_INVOICE))
    assert response.status_code == 200
    document = Document.objects.get()
    assert document.content_type == "application/pdf" and "INV-2024-0042" in document.text
    assert document.state in (Document.State.AUTO_ACCEPTED, Document.State.IN_REVIEW)  # triage ran on commit
    assert document.file.read().startswith(b"%PDF")


def test_empty_file_is_refused_with_a_clear_message(client, paula, invoices):
    client.force_login(paula)
    response = upload(client, invoices, "empty.txt", b"")
    assert response.status_code == 400
    assert "empty" in response.content.decode().lower()
    assert not Document.objects.exists()


def test_file_over_the_size_limit_is_refused_and_names_the_limit(client, paula, invoices, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client.force_login(paula)
    response = upload(client, invoices, "big.txt", b"x" * 1001)
    assert response.status_code == 400
    assert "the limit is 1,000 bytes" in response.content.decode()
    assert not Document.objects.exists()


def test_unsupported_file_type_is_refused(client, paula, invoices):
    client.force_login(paula)
    response = upload(client, invoices, "photo.jpg", b"\xff\xd8\xff\xe0 jpeg")
    assert response.status_code == 400
    assert "are not accepted" in response.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("data", "problem"),
    [(b"%PDF-1.4\n garbage that is not a pdf", "corrupt_pdf"), (pdf_without_text(), "no_text_layer")],
)
def test_unreadable_pdf_is_stored_and_routed_to_review_with_the_reason(invoices, data, problem):
    received = intake.receive(process=invoices, filename="scan.pdf", data=data, source="upload", actor=None)
    assert received.document.text_problem == problem

    assert triage.triage_document(received.document.pk) == "review:unreadable"

    task = ReviewTask.objects.get(document=received.document)
    assert task.reason == "unreadable" and task.priority > 0
    assert received.document.file.read() == data  # the original is kept


def test_text_that_is_not_utf8_is_read_as_legacy_text_not_lost(invoices):
    data = "Café Müller\nTOTAL EUR 12,50\n".encode("cp1252")
    received = intake.receive(process=invoices, filename="latin.txt", data=data, source="upload", actor=None)
    assert received.document.text_encoding == "cp1252"
    assert "Café Müller" in received.document.text


def test_binary_data_named_txt_is_refused(invoices):
    with pytest.raises(intake.Rejected, match="not text"):
        intake.receive(
            process=invoices, filename="x.txt", data=bytes(range(256)) * 4, source="upload", actor=None
        )
    assert not Document.objects.exists()


def test_upload_into_a_process_the_user_cannot_see_is_refused(client, alice, receipts):
    client.force_login(alice)  # alice holds the invoice queue only
    response = upload(client, receipts, "r.txt", b"TOTAL 5.00")
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_ingest_command_takes_a_folder_and_reports_rejections(invoices, tmp_path):
    (tmp_path / "a.txt").write_text(CLEAN_INVOICE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pdf").write_bytes(to_pdf_bytes(CLEAN_INVOICE.replace("0042", "0043")))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ignored.jpg").write_bytes(b"\xff\xd8")
    out, err = io.StringIO(), io.StringIO()

    call_command("ingest", "invoice-extraction", str(tmp_path), stdout=out, stderr=err)

    assert Document.objects.count() == 2
    assert "2 new, 0 already received, 1 rejected" in out.getvalue()
    assert "empty.txt: the file is empty" in err.getvalue()
    call_command("ingest", "invoice-extraction", str(tmp_path), stdout=out, stderr=err)
    assert Document.objects.count() == 2


def test_ingest_command_with_an_unknown_process_names_the_known_ones(processes, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(
        CommandError, match=r"Unknown process 'invoices'\. Known processes: expense-classification"
    ):
        call_command("ingest", "invoices", str(tmp_path))


def test_ingest_command_with_a_missing_path_says_so(processes, tmp_path):
    with pytest.raises(CommandError, match="No such file or folder"):
        call_command("ingest", "invoice-extraction", str(tmp_path / "nope"))


def test_an_auditor_cannot_upload(client, audrey, invoices):
    client.force_login(audrey)  # audits every process, works none
    response = upload(client, invoices, "a.txt", CLEAN_INVOICE.encode())
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_nul_characters_are_dropped_not_a_server_error(invoices):
    data = b"ACME\x00 Ltd\nTOTAL 12.00\n"
    received = intake.receive(process=invoices, filename="nul.txt", data=data, source="upload", actor=None)
    received.document.refresh_from_db()
    assert received.document.text == "ACME Ltd\nTOTAL 12.00\n"
