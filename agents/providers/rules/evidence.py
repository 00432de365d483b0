"""Turning evidence into an honest confidence.

Every extractor collects named reasons, each with a weight taken from a small per-field table, and
the confidence is the logistic of their sum. The weights are log-odds: +1.0 roughly multiplies the
odds of being right by e. They were set by hand and then checked against the development set with
`bench/rules_accuracy.py` (reliability at each threshold and AUROC), never tuned to single documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

FLOOR = 0.02
CEILING = 0.99


@dataclass
class Evidence:
    weights: dict[str, float]
    reasons: list[tuple[str, float]] = field(default_factory=list)

    def add(self, reason: str, times: float = 1.0) -> None:
        """Record a reason from the table; `times` scales it (e.g. a margin measured in points)."""
        if times:
            self.reasons.append((reason, self.weights[reason] * times))

    def log_odds(self) -> float:
        return self.weights.get("bias", 0.0) + sum(w for _, w in self.reasons)

    def confidence(self) -> float:
        return round(min(CEILING, max(FLOOR, 1.0 / (1.0 + math.exp(-self.log_odds())))), 3)

    def explain(self) -> str:
        return ", ".join(f"{name} {w:+.1f}" for name, w in self.reasons) or "no evidence"


@dataclass
class Finding:
    """One field's answer: the value (None when nothing was found) and why it is believed."""

    value: Any
    evidence: Evidence

    @property
    def confidence(self) -> float:
        if self.value is None:
            return FLOOR
        return self.evidence.confidence()
