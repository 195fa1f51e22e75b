"""`CompiledQuery`: the ORM's statement built once, run with each call's arguments, answering what
the ORM answers (converted values included); refused when an argument does not reach the SQL as
it is; on PostgreSQL prepared once per session and still answering after losing it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns
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
