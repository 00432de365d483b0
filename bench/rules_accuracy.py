"""Accuracy and confidence quality of the offline rules agent on the development set.

    python bench/rules_accuracy.py [path/to/dev.jsonl] [--errors FIELD]

Runs `RulesProvider` exactly as the product does (an `AgentSpec` with ruleset "extraction") on every
record, compares each field with the ground truth (dates as dates, amounts as numbers, strings
ignoring case, whitespace and punctuation; empty truths skipped) and prints per-field accuracy,
AUROC of confidence for right-vs-wrong, coverage and accuracy above confidence thresholds, the
same at document level (the least confident field decides), and milliseconds per document.
`--errors FIELD` also lists the wrong answers for one field, least confident first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agents.providers.base import AgentSpec, FieldSpec, FieldType  # noqa: E402
from agents.providers.rules import RulesProvider  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dev.jsonl"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)

# Per process: the fields the agent is asked for, and the truth key each one is scored against.
PROCESSES = {
    "receipt-extraction": {
        "vendor": "company", "date": "date", "address": "address", "total": "total", "currency": None,
    },
    "invoice-extraction": {
        "vendor": "issuer", "invoice_number": "invoice_number", "date": "date", "total": "amount",
        "currency": "currency",
    },
}  # fmt: skip
FIELD_TYPES = {"date": FieldType.DATE, "total": FieldType.DECIMAL, "currency": FieldType.CURRENCY}
BASELINE = "naive regex baseline: receipts company 76.6%, date 99.1%, address 68.1%, total 84.6% (82.1%); " \
    "invoices 87.1% over number, date, amount, currency"  # fmt: skip


def spec_for(process: str) -> AgentSpec:
    fields = tuple(FieldSpec(name, FIELD_TYPES.get(name, FieldType.STRING)) for name in PROCESSES[process])
    return AgentSpec(process, "rules", "rules", "", fields, {"ruleset": "extraction"})


# --- normalised comparison (independent of the agent's own parsers) ---------------------------

TRUTH_DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%d-%m-%y", "%d.%m.%y", "%Y/%m/%d",
    "%Y%m%d", "%d%m%Y", "%d %b %Y", "%d %b %y", "%d/%b/%Y", "%d-%b-%Y", "%d-%b-%y", "%b %d, %Y", "%d %B %Y",
    "%m/%d/%Y", "%m-%d-%Y",  # only reached when day-first is impossible (12/13/2016)
)  # fmt: skip


def as_date(value: str) -> date | None:
    text = " ".join(str(value).split()).title()
    for fmt in TRUTH_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def as_amount(value: object) -> Decimal | None:
    text = re.sub(r"[^\d.,-]", "", str(value))
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def as_text(value: object) -> str:
    return re.sub(r"[\W_]+", "", str(value)).upper()


def is_right(field: str, predicted: object, truth: object) -> bool:
    if predicted is None:
        return False
    if field == "date":
        return as_date(str(truth)) is not None and as_date(str(truth)) == as_date(str(predicted))
    if field == "total":
        return as_amount(truth) is not None and as_amount(truth) == as_amount(predicted)
    return as_text(truth) == as_text(predicted)


# --- confidence quality ----------------------------------------------------------------------


def auroc(right: list[float], wrong: list[float]) -> float | None:
    """Probability that a right answer is more confident than a wrong one (ties count half)."""
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "   - "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--errors", metavar="FIELD", help="list the wrong answers for this field")
    args = parser.parse_args()
    path = Path(args.data)
    if not path.is_file():
        print(f"error: development data not found at {path} (pass the path to dev.jsonl)", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    provider = RulesProvider()
    specs = {process: spec_for(process) for process in PROCESSES}
    outcomes: list[tuple[str, str, bool, float, str, object, object]] = []  # process, field, right, conf...
    documents: list[tuple[str, float, bool]] = []  # process, min confidence, fully correct
    elapsed = 0.0
    for record in records:
        process = record["process"]
        if process not in PROCESSES:
            continue
        started = time.perf_counter()
        result = provider.run(specs[process], record["text"])
        elapsed += time.perf_counter() - started
        scored = []
        for field, truth_key in PROCESSES[process].items():
            truth = record["truth"].get(truth_key) if truth_key else None
            if truth in (None, ""):
                continue
            answer = result.fields[field]
            right = is_right(field, answer.value, truth)
            outcomes.append((process, field, right, answer.confidence, record["id"], answer.value, truth))
            scored.append((right, answer.confidence))
        if scored:
            documents.append((process, min(c for _, c in scored), all(r for r, _ in scored)))

    print(f"Rules agent on {path} ({len(documents)} documents)")
    print(BASELINE)
    for process in PROCESSES:
        rows = [o for o in outcomes if o[0] == process]
        if not rows:
            continue
        print(f"\n== {process}")
        print(f"{'field':16} {'n':>4} {'accuracy':>9} {'AUROC':>6}  {'mean conf right/wrong':>22}")
        by_field: dict[str, list] = defaultdict(list)
        for row in rows:
            by_field[row[1]].append(row)
        for field, frows in by_field.items():
            right = [o[3] for o in frows if o[2]]
            wrong = [o[3] for o in frows if not o[2]]
            area = auroc(right, wrong)
            means = f"{sum(right) / max(1, len(right)):.2f} / {sum(wrong) / len(wrong):.2f}" if wrong else "-"
            print(f"{field:16} {len(frows):4} {pct(len(right), len(frows)):>9} "
                  f"{f'{area:.3f}' if area is not None else '  -':>6}  {means:>22}")  # fmt: skip
        n_right = sum(o[2] for o in rows)
        all_area = auroc([o[3] for o in rows if o[2]], [o[3] for o in rows if not o[2]])
        print(f"{'overall':16} {len(rows):4} {pct(n_right, len(rows)):>9} "
              f"{f'{all_area:.3f}' if all_area is not None else '  -':>6}")  # fmt: skip
        print_thresholds(rows, [d for d in documents if d[0] == process])

    print(f"\nall fields: {pct(sum(o[2] for o in outcomes), len(outcomes)).strip()} of {len(outcomes)}; "
          f"{1000 * elapsed / max(1, len(documents)):.2f} ms/document")  # fmt: skip
    if args.errors:
        wrong = sorted((o for o in outcomes if o[1] == args.errors and not o[2]), key=lambda o: o[3])
        print(f"\n-- wrong {args.errors} ({len(wrong)})")
        for _, _, _, conf, doc_id, value, truth in wrong:
            print(f"{conf:.3f}  {doc_id:36} got {value!r}  want {truth!r}")
    return 0


def print_thresholds(rows: list, documents: list) -> None:
    print(
        f"\n{'threshold':>9} | {'field coverage':>14} {'accuracy':>9} | "
        f"{'doc coverage':>12} {'fully right':>11}"
    )
    for t in THRESHOLDS:
        above = [o for o in rows if o[3] >= t]
        docs = [d for d in documents if d[1] >= t]
        field_acc = pct(sum(o[2] for o in above), len(above))
        doc_acc = pct(sum(d[2] for d in docs), len(docs))
        print(f"{t:>9.2f} | {pct(len(above), len(rows)):>14} {field_acc:>9} | "
              f"{pct(len(docs), len(documents)):>12} {doc_acc:>11}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
