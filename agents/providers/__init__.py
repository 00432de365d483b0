"""Provider registry: the name stored on an agent version -> the object that runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import cache

from django.conf import settings

from agents.providers.base import Provider


class AllowedEnv(Mapping[str, str]):
    """os.environ seen through an allow-list of names, read at call time."""

    def __init__(self, names: list[str]) -> None:
        self._names = tuple(names)

    def __getitem__(self, name: str) -> str:
        if name not in self._names:
            raise KeyError(name)
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names if name in os.environ)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@cache
def get_provider(name: str) -> Provider:
    if name == "rules":
        from agents.providers.rules import RulesProvider

        return RulesProvider()
    if name == "openai":
        from agents.providers.openai_provider import OpenAIProvider

        # Only the operator's allowed key variables are visible to the provider (defence in depth:
        # agent versions are checked against the same list when they are created).
        return OpenAIProvider(prices=settings.LLM_PRICES, env=AllowedEnv(settings.LLM_API_KEY_ENVS))
    raise KeyError(f"unknown provider {name!r}")
