"""The interface every agent provider implements.

A provider turns a document's text into field values, each with a confidence in [0, 1] and the
name of the method that produced that confidence. Providers know nothing of Django models: they
receive a frozen `AgentSpec` (a snapshot of an agent version) and plain text, so they can be used
and tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class FieldType:
    STRING = "string"
    DATE = "date"  # ISO 8601 "YYYY-MM-DD"
    DECIMAL = "decimal"  # a string such as "1234.50", never a float
    CHOICE = "choice"  # one of FieldSpec.choices
    CURRENCY = "currency"  # ISO 4217 code, three upper-case letters

    ALL = (STRING, DATE, DECIMAL, CHOICE, CURRENCY)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = FieldType.STRING
    required: bool = True
    choices: tuple[str, ...] = ()
    label: str = ""
    # Simple validation rules: {"min": "0.01", "max": "1000000"} for decimals,
    # {"max_past_days": 3650, "max_future_days": 31} for dates, {"pattern": "^INV"} for strings.
    rules: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class AgentSpec:
    """What a provider needs to know about the agent version it runs as."""

    process_slug: str
    provider: str
    model: str
    instructions: str
    fields: tuple[FieldSpec, ...]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class FieldResult:
    value: Any  # JSON-serialisable: str, or None when the field was not found
    confidence: float
    method: str  # how the confidence was obtained: "rules", "logprobs", "sample-agreement", ...


@dataclass
class ProviderResult:
    fields: dict[str, FieldResult]
    reasoning: str = ""
    model_used: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal("0")
    attempts: list[dict[str, Any]] = field(default_factory=list)


class ProviderError(Exception):
    """The provider could not produce a usable answer.

    `code` names the failure for routing and reporting ("timeout", "rate_limited", "server_error",
    "malformed_output", "schema_violation", "no_text", ...). `attempts` lists every failed call.
    """

    def __init__(
        self, code: str, message: str, *, attempts: list[dict[str, Any]] | None = None, **usage: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempts = attempts or []
        self.usage = usage


class Provider(Protocol):
    name: str

    def run(self, spec: AgentSpec, text: str) -> ProviderResult: ...
