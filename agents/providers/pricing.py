"""The cost of LLM calls from a price table per 1,000 tokens (plain Python, no Django).

A table maps a model name to {"input_per_1k": "0.0005", "output_per_1k": "0.0015"}; values may be
strings, Decimals or numbers and are read as Decimal. A model missing from the table costs 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class Price:
    input_per_1k: Decimal
    output_per_1k: Decimal

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        return (self.input_per_1k * prompt_tokens + self.output_per_1k * completion_tokens) / THOUSAND


def parse_prices(prices: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Price]:
    """Validate a price table. Raises ValueError naming the model whose entry is unusable."""
    table = {}
    for model, entry in (prices or {}).items():
        try:
            price = Price(
                Decimal(str(entry.get("input_per_1k", "0"))), Decimal(str(entry.get("output_per_1k", "0")))
            )
        except (InvalidOperation, AttributeError, TypeError):
            raise ValueError(f"price of model {model!r} is not a pair of decimals") from None
        if not (price.input_per_1k.is_finite() and price.output_per_1k.is_finite()):
            raise ValueError(f"price of model {model!r} is not finite")
        table[model] = price
    return table


def call_cost(
    table: Mapping[str, Price], models: tuple[str, ...], prompt_tokens: int, completion_tokens: int
) -> Decimal:
    """Cost of one call, priced by the first of `models` found in the table (e.g. the model the server
    reported, then the model requested); Decimal 0 when none is priced."""
    for model in models:
        if model and model in table:
            return table[model].cost(prompt_tokens, completion_tokens)
    return Decimal(0)
