"""The create_agent_version command: an audited LLM agent version, and clear refusals."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from agents.models import AgentVersion
from review.models import TrailEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def llm_key_variable_allowed(settings):
    """The operator allows LLM_KEY as an API key variable in these tests."""
    settings.LLM_API_KEY_ENVS = ["OPENAI_API_KEY", "LLM_KEY"]


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_agent_version", *args, stdout=out)
    return out.getvalue()


BASE = ["--process", "invoice-extraction", "--model", "gpt-4o-mini", "--instructions", "Extract the fields."]


def test_it_creates_and_activates_a_failover_version_with_trail_entries(invoices, monkeypatch):
    monkeypatch.delenv("LLM_KEY", raising=False)
    output = run(*BASE, "--base-url", "http://llm-a:8000/v1", "--base-url", "http://llm-b:8000/v1",
                 "--api-key-env", "LLM_KEY", "--timeout", "5", "--retries", "1", "--confidence", "logprobs",
                 "--activate")  # fmt: skip

    version = AgentVersion.objects.get(process=invoices, is_active=True)
    assert version.provider == "openai" and version.model == "gpt-4o-mini" and version.number == 2
    assert version.settings["endpoints"] == [
        {"base_url": "http://llm-a:8000/v1", "model": "gpt-4o-mini", "api_key_env": "LLM_KEY"},
        {"base_url": "http://llm-b:8000/v1", "model": "gpt-4o-mini", "api_key_env": "LLM_KEY"},
    ]
    assert version.settings["timeout_s"] == 5 and version.settings["max_retries"] == 1
    assert version.settings["confidence"] == "logprobs"
    actions = list(
        TrailEntry.objects.filter(process=invoices).order_by("seq").values_list("action", flat=True)
    )
    assert actions[-2:] == ["config.version_created", "config.version_activated"]
    assert "LLM_KEY is not set here" in output


def test_it_leaves_the_active_version_alone_without_activate(invoices):
    activations = TrailEntry.objects.filter(action="config.version_activated")
    before = activations.count()

    run(*BASE, "--model", "gpt-4o", "--base-url", "http://llm:8000/v1")

    assert AgentVersion.objects.get(process=invoices, is_active=True).provider == "rules"
    created = AgentVersion.objects.get(process=invoices, number=2)
    assert [e["model"] for e in created.settings["endpoints"]] == ["gpt-4o-mini", "gpt-4o"]
    assert activations.count() == before
    assert TrailEntry.objects.filter(action="config.version_created", data__version=2).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--process", "nope"], "unknown process 'nope'"),
        (["--api-key-env", "sk-live-abcdef123456"], "NAME of an environment variable"),
        (["--base-url", "ftp://x/v1"], "is not an http(s) URL"),
        (["--base-url", "http://user:pw@x/v1"], "must not carry credentials"),
        (["--timeout", "0"], "timeout_s must be positive"),
        (["--samples", "1", "--confidence", "samples"], "samples must be between 2 and 20"),
        (["--by", "ghost"], "unknown user 'ghost'"),
    ],
)
def test_it_refuses_bad_input_clearly_and_writes_nothing(invoices, args, message):
    before = TrailEntry.objects.count()
    with pytest.raises(CommandError, match=re.escape(message)) as error:
        run(*BASE, *args)
    assert "sk-live" not in str(error.value)
    assert AgentVersion.objects.filter(process=invoices).count() == 1
    assert TrailEntry.objects.count() == before
