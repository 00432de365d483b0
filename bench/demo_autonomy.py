"""How the embedded default behaves on the demo data: automation rate and accuracy of auto-accepts.

Generates the demo documents (the same generator `make demo` uses), reads them as intake does
(PDFs through the text layer), runs the offline rules agent, validates, and applies the standard
processes' default policy (autonomous, their thresholds, 5% audit sample). Prints, per process, the
share auto-accepted and how many of those are fully correct against the generator's truth.

    .venv/bin/python bench/demo_autonomy.py [--seed 7] [--count 300]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.autonomy import RunFacts, decide
from agents.catalogue import STANDARD_PROCESSES
from agents.confidence import decisive_confidences, overall_confidence
from agents.providers.base import AgentSpec
from agents.providers.rules import RulesProvider
from agents.schema import fields_from_json
from agents.text_extraction import read_text
from agents.validation import validate_output
from review.demo.generator import generate, to_pdf_bytes


def same(field: str, got, want) -> bool:
    if got is None or want is None:
        return got == want
    if field == "total":
        try:
            return Decimal(str(got)) == Decimal(str(want))
        except InvalidOperation:
            return False
    if field == "date":
        return str(got) == str(want)
    norm = lambda s: " ".join("".join(c for c in str(s).upper() if c.isalnum() or c.isspace()).split())  # noqa: E731
    return norm(got) == norm(want)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--audit-rate", default="0.05")
    args = parser.parse_args()

    definitions = {d["slug"]: d for d in STANDARD_PROCESSES}
    provider = RulesProvider()
    stats: dict[str, dict[str, int]] = {}
    field_stats: dict[tuple[str, str], list[int]] = {}
    for doc in generate(args.seed, args.count):
        definition = definitions[doc.process_slug]
        fields = fields_from_json(definition["fields"])
        spec = AgentSpec(
            doc.process_slug, "rules", "rules-v1", "", fields, {"ruleset": definition["ruleset"]}
        )
        data = to_pdf_bytes(doc.text) if doc.as_pdf else doc.text.encode()
        text = read_text(doc.filename, data).text
        result = provider.run(spec, text)
        output = {name: item.value for name, item in result.fields.items()}
        confidences = {name: item.confidence for name, item in result.fields.items()}
        facts = RunFacts(
            decisive_confidences(fields, output, confidences),
            overall_confidence(fields, output, confidences),
            validate_output(fields, output),
            "",
        )
        checksum = hashlib.sha256(data).hexdigest()
        verdict = decide(
            facts=facts,
            mode="autonomous",
            threshold=definition["threshold"],
            field_thresholds={},
            audit_sample_rate=Decimal(args.audit_rate),
            process_slug=doc.process_slug,
            document_checksum=checksum,
        )
        correct = all(same(f.name, output.get(f.name), doc.truth.get(f.name)) for f in fields)
        row = stats.setdefault(
            doc.process_slug,
            {"docs": 0, "auto": 0, "auto_correct": 0, "correct": 0, "hard": 0, "hard_auto": 0},
        )
        row["docs"] += 1
        row["correct"] += correct
        row["hard"] += bool(doc.hard)
        if verdict.accept:
            row["auto"] += 1
            row["auto_correct"] += correct
            row["hard_auto"] += bool(doc.hard)
        for f in fields:
            ok = same(f.name, output.get(f.name), doc.truth.get(f.name))
            field_stats.setdefault((doc.process_slug, f.name), []).append(ok)

    print(f"demo documents: seed {args.seed}, {args.count} documents, audit sample rate {args.audit_rate}")
    print(
        f"{'process':26} {'docs':>5} {'auto-accepted':>14} {'correct of auto':>16} {'all fields right':>17}"
    )
    totals = {"docs": 0, "auto": 0, "auto_correct": 0, "correct": 0}
    for slug, row in stats.items():
        for key in totals:
            totals[key] += row[key]
        share = row["auto"] / row["docs"]
        precision = row["auto_correct"] / row["auto"] if row["auto"] else float("nan")
        print(
            f"{slug:26} {row['docs']:5} {row['auto']:5} ({share:6.1%})"
            f" {row['auto_correct']:5} ({precision:6.1%}) {row['correct'] / row['docs']:16.1%}"
        )
    precision = totals["auto_correct"] / totals["auto"] if totals["auto"] else float("nan")
    print(
        f"{'all':26} {totals['docs']:5} {totals['auto']:5} ({totals['auto'] / totals['docs']:6.1%})"
        f" {totals['auto_correct']:5} ({precision:6.1%}) {totals['correct'] / totals['docs']:16.1%}"
    )
    print("\nper-field accuracy (all documents):")
    for (slug, name), oks in field_stats.items():
        print(f"  {slug:26} {name:15} {sum(oks) / len(oks):6.1%}")


if __name__ == "__main__":
    main()
