"""The ledger's tables carry no index another one already provides, and none a new row leaves
empty: every index is written on each INSERT and non-HOT UPDATE of an intent, an event or an
idempotency key, the hottest writes of the POS API and the sweeper. The partial ones are still
used by every lookup they exist for (PostgreSQL)."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from stores.models import Terminal
from tests import factories
from transactions.api.models import IdempotencyRecord
from transactions.models import Intent, IntentEvent
from transactions.search import search_q, search_terms
from transactions.selectors import _last_taken
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _indexes(model=Intent) -> dict[str, tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {
        name: tuple(info["columns"])
        for name, info in constraints.items()
        if info["index"]
        and not info["primary_key"]
        and not info["unique"]
        # Partial indexes answer other questions than a full one with the same columns.
        and name not in _partial(model)
    }


def _partial(model=Intent) -> set[str]:
    return {index.name for index in model._meta.indexes if index.condition is not None}


def test_no_single_column_index_is_the_prefix_of_another():
    indexes = _indexes()
    redundant = [
        (name, columns[0], other)
        for name, columns in indexes.items()
        if len(columns) == 1
        for other, wider in indexes.items()
        if other != name and len(wider) > 1 and wider[0] == columns[0]
    ]
    assert not redundant, redundant


def test_no_two_indexes_on_the_same_columns():
    seen: dict[tuple[str, ...], str] = {}
    for name, columns in sorted(_indexes().items()):
        assert columns not in seen, (name, seen.get(columns))
        seen[columns] = name


def test_an_idempotency_key_is_indexed_once_and_not_by_its_intent():
    """The unique (pos_client, key) index is the claim and every look-up; a key is never looked
    up by its intent, and with no index on `intent_id` the UPDATE that links a key to its new
    intent changes no indexed column (PostgreSQL can make it a HOT update, writing no index)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, IdempotencyRecord._meta.db_table
        )
    indexed = sorted(
        tuple(info["columns"])
        for info in constraints.values()
        if (info["index"] or info["unique"]) and not info["primary_key"]
    )
    assert indexed == [("created_at",), ("pos_client_id", "key")]


def test_columns_a_new_intent_leaves_empty_have_only_partial_indexes():
    """What a create writes: no index on the taken terminal, the provider's id, the card, the
    original or the requesting user gets an entry for an intent that has none of them yet."""
    partial = {index.name: tuple(index.fields) for index in Intent._meta.indexes if index.condition}
    for column in ("terminal_id", "original_id", "requested_by_user_id", "provider_id"):
        full = [name for name, cols in _indexes().items() if column in cols]
        assert not full, (column, full)
    assert {
        "intent_terminal_created",
        "intent_terminal_taken",
        "intent_provider_id",
        "intent_search_last_four",
        "intent_search_authorization",
        "intent_original",
        "intent_requested_by_user",
    } <= set(partial)
    for column in ("actor_user_id", "actor_pos_id"):
        assert not [n for n, cols in _indexes(IntentEvent).items() if column in cols], column


def _copies_of(intent: Intent, n: int) -> None:
    """`n` copies of the approved payment, each with its own ids, card and authorization, and an
    event each, so the planner weighs tables of some size (over a handful of rows any index
    is as good as another)."""
    distinct = {
        "public_id": "gen_random_uuid()",
        "ecr_transaction_id": "'copy-' || g",
        "provider_id": "'copy-' || g",
        "card_last_four": "lpad((g %% 10000)::text, 4, '0')",
        "authorization_code": "'C' || g",
        "created_at": "created_at - make_interval(secs => g)",
    }
    columns = [f.column for f in Intent._meta.concrete_fields if not f.primary_key]
    table = Intent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(distinct.get(c, c) for c in columns)} "
            f"FROM {table}, generate_series(1, %s) g WHERE id = %s",
            [n, intent.pk],
        )
        # And an event of the provider's (no actor) for each.
        cursor.execute(
            f"INSERT INTO {IntentEvent._meta.db_table} (intent_id, created_at, type, from_state, "
            "to_state, provider_status, actor_label, message) "
            f"SELECT id, created_at, 'state', 'pending', 'approved', '', 'Prisma', '' FROM {table}"
        )
        cursor.execute(f"ANALYZE {table}, {IntentEvent._meta.db_table}")


def _plan(queryset) -> str:
    """PostgreSQL's plan of the queryset with sequential scans priced out: a usable index is
    then always chosen, and a partial index whose condition the query does not imply cannot
    be, so the plan falls back to a sequential scan."""
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_every_lookup_on_a_partially_indexed_column_uses_its_index(store_a, terminal_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    user = factories.make_user("pide")
    payment = factories.make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, taken_at=timezone.now()
    )
    factories.make_intent(store_a, kind=Kind.REVERSAL, original=payment, requested_by_user=user)
    factories.make_intent(store_a, state=State.CREATED)
    _copies_of(payment, 3000)

    cases = {
        # The navigation's search box: one OR of equalities, each on its own index.
        "intent_search_last_four": Intent.objects.filter(search_q(search_terms("1234"))).order_by(),
        "intent_search_authorization": Intent.objects.filter(
            search_q(search_terms("A00012"))
        ).order_by(),
        "intent_provider_id": Intent.objects.filter(provider_id="prov-77"),
        # A terminal's last taken intention (Hoy, terminal page, live box): correlated on the
        # terminal, not a constant, and the condition is implied all the same.
        "intent_terminal_taken": Terminal.objects.annotate(last=_last_taken()).filter(
            pk=terminal_a.pk
        ),
        "intent_terminal_created": Intent.objects.filter(terminal=terminal_a).order_by(
            "-created_at"
        ),
        "intent_original": payment.followups.filter(kind=Kind.REVERSAL),
        # What PROTECT and SET_NULL run before a user or a POS key is deleted.
        "intent_requested_by_user": Intent.objects.filter(requested_by_user__in=[user.pk]),
        "event_actor_user": IntentEvent.objects.filter(actor_user__in=[user.pk]).order_by(),
        "event_actor_pos": IntentEvent.objects.filter(actor_pos__in=[1, 2]).order_by(),
    }
    for index, queryset in cases.items():
        plan = _plan(queryset)
        assert index in plan, (index, plan)
