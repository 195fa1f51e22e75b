"""The dashboard costs what today costs: each page runs the same number of statements with one
store and few intents as with several stores, many intents, live and stuck ones (issue 10).

Timings belong to `bench/scale.py`; these pin the statement counts, which do not depend on the
machine."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.factories import make_intent
from transactions import selectors
from transactions.models import Batch
from transactions.reporting.totals import day_totals, local_day, range_totals
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _count(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # a streamed body runs its queries when read
    return len(ctx.captured_queries)


def _history(store, terminal, credential, n: int) -> None:
    """n sales of the store's day on the terminal, with a reversal, a refund, a declined one, a
    live (pending) and a stuck (flagged processing) intention, and one in doubt."""
    for i in range(n):
        make_intent(
            store,
            credential=credential,
            terminal=terminal,
            state=State.APPROVED,
            amount=Decimal("10.00") + i,
            card_brand=["VISA", "MASTERCARD", "CABAL"][i % 3],
            installments=1 + i % 4,
            taken_at=timezone.now(),
        )
    payment = make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.APPROVED,
        taken_at=timezone.now(),
    )
    make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.APPROVED,
        kind=Kind.REVERSAL,
        original=payment,
        amount=None,
    )
    make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.APPROVED,
        kind=Kind.REFUND,
        original=payment,
        amount="1.00",
    )
    make_intent(store, credential=credential, terminal=terminal, state=State.DECLINED)
    make_intent(
        store, credential=credential, terminal=terminal, state=State.PENDING, provider_id="p-live"
    )
    make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.PROCESSING,
        needs_attention=True,
        attention_reason="trabada",
    )
    make_intent(store, credential=credential, terminal=terminal, state=State.IN_DOUBT)
    settlement = make_intent(
        store,
        credential=credential,
        terminal=terminal,
        state=State.APPROVED,
        kind=Kind.SETTLEMENT,
        amount=None,
    )
    Batch.objects.create(
        terminal=terminal,
        batch_number=Batch.objects.filter(terminal=terminal).count() + 1,
        settlement=settlement,
        closed_at=timezone.now(),
    )


def _more_stores(merchant, credential, count: int, n: int) -> None:
    for _ in range(count):
        store = factories.make_store(merchant)
        for _ in range(2):
            _history(store, factories.make_terminal(store), credential, n)


def _urls(store, terminal, payment) -> dict[str, tuple[str, dict]]:
    today = local_day(store=store).isoformat()
    return {
        "hoy": (reverse("dashboard:home"), {}),
        "terminal": (reverse("dashboard:terminal_detail", args=[terminal.public_id]), {}),
        "live box": (reverse("dashboard:terminal_live", args=[terminal.public_id]), HTMX),
        "intents list": (reverse("dashboard:intent_list"), {}),
        "intents list p2": (reverse("dashboard:intent_list") + "?page=2", {}),
        "intent detail": (reverse("dashboard:intent_detail", args=[payment.public_id]), {}),
        "intent panel": (reverse("dashboard:intent_panel", args=[payment.public_id]), HTMX),
        "batches": (reverse("dashboard:batch_index"), {}),
        "report": (reverse("dashboard:daily_report") + f"?fecha={today}", {}),
        "report xlsx": (reverse("dashboard:daily_report_xlsx") + f"?fecha={today}", {}),
        "report csv": (reverse("dashboard:daily_report_csv") + f"?fecha={today}", {}),
        "fleet": (reverse("dashboard:terminal_fleet"), {}),
        "receipt": (reverse("dashboard:intent_receipt", args=[payment.public_id]), {}),
        "search": (reverse("dashboard:search") + "?q=1000", {}),
        "attention badge": (reverse("dashboard:attention_badge"), HTMX),
    }


def test_pages_cost_the_same_statements_with_one_store_or_many_and_few_intents_or_many(
    client_for, owner, merchant, store_a, terminal_a, credential
):
    _history(store_a, terminal_a, credential, 60)  # more than a page of the list
    payment = make_intent(
        store_a,
        credential=credential,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("99.00"),
    )
    client = client_for(owner)
    urls = _urls(store_a, terminal_a, payment)
    one_store = {page: _count(client, url, **h) for page, (url, h) in urls.items()}

    _more_stores(merchant, credential, count=3, n=70)
    _history(store_a, terminal_a, credential, 70)
    many = {page: _count(client, url, **h) for page, (url, h) in urls.items()}

    assert many == one_store
    # And none of them is a statement per row: a handful each.
    # The report is the dearest: 16, plus 3 for its expected deposits, plus on PostgreSQL the
    # SET and RESET around its grouped query (totals._HASHED_SERIAL).
    assert max(many.values()) <= (21 if connection.vendor == "postgresql" else 19), many


def test_terminal_states_of_all_stores_in_two_statements(
    merchant, store_a, terminal_a, credential, django_assert_num_queries
):
    _history(store_a, terminal_a, credential, 3)
    _more_stores(merchant, credential, count=3, n=3)
    stores = list(merchant.stores.all())
    with django_assert_num_queries(2):
        states = selectors.terminal_states_for_stores(stores=stores)
    assert set(states) == {s.pk for s in stores}
    for store_states in states.values():
        assert len(store_states) in (1, 2)
        for state in store_states:
            # The live pending one is the current intent; the flagged processing one is stuck.
            assert state.state == "busy"
            assert state.current_intent is not None
            assert state.current_intent.state == State.PENDING
            assert state.stuck_count == 1
            assert state.last_taken_at is not None


def test_intent_rules_are_read_once_per_render(
    client_for, owner, store_a, terminal_a, credential, django_assert_max_num_queries
):
    """The rules (reversal, refundable balance) of an approved payment: 4 statements for the
    reversal rule, 1 for the balance, 1 for the role, not twice each."""
    payment = make_intent(store_a, credential=credential, terminal=terminal_a, state=State.APPROVED)
    with django_assert_max_num_queries(6):
        rules = selectors.intent_rules_for_user(intent=payment, user=owner)
    assert {"reverse", "refund"} <= rules.actions
    assert rules.refundable == payment.amount and rules.reversal_refusal is None


def test_a_date_range_is_one_statement_with_each_days_totals(
    merchant, store_a, store_b, terminal_a, terminal_b, credential, django_assert_num_queries
):
    today = local_day(store=store_a)
    yesterday = today - dt.timedelta(days=1)
    noon_yesterday = dt.datetime.combine(yesterday, dt.time(12), tzinfo=store_a.tzinfo)
    make_intent(
        store_a,
        credential=credential,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("10.00"),
    )
    make_intent(
        store_a,
        credential=credential,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("7.50"),
        finished_at=noon_yesterday,
    )
    make_intent(
        store_b,
        credential=credential,
        terminal=terminal_b,
        state=State.APPROVED,
        amount=Decimal("3.00"),
    )
    stores = [store_a, store_b]
    first = today - dt.timedelta(days=29)
    with django_assert_num_queries(1):
        month = range_totals(stores=stores, first=first, last=today)
    assert len(month) == 30
    for day in (today, yesterday, first):
        per_store, overall = month[day]
        expected_store, expected_overall = day_totals(stores=stores, day=day, overall_day=day)
        assert per_store == expected_store and overall == expected_overall
    assert month[yesterday][0][store_a.pk].approved_amount == Decimal("7.50")
    assert month[today][1].approved_amount == Decimal("13.00")
