"""The hand-written hot-path statements store and load exactly what the ORM would."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.forms.models import model_to_dict

from agents.models import AgentRun, Process
from backoffice.request_identity import USER_SQL
from backoffice.sql import fetch_instance, insert_instance
from tests.helpers import receive_text

pytestmark = pytest.mark.django_db

AWKWARD = {"total": "1.50", "note": 'Café "東京" \\ 🙂', "nested": {"b": [1, 2.5, None, True], "a": {}}}


def a_run(document) -> AgentRun:
    return AgentRun(
        document=document,
        output=AWKWARD,
        confidences={"total": 0.93},
        reasoning="because",
        cost=Decimal("0.001234"),
        attempts=[{"endpoint": "x", "error": "timeout"}],
    )


def test_insert_instance_stores_what_save_stores(invoices):
    document = receive_text(invoices, "ACME\nTOTAL 1.50").document
    by_helper, by_orm = a_run(document), a_run(document)

    insert_instance(by_helper)
    by_orm.save()

    assert by_helper.pk and not by_helper._state.adding
    helper_row = model_to_dict(AgentRun.objects.get(pk=by_helper.pk))
    orm_row = model_to_dict(AgentRun.objects.get(pk=by_orm.pk))
    assert helper_row.pop("id") != orm_row.pop("id")
    assert helper_row == orm_row
    stored = AgentRun.objects.get(pk=by_helper.pk)
    assert stored.output == AWKWARD and stored.created_at is not None  # auto_now_add was applied


def test_fetch_instance_loads_what_the_orm_loads_and_none_when_missing(invoices, alice):
    loaded = fetch_instance(User, USER_SQL, [alice.pk])
    assert model_to_dict(loaded) == model_to_dict(User.objects.get(pk=alice.pk))
    assert not loaded._state.adding
    assert fetch_instance(User, USER_SQL, [alice.pk + 1000]) is None

    sql = "SELECT {} , 42 FROM agents_process WHERE id = %s".format(
        ", ".join(f.column for f in Process._meta.concrete_fields)
    )
    process = fetch_instance(Process, sql, [invoices.pk], extra=("answer",))
    assert process.answer == 42
    assert model_to_dict(process) == model_to_dict(Process.objects.get(pk=invoices.pk))  # JSON fields decoded


def test_insert_instance_refuses_a_stored_row_or_a_chosen_key(invoices):
    document = receive_text(invoices, "ACME\nTOTAL 1.50").document
    stored = a_run(document)
    insert_instance(stored)
    with pytest.raises(ValueError, match="new rows"):
        insert_instance(stored)
    chosen = a_run(document)
    chosen.pk = stored.pk + 1000
    with pytest.raises(ValueError, match="new rows"):
        insert_instance(chosen)
    assert AgentRun.objects.filter(document=document).count() == 1
