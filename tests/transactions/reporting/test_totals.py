"""One set of totals: Hoy, the daily report, its operations export and the batch totals add up
the same intents to the same numbers, under the same brand labels, with one rule for what an
intent moved (the authorized amount when the provider reported one, else the one requested).

Time is frozen at 27/11/2026 15:00 in Buenos Aires so "today" does not depend on when the suite
runs.
"""

import dataclasses
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_intent
from transactions.reporting.daily import daily_report, daily_report_operations
from transactions.reporting.totals import batch_totals, store_day_totals
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db

BA = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=BA)
DAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def make(store_a, terminal_a, credential):
    """An intent of store A on terminal A (an approved Visa payment of batch 1 by default)."""

    def _make(amount="1000.00", **kw):
        amount = None if amount is None else Decimal(amount)
        kw.setdefault("state", State.APPROVED)
        return make_intent(store_a, credential=credential, terminal=terminal_a, amount=amount, **kw)

    return _make


def _brands(totals):
    return [(b.brand, b.count, b.amount, b.percent) for b in totals.brands]


def test_hoy_shows_visa_and_VISA_as_one_bar_with_the_reports_total(
    client_for, owner, store_a, make
):
    make("1000.00", card_brand="Visa")
    make("234.56", card_brand="VISA")
    make("500.00", card_brand="MASTERCARD", card_brand_code="MC")

    response = client_for(owner).get(reverse("dashboard:home"))
    hoy = next(s["totals"] for s in response.context["sections"] if s["store"] == store_a)
    report = daily_report(stores=[store_a], day=DAY).stores[0].totals

    assert _brands(hoy) == [
        ("VISA", 2, Decimal("1234.56"), Decimal("71.2")),
        ("MASTERCARD", 1, Decimal("500.00"), Decimal("28.8")),
    ]
    assert _brands(hoy) == _brands(report)
    body = response.content.decode()
    assert body.count('<span class="bar-label">VISA</span>') == 1
    assert '<span class="bar-label">Visa</span>' not in body


def test_hoy_and_the_report_agree_on_every_number_of_the_day(store_a, make):
    visa = make("1234.56", card_brand="VISA", installments=3)
    make("500.00", card_brand="", card_brand_code="EL", payment_type="DEBIT")
    make("70.00", card_brand="", card_brand_code="")
    make(None, kind=Kind.REVERSAL, original=visa)
    make("200.00", kind=Kind.REFUND)
    make(state=State.DECLINED)
    make(state=State.FAILED)
    make(state=State.IN_DOUBT)

    (hoy,) = store_day_totals(stores=[store_a])
    report = daily_report(stores=[store_a], day=DAY).stores[0].totals

    # The report adds the breakdowns finance reconciles with (Hoy does not read them); every
    # number Hoy shows is the report's.
    assert dataclasses.replace(report, combinations=[], terminals=[], batches=[], origins=[]) == hoy
    assert sum(line.net for line in report.terminals) == report.net
    assert (hoy.approved_count, hoy.approved_amount) == (3, Decimal("1804.56"))
    assert (hoy.reversal_count, hoy.reversal_amount) == (1, Decimal("1234.56"))
    assert (hoy.refund_count, hoy.refund_amount, hoy.net) == (1, Decimal("200.00"), Decimal("370"))
    assert (hoy.declined_count, hoy.failed_count) == (1, 1)
    # A product code alone is its brand; nothing at all is "Sin marca".
    assert [(b.brand, b.amount) for b in hoy.brands] == [
        ("VISA", Decimal("1734.56")),
        ("Sin marca", Decimal("70.00")),
    ]


def test_what_an_intent_moved_is_the_authorized_amount_when_the_provider_reported_one(
    store_a, terminal_a, make
):
    partial = make("1000.00", authorized_amount=Decimal("900.00"))
    make("200.00")  # no authorized amount: the one requested
    # A reversal row without an amount moves what its payment moved.
    make(None, kind=Kind.REVERSAL, original=partial)

    (hoy,) = store_day_totals(stores=[store_a])
    report = daily_report(stores=[store_a], day=DAY).stores[0].totals
    for totals in (hoy, report):
        assert totals.approved_amount == Decimal("1100.00")
        assert totals.reversal_amount == Decimal("900.00")
        assert totals.brands[0].amount == Decimal("1100.00")

    operations = daily_report_operations(stores=[store_a], day=DAY)
    moved = {row["pk"]: row["effective_amount"] for row in operations}
    assert moved[partial.pk] == Decimal("900.00")

    batch = batch_totals(terminal=terminal_a, batch_number=1)
    assert batch["gross"] == "1100.00"
    assert batch["reversals"] == {"count": 1, "amount": "900.00"}
    assert batch["net"] == "200.00"


def test_batch_totals_fold_brands_like_the_report_and_keep_to_their_batch(
    store_a, terminal_a, make, django_assert_num_queries
):
    make("100.00", card_brand="Visa")
    make("200.00", card_brand="VISA")
    make("50.25", card_brand="", card_brand_code="EL")
    make("300.00", card_brand="American Express", card_brand_code="AM")
    make("999.00", batch_number=2)  # the next batch
    make("888.00", state=State.DECLINED, batch_number=1)
    make("10.00", kind=Kind.REFUND, batch_number=1)
    make("20.00", kind=Kind.REFUND, batch_number=2)

    with django_assert_num_queries(3):
        totals = batch_totals(terminal=terminal_a, batch_number=1)

    assert totals == {
        "brands": {
            "VISA": {"count": 3, "amount": "350.25"},
            "AMEX": {"count": 1, "amount": "300.00"},
        },
        "reversals": {"count": 0, "amount": "0.00"},
        "refunds": {"count": 1, "amount": "10.00"},
        "gross": "650.25",
        "net": "640.25",
    }


def test_hoy_costs_one_query_however_many_stores_and_sales(
    store_a, store_b, terminal_b, credential, make
):
    for i in range(5):
        make("10.00", card_brand=["VISA", "Visa", "CABAL"][i % 3], installments=1 + i)
        make_intent(
            store_b,
            credential=credential,
            terminal=terminal_b,
            state=State.APPROVED,
            amount=Decimal("1.00"),
        )
    with CaptureQueriesContext(connection) as ctx:
        a, b = store_day_totals(stores=[store_a, store_b])
    # One query; on PostgreSQL wrapped in its planner settings (one SET and one RESET round
    # trip, see totals._HASHED_SERIAL).
    statements = [q["sql"] for q in ctx.captured_queries]
    reads = [sql for sql in statements if not sql.startswith(("SET ", "RESET "))]
    assert len(reads) == 1
    assert len(statements) == (3 if connection.vendor == "postgresql" else 1)
    assert (a.store, a.approved_amount, b.store, b.approved_amount) == (
        store_a,
        Decimal("50.00"),
        store_b,
        Decimal("5.00"),
    )


def test_declined_failed_and_cancelled_group_per_outcome_not_per_card_or_terminal(
    store_a, terminal_a, make
):
    """They are only counted, so the grouped query keeps them in one row per outcome however
    many brands, plans and batches they came with; approved ones keep every key."""
    from transactions.reporting.totals import _grouped, _rows, intents_of_business_day

    for i, brand in enumerate(["VISA", "MASTERCARD", "AMEX"]):
        make("10.00", state=State.DECLINED, card_brand=brand, installments=1 + i, batch_number=i)
        make("20.00", state=State.APPROVED, card_brand=brand, installments=1 + i, batch_number=i)
    make("30.00", state=State.FAILED, card_brand="CABAL")
    make("40.00", state=State.FAILED, card_brand="NARANJA", payment_type="DEBIT")

    rows = _rows(_grouped(intents_of_business_day(stores=[store_a], day=DAY), detail=True))
    by_state: dict = {}
    for row in rows:
        by_state.setdefault(row["state"], []).append(row)
    assert [r["n"] for r in by_state[State.DECLINED]] == [3]
    assert [r["n"] for r in by_state[State.FAILED]] == [2]
    assert by_state[State.DECLINED][0]["card_brand"] is None
    assert sorted(
        (r["card_brand"], r["installments"], r["batch_number"]) for r in by_state[State.APPROVED]
    ) == [("AMEX", 3, 2), ("MASTERCARD", 2, 1), ("VISA", 1, 0)]
    report = daily_report(stores=[store_a], day=DAY).stores[0].totals
    assert (report.declined_count, report.failed_count, report.approved_count) == (3, 2, 3)
