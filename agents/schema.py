"""A process's output schema: stored as JSON on the process, used as FieldSpecs everywhere else."""

from __future__ import annotations

from agents.providers.base import FieldSpec


def fields_from_json(raw: list[dict]) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(
            name=item["name"],
            type=item.get("type", "string"),
            required=item.get("required", True),
            choices=tuple(item.get("choices", ())),
            label=item.get("label", ""),
            rules=dict(item.get("rules", {})),
        )
        for item in raw
    )
