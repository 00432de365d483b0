"""The versions screen: create, compare, activate under the activation rules, roll back, pin cases."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.models import AgentVersion, Process
from review import agent_versions
from review.models import LabelledExample, TrailEntry, VersionEvaluation
from tests.reviewing import make_task, media  # noqa: F401
from tests.versions_data import decided_example, new_version

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture(autouse=True)
def llm_key_variable_allowed(settings):
    """The operator allows LLM_KEY as an API key variable in these tests."""
    settings.LLM_API_KEY_ENVS = ["OPENAI_API_KEY", "LLM_KEY"]


OPENAI_POST = {
    "provider": "openai",
    "endpoints": "http://127.0.0.1:9/v1 fake-llm\nhttp://127.0.0.1:10/v1 fake-llm-b",
    "api_key_env": "LLM_KEY",
    "instructions": "Extract the invoice fields.",
    "timeout_s": "5",
    "max_retries": "1",
    "confidence": "samples",
    "samples": "3",
    "notes": "first LLM",
}


def versions_url(process: Process) -> str:
    return reverse("review:versions", args=[process.slug])


def finished(version: AgentVersion, accuracy: float) -> VersionEvaluation:
    return VersionEvaluation.objects.create(
        version=version, state=VersionEvaluation.State.DONE, total=10, done=10, overall_accuracy=accuracy
    )


def actions(process: Process) -> list[str]:
    return list(TrailEntry.objects.filter(process=process).order_by("seq").values_list("action", flat=True))


def test_it_lists_versions_with_run_counts_and_cost_in_a_fixed_number_of_queries(
    client, paula, invoices, django_assert_max_num_queries
):
    make_task(invoices)
    new_version(invoices)
    client.force_login(paula)
    with django_assert_max_num_queries(12):
        response = client.get(versions_url(invoices))
    assert response.status_code == 200
    rows = {v.number: v for v in response.context["versions"]}
    assert rows[1].run_count == 1 and rows[2].run_count == 0
    assert b"v2" in response.content and b"active" in response.content
    assert b"not evaluated" in response.content and b"New version from this one" in response.content


def test_it_creates_a_rules_version_audited(client, paula, invoices):
    client.force_login(paula)
    response = client.post(
        reverse("review:version-create", args=[invoices.slug]),
        {"provider": "rules", "ruleset": "extraction", "confidence": "auto", "notes": "retuned"},
    )
    assert response.status_code == 302
    version = AgentVersion.objects.get(process=invoices, number=2)
    assert version.provider == "rules" and not version.is_active and version.created_by == paula
    entry = TrailEntry.objects.filter(action="config.version_created").order_by("-seq").first()
    assert entry.actor_label == "paula" and entry.data["version"] == 2


def test_it_creates_an_openai_version_with_failover_endpoints_and_no_key(client, paula, invoices):
    client.force_login(paula)
    response = client.post(reverse("review:version-create", args=[invoices.slug]), OPENAI_POST)
    assert response.status_code == 302
    version = AgentVersion.objects.get(process=invoices, number=2)
    assert version.provider == "openai" and version.model == "fake-llm"
    assert version.settings["endpoints"] == [
        {"base_url": "http://127.0.0.1:9/v1", "model": "fake-llm", "api_key_env": "LLM_KEY"},
        {"base_url": "http://127.0.0.1:10/v1", "model": "fake-llm-b", "api_key_env": "LLM_KEY"},
    ]
    assert version.settings["timeout_s"] == 5 and version.settings["confidence"] == "samples"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider": "gemini"}, "Select a valid choice"),
        ({"endpoints": "  \n"}, "at least one endpoint"),
        ({"api_key_env": "sk-proj-Abc123def456ghi789"}, "NAME of an environment variable"),
        ({"api_key_env": "AbCdEf0123456789XyZ987"}, "NAME of an environment variable"),
        ({"api_key_env": "SECRET_KEY"}, "not one the operator allows"),
        ({"api_key_env": "DATABASE_URL"}, "not one the operator allows"),
        ({"timeout_s": "soon"}, "Enter a number"),
        ({"endpoints": "ftp://x/v1 m"}, "is not an http(s) URL"),
        ({"instructions": " "}, "needs instructions"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(client, paula, invoices, changes, message):
    client.force_login(paula)
    before = TrailEntry.objects.count()
    response = client.post(reverse("review:version-create", args=[invoices.slug]), OPENAI_POST | changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Abc123def456" not in response.content.decode().split("api_key_env")[0]
    assert AgentVersion.objects.filter(process=invoices).count() == 1
    assert TrailEntry.objects.count() == before


def test_a_pasted_key_is_never_echoed_in_the_error(client, paula, invoices):
    client.force_login(paula)
    response = client.post(
        reverse("review:version-create", args=[invoices.slug]),
        OPENAI_POST | {"api_key_env": "sk-live-secret123"},
    )
    errors = str(response.context["form"].errors)
    assert "NAME of an environment variable" in errors and "secret123" not in errors


def test_versions_are_never_edited_new_one_from_an_existing_one_is_prefilled(client, paula, invoices):
    client.force_login(paula)
    client.post(reverse("review:version-create", args=[invoices.slug]), OPENAI_POST)
    response = client.get(versions_url(invoices), {"from": 2})
    form = response.context["form"]
    assert form.initial["endpoints"] == "http://127.0.0.1:9/v1 fake-llm\nhttp://127.0.0.1:10/v1 fake-llm-b"
    assert form.initial["instructions"] == "Extract the invoice fields."
    client.post(
        reverse("review:version-create", args=[invoices.slug]), OPENAI_POST | {"instructions": "Be precise."}
    )
    assert AgentVersion.objects.get(process=invoices, number=2).instructions == "Extract the invoice fields."
    assert AgentVersion.objects.get(process=invoices, number=3).instructions == "Be precise."
    assert not any("edit" in str(p.pattern) for p in __import__("review.urls").urls.urlpatterns)


def test_compare_shows_the_settings_and_instructions_diff_and_both_evaluations(client, paula, invoices):
    client.force_login(paula)
    client.post(reverse("review:version-create", args=[invoices.slug]), OPENAI_POST)
    finished(AgentVersion.objects.get(process=invoices, number=1), 0.9)
    response = client.get(reverse("review:version-compare", args=[invoices.slug]), {"a": 1, "b": 2})
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert ("provider", "rules", "openai") in comparison.settings
    assert any(line.startswith("+Extract the invoice fields.") for line in comparison.instructions_diff)
    assert comparison.left_evaluation.overall_accuracy == 0.9 and comparison.right_evaluation is None


def test_a_worse_version_is_not_activated_without_an_override(client, paula, invoices):
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    candidate = new_version(invoices)
    finished(active, 0.95)
    finished(candidate, 0.80)
    client.force_login(paula)
    before = actions(invoices)
    response = client.post(reverse("review:version-activate", args=[invoices.slug, candidate.number]))
    assert response.status_code == 409
    assert "lower than" in response.content.decode()
    assert AgentVersion.objects.get(process=invoices, is_active=True) == active
    assert actions(invoices) == before


def test_an_unevaluated_version_needs_an_override_too(paula, invoices):
    candidate = new_version(invoices)
    with pytest.raises(agent_versions.OverrideRequired, match="no finished evaluation"):
        agent_versions.activate(version=candidate, actor=paula)


def test_an_override_with_a_reason_activates_it_recorded_in_the_trail(client, paula, invoices):
    Process.objects.filter(pk=invoices.pk).update(autonomy_mode=Process.Mode.AUTONOMOUS)
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    candidate = new_version(invoices)
    finished(active, 0.95)
    finished(candidate, 0.80)
    client.force_login(paula)
    response = client.post(
        reverse("review:version-activate", args=[invoices.slug, candidate.number]),
        {"override_reason": "Cheaper model; accuracy to be watched in shadow mode."},
    )
    assert response.status_code == 302
    assert AgentVersion.objects.get(process=invoices, is_active=True) == candidate
    override = TrailEntry.objects.get(action=agent_versions.VERSION_OVERRIDE)
    assert override.actor_label == "paula"
    assert override.data["reason"] == "Cheaper model; accuracy to be watched in shadow mode."
    assert override.data["comparison"]["candidate"]["overall_accuracy"] == 0.80
    assert actions(invoices)[-3:] == [
        "config.version_activated",
        agent_versions.VERSION_OVERRIDE,
        "config.autonomy_changed",
    ]


def test_a_better_version_activates_without_override_and_puts_the_process_in_shadow_mode(paula, invoices):
    Process.objects.filter(pk=invoices.pk).update(autonomy_mode=Process.Mode.AUTONOMOUS)
    active = AgentVersion.objects.get(process=invoices, is_active=True)
    candidate = new_version(invoices)
    finished(active, 0.90)
    finished(candidate, 0.93)
    agent_versions.activate(version=candidate, actor=paula)
    invoices.refresh_from_db()
    assert invoices.autonomy_mode == Process.Mode.SHADOW
    change = TrailEntry.objects.filter(action="config.autonomy_changed").order_by("-seq").first()
    assert change.data["changes"]["autonomy_mode"] == ["autonomous", "shadow"]
    assert not TrailEntry.objects.filter(action=agent_versions.VERSION_OVERRIDE).exists()


def test_rollback_goes_to_the_previous_version_without_an_evaluation(client, paula, invoices):
    first = AgentVersion.objects.get(process=invoices, is_active=True)
    candidate = new_version(invoices)
    finished(candidate, 0.9)
    agent_versions.activate(version=candidate, actor=paula)
    client.force_login(paula)
    response = client.post(reverse("review:version-rollback", args=[invoices.slug]))
    assert response.status_code == 302
    assert AgentVersion.objects.get(process=invoices, is_active=True) == first
    assert actions(invoices)[-1] == "config.version_rolled_back"  # already in shadow mode: no change


def test_rollback_to_a_version_evaluated_as_worse_needs_an_override(paula, invoices):
    first = AgentVersion.objects.get(process=invoices, is_active=True)
    candidate = new_version(invoices)
    finished(first, 0.7)
    finished(candidate, 0.9)
    agent_versions.activate(version=candidate, actor=paula)
    with pytest.raises(agent_versions.OverrideRequired):
        agent_versions.activate(version=first, actor=paula, rollback=True)
    agent_versions.activate(
        version=first, actor=paula, rollback=True, override_reason="v2 breaks on receipts"
    )
    assert AgentVersion.objects.get(process=invoices, is_active=True) == first


def test_pinning_a_decided_item_is_audited_and_unpinning_too(client, paula, invoices):
    example = decided_example(invoices)
    client.force_login(paula)
    url = reverse("review:regression-case", args=[example.document_id])
    assert client.post(url, {"pinned": "1"}).status_code == 302
    assert LabelledExample.objects.get(pk=example.pk).is_regression_case
    assert client.post(url, {"pinned": "1"}).status_code == 302  # a double submit writes nothing more
    assert TrailEntry.objects.filter(action=agent_versions.REGRESSION_PINNED).count() == 1
    entry = TrailEntry.objects.get(action=agent_versions.REGRESSION_PINNED)
    assert entry.actor_label == "paula" and entry.document_id == example.document_id
    client.post(url, {"pinned": "0", "next": "versions"})
    assert not LabelledExample.objects.get(pk=example.pk).is_regression_case
    assert TrailEntry.objects.filter(action=agent_versions.REGRESSION_UNPINNED).count() == 1


def test_the_document_page_offers_the_pin_button_to_admins_only(client, paula, alice, invoices):
    example = decided_example(invoices)
    url = reverse("review:document", args=[example.document_id])
    client.force_login(paula)
    assert "Pin as a regression case" in client.get(url).content.decode()
    client.force_login(alice)
    page = client.get(url)
    assert page.status_code == 200 and "Pin as a regression case" not in page.content.decode()


def test_an_undecided_document_cannot_be_pinned(client, paula, invoices):
    task = make_task(invoices)
    client.force_login(paula)
    client.post(reverse("review:regression-case", args=[task.document_id]), {"pinned": "1"})
    assert not TrailEntry.objects.filter(action=agent_versions.REGRESSION_PINNED).exists()


@pytest.mark.parametrize("persona", ["alice", "sam", "audrey", "charlie", "bob"])
def test_only_the_process_admins_reach_the_versions_screen(client, request, invoices, persona):
    client.force_login(request.getfixturevalue(persona))
    before = TrailEntry.objects.count()
    assert client.get(versions_url(invoices)).status_code == 404
    assert client.post(reverse("review:version-create", args=[invoices.slug]), OPENAI_POST).status_code == 404
    assert client.post(reverse("review:version-activate", args=[invoices.slug, 1])).status_code == 404
    assert client.post(reverse("review:version-rollback", args=[invoices.slug])).status_code == 404
    assert TrailEntry.objects.count() == before


def test_an_admin_of_invoices_gets_404_for_receipts(client, paula, receipts):
    client.force_login(paula)
    assert client.get(versions_url(receipts)).status_code == 404
    assert client.post(reverse("review:version-evaluate", args=[receipts.slug, 1])).status_code == 404
