"""Plain SQL helpers for the few hot statements written by hand."""

from __future__ import annotations

from django.db import models


def column_list(model: type[models.Model], alias: str = "") -> str:
    """The model's columns, named one by one.

    Hand-written statements name their columns instead of `*`: psycopg prepares statements that
    run often, and a prepared `SELECT *` fails ("cached plan must not change result type") once a
    migration adds a column, until the connection is replaced.
    """
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in model._meta.concrete_fields)
