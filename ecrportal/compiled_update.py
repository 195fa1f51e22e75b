"""Guarded UPDATEs of the hottest rows compiled to SQL by the ORM once per connection and per set
of columns (`CompiledInsert` does the same for inserts, `CompiledQuery` for reads).

`QuerySet.filter(...).update(...)` builds its statement anew each time. Every state change of an
intent runs one (`UPDATE ... WHERE id = %s AND state = %s`, the guard of `transitions`), and every
POS request updates its idempotency key twice. `CompiledUpdate(Model, where=("pk", "state"))`
lets the ORM compile the statement for the first call with a given list of columns, then runs
that SQL with each call's values, prepared as `update()` prepares them (a related object gives
its key; no `auto_now`, as with `update()`), and answers the number of rows it changed.

A call whose values include an expression (`F()`, a function) runs `update()` itself.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from django.db import connections, transaction
from django.db.models import Field, Model
from django.db.models.expressions import Expression
from django.db.models.sql import UpdateQuery

from ecrportal.compiled_query import _sentinel, compiled_cursor, statements_of


class CompiledUpdate:
    """`model.filter(**where).update(**values)` with the equality filters named in `where`."""

    def __init__(self, model: type[Model], *, where: tuple[str, ...]):
        self.model = model
        self.where = where
        self._local = threading.local()

    def update(self, *, where: dict[str, Any], values: dict[str, Any], using="default") -> int:
        """Runs the UPDATE; returns how many rows it changed (as `update()` does)."""
        assert tuple(where) == self.where, f"filters {tuple(where)} are not {self.where}"
        if any(hasattr(v, "resolve_expression") for v in values.values()):
            return self._orm_update(where, values, using)
        connection = connections[using]
        statement = self._statement(connection, tuple(values))
        if statement.sql is None:
            return self._orm_update(where, values, using)
        params = statement.params(values, where)
        with transaction.mark_for_rollback_on_error(using=using):
            cursor = compiled_cursor(connection)
            cursor.execute(statement.sql, params)
            return cursor.rowcount

    def _orm_update(self, where, values, using) -> int:
        return self.model._base_manager.using(using).filter(**where).update(**values)

    def _statement(self, connection, columns: tuple[str, ...]) -> _Statement:
        statements = statements_of(self._local, connection)
        statement = statements.get(columns)
        if statement is None:
            statement = statements[columns] = _Statement(self, connection, columns)
        return statement


class _Slot(Expression):
    """Where a column's value goes: compiled to one placeholder."""

    def as_sql(self, compiler, connection):
        return "%s", [None]


class _Statement:
    """The UPDATE compiled for one connection and one list of columns."""

    def __init__(self, update: CompiledUpdate, connection, columns: tuple[str, ...]):
        self.connection = connection
        meta = update.model._meta
        self.where_fields: dict[str, Field] = {
            name: cast(Field, meta.pk if name == "pk" else meta.get_field(name))
            for name in update.where
        }
        # The filters get values no real argument takes, to find where each one lands.
        sentinels = {name: _sentinel(field) for name, field in self.where_fields.items()}
        query: Any = (
            update.model._base_manager.using(connection.alias)
            .filter(**sentinels)
            .query.chain(UpdateQuery)
        )
        # A placeholder per column, whatever the value: a None compiled as a value would be a
        # literal `= NULL` in the SQL, so each column gets a slot of its own.
        query.add_update_values({name: _Slot() for name in columns})
        self.fields = [field for field, _, _ in query.values]
        self.sql: str | None = None
        if query.related_updates:  # a parent model's columns: a second statement
            return
        sql, params = query.get_compiler(connection=connection).as_sql()
        set_sql, _, where_sql = sql.partition(" WHERE ")
        where_params = params[len(columns) :]
        prepped = [self._prep_where(name, value) for name, value in sentinels.items()]
        # Which filter each WHERE parameter is (a parameter no filter gave is a constant).
        order = [prepped.index(p) for p in where_params if p in prepped]
        # One placeholder per column in SET, then each filter's value once, in some order.
        if (
            set_sql.count("%s") == len(columns)
            and where_sql.count("%s") == len(where_params)
            and len(order) == len(where_params)
            and sorted(order) == list(range(len(prepped)))
        ):
            self.sql = sql
            names = list(sentinels)
            self.where_order = [names[i] for i in order]

    def _prep_where(self, name: str, value):
        return self.where_fields[name].get_db_prep_value(value, self.connection)

    def params(self, values: dict[str, Any], where: dict[str, Any]) -> list:
        params = []
        for field, value in zip(self.fields, values.values(), strict=True):
            if hasattr(value, "prepare_database_save"):  # a related object: its key
                params.append(value.prepare_database_save(field))
            else:
                params.append(field.get_db_prep_save(value, connection=self.connection))
        params.extend(self._prep_where(name, where[name]) for name in self.where_order)
        return params
