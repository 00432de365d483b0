"""Plain SQL helpers for the few hot statements written by hand."""

from __future__ import annotations

from django.db import models


def column_list(model: type[models.Model], alias: str = "") -> str:
    """The model's columns, named one by one.

    Hand-written statements name their columns instead of `*`, so what they return is what the
    model expects even while a migration that adds a column is being rolled out (and a prepared
    `SELECT *` would fail with "cached plan must not change result type" after one).
    """
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in model._meta.concrete_fields)
