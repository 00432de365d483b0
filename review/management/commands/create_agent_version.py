"""Create (and optionally activate) an LLM agent version for a process, with its trail entries.

    manage.py create_agent_version --process invoice-extraction --model gpt-4o-mini \\
        --base-url http://llm-a:8000/v1 --base-url http://llm-b:8000/v1 --api-key-env LLM_API_KEY \\
        --instructions-file prompts/invoices.txt --timeout 20 --retries 2 --confidence auto --activate

The API key itself is never accepted, stored or printed: the version stores the name of the
environment variable that holds it, and the worker reads the key from its own environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from agents.models import AgentVersion, Process
from agents.providers.openai_provider import CONFIDENCE_MODES, DEFAULT_KEY_ENV
from review import agent_versions, configuration
from review.trail import System


class Command(BaseCommand):
    help = (
        "Create an LLM agent version for an OpenAI-compatible endpoint (audited); --activate makes it live."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--process", required=True, help="slug of the process")
        parser.add_argument("--provider", default="openai", choices=["openai"])
        parser.add_argument(
            "--model", action="append", required=True,
            help="model name; repeat to pair one model with each --base-url, or to fail over between "
            "models of a single endpoint",
        )  # fmt: skip
        parser.add_argument(
            "--base-url", action="append", default=[],
            help="OpenAI-compatible base URL (…/v1); repeat for failover, in order (default: OpenAI)",
        )  # fmt: skip
        parser.add_argument(
            "--api-key-env", default=DEFAULT_KEY_ENV,
            help="NAME of the environment variable holding the API key (never the key itself)",
        )  # fmt: skip
        instructions = parser.add_mutually_exclusive_group(required=True)
        instructions.add_argument("--instructions", help="the system instructions")
        instructions.add_argument("--instructions-file", type=Path, help="a UTF-8 file with the instructions")
        parser.add_argument("--timeout", type=float, default=20.0, help="seconds per HTTP call (default 20)")
        parser.add_argument("--retries", type=int, default=2, help="retries per endpoint before failover")
        parser.add_argument("--backoff", type=float, default=0.5, help="seconds before the first retry")
        parser.add_argument("--confidence", choices=CONFIDENCE_MODES, default="auto")
        parser.add_argument("--samples", type=int, default=3, help="answers compared for sample agreement")
        parser.add_argument("--notes", default="", help="why this version exists")
        parser.add_argument(
            "--by", metavar="USERNAME", help="the person recorded as creating it in the trail"
        )
        parser.add_argument("--activate", action="store_true", help="make it the process's active version")

    def handle(self, *args: Any, **options: Any) -> None:
        process = Process.objects.filter(slug=options["process"]).first()
        if process is None:
            known = ", ".join(Process.objects.order_by("slug").values_list("slug", flat=True)) or "none"
            raise CommandError(f"unknown process {options['process']!r} (known: {known})")
        actor = self._actor(options["by"])
        instructions = self._instructions(options)
        settings = self._settings(process, options, instructions)
        with transaction.atomic():
            version = configuration.create_agent_version(
                process=process, actor=actor, provider=options["provider"], model=options["model"][0],
                instructions=instructions, settings=settings, notes=options["notes"],
            )  # fmt: skip
            if options["activate"]:
                configuration.activate_agent_version(
                    version=version, actor=actor or System("create_agent_version")
                )
        self._report(version, options)

    def _actor(self, username: str | None) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"unknown user {username!r}")
        return user

    def _instructions(self, options: dict[str, Any]) -> str:
        if options["instructions_file"] is not None:
            try:
                text = options["instructions_file"].read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read --instructions-file: {exc}") from None
        else:
            text = options["instructions"]
        if not text.strip():
            raise CommandError("the instructions are empty")
        return text.strip()

    def _settings(self, process: Process, options: dict[str, Any], instructions: str) -> dict[str, Any]:
        """Provider settings, checked (as on the versions screen) before anything is written."""
        urls, models = options["base_url"], options["model"]
        if len(urls) > 1 and len(models) > 1 and len(urls) != len(models):
            raise CommandError("give one --model, or one per --base-url")
        count = max(len(urls), len(models))
        endpoints = [
            (urls[min(i, len(urls) - 1)] if urls else "", models[min(i, len(models) - 1)])
            for i in range(count)
        ]
        try:
            return agent_versions.openai_settings(
                process=process, endpoints=endpoints, api_key_env=options["api_key_env"],
                instructions=instructions, timeout_s=options["timeout"], max_retries=options["retries"],
                backoff_s=options["backoff"], confidence=options["confidence"], samples=options["samples"],
            )  # fmt: skip
        except agent_versions.InvalidSettings as exc:
            raise CommandError(str(exc)) from None

    def _report(self, version: AgentVersion, options: dict[str, Any]) -> None:
        state = "active" if options["activate"] else "inactive (not used until activated)"
        self.stdout.write(self.style.SUCCESS(f"created {version} as version {version.number}, {state}"))
        for endpoint in version.settings["endpoints"]:
            self.stdout.write(f"  endpoint {endpoint.get('base_url', 'OpenAI')} model {endpoint['model']}")
        if not os.environ.get(options["api_key_env"]):
            self.stdout.write(
                self.style.WARNING(
                    f"{options['api_key_env']} is not set here: the worker needs it in its environment "
                    "(self-hosted servers without keys do not)"
                )
            )
