"""Hot fixed reads compiled to SQL by the ORM once per connection instead of on every request.

Django turns a queryset into SQL each time it runs it. For the POS API's short reads (a terminal
by its public id, a store's credential, whether a terminal is busy) building that SQL cost the
portal more CPU than the database spent running it. `CompiledQuery` lets the ORM build the
statement once, with sentinel values standing where the arguments go, then runs that SQL with the
real arguments and converts the rows exactly as the ORM would (`apply_converters`). The queryset
is still written with the ORM, in one place: a change of the model or the filter changes the SQL.

On PostgreSQL a query marked `server_prepared` is also prepared on the server once per session
(its plan is made once): only outside a transaction, where a lost statement (`DISCARD ALL`, a
migration) can be answered with the plain SQL; inside one a failed EXECUTE would abort it. Not
behind pgbouncer in transaction mode (`DATABASE_PGBOUNCER`): a session's prepared statement may
live on another server connection there.

A query may also carry PostgreSQL planner settings (`planner={"enable_sort": "off"}`), set for
its one statement and reset right after: where the planner's estimates are known to be wrong for
it and a measurement says which plan is right (the report's grouped query, below in
`transactions.reporting.totals`).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import re
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connections
from django.db.models import Field, Model, QuerySet
from django.db.models.base import ModelState

_sentinels = itertools.count(1)
M = TypeVar("M", bound=Model)


def _sentinel(field: Field):
    """A value of `field`'s type that no real argument takes, distinct for every slot."""
    n = next(_sentinels)
    internal = field.get_internal_type()
    if internal == "UUIDField":
        return uuid.UUID(int=(0x5E7 << 64) + n)
    if internal == "DateTimeField":
        return datetime.datetime(1901, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=n)
    if internal == "DateField":
        return datetime.date(1001, 1, 1) + datetime.timedelta(days=n)
    if internal in ("CharField", "TextField"):
        return f"\x1esentinel-{n}\x1e"
    return -7_310_000_000_000 - n  # integers: ids


_SETTING = re.compile(r"[a-z_0-9.]+")


def _literal(value) -> str:
    """A constant of a queryset (code's, never a request's value) as an SQL literal, quoted by
    the driver (PREPARE is sent without parameters)."""
    from psycopg import sql  # noqa: PLC0415 (PostgreSQL only)

    return sql.Literal(value).as_string()


class Arg:
    """One argument of a compiled query: a value of `field`'s type, or `many` values of it (an
    `__in` filter; the statement is compiled once per list length)."""

    def __init__(self, field: Field, *, many: bool = False):
        self.field = field
        self.many = many


class CompiledQuery:
    """`build(**arguments)` (a `values_list` or `values` queryset) compiled once per connection
    and argument list lengths; `rows(**arguments)` runs it (tuples), `dicts(**arguments)` too
    (dicts keyed as `values()` keys them). `build` must use each argument as a filter value
    as it is (not computed into another value): the compiled statement is checked to hold each
    sentinel exactly once, otherwise it is refused when it is compiled."""

    def __init__(
        self,
        name: str,
        build: Callable[..., QuerySet],
        *,
        server_prepared: bool = False,
        planner: dict[str, str] | None = None,
        **args: Arg,
    ):
        self.name = name
        self.build = build
        self.args = args
        self.server_prepared = server_prepared
        self.planner = dict(planner or {})
        for setting, value in self.planner.items():
            # Written into SET statements: names and values of code, never of a request.
            if not (_SETTING.fullmatch(setting) and _SETTING.fullmatch(value)):
                raise ValueError(f"{name}: not a planner setting: {setting}={value}")
        self._local = threading.local()

    def rows(self, using: str = "default", **values) -> list[tuple]:
        lengths = tuple(len(values[n]) if a.many else 1 for n, a in self.args.items())
        return self._statement(using, lengths).run(values)

    def dicts(self, using: str = "default", **values) -> list[dict]:
        """The rows as `build`'s `values()` queryset would give them."""
        lengths = tuple(len(values[n]) if a.many else 1 for n, a in self.args.items())
        statement = self._statement(using, lengths)
        names = statement.names
        return [dict(zip(names, row, strict=True)) for row in statement.run(values)]

    def prepare(self, using: str = "default", **lengths: int) -> None:
        """Prepares the statement on the server now, outside the transaction that will run it
        (`lengths`: how many values each list argument will have). Inside a transaction `rows`
        runs the prepared statement only if it was prepared in this session: a statement that
        had to be prepared there could fail and abort the transaction."""
        connection = connections[using]
        if connection.in_atomic_block:
            return
        key = tuple(lengths[n] if a.many else 1 for n, a in self.args.items())
        statement = self._statement(using, key)
        # Already prepared in this session (every call after the first): nothing to send.
        if statement.prepared and not statement._is_prepared():
            statement.ensure_prepared(compiled_cursor(connection))

    def _statement(self, using: str, lengths: tuple[int, ...]) -> _Statement:
        connection = connections[using]
        statements = statements_of(self._local, connection)
        statement = statements.get(lengths)
        if statement is None:
            statement = statements[lengths] = _Statement(self, connection, lengths)
        return statement

    def instances(self, model: type[Model], using: str = "default", **values) -> list:
        """The rows as `model` instances: `build` must select `model`'s concrete columns,
        `concrete_columns(model)`, in that order."""
        names = concrete_columns(model)
        return [instance_from_row(model, using, names, row) for row in self.rows(using, **values)]


def instance_from_row(model: type[M], using: str, names: list[str], values) -> M:
    """What `model.from_db(using, names, values)` builds, without `Model.__init__`: that walks
    every field of the model (about seventy for an intent, most of them deferred here) and was
    most of the cost of loading a row read by a compiled query. The instance is the same: its
    loaded columns in `__dict__`, the others deferred (absent, read on access), and its state
    "from the database". No `pre_init`/`post_init` signal is sent; nothing in the portal
    listens to them (a model that needs them must be loaded with `from_db`)."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding = False
    state.db = using
    return instance


_cursors = threading.local()


def compiled_cursor(connection):
    """A cursor for compiled statements: Django's wrapper (error translation, query logging
    when it is on) around one driver cursor per thread and session, kept instead of a new one
    per statement. psycopg caches the type adapters it looks up per cursor: on a new cursor
    every parameter's adapter was looked up again, a cost that grows with the columns of an
    insert. Not to be closed (no `with`); it ends with its session."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    session = connection.connection
    kept = getattr(_cursors, connection.alias, None)
    if kept is None or kept[0] is not session or getattr(kept[1], "closed", False):
        with connection.wrap_database_errors:
            kept = (session, connection.create_cursor())
        setattr(_cursors, connection.alias, kept)
    return connection._prepare_cursor(kept[1])


def statements_of(local: threading.local, connection) -> dict:
    """This thread's compiled statements for `connection`, kept in `local` (a connection is a
    thread's own); a new, empty set when the thread's connection is another one."""
    cache = getattr(local, "statements", None)
    if cache is None or cache[0] is not connection:
        cache = local.statements = (connection, {})
    return cache[1]


def concrete_columns(model: type[Model]) -> list[str]:
    """Every column of `model`, in the order `Model.from_db` expects."""
    return [f.attname for f in model._meta.concrete_fields]


def _slot(prepped: dict, param) -> tuple:
    try:
        return prepped.get(param, (None, param))
    except TypeError:  # unhashable (a JSON value): no sentinel is
        return (None, param)


class _Statement:
    """A `CompiledQuery` compiled for one connection and one set of list lengths."""

    def __init__(self, query: CompiledQuery, connection, lengths: tuple):
        self.connection = connection
        sentinels: dict[str, object] = {}
        prepped: dict[object, tuple[str, int]] = {}  # prepped sentinel -> (argument, index)
        for (name, arg), length in zip(query.args.items(), lengths, strict=True):
            values = [_sentinel(arg.field) for _ in range(length)]
            sentinels[name] = values if arg.many else values[0]
            for index, value in enumerate(values):
                prepped[self._prep(arg.field, value)] = (name, index)
        queryset = query.build(**sentinels).using(connection.alias)
        self.compiler = queryset.query.get_compiler(connection=connection)
        query_ = queryset.query
        # The keys `values()` gives each column (as `ValuesIterable` names them).
        self.names = (
            list(query_.selected)
            if query_.selected
            else [*query_.extra_select, *query_.values_select, *query_.annotation_select]
        )
        self.sql, params = self.compiler.as_sql()
        # Where each argument goes (a parameter that is no sentinel is a constant of the
        # queryset, e.g. a state): every sentinel must be a parameter, once.
        self.slots: list[tuple[str, int] | tuple[None, object]] = [
            _slot(prepped, p) for p in params
        ]
        placed = [slot for slot in self.slots if slot[0] is not None]
        if len(placed) != len(set(placed)) or len(placed) != sum(lengths):
            raise RuntimeError(f"{query.name}: its arguments are not each one parameter once")
        self.fields = {name: arg.field for name, arg in query.args.items()}
        self.many = {name for name, arg in query.args.items() if arg.many}
        fields = [selected[0] for selected in self.compiler.select[: self.compiler.col_count]]
        self.converters = self.compiler.get_converters(fields)
        self.prepared = (
            query.server_prepared
            and connection.vendor == "postgresql"
            and not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
        )
        parts = self.sql.split("%s")
        if len(parts) != len(params) + 1:  # a literal "%s" in the SQL: leave it plain
            self.prepared = False
        # The queryset's constants (a state list, a flag) are written into the prepared
        # statement, only the arguments are its parameters: PostgreSQL plans a prepared
        # statement once for any parameters (its generic plan), and a plan that cannot see the
        # constants cannot use a partial index whose condition names them. The busy check then
        # read every offer the terminal ever had instead of the few live intents.
        body = parts[0].replace("%%", "%")
        arguments = 0
        for slot, part in zip(self.slots, parts[1:], strict=False):
            if slot[0] is not None:
                arguments += 1
                body += f"${arguments}"
            elif self.prepared:
                body += _literal(slot[1])
            body += part.replace("%%", "%")
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        self.statement_name = f"ecr_{query.name}_{digest}"
        self.prepare_sql = f"PREPARE {self.statement_name} AS {body}"
        placeholders = ", ".join(["%s"] * arguments)
        self.execute_sql = f"EXECUTE {self.statement_name}" + (
            f"({placeholders})" if arguments else ""
        )
        self._prepared_on: weakref.ref | None = None  # the session (driver connection)
        self._stale = False
        planner = query.planner if connection.vendor == "postgresql" else {}
        # One round trip each way: several statements without parameters (simple protocol).
        self.set_sql = "; ".join(f"SET {name} = {value}" for name, value in planner.items())
        self.reset_sql = "; ".join(f"RESET {name}" for name in planner)

    def _prep(self, field: Field, value):
        return field.get_db_prep_value(value, self.connection)

    def run(self, values: dict) -> list[tuple]:
        params, arguments = [], []
        for name, index in self.slots:
            if name is None:
                params.append(index)  # a constant of the queryset
                continue
            value = values[name][index] if name in self.many else values[name]
            params.append(self.fields[name].get_db_prep_value(value, self.connection))
            arguments.append(params[-1])
        cursor = compiled_cursor(self.connection)
        with self._planner_settings(cursor):
            if self.prepared and not self.connection.in_atomic_block:
                fetched = self._run_prepared(cursor, params, arguments)
            elif self.prepared and self._is_prepared():
                # Prepared before this transaction (`CompiledQuery.prepare`). Should it fail
                # anyway (a column's type changed under a running process), the transaction
                # fails like on any database error, and the next preparation starts afresh.
                try:
                    cursor.execute(self.execute_sql, arguments)
                except DatabaseError as exc:
                    self._forget(exc)
                    raise
                fetched = cursor.fetchall()
            else:
                cursor.execute(self.sql, params)
                fetched = cursor.fetchall()
        if not self.converters:
            return [tuple(row) for row in fetched]
        return [tuple(row) for row in self.compiler.apply_converters(fetched, self.converters)]

    @contextlib.contextmanager
    def _planner_settings(self, cursor):
        """The query's planner settings for the statement run inside, then the session's own
        again (`RESET`: the portal sets none of them otherwise)."""
        if not self.set_sql:
            yield
            return
        cursor.execute(self.set_sql)
        try:
            yield
        except BaseException:
            # In a transaction the failed statement aborted it, and its rollback (or the
            # savepoint's) undoes the SET; outside one, reset unless the connection is gone.
            if not self.connection.in_atomic_block:
                with contextlib.suppress(DatabaseError):
                    cursor.execute(self.reset_sql)
            raise
        cursor.execute(self.reset_sql)

    def _is_prepared(self) -> bool:
        return self._prepared_on is not None and self._prepared_on() is self.connection.connection

    def _forget(self, exc: DatabaseError) -> None:
        self._prepared_on = None
        # Unless the session lost it (26000: no such statement), it still holds it under its
        # name and PREPARE would find that one again: drop it first.
        self._stale = getattr(exc.__cause__, "sqlstate", None) != "26000"

    def ensure_prepared(self, cursor) -> None:
        """PREPAREs the statement in this session unless it is already (outside a transaction:
        the caller's)."""
        if self._is_prepared():
            return
        if self._stale:
            self._stale = False
            with contextlib.suppress(DatabaseError):  # not held after all
                cursor.execute(f"DEALLOCATE {self.statement_name}")
        try:
            cursor.execute(self.prepare_sql)
        except DatabaseError as exc:
            # Prepared already in this session (its name is the statement's hash): use it.
            if getattr(exc.__cause__, "sqlstate", None) != "42P05":
                raise
        self._prepared_on = weakref.ref(self.connection.connection)

    def _run_prepared(self, cursor, params: list, arguments: list) -> list:
        try:
            self.ensure_prepared(cursor)
            cursor.execute(self.execute_sql, arguments)
            return cursor.fetchall()
        except DatabaseError as exc:
            # The session lost it (a `DISCARD ALL`) or it no longer fits the table after a
            # migration: answer with the plain statement, prepare again next time. A dead
            # connection fails the plain statement too, and that error is the caller's.
            self._forget(exc)
            cursor.execute(self.sql, params)
            return cursor.fetchall()
