"""Reading and updating one row by primary key with SQL Django builds once per model (and field list).

`Model.objects.get(pk=...)` compiles its query every time: for the tracker's 17 columns that cost about 0.75 ms of
CPU of a 0.9 ms load, and `save(update_fields=...)` about 0.35 ms of 0.5. A download that finds nothing new loads
and updates its tracker once each and does little else, so on a worker running many of them (the fan-out of
bench/download.py) these two calls were a tenth of its CPU. Here Django builds the statement and the converters
(`from_db_value` of JSON and secret fields) once; each call only executes it.

For models whose primary key is a UUID (all of Siisurit's). No signals are sent (like `QuerySet.update`): no model
of Siisurit has receivers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, UUIDField

ModelT = TypeVar("ModelT", bound=Model)
#: Stands for the primary key while Django builds the statement; each call passes its own value.
_PLACEHOLDER = uuid.UUID(int=0)


@dataclass(frozen=True)
class _Select:
    sql: str
    attnames: list[str]
    #: (column index, converters, expression) for the columns Django converts after reading.
    converters: list[tuple[int, list[Callable[..., Any]], Any]]


@cache
def _select(model: type[Model], using: str) -> _Select:
    if not isinstance(model._meta.pk, UUIDField):
        raise TypeError(f"{model.__name__}: only models with a UUID primary key are supported")
    compiler = model._default_manager.filter(pk=_PLACEHOLDER).query.get_compiler(using)
    sql, params = compiler.as_sql()
    if len(params) != 1:  # the primary key alone: anything else would be passed wrongly
        raise ValueError(f"unexpected parameters {params!r} in the query by primary key of {model.__name__}")
    columns = [column for column, _, _ in compiler.select]
    attnames = [column.target.attname for column in columns]
    concrete = [field.attname for field in model._meta.concrete_fields]
    if attnames != concrete:
        raise ValueError(f"{model.__name__}: the query reads {attnames}, not the concrete fields {concrete}")
    converters = [
        (index, functions, expression) for index, (functions, expression) in compiler.get_converters(columns).items()
    ]
    return _Select(sql, attnames, converters)


def model_get_by_pk(model: type[ModelT], pk: Any, *, using: str = DEFAULT_DB_ALIAS) -> ModelT:
    """`model.objects.get(pk=pk)`: the instance with every concrete field loaded, or `model.DoesNotExist`."""
    return _row_by_pk(model, pk, using, None)[0]


def model_get_by_pk_with(
    model: type[ModelT], pk: Any, value_sql: str, *, using: str = DEFAULT_DB_ALIAS
) -> tuple[ModelT, Any]:
    """`model_get_by_pk` and the value of `value_sql`, read in the same statement: an SQL expression without
    parameters (a subquery may name the row's columns as `"<table>"."<column>"`), as psycopg loads it."""
    return _row_by_pk(model, pk, using, value_sql)


@cache
def _select_with(model: type[Model], using: str, value_sql: str) -> _Select:
    select = _select(model, using)
    if select.sql.count(" FROM ") != 1:
        raise ValueError(f"unexpected query by primary key of {model.__name__}: {select.sql}")
    return _Select(select.sql.replace(" FROM ", f", ({value_sql}) FROM ", 1), select.attnames, select.converters)


def _row_by_pk(model: type[ModelT], pk: Any, using: str, value_sql: str | None) -> tuple[ModelT, Any]:
    select = _select(model, using) if value_sql is None else _select_with(model, using, value_sql)
    connection = connections[using]
    pk_value = model._meta.pk.get_db_prep_value(pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(select.sql, [pk_value])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    values = list(row[: len(select.attnames)])
    for index, functions, expression in select.converters:
        for function in functions:
            values[index] = function(values[index], expression, connection)
    value = row[len(select.attnames)] if value_sql is not None else None
    return model.from_db(using, select.attnames, values), value


@cache
def _update_sql(model: type[Model], field_names: tuple[str, ...], using: str) -> str:
    quote = connections[using].ops.quote_name
    meta = model._meta
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in field_names)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"


def model_fields_update(instance: Model, field_names: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """`instance.save(update_fields=field_names)` as one UPDATE (values prepared as Django saves them, `auto_now`
    included); `DoesNotExist` if the row is gone."""
    connection = connections[using]
    meta = instance._meta
    fields = [meta.get_field(name) for name in field_names]
    values = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in fields]
    values.append(meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(type(instance), tuple(field_names), using), values)
        updated = cursor.rowcount
    if not updated:
        raise type(instance).DoesNotExist(f"{meta.object_name} {instance.pk} no longer exists.")
