"""`CompiledQuery`: the ORM's statement built once, run with each call's arguments, answering what
the ORM answers (converted values included); refused when an argument does not reach the SQL as
it is; on PostgreSQL prepared once per session and still answering after losing it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns, instance_from_row
from stores.models import Credential, Terminal
from stores.selectors import credential_for_store
from tests import factories
from transactions.models import Intent
from transactions.selectors import terminals_busy

pytestmark = pytest.mark.django_db

BY_STORE_AND_IDS = CompiledQuery(
    "test_terminals",
    lambda store_id, public_ids: (
        Terminal.objects.filter(store_id=store_id, public_id__in=public_ids)
        .order_by("pk")
        .values_list(*concrete_columns(Terminal))
    ),
    store_id=Arg(Terminal._meta.get_field("store")),
    public_ids=Arg(Terminal._meta.get_field("public_id"), many=True),
)


def test_answers_what_the_orm_answers_for_each_call(store_a, store_b):
    mine = [factories.make_terminal(store_a) for _ in range(3)]
    other = factories.make_terminal(store_b)
    for ids in ([mine[0].public_id], [t.public_id for t in mine], [other.public_id]):
        expected = list(
            Terminal.objects.filter(store=store_a, public_id__in=ids)
            .order_by("pk")
            .values_list(*concrete_columns(Terminal))
        )
        assert BY_STORE_AND_IDS.rows(store_id=store_a.pk, public_ids=ids) == expected
    found = BY_STORE_AND_IDS.instances(
        Terminal, store_id=store_a.pk, public_ids=[mine[1].public_id]
    )
    assert [(t.pk, t.terminal_id, t.store_id) for t in found] == [
        (mine[1].pk, mine[1].terminal_id, store_a.pk)
    ]


def test_compiled_once_per_connection_and_list_length(store_a):
    terminals = [factories.make_terminal(store_a) for _ in range(2)]
    query = CompiledQuery(
        "test_once",
        lambda ids: Terminal.objects.filter(public_id__in=ids).values_list("pk"),
        ids=Arg(Terminal._meta.get_field("public_id"), many=True),
    )
    calls = []
    build = query.build
    query.build = lambda **kw: calls.append(kw) or build(**kw)
    for _ in range(3):
        query.rows(ids=[terminals[0].public_id])
        query.rows(ids=[terminals[1].public_id])
    query.rows(ids=[t.public_id for t in terminals])
    assert len(calls) == 2  # one per list length


def test_a_grouped_values_query_answers_the_orms_dicts_for_each_day(store_a, store_b):
    from django.db.models import Count, Sum

    days = [timezone.localdate() - timedelta(days=k) for k in range(2)]
    for day, store, amount in ((days[0], store_a, "10.00"), (days[0], store_a, "5.50")) + (
        (days[1], store_a, "7.25"),
        (days[0], store_b, "99.00"),
    ):
        factories.make_intent(store, state="approved", amount=amount, business_day=day)

    def build(store_ids, day):
        return (
            Intent.objects.filter(store_id__in=store_ids, business_day=day)
            .values("store_id", "kind")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by("store_id")
        )

    query = CompiledQuery(
        "test_grouped",
        build,
        store_ids=Arg(Intent._meta.get_field("store"), many=True),
        day=Arg(Intent._meta.get_field("business_day")),
    )
    for store_ids in ([store_a.pk], [store_a.pk, store_b.pk]):
        for day in days:
            expected = list(build(store_ids, day))
            assert expected  # every combination has rows
            assert query.dicts(store_ids=store_ids, day=day) == expected


def test_the_credential_is_read_as_the_orm_reads_it(store_a, credential):
    found = credential_for_store(store=store_a)
    assert found is not None and found.pk == credential.pk
    assert found.get_secret() == Credential.objects.get(pk=credential.pk).get_secret()
    Credential.objects.filter(pk=credential.pk).update(retired_at=timezone.now())
    assert credential_for_store(store=store_a) is None


def test_the_busy_rule_keeps_its_constants_and_its_clock(store_a, terminal_a):
    intent = factories.make_intent(store_a, terminal=None, state="in_doubt")
    intent.offered_terminals.set([terminal_a])
    assert terminals_busy(terminals=[terminal_a]) == [terminal_a]
    # An in-doubt create past the fast search window stops holding the terminal.
    Intent.objects.filter(pk=intent.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert terminals_busy(terminals=[terminal_a]) == []
    Intent.objects.filter(pk=intent.pk).update(state="pending")
    assert terminals_busy(terminals=[terminal_a]) == [terminal_a]


def test_an_argument_computed_into_another_value_is_refused(store_a):
    query = CompiledQuery(
        "test_refused",
        lambda store_id: Terminal.objects.filter(store_id=store_id + 1).values_list("pk"),
        store_id=Arg(Terminal._meta.get_field("store")),
    )
    with pytest.raises(RuntimeError, match="test_refused"):
        query.rows(store_id=store_a.pk)


PREPARED = CompiledQuery(
    "test_prepared",
    lambda store_id, public_ids: (
        Terminal.objects.filter(store_id=store_id, public_id__in=public_ids)
        .order_by()
        .values_list("pk", "terminal_id")
    ),
    server_prepared=True,
    store_id=Arg(Terminal._meta.get_field("store")),
    public_ids=Arg(Terminal._meta.get_field("public_id"), many=True),
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_prepared_once_per_session_and_answers_after_losing_it(store_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    terminal = factories.make_terminal(store_a)
    expected = [(terminal.pk, terminal.terminal_id)]
    connection.close()  # a new session: nothing prepared in it yet

    def read():
        with CaptureQueriesContext(connection) as ctx:
            rows = PREPARED.rows(store_id=store_a.pk, public_ids=[terminal.public_id])
        return rows, [q["sql"].split(" ", 1)[0].upper() for q in ctx.captured_queries]

    assert read() == (expected, ["PREPARE", "EXECUTE"])
    assert read() == (expected, ["EXECUTE"])
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as after `DISCARD ALL`
    rows, statements = read()
    assert rows == expected and statements[-1] == "SELECT"
    assert read() == (expected, ["PREPARE", "EXECUTE"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_only_a_statement_prepared_before_it_runs_prepared(store_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    from django.db import DatabaseError, transaction

    terminal = factories.make_terminal(store_a)
    expected = [(terminal.pk, terminal.terminal_id)]
    connection.close()

    def read_in_transaction():
        with CaptureQueriesContext(connection) as ctx, transaction.atomic():
            rows = PREPARED.rows(store_id=store_a.pk, public_ids=[terminal.public_id])
        verbs = [q["sql"].split(" ", 1)[0].upper() for q in ctx.captured_queries]
        return rows, [v for v in verbs if v not in ("BEGIN", "COMMIT")]

    # Not prepared in this session: the plain statement (a PREPARE could fail and abort it).
    assert read_in_transaction() == (expected, ["SELECT"])
    PREPARED.prepare(public_ids=1)
    assert read_in_transaction() == (expected, ["EXECUTE"])
    PREPARED.prepare(public_ids=1)  # already: nothing to do
    # Lost under the running process: that transaction fails like on any database error...
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic():
        PREPARED.rows(store_id=store_a.pk, public_ids=[terminal.public_id])
    # ... and the next one is plain until the statement is prepared again.
    assert read_in_transaction() == (expected, ["SELECT"])
    PREPARED.prepare(public_ids=1)
    assert read_in_transaction() == (expected, ["EXECUTE"])


def _settings_query(name: str, *, fail: bool = False, prepared: bool = False) -> CompiledQuery:
    """A query that answers the planner settings in effect while it runs (or fails then)."""
    from django.db.models.expressions import RawSQL

    expression = "1 / (0 * %s)" if fail else "current_setting('enable_sort')"
    params = [1] if fail else []
    return CompiledQuery(
        name,
        lambda terminal: (
            Terminal.objects.filter(pk=terminal)
            .annotate(
                sort=RawSQL(expression, params),
                workers=RawSQL("current_setting('max_parallel_workers_per_gather')", []),
            )
            .values_list("sort", "workers")
        ),
        server_prepared=prepared,
        planner={"enable_sort": "off", "max_parallel_workers_per_gather": "0"},
        terminal=Arg(Terminal._meta.get_field("id")),
    )


def _session_settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_sort'), "
            "current_setting('max_parallel_workers_per_gather')"
        )
        return cursor.fetchone()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_planner_settings_hold_for_their_statement_and_are_reset_after_it(store_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    from django.db import DatabaseError, transaction

    terminal = factories.make_terminal(store_a)
    session = _session_settings()
    assert session != ("off", "0")
    for prepared in (False, True):
        query = _settings_query(f"test_planner_{int(prepared)}", prepared=prepared)
        for _ in range(2):  # prepared: PREPARE + EXECUTE, then EXECUTE alone
            assert query.rows(terminal=terminal.pk) == [("off", "0")]
            assert _session_settings() == session
        with transaction.atomic():
            assert query.rows(terminal=terminal.pk) == [("off", "0")]
            assert _session_settings() == session  # not left for the rest of the transaction
    failing = _settings_query("test_planner_fails", fail=True)
    with pytest.raises(DatabaseError):
        failing.rows(terminal=terminal.pk)
    assert _session_settings() == session
    with pytest.raises(DatabaseError), transaction.atomic():
        failing.rows(terminal=terminal.pk)
    assert _session_settings() == session  # the rollback undid the SET


def test_planner_settings_are_names_and_values_of_code():
    for bad in ({"enable_sort": "off; DROP TABLE x"}, {"enable sort": "off"}):
        with pytest.raises(ValueError, match="not a planner setting"):
            CompiledQuery("test_bad", lambda: Terminal.objects.values_list("pk"), planner=bad)


def test_planner_settings_are_left_out_where_the_database_is_not_postgresql(store_a):
    if connection.vendor == "postgresql":
        pytest.skip("the other databases' case")
    terminal = factories.make_terminal(store_a)
    query = CompiledQuery(
        "test_planner_elsewhere",
        lambda terminal: Terminal.objects.filter(pk=terminal).values_list("terminal_id"),
        planner={"enable_sort": "off"},
        terminal=Arg(Terminal._meta.get_field("id")),
    )
    with CaptureQueriesContext(connection) as ctx:
        assert query.rows(terminal=terminal.pk) == [(terminal.terminal_id,)]
    assert len(ctx.captured_queries) == 1


def _loaded(instance) -> dict:
    """What an instance holds: its loaded columns and its state (deferred columns are absent)."""
    columns = {k: v for k, v in instance.__dict__.items() if not k.startswith("_")}
    return {"columns": columns, "adding": instance._state.adding, "db": instance._state.db}


def test_an_instance_from_a_row_is_what_from_db_builds(store_a, terminal_a):
    intent = factories.make_intent(store_a, terminal=terminal_a, amount="12.50")
    row = Intent.objects.filter(pk=intent.pk).values_list(*concrete_columns(Intent)).get()
    every = instance_from_row(Intent, "default", concrete_columns(Intent), row)
    assert _loaded(every) == _loaded(Intent.from_db("default", concrete_columns(Intent), row))
    assert every.get_deferred_fields() == set()
    # A few columns: the others deferred exactly as `from_db` defers them, and read on access.
    # (in the model's column order, as `from_db` takes them)
    wanted = {"id", "public_id", "amount", "terminal_id"}
    names = [name for name in concrete_columns(Intent) if name in wanted]
    values = Intent.objects.filter(pk=intent.pk).values_list(*names).get()
    some = instance_from_row(Intent, "default", names, values)
    assert _loaded(some) == _loaded(Intent.from_db("default", names, values))
    assert (
        some.get_deferred_fields() == Intent.from_db("default", names, values).get_deferred_fields()
    )
    with CaptureQueriesContext(connection) as queries:
        assert some.reference == intent.reference
    assert len(queries) == 1
    assert some.terminal == terminal_a
    # Saved like any loaded instance: an UPDATE of that row, not an INSERT.
    some.amount = Decimal("13.00")
    some.save(update_fields=["amount"])
    assert Intent.objects.get(pk=intent.pk).amount == Decimal("13.00")


def test_an_instance_from_a_row_refuses_a_row_that_does_not_fit_its_names(store_a):
    with pytest.raises(ValueError):
        instance_from_row(Terminal, "default", ["id", "public_id"], (1,))


@pytest.mark.django_db(transaction=True)
def test_compiled_statements_share_one_driver_cursor_per_session(store_a, terminal_a):
    """Compiled statements run on one kept driver cursor (psycopg caches its type adapters per
    cursor), wrapped as Django wraps every cursor: errors are Django's, and a new session gets a
    new cursor."""
    from django.db import IntegrityError, transaction

    from ecrportal.compiled_query import compiled_cursor

    first, second = compiled_cursor(connection), compiled_cursor(connection)
    assert first.cursor is second.cursor
    first.execute("SELECT 1")
    assert first.fetchall() == [(1,)]
    with pytest.raises(IntegrityError), transaction.atomic():
        compiled_cursor(connection).execute(
            "INSERT INTO stores_terminal (id) SELECT id FROM stores_terminal WHERE id = %s",
            [terminal_a.pk],
        )
    again = compiled_cursor(connection)
    again.execute("SELECT 2")
    assert again.fetchall() == [(2,)] and again.cursor is first.cursor
    connection.close()
    renewed = compiled_cursor(connection)
    assert renewed.cursor is not first.cursor
    renewed.execute("SELECT 3")
    assert renewed.fetchall() == [(3,)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_holds_the_querysets_constants_and_takes_only_its_arguments(
    store_a, terminal_a
):
    """The busy check's states are written into its prepared statement: PostgreSQL plans a
    prepared statement once for any parameters (its generic plan), and a plan that cannot see
    the states cannot use the partial index of the live intents. It then read every offer the
    terminal ever had (a store-month: thousands per create) instead of the few live intents."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    from transactions.selectors import terminals_busy_prepare
    from transactions.states import RESERVING_STATES

    # A terminal's history: every finished intent keeps its offer (make_intent writes it).
    for _ in range(200):
        factories.make_intent(store_a, terminal=terminal_a, state="approved")
    live = factories.make_intent(store_a, terminal=None, state="pending")
    live.offered_terminals.set([terminal_a])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connection.close()  # a new session: nothing prepared in it yet

    terminals_busy_prepare(terminals=[terminal_a])
    assert terminals_busy(terminals=[terminal_a]) == [terminal_a]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement, parameter_types::text[] FROM pg_prepared_statements "
            "WHERE name LIKE %s",
            ["ecr_terminals_busy_%"],
        )
        [(name, statement, types)] = cursor.fetchall()
        # Its arguments, the in-doubt window and the terminal, are its only parameters.
        assert types == ["timestamp with time zone", "bigint"]
        for state in RESERVING_STATES:
            assert f"'{state}'" in statement
        # The plan made for any arguments reads the intents through a partial index of the
        # live ones (which one, and how it reaches the offers, depends on the tables' sizes).
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        try:
            cursor.execute(f"EXPLAIN EXECUTE {name}(%s, %s)", [timezone.now(), terminal_a.pk])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET plan_cache_mode")
    assert "intent_due_poll" in plan or "intent_live_created" in plan, plan
    assert "offered_terminals_terminal_id" not in plan, plan
