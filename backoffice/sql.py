"""Plain SQL helpers for the few hot statements written by hand."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.db import NotSupportedError, connection, models
from django.db.backends.utils import CursorWrapper
from django.db.models.expressions import Col

M = TypeVar("M", bound=models.Model)


def column_list(model: type[models.Model], alias: str = "") -> str:
    """The model's columns, named one by one.

    Hand-written statements name their columns instead of `*`, so what they return is what the
    model expects even while a migration that adds a column is being rolled out (and a prepared
    `SELECT *` would fail with "cached plan must not change result type" after one).
    """
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in model._meta.concrete_fields)


def execute_prepared(cursor: CursorWrapper, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> None:
    """Run `sql` on Django's `cursor` as a prepared statement of the connection, where it can be.

    For the few statements every request runs (the session and its user, the claim, the task
    reads behind every action on a task): PostgreSQL then parses and plans each of them once per
    connection instead of on every call (measured with pgbench: the session's join costs about 3.5
    times as much planned each time; the task read with its grant, 25 times). Only statements
    with one sensible plan whatever their parameters belong here, as the generic plan is kept:
    lookups by primary or unique key, and calls of PL/pgSQL functions (which keep their own plans).
    The settings leave psycopg's automatic preparation off (a prepare_threshold never reached), so nothing
    else is prepared. With client-side binding (DB_SERVER_SIDE_BINDING=0) or on SQLite, this is a
    plain execute. Django's wrappers still see the query: it is logged and counted as any other.
    """
    driver_cursor = cursor.cursor
    if connection.vendor != "postgresql" or not _can_prepare(driver_cursor):
        cursor.execute(sql, params)
        return
    cursor.cursor = _PreparingCursor(driver_cursor)
    try:
        try:
            cursor.execute(sql, params)
        except NotSupportedError as error:
            # A migration changed what the statement returns (a column's type, a function's
            # result) after this connection prepared it: forget this connection's prepared
            # statements and run it again. Inside a transaction, the error stands; its rollback
            # makes psycopg forget them too.
            if "cached plan must not change result type" not in str(error) or connection.in_atomic_block:
                raise
            driver_cursor.execute("DEALLOCATE ALL")
            cursor.execute(sql, params)
    finally:
        cursor.cursor = driver_cursor


def _can_prepare(driver_cursor) -> bool:
    import psycopg

    return not isinstance(driver_cursor, psycopg.ClientCursor) and (
        driver_cursor.connection.prepare_threshold is not None
    )


class _PreparingCursor:
    """The driver's cursor, whose execute() asks psycopg to prepare the statement."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql, params=None):
        return self._cursor.execute(sql, params, prepare=True)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def fetch_instance(
    model: type[M],
    sql: str,
    params: Sequence[Any] | Mapping[str, Any],
    *,
    extra: Sequence[str] = (),
    prepare: bool = False,
) -> M | None:
    """The first row of `sql` as a model instance, or None.

    `sql` selects `column_list(model)`, in that order, then one column per name in `extra`, which
    become attributes of the instance. This is what `Model.objects.raw()` does for a hot lookup,
    without mapping the cursor's columns to fields on every call (measured: about a tenth of a
    millisecond of CPU per query, twice on every request for the session and the user). With
    `prepare`, the statement runs through execute_prepared.
    """
    with connection.cursor() as cursor:
        if prepare:
            execute_prepared(cursor, sql, params)
        else:
            cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(model._meta.concrete_fields)
    instance = instance_from_row(model, row[:width])
    for name, value in zip(extra, row[width:], strict=True):
        setattr(instance, name, value)
    return instance


def instance_from_row(model: type[M], row: Sequence[Any]) -> M:
    """A model instance from a row of `column_list(model)`, converted as the ORM converts it."""
    fields = model._meta.concrete_fields
    values = list(row)
    for index, column, converters in _converters(model, connection.vendor):
        for converter in converters:
            values[index] = converter(values[index], column, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values)


@functools.cache
def _converters(model: type[models.Model], vendor: str) -> list[tuple[int, Col, list]]:
    """Per column that needs one, the converters Django's compiler would apply to it (JSON, ...)."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


class JoinedRead:
    """A model read with the related objects along `paths` (forward foreign keys, as
    select_related names them), from one hand-written SELECT.

    For the reads behind every action on a review task: compiling the ORM's eight-table join
    costs the web worker about a millisecond of CPU on each call; this builds the column list and
    the joins once. It follows many-to-one keys to a primary key, between models without
    multi-table inheritance, and refuses others. Nullable keys, and everything joined through
    them, are LEFT JOINs. `select` is the statement's start, where the root table is `t0`: add a
    WHERE and pass it to `fetch`, which returns the root instance with each related object cached
    on its parent, as select_related leaves them (None for an empty nullable key).
    """

    def __init__(self, model: type[models.Model], *paths: str):
        self.model = model
        aliases = {"": "t0"}
        outer_keys: set[str] = set()
        joins: list[str] = []
        self._steps: list[tuple[str, str, models.ForeignKey]] = []
        for path in paths:
            parent_key, parent_model = "", model
            for name in path.split("__"):
                key = f"{parent_key}__{name}" if parent_key else name
                field = parent_model._meta.get_field(name)
                if not isinstance(field, models.ForeignKey) or field.one_to_one:
                    raise ValueError(f"{parent_model.__name__}.{name} is not a many-to-one foreign key")
                related = field.related_model
                if field.target_field != related._meta.pk or related._meta.parents:
                    raise ValueError(
                        f"{parent_model.__name__}.{name}: only keys to the primary key of a model "
                        "without multi-table inheritance are followed"
                    )
                if key not in aliases:
                    aliases[key] = f"t{len(aliases)}"
                    outer = field.null or parent_key in outer_keys
                    if outer:
                        outer_keys.add(key)
                    joins.append(
                        f"{'LEFT JOIN' if outer else 'JOIN'} {related._meta.db_table} {aliases[key]} "
                        f"ON {aliases[key]}.{related._meta.pk.column} = {aliases[parent_key]}.{field.column}"
                    )
                    self._steps.append((key, parent_key, field))
                parent_key, parent_model = key, related
        columns = [column_list(model, "t0")]
        columns += [column_list(field.related_model, aliases[key]) for key, _, field in self._steps]
        tables = " ".join([f"{model._meta.db_table} t0", *joins])
        self.select = f"SELECT {', '.join(columns)} FROM {tables}"

    def fetch(self, sql: str, params: Sequence[Any]) -> models.Model | None:
        """The first row of `sql` (which starts with `select`), loaded; run as a prepared
        statement, so `sql` must have one sensible plan whatever its parameters."""
        with connection.cursor() as cursor:
            execute_prepared(cursor, sql, params)
            row = cursor.fetchone()
        return None if row is None else self.load(row)

    def load(self, row: Sequence[Any]) -> models.Model:
        width = len(self.model._meta.concrete_fields)
        loaded = {"": instance_from_row(self.model, row[:width])}
        offset = width
        for key, parent_key, field in self._steps:
            related = field.related_model
            width = len(related._meta.concrete_fields)
            part = row[offset : offset + width]
            offset += width
            pk_index = related._meta.concrete_fields.index(related._meta.pk)
            instance = None if part[pk_index] is None else instance_from_row(related, part)
            loaded[key] = instance
            if loaded[parent_key] is not None:
                field.set_cached_value(loaded[parent_key], instance)
        return loaded[""]


def is_stored_key(pk: int) -> bool:
    """Whether `pk` can be a row's id (a bigint, as the ORM's lookups check before they query).
    The URL converter takes any number of digits: past 2**63 SQLite refuses the parameter (a 500),
    and PostgreSQL compares it as a numeric, which the primary key's index cannot serve."""
    low, high = connection.ops.integer_field_range("BigAutoField")
    return low <= pk <= high


def insert_instance(instance: models.Model) -> None:
    """INSERT a new instance with one hand-written statement and set its primary key.

    What `instance.save()` stores for a new row (defaults, `auto_now_add`, each field's database
    value), without compiling the INSERT on every call (about a millisecond of CPU for a wide row,
    measured in the agents worker with py-spy). No signals are sent: none is connected for the
    models this serves.
    """
    model = type(instance)
    if not instance._state.adding or instance.pk is not None:
        raise ValueError(
            f"insert_instance stores new rows only, with a primary key the database assigns: {instance!r}"
        )
    fields, sql = _insert_statement(model, connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.cache
def _insert_statement(model: type[models.Model], vendor: str) -> tuple[list[models.Field], str]:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(model._meta.pk.column)}"
    )
    return fields, sql
