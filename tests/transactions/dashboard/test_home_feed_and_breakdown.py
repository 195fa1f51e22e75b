"""Hoy: the feed of recent operations, the day per terminal and per cashier or POS key (issue
12, item 15), and "Último cobro" showing the last payment, not the batch close (item 12)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.factories import make_intent
from transactions.reporting.breakdown import day_breakdown, recent_operations
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _home(client):
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    return response


def test_ultimo_cobro_is_the_last_payment_not_the_batch_close(
    client_for, manager_a, store_a, terminal_a
):
    paid_at = timezone.now() - dt.timedelta(hours=2)
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        taken_at=paid_at,
        finished_at=paid_at,
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        taken_at=timezone.now(),
    )
    response = _home(client_for(manager_a))
    (state,) = response.context["sections"][0]["terminals"]
    assert state.last_payment_at == paid_at
    assert state.last_taken_at > paid_at  # the close: still the terminal's last sighting
    shown = timezone.localtime(paid_at).strftime("%d/%m/%Y %H:%M:%S")
    assert f"<td data-last-payment>{shown}</td>" in response.content.decode()


def test_the_feed_lists_the_latest_operations_of_the_users_stores(
    client_for, manager_a, store_a, terminal_a, store_b, terminal_b
):
    for i in range(20):
        make_intent(store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal(100 + i))
    newest = make_intent(store_a, terminal=terminal_a, state=State.PENDING, amount=Decimal("7"))
    make_intent(store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED)
    other = make_intent(store_b, terminal=terminal_b, state=State.APPROVED)

    response = _home(client_for(manager_a))
    feed = response.context["feed"]
    assert len(feed) == 15
    assert feed[0] == newest
    assert all(i.kind != Kind.SETTLEMENT and i.store_id == store_a.pk for i in feed)
    page = response.content.decode()
    assert "Últimas operaciones" in page
    assert f'data-intent="{newest.public_id}"' in page
    assert str(other.public_id) not in page
    # Live: it is inside the block Hoy re-fetches every 5 s.
    body = page.split('id="home-body"', 1)[1]
    assert 'hx-trigger="every 5s"' in page and "data-feed" in body


def test_the_day_per_terminal_and_per_cashier_or_pos_key(
    store_a, terminal_a, cashier_a, manager_a, django_assert_num_queries
):
    terminal_2 = factories.make_terminal(store_a, label="Caja A2")
    pos, _key = factories.make_pos_client(store_a, name="Caja registradora")
    for _ in range(3):
        make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            amount=Decimal("100.00"),
            requested_by_user=cashier_a,
        )
    payment = make_intent(
        store_a,
        terminal=terminal_2,
        state=State.APPROVED,
        amount=Decimal("50.00"),
        requested_by_pos=pos,
    )
    make_intent(
        store_a,
        terminal=terminal_2,
        kind=Kind.REFUND,
        state=State.APPROVED,
        original=payment,
        amount=Decimal("20.00"),
        requested_by_user=manager_a,
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.DECLINED,
        amount=Decimal("999.00"),
        requested_by_user=cashier_a,
    )
    make_intent(store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED)

    with django_assert_num_queries(1):
        breakdown = day_breakdown(stores=[store_a])[store_a.pk]
    terminals = {row.label: row for row in breakdown.terminals}
    assert set(terminals) == {"Caja A1 (11111111)", f"Caja A2 ({terminal_2.terminal_id})"}
    a1, a2 = terminals["Caja A1 (11111111)"], terminals[f"Caja A2 ({terminal_2.terminal_id})"]
    assert (a1.approved_count, a1.approved_amount, a1.net) == (3, Decimal("300.00"), 300)
    assert a1.count == 4  # the declined one is listed, not added
    assert (a2.approved_amount, a2.refunded_amount, a2.net) == (50, 20, 30)

    people = {row.label: row for row in breakdown.requesters}
    assert people["Cajero"].net == Decimal("300.00")
    assert people["POS Caja registradora"].approved_amount == Decimal("50.00")
    assert people["Encargado"].refunded_amount == Decimal("20.00")
    assert breakdown.terminals[0] is a1  # biggest first


def test_the_day_per_terminal_is_the_business_day_the_totals_beside_it_count(store_a, terminal_a):
    """A sale paid yesterday and learned today (an in-doubt resolved this morning) is
    yesterday's, in the breakdown as in the totals; one still pending is nobody's yet."""
    from transactions.reporting.totals import store_day_totals

    now = timezone.now()
    yesterday = now - dt.timedelta(days=1)
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("100.00"))
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("40.00"),
        created_at=yesterday,
        provider_status_at=yesterday,
        finished_at=now,
    )
    make_intent(store_a, terminal=terminal_a, state=State.PENDING, amount=Decimal("7.00"))

    today = day_breakdown(stores=[store_a])[store_a.pk]
    (totals,) = store_day_totals(stores=[store_a])
    (row,) = today.terminals
    assert (row.count, row.net) == (1, Decimal("100.00"))
    assert row.net == totals.net
    before = timezone.localdate(yesterday, store_a.tzinfo)
    (earlier,) = day_breakdown(stores=[store_a], day=before)[store_a.pk].terminals
    assert (earlier.count, earlier.net) == (1, Decimal("40.00"))


def test_hoy_shows_the_breakdown_in_its_own_partial(client_for, owner, store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("1234.56"))
    page = _home(client_for(owner)).content.decode()
    assert 'data-breakdown="terminal"' in page and 'data-breakdown="requester"' in page
    assert "Caja A1 (11111111)" in page and "$ 1.234,56" in page


def test_hoy_is_constant_in_queries_with_the_feed_and_the_breakdown(
    client_for, owner, merchant, store_a, terminal_a
):
    client = client_for(owner)
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    with CaptureQueriesContext(connection) as few:
        _home(client)
    for _ in range(3):
        store = factories.make_store(merchant)
        terminal = factories.make_terminal(store)
        pos, _key = factories.make_pos_client(store)
        for i in range(8):
            make_intent(
                store,
                terminal=terminal,
                state=State.APPROVED,
                requested_by_pos=pos if i % 2 else None,
                requested_by_user=None if i % 2 else factories.make_user(),
            )
    with CaptureQueriesContext(connection) as many:
        _home(client)
    assert len(many.captured_queries) == len(few.captured_queries) <= 16


def test_the_feed_is_one_query(store_a, terminal_a, django_assert_num_queries):
    for _ in range(5):
        make_intent(store_a, terminal=terminal_a, state=State.APPROVED, needs_attention=True)
    with django_assert_num_queries(1):
        feed = recent_operations(stores=[store_a])
        # What the feed's template reads is all there (no query per row).
        for intent in feed:
            _ = (intent.store.name, intent.terminal.label, intent.attention_reason, intent.status)
