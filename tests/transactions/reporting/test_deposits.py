"""Expected deposits: gross → fees → IVA → withholdings → net, the business-day calendar with
Argentina's holidays, the fee table (defaults "a confirmar" and an owner's own), and the report
page's section. Figures checked by hand."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions.models import Batch, FeeRule, FeeSchedule, InstallmentCost
from transactions.reporting.deposits import (
    DEFAULT_TERMS,
    UNCONFIRMED_NOTE,
    _operations,
    add_business_days,
    deposit_lines,
    deposits_report,
    fee_terms_for_merchants,
    is_business_day,
    operation_deposit,
    summarize,
)
from transactions.states import Kind, State

BA = ZoneInfo("America/Argentina/Buenos_Aires")
D = Decimal


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=BA)


# --- Business days --------------------------------------------------------------------------


def test_weekends_are_not_business_days():
    friday = dt.date(2026, 11, 13)
    assert is_business_day(friday)
    assert not is_business_day(dt.date(2026, 11, 14))  # Saturday
    assert add_business_days(friday, 1) == dt.date(2026, 11, 16)  # Monday
    assert add_business_days(dt.date(2026, 11, 14), 0) == dt.date(2026, 11, 16)
    assert add_business_days(dt.date(2026, 11, 14), 1) == dt.date(2026, 11, 16)


def test_a_national_holiday_is_skipped_after_a_weekend():
    # Monday 23/11/2026 is the Día de la Soberanía Nacional (moved from the 20th).
    assert not is_business_day(dt.date(2026, 11, 23))
    assert add_business_days(dt.date(2026, 11, 20), 1) == dt.date(2026, 11, 24)
    # A "puente" Monday and the 8th of December: Friday + 1 business day is Wednesday.
    assert add_business_days(dt.date(2026, 12, 4), 1) == dt.date(2026, 12, 9)
    # Ten business days across Christmas and New Year.
    assert add_business_days(dt.date(2026, 12, 21), 10) == dt.date(2027, 1, 6)


# --- One operation, by hand -------------------------------------------------------------------


class _Op:
    """The fields `operation_deposit` reads of an intent."""

    def __init__(self, *, brand="VISA", code="VI", payment_type="CREDIT", installments=1):
        self.card_brand = brand
        self.card_brand_code = code
        self.payment_type = payment_type
        self.installments = installments


def test_credit_sale_in_three_cuotas_with_the_default_terms():
    line = operation_deposit(
        intent=_Op(installments=3),
        gross=D("10000.00"),
        terms=DEFAULT_TERMS,
        presented_on=dt.date(2026, 11, 20),
    )
    assert line.fee == D("180.00")  # 1,8 %
    assert line.financing == D("450.00")  # 4,5 % for 3 cuotas
    assert line.iva == D("132.30")  # 21 % of 630,00
    assert (line.iibb, line.iva_withholding, line.ganancias) == (
        D("200.00"),
        D("100.00"),
        D("100.00"),
    )
    assert line.net == D("8837.70")
    # 8 business days after Friday 20/11, skipping the weekend and Monday 23/11.
    assert line.deposit_on == dt.date(2026, 12, 3)


def test_debit_sale_is_paid_the_next_business_day():
    line = operation_deposit(
        intent=_Op(brand="MASTERCARD", code="PD", payment_type="DEBIT"),
        gross=D("2000.00"),
        terms=DEFAULT_TERMS,
        presented_on=dt.date(2026, 11, 20),
    )
    assert line.fee == D("16.00") and line.iva == D("3.36") and line.financing == D("0.00")
    assert line.withholdings == D("80.00")
    assert line.net == D("1900.64")
    assert line.deposit_on == dt.date(2026, 11, 24)


def test_rounding_is_half_up_to_cents_per_component():
    # 12,50 x 1 % = 0,125: half up gives 0,13 (banker's rounding would give 0,12).
    line = operation_deposit(
        intent=_Op(payment_type="DEBIT"),
        gross=D("12.50"),
        terms=DEFAULT_TERMS,
        presented_on=dt.date(2026, 11, 18),
    )
    assert line.iva_withholding == D("0.13") and line.ganancias == D("0.13")
    assert line.fee == D("0.10")  # 0,8 % of 12,50
    assert line.iva == D("0.02")  # 21 % of 0,10 = 0,021


def test_a_brand_with_its_own_row_and_an_unknown_type_counts_as_credit():
    line = operation_deposit(
        intent=_Op(brand="AMEX", code="AM", payment_type=""),
        gross=D("1000.00"),
        terms=DEFAULT_TERMS,
        presented_on=dt.date(2026, 11, 18),
    )
    assert line.fee == D("30.00") and line.payment_type == "CREDIT"
    assert line.deposit_on == add_business_days(dt.date(2026, 11, 18), 10)


def test_a_refund_is_discounted_whole_on_its_deposit_day():
    line = operation_deposit(
        intent=_Op(payment_type="DEBIT"),
        gross=D("-500.00"),
        terms=DEFAULT_TERMS,
        presented_on=dt.date(2026, 11, 18),
    )
    assert line.net == D("-500.00") and line.fee == 0 and line.withholdings == 0


# --- The day's deposits from the ledger -------------------------------------------------------


@pytest.fixture
def friday_sales(store_a, terminal_a):
    """Friday 20/11/2026 (the Monday after is a holiday): a credit sale whose batch closed
    that night, a debit sale, a reversed sale and a debit refund."""
    credit = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=D("10000.00"),
        installments=3,
        payment_type="CREDIT",
        batch_number=7,
        finished_at=at("2026-11-20", 10),
    )
    debit = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=D("2000.00"),
        payment_type="DEBIT",
        card_brand="MASTERCARD",
        card_brand_code="PD",
        batch_number=7,
        finished_at=at("2026-11-20", 11),
    )
    annulled = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=D("999.00"),
        batch_number=7,
        finished_at=at("2026-11-20", 12),
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=annulled,
        amount=None,
        finished_at=at("2026-11-20", 13),
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        amount=D("500.00"),
        payment_type="DEBIT",
        card_brand="VISA",
        batch_number=8,
        finished_at=at("2026-11-20", 14),
    )
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=7,
        finished_at=at("2026-11-20", 22),
    )
    Batch.objects.create(
        terminal=terminal_a, batch_number=7, settlement=settlement, closed_at=at("2026-11-20", 22)
    )
    return credit, debit


def test_deposits_of_a_day_with_the_default_terms(store_a, friday_sales):
    summary = deposits_report(stores=[store_a], day=dt.date(2026, 11, 20))
    assert summary.count == 3, "the reversed sale and its reversal are never paid"
    assert summary.gross == D("11500.00")
    assert summary.fee == D("196.00") and summary.financing == D("450.00")
    assert summary.iva == D("135.66")
    assert summary.withholdings == D("480.00")
    assert summary.net == D("10238.34")
    # The detail (each operation's deposit, component by component) adds up to the summary.
    lines = deposit_lines(_operations([store_a], dt.date(2026, 11, 20)))
    assert len(lines) == 3 and sum(line.net for line in lines) == summary.net
    assert summarize(lines, [DEFAULT_TERMS]) == summary
    calendar = {day.day: (day.count, day.net) for day in summary.calendar}
    assert calendar == {
        dt.date(2026, 11, 24): (2, D("1900.64") - D("500.00")),
        dt.date(2026, 12, 3): (1, D("8837.70")),
    }
    first = summary.calendar[0]
    assert any("Soberanía" in note for note in first.holiday_before)
    assert summary.unconfirmed and summary.uses_defaults


def test_deposits_with_the_merchants_own_confirmed_table(store_a, friday_sales, merchant):
    schedule = FeeSchedule.objects.create(
        merchant=merchant,
        iva_percent=D("21"),
        iibb_withholding_percent=D("0"),
        iva_withholding_percent=D("0"),
        ganancias_withholding_percent=D("0"),
        confirmed_at=at("2026-11-01"),
    )
    FeeRule.objects.create(
        schedule=schedule, brand="", payment_type="CREDIT", fee_percent=D("1"), term_business_days=2
    )
    FeeRule.objects.create(
        schedule=schedule,
        brand="",
        payment_type="DEBIT",
        fee_percent=D("0.5"),
        term_business_days=0,
    )
    InstallmentCost.objects.create(schedule=schedule, installments=3, cost_percent=D("5"))
    summary = deposits_report(stores=[store_a], day=dt.date(2026, 11, 20))
    assert not summary.unconfirmed and not summary.uses_defaults
    # Credit: 10.000 - 100 - 500 - 126 (IVA of 600) = 9.274; debit: 2.000 - 10 - 2,10 = 1.987,90.
    assert summary.net == D("9274.00") + D("1987.90") - D("500.00")
    days = [entry.day for entry in summary.calendar]
    # Debit with a 0-day term: the presentation day itself (Friday); credit: 2 business days.
    assert days == [dt.date(2026, 11, 20), dt.date(2026, 11, 25)]


def test_a_store_without_sales_still_says_the_table_is_unconfirmed(store_a):
    summary = deposits_report(stores=[store_a], day=dt.date(2026, 11, 20))
    assert summary.count == 0 and summary.net == 0 and summary.unconfirmed


def test_terms_are_read_in_a_fixed_number_of_queries(django_assert_num_queries, merchant):
    with django_assert_num_queries(1):  # no table: defaults, no prefetch
        fee_terms_for_merchants([merchant])


# --- Pages ------------------------------------------------------------------------------------


def test_the_report_page_shows_the_deposits(client_for, owner, store_a, friday_sales):
    response = client_for(owner).get(
        reverse("dashboard:daily_report"),
        {"fecha": "2026-11-20", "sucursal": str(store_a.public_id)},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="report-deposits"' in body
    assert UNCONFIRMED_NOTE in body
    assert "$ 10.238,34" in body
    assert 'data-deposit-day="2026-11-24"' in body


def test_owner_sees_the_defaults_marked_to_confirm(client_for, owner, merchant):
    response = client_for(owner).get(reverse("dashboard:fee_settings"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "data-fees-unconfirmed" in body and UNCONFIRMED_NOTE in body
    assert 'value="1,8"' in body


def _fee_post(**overrides):
    data = {
        "iva_percent": "21",
        "iibb_withholding_percent": "3,5",
        "iva_withholding_percent": "0",
        "ganancias_withholding_percent": "0",
        "confirmed": "on",
        "rules-TOTAL_FORMS": "3",
        "rules-INITIAL_FORMS": "0",
        "rules-0-brand": "",
        "rules-0-payment_type": "CREDIT",
        "rules-0-fee_percent": "1,5",
        "rules-0-term_business_days": "10",
        "rules-1-brand": "",
        "rules-1-payment_type": "DEBIT",
        "rules-1-fee_percent": "0,8",
        "rules-1-term_business_days": "1",
        "rules-2-brand": "NARANJA",
        "rules-2-payment_type": "CREDIT",
        "rules-2-fee_percent": "2",
        "rules-2-term_business_days": "15",
        "plans-TOTAL_FORMS": "1",
        "plans-INITIAL_FORMS": "0",
        "plans-0-installments": "6",
        "plans-0-cost_percent": "8,25",
    }
    data.update(overrides)
    return data


def test_owner_saves_and_confirms_the_table(client_for, owner, merchant):
    response = client_for(owner).post(reverse("dashboard:fee_settings"), _fee_post())
    assert response.status_code == 302
    terms = fee_terms_for_merchants([merchant])[merchant.pk]
    assert terms.confirmed and not terms.is_default
    assert terms.iibb_withholding_percent == D("3.5")
    assert terms.rule_for("NARANJA", "CREDIT").term_business_days == 15
    assert terms.rule_for("VISA", "DEBIT").fee_percent == D("0.8")
    assert terms.plans == {6: D("8.25")}
    schedule = FeeSchedule.objects.get(merchant=merchant)
    assert schedule.updated_by == owner


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rules-1-payment_type": "CREDIT"}, "una sola vez"),
        ({"rules-TOTAL_FORMS": "1"}, "Otras marcas"),
        ({"iva_percent": "121"}, "El porcentaje va de 0 a 100."),
        ({"rules-0-fee_percent": "uno"}, "Ingresá un porcentaje"),
        ({"plans-0-installments": "1"}, "al menos 2 cuotas"),
    ],
)
def test_a_bad_table_is_refused_and_nothing_changes(
    client_for, owner, merchant, overrides, message
):
    response = client_for(owner).post(reverse("dashboard:fee_settings"), _fee_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not FeeSchedule.objects.exists()


def test_a_manager_cannot_change_the_table(client_for, manager_a, merchant):
    response = client_for(manager_a).post(reverse("dashboard:fee_settings"), _fee_post())
    assert response.status_code == 403
    assert not FeeSchedule.objects.exists()


# --- The report's summary is the per-operation arithmetic --------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("own_table", [False, True])
def test_the_summary_adds_what_each_operations_deposit_adds(merchant, own_table):
    """The page's summary is computed in integer cents per group of operations; it must equal
    rounding each operation on its own (`operation_deposit`) and adding the lines, for odd
    percentages, half cents, every plan, refunds and several presentation days."""
    import random

    from transactions.reporting.deposits import Operation, deposits_for_operations

    if own_table:
        schedule = FeeSchedule.objects.create(
            merchant=merchant,
            iva_percent=D("10.5"),
            iibb_withholding_percent=D("3.31"),
            iva_withholding_percent=D("0.75"),
            ganancias_withholding_percent=D("0.125"),
        )
        FeeRule.objects.create(
            schedule=schedule, brand="", payment_type="CREDIT", fee_percent=D("1.234"),
            term_business_days=3,
        )  # fmt: skip
        FeeRule.objects.create(
            schedule=schedule, brand="VISA", payment_type="DEBIT", fee_percent=D("0.605"),
            term_business_days=0,
        )  # fmt: skip
        InstallmentCost.objects.create(schedule=schedule, installments=6, cost_percent=D("7.77"))
    rng = random.Random(20261130)
    days = [dt.date(2026, 11, 20) + dt.timedelta(days=k) for k in range(5)]
    operations = [
        Operation(
            kind=Kind.REFUND if rng.random() < 0.1 else Kind.PAYMENT,
            merchant_id=merchant.pk,
            presented_on=rng.choice(days),
            # Amounts whose shares land on half cents as well as anywhere else.
            amount=D(rng.choice([rng.randint(1, 5_000_000), 50, 250, 1250, 40, 4])) / 100,
            card_brand=rng.choice(["VISA", "Visa", "MASTERCARD", "AMEX", ""]),
            card_brand_code=rng.choice(["VI", "MC", "PD", ""]),
            payment_type=rng.choice(["CREDIT", "DEBIT", ""]),
            installments=rng.choice([1, 3, 6, 12, 0]),
        )
        for _ in range(3000)
    ]
    terms = fee_terms_for_merchants([merchant])
    expected = summarize(deposit_lines(operations), terms.values())
    got = deposits_for_operations(operations)
    assert got == expected
    assert got.count == 3000 and got.fee > 0 and got.iva > 0 and len(got.calendar) > 3


@pytest.mark.django_db
def test_each_operation_is_presented_on_its_own_stores_day(merchant, store_a, terminal_a):
    """Stores in two zones: an operation of an open batch is presented the day it ended in its
    own store's zone (and a closed batch's operations the day of the close, in that zone)."""
    from tests.factories import make_store, make_terminal
    from transactions.reporting.deposits import _operations

    auckland = ZoneInfo("Pacific/Auckland")
    far = make_store(merchant, name="Auckland", time_zone="Pacific/Auckland")
    far_terminal = make_terminal(far)
    # 22:00 of the 21st in Buenos Aires is already the 22nd in Auckland.
    here = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=D("100.00"),
        batch_number=3, finished_at=at("2026-11-21", 22),
    )  # fmt: skip
    # 08:00 of the 21st in Auckland is still the 20th in Buenos Aires.
    there = make_intent(
        far, terminal=far_terminal, state=State.APPROVED, amount=D("200.00"), batch_number=5,
        finished_at=dt.datetime(2026, 11, 21, 8, tzinfo=auckland),
    )  # fmt: skip
    # A closed batch of the far store: presented the day of its close, in Auckland.
    closed = make_intent(
        far, terminal=far_terminal, state=State.APPROVED, amount=D("300.00"), batch_number=4,
        finished_at=dt.datetime(2026, 11, 21, 7, tzinfo=auckland),
    )  # fmt: skip
    settlement = make_intent(
        far, terminal=far_terminal, kind=Kind.SETTLEMENT, state=State.APPROVED, batch_number=4,
        finished_at=dt.datetime(2026, 11, 23, 23, 30, tzinfo=auckland),
    )  # fmt: skip
    Batch.objects.create(
        terminal=far_terminal, batch_number=4, settlement=settlement,
        closed_at=dt.datetime(2026, 11, 23, 23, 30, tzinfo=auckland),
    )  # fmt: skip
    assert here.business_day == there.business_day == closed.business_day
    presented = {
        op.amount: op.presented_on for op in _operations([store_a, far], dt.date(2026, 11, 21))
    }
    assert presented == {
        D("100.00"): dt.date(2026, 11, 21),
        D("200.00"): dt.date(2026, 11, 21),
        D("300.00"): dt.date(2026, 11, 23),
    }
