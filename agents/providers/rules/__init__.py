"""The offline rules agent: deterministic, standard library only, a few milliseconds per document.

`RulesProvider.run` dispatches on `spec.settings["ruleset"]`:
- "extraction": vendor, date, total, currency, address, invoice_number from invoices and receipts;
- "classification": an expense category (one "choice" field) from merchant names and keywords.
Each answer carries a confidence built from the evidence behind it (see evidence.py), so that the
autonomy threshold can route the doubtful ones to a reviewer.
"""

from __future__ import annotations

from ..base import AgentSpec, FieldResult, FieldSpec, FieldType, ProviderError, ProviderResult
from .classification import classify
from .extraction import extract

__all__ = ["RulesProvider"]

METHOD = "rules"
RULESETS = ("extraction", "classification")


class RulesProvider:
    name = "rules"

    def run(self, spec: AgentSpec, text: str) -> ProviderResult:
        if not text or not text.strip():
            raise ProviderError("no_text", "The document has no text to read.")
        ruleset = spec.settings.get("ruleset", "extraction")
        if ruleset == "classification":
            results, reasoning = self._classify(spec.fields, text)
        elif ruleset == "extraction":
            results, reasoning = self._extract(spec.fields, text)
        else:
            raise ProviderError(
                "schema_violation", f"Unknown ruleset {ruleset!r}; expected one of {RULESETS}."
            )
        return ProviderResult(fields=results, reasoning=reasoning, model_used=f"rules:{ruleset}")

    def _extract(self, fields: tuple[FieldSpec, ...], text: str) -> tuple[dict[str, FieldResult], str]:
        findings = extract(text, [f.name for f in fields])
        results = {}
        notes = []
        for spec in fields:
            finding = findings[spec.name]
            value = finding.value
            if spec.type == FieldType.CHOICE and value not in spec.choices:
                value = None
            results[spec.name] = FieldResult(value, finding.confidence if value is not None else 0.02, METHOD)
            notes.append(f"{spec.name}: {finding.evidence.explain()}")
        return results, "; ".join(notes)

    def _classify(self, fields: tuple[FieldSpec, ...], text: str) -> tuple[dict[str, FieldResult], str]:
        results = {}
        notes = []
        for spec in fields:
            finding = classify(text, spec.choices)
            results[spec.name] = FieldResult(finding.value, finding.confidence, METHOD)
            notes.append(f"{spec.name}: {finding.value} ({finding.evidence.explain()})")
        return results, "; ".join(notes)
