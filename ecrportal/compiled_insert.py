"""INSERTs of the hottest rows compiled to SQL by the ORM once per connection (`CompiledQuery` does
the same for reads).

`Model.save()` builds its INSERT anew every time: for an intent (about seventy columns) that cost
the portal more CPU than PostgreSQL spent running it, and every state change writes an event
row the same way. `CompiledInsert(Model).save(obj)` lets the ORM compile the statement for the
first instance, then runs that SQL with each instance's values, prepared exactly as the ORM
prepares them (`pre_save`, so `auto_now` columns are filled, then `get_db_prep_save`), and sets
the new primary key on the instance like `save()` does.

Like the ORM's `QuerySet.bulk_create`, it sends no `pre_save`/`post_save` signal: use it only
for models nothing listens to (the portal's receivers are on webhook endpoints). A model with its
own `save()`, and an instance with an expression as a value (`F()`, a function), whose SQL
depends on it, are saved by `save()`.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from django.db import connections, transaction
from django.db.models import Model
from django.db.models.sql import InsertQuery

from ecrportal.compiled_query import compiled_cursor, statements_of

M = TypeVar("M", bound=Model)


class CompiledInsert(Generic[M]):
    """The INSERT of one `model` instance, compiled once per connection (per thread)."""

    def __init__(self, model: type[M]):
        self.model = model
        opts = model._meta
        # What `Model.save()` inserts for a new row with an automatic primary key.
        self.fields = [
            f
            for f in opts.local_concrete_fields
            if f is not opts.auto_field and not getattr(f, "generated", False)
        ]
        self.own_save = model.save is not Model.save
        self._local = threading.local()

    def save(self, instance: M, using: str = "default") -> M:
        """Inserts `instance` as `instance.save()` would (a new row) and returns it."""
        assert isinstance(instance, self.model) and instance._state.adding
        if self.own_save:
            instance.save(force_insert=True, using=using)
            return instance
        # What the ORM inserts (`pre_save` fills `auto_now` columns): an expression among them
        # changes the SQL, so that instance is saved by `save()`.
        values = [f.pre_save(instance, True) for f in self.fields]
        if any(hasattr(v, "resolve_expression") for v in values):
            instance.save(force_insert=True, using=using)
            return instance
        connection = connections[using]
        statements = statements_of(self._local, connection)
        statement = statements.get(None)
        if statement is None:
            statement = statements[None] = _Statement(self, connection, instance)
            # Compiling ran `pre_save` again (a new `auto_now`): insert what the instance holds.
            values = [f.pre_save(instance, True) for f in self.fields]
        if statement.sql is None:
            instance.save(force_insert=True, using=using)
            return instance
        params = [
            statement.compiler.prepare_value(f, v) for f, v in zip(self.fields, values, strict=True)
        ]
        ops: Any = connection.ops  # (`fetch_returned_insert_columns` is not in the stubs)
        # As `save()` does: an error marks an enclosing atomic block for rollback.
        with transaction.mark_for_rollback_on_error(using=using):
            cursor = compiled_cursor(connection)
            cursor.execute(statement.sql, params)
            if statement.returning:
                (pk,) = ops.fetch_returned_insert_columns(
                    cursor, statement.compiler.returning_params
                )
            else:
                pk = ops.last_insert_id(
                    cursor, self.model._meta.db_table, self.model._meta.pk.column
                )
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using
        return instance


class _Statement:
    """The INSERT compiled for one connection, from its first instance's values."""

    def __init__(self, insert: CompiledInsert, connection, instance: Model):
        self.connection = connection
        query = InsertQuery(insert.model)
        query.insert_values(insert.fields, [instance])
        self.compiler = query.get_compiler(connection=connection)
        self.returning = bool(connection.features.can_return_columns_from_insert)
        if self.returning:
            self.compiler.returning_fields = [insert.model._meta.pk]
        statements = self.compiler.as_sql()
        self.sql: str | None = None
        # One statement with one plain placeholder per column: what the cached SQL must be to
        # take any instance's values (a column type with a placeholder of its own would not).
        if (
            len(statements) == 1
            and len(statements[0][1]) == len(insert.fields)
            and statements[0][0].count("%s") == len(insert.fields)
        ):
            self.sql = statements[0][0]
