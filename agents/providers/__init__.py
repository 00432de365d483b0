"""Provider registry: the name stored on an agent version -> the object that runs it."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from agents.providers.base import Provider


@cache
def get_provider(name: str) -> Provider:
    if name == "rules":
        from agents.providers.rules import RulesProvider

        return RulesProvider()
    if name == "openai":
        from agents.providers.openai_provider import OpenAIProvider

        return OpenAIProvider(prices=settings.LLM_PRICES)
    raise KeyError(f"unknown provider {name!r}")
