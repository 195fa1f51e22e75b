"""Expected deposits (acreditaciones): what each approved operation leaves in the bank, and when.

For every operation: gross → arancel (per brand and crédito/débito) → financing cost of its
cuotas plan → IVA on both → withholdings (IIBB, IVA, Ganancias) → net to bank, on the day the
acquirer pays it: the day the operation was presented (its batch's close, or its own day while
the batch is open) plus the payment term of its brand and type, in Argentine business days.

Rules, stated once:
- Money is `Decimal`; every component is rounded per operation to cents with ROUND_HALF_UP, and
  totals are sums of the rounded components, so the detail always adds up to the summary.
- Percentages apply to the gross amount of the sale (aranceles, financing cost, withholdings);
  IVA applies to the arancel plus the financing cost.
- A refund (devolución) is discounted whole on its own deposit day; no fee, IVA or withholding
  is computed on it (how each acquirer treats the arancel of a refund is contract matter).
- A reversed payment (anulada) never reaches the liquidación: it and its reversal are left out.
- An unknown crédito/débito counts as crédito (the longer term and the higher fee: the
  conservative guess for cash planning).
- Business days: Monday to Friday except Argentina's national holidays (the `holidays`
  package, with the movable and "puente" days). Counting starts the business day after the
  presentation day; a term of 0 days is the presentation day itself, or the next business day.

The fee table is per merchant (`FeeSchedule`); a merchant without one uses `DEFAULT_TERMS`,
which are placeholders to be confirmed against the merchant's acquirer contract.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from django.db.models import Exists, OuterRef
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from stores.models import Merchant, Store
from transactions.brands import brand_label
from transactions.models import Batch, FeeSchedule, Intent
from transactions.reporting.totals import CREDIT, DEBIT, ZERO, intents_of_business_day
from transactions.states import Kind, State

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
UNCONFIRMED_NOTE = "a confirmar con tu contrato de adquirente"
# "" in a rule's brand: every brand without a row of its own.
ANY_BRAND = ""


def money(value: Decimal) -> Decimal:
    """Rounded to cents, half up (the one rounding of this module)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return money(amount * percent / HUNDRED)


# --- Business days --------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _holidays_of(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("AR", years=year))


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday and not a national holiday of Argentina."""
    return day.weekday() < 5 and day not in _holidays_of(day.year)


@functools.lru_cache(maxsize=4096)
def add_business_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th business day after `start` (0: `start` if it is one, else the next)."""
    day = start
    if days == 0:
        while not is_business_day(day):
            day += dt.timedelta(days=1)
        return day
    remaining = days
    while remaining:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day


@functools.lru_cache(maxsize=16)
def _holiday_names_of(year: int) -> dict[dt.date, str]:
    return dict(holidays.country_holidays("AR", years=year, language="es"))


def holiday_name(day: dt.date) -> str:
    """The holiday's Spanish name, or "" (for the calendar's notes)."""
    return _holiday_names_of(day.year).get(day, "")


# --- The fee and terms table ----------------------------------------------------------------


@dataclass(frozen=True)
class FeeRuleTerms:
    fee_percent: Decimal
    term_business_days: int


@dataclass(frozen=True)
class FeeTerms:
    """A merchant's fees and terms, as computed with (from its `FeeSchedule` or the defaults).

    `rules`: (brand label or ANY_BRAND, CREDIT/DEBIT) → fee and term. `plans`: cuotas → cost %.
    `confirmed`: an owner confirmed the table against the acquirer contract; defaults never are.
    """

    iva_percent: Decimal
    iibb_withholding_percent: Decimal
    iva_withholding_percent: Decimal
    ganancias_withholding_percent: Decimal
    rules: dict[tuple[str, str], FeeRuleTerms]
    plans: dict[int, Decimal]
    is_default: bool = False
    confirmed: bool = False

    def rule_for(self, brand: str, payment_type: str) -> FeeRuleTerms:
        kind = DEBIT if payment_type == DEBIT else CREDIT
        for key in ((brand, kind), (ANY_BRAND, kind), (ANY_BRAND, CREDIT)):
            if key in self.rules:
                return self.rules[key]
        # A table without any fallback row: no fee and next-day payment, visibly wrong.
        return FeeRuleTerms(ZERO, 1)

    def plan_cost(self, installments: int) -> Decimal:
        if installments <= 1:
            return ZERO
        return self.plans.get(installments, ZERO)


# Placeholders, shown as "a confirmar con tu contrato de adquirente" until an owner saves and
# confirms the merchant's own table. Fees near the regulated caps for cards in Argentina
# (crédito 1,8 %, débito 0,8 %), débito paid the next business day and crédito within the
# usual term; cuotas plans at typical "cuotas sin interés" costs; IVA 21 % on fees.
DEFAULT_TERMS = FeeTerms(
    iva_percent=Decimal("21"),
    iibb_withholding_percent=Decimal("2"),
    iva_withholding_percent=Decimal("1"),
    ganancias_withholding_percent=Decimal("1"),
    rules={
        (ANY_BRAND, CREDIT): FeeRuleTerms(Decimal("1.8"), 8),
        (ANY_BRAND, DEBIT): FeeRuleTerms(Decimal("0.8"), 1),
        ("AMEX", CREDIT): FeeRuleTerms(Decimal("3"), 10),
        ("NARANJA", CREDIT): FeeRuleTerms(Decimal("1.8"), 10),
    },
    plans={3: Decimal("4.5"), 6: Decimal("9"), 12: Decimal("18")},
    is_default=True,
    confirmed=False,
)


def fee_terms_from_schedule(schedule: FeeSchedule) -> FeeTerms:
    """The terms of a saved table (its `rules` and `plans` prefetched or read here)."""
    return FeeTerms(
        iva_percent=schedule.iva_percent,
        iibb_withholding_percent=schedule.iibb_withholding_percent,
        iva_withholding_percent=schedule.iva_withholding_percent,
        ganancias_withholding_percent=schedule.ganancias_withholding_percent,
        rules={
            (rule.brand, rule.payment_type): FeeRuleTerms(rule.fee_percent, rule.term_business_days)
            for rule in schedule.rules.all()
        },
        plans={plan.installments: plan.cost_percent for plan in schedule.plans.all()},
        is_default=False,
        confirmed=schedule.confirmed_at is not None,
    )


def fee_terms_for_merchants(merchants: Iterable[Merchant]) -> dict[int, FeeTerms]:
    """Each merchant's terms (by merchant pk), in three queries whatever their number."""
    ids = {m.pk for m in merchants}
    schedules = FeeSchedule.objects.filter(merchant_id__in=ids).prefetch_related("rules", "plans")
    found = {s.merchant_id: fee_terms_from_schedule(s) for s in schedules}
    return {pk: found.get(pk, DEFAULT_TERMS) for pk in ids}


# --- One operation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """What a deposit reads of an approved payment or refund, as `_operations` reads it: plain
    values, not model instances (a merchant-day is thousands of operations, and building an
    Intent with its store and terminal for each cost the report page more than a second)."""

    pk: int
    kind: str
    merchant_id: int
    time_zone: str
    terminal_id: int | None
    batch_number: int | None
    # When it ended (or, never ended, was created): its presentation day while its batch is open.
    moment: dt.datetime
    # What it moved: the amount authorized, else the one asked for.
    amount: Decimal
    card_brand: str
    card_brand_code: str
    payment_type: str
    installments: int


_OPERATION_VALUES: dict[str, str | Combinable] = {
    "merchant_id": "store__merchant_id",
    "time_zone": "store__time_zone",
    "moment": Coalesce("finished_at", "created_at"),
    "amount": Coalesce("authorized_amount", "amount"),
}


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class OperationDeposit:
    """What one operation leaves in the bank, component by component (each rounded)."""

    intent: Operation | Intent
    brand: str
    payment_type: str
    installments: int
    presented_on: dt.date
    deposit_on: dt.date
    gross: Decimal
    fee: Decimal
    financing: Decimal
    iva: Decimal
    iibb: Decimal
    iva_withholding: Decimal
    ganancias: Decimal

    @property
    def withholdings(self) -> Decimal:
        return self.iibb + self.iva_withholding + self.ganancias

    @property
    def net(self) -> Decimal:
        return self.gross - self.fee - self.financing - self.iva - self.withholdings


def operation_deposit(
    *,
    intent: Operation | Intent,
    gross: Decimal,
    terms: FeeTerms,
    presented_on: dt.date,
) -> OperationDeposit:
    """The deposit of one approved payment (gross > 0) or refund (gross < 0)."""
    brand = brand_label(intent.card_brand, intent.card_brand_code)
    payment_type = DEBIT if intent.payment_type == DEBIT else CREDIT
    rule = terms.rule_for(brand, payment_type)
    installments = intent.installments or 1
    deposit_on = add_business_days(presented_on, rule.term_business_days)
    if gross < 0:
        return OperationDeposit(
            intent, brand, payment_type, installments, presented_on, deposit_on,
            gross, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO,
        )  # fmt: skip
    fee = percent_of(gross, rule.fee_percent)
    financing = percent_of(gross, terms.plan_cost(installments))
    return OperationDeposit(
        intent=intent,
        brand=brand,
        payment_type=payment_type,
        installments=installments,
        presented_on=presented_on,
        deposit_on=deposit_on,
        gross=gross,
        fee=fee,
        financing=financing,
        iva=percent_of(fee + financing, terms.iva_percent),
        iibb=percent_of(gross, terms.iibb_withholding_percent),
        iva_withholding=percent_of(gross, terms.iva_withholding_percent),
        ganancias=percent_of(gross, terms.ganancias_withholding_percent),
    )


# --- A set of operations --------------------------------------------------------------------


@dataclass
class DepositDay:
    """One day of the calendar of expected deposits."""

    day: dt.date
    count: int = 0
    gross: Decimal = ZERO
    net: Decimal = ZERO
    holiday_before: list[str] = field(default_factory=list)


@dataclass
class DepositsSummary:
    """gross → fees → IVA → withholdings → net to bank, for a set of operations, with the
    calendar of expected deposits per day and whether the terms used are confirmed."""

    lines: list[OperationDeposit]
    count: int = 0
    gross: Decimal = ZERO
    fee: Decimal = ZERO
    financing: Decimal = ZERO
    iva: Decimal = ZERO
    iibb: Decimal = ZERO
    iva_withholding: Decimal = ZERO
    ganancias: Decimal = ZERO
    net: Decimal = ZERO
    calendar: list[DepositDay] = field(default_factory=list)
    unconfirmed: bool = False
    uses_defaults: bool = False
    note: str = UNCONFIRMED_NOTE

    @property
    def withholdings(self) -> Decimal:
        return self.iibb + self.iva_withholding + self.ganancias


def summarize(lines: list[OperationDeposit], terms_used: Iterable[FeeTerms]) -> DepositsSummary:
    summary = DepositsSummary(lines=lines)
    days: dict[dt.date, DepositDay] = {}
    earliest: dict[dt.date, dt.date] = {}
    for line in lines:
        summary.count += 1
        summary.gross += line.gross
        summary.fee += line.fee
        summary.financing += line.financing
        summary.iva += line.iva
        summary.iibb += line.iibb
        summary.iva_withholding += line.iva_withholding
        summary.ganancias += line.ganancias
        summary.net += line.net
        day = days.setdefault(line.deposit_on, DepositDay(line.deposit_on))
        day.count += 1
        day.gross += line.gross
        day.net += line.net
        earliest[line.deposit_on] = min(
            line.presented_on, earliest.get(line.deposit_on, line.presented_on)
        )
    summary.calendar = [days[d] for d in sorted(days)]
    for entry in summary.calendar:
        # Holidays between presentation and deposit explain a date later than expected.
        probe = earliest[entry.day]
        while probe < entry.day:
            name = holiday_name(probe)
            if name and probe.weekday() < 5:
                entry.holiday_before.append(f"{probe:%d/%m}: {name}")
            probe += dt.timedelta(days=1)
    terms = list(terms_used)
    summary.unconfirmed = any(not t.confirmed for t in terms)
    summary.uses_defaults = any(t.is_default for t in terms)
    return summary


def _operations(stores: list[Store], day: dt.date | None) -> list[Operation]:
    """Approved payments and refunds of the business day (the report's day: the provider's
    transaction time in the store's zone); payments annulled by an approved reversal are left
    out (they are never paid). One query, read as values."""
    reversed_payment = Intent.objects.filter(
        original=OuterRef("pk"), kind=Kind.REVERSAL, state=State.APPROVED
    )
    fields = [f.name for f in dc_fields(Operation)]
    rows = (
        intents_of_business_day(stores=stores, day=day)
        .filter(kind__in=[Kind.PAYMENT, Kind.REFUND], state=State.APPROVED)
        .annotate(reversed=Exists(reversed_payment))
        .filter(reversed=False)
        .values_list(*(_OPERATION_VALUES.get(name, name) for name in fields))
        .order_by("finished_at", "pk")
    )
    return [Operation(*row) for row in rows]


def _presentation_days(
    intents: list[Operation],
) -> dict[tuple[Any, Any], dt.datetime]:
    """When each (terminal, batch) of these intents was closed, if it was: one query."""
    keys = {(i.terminal_id, i.batch_number) for i in intents if i.terminal_id and i.batch_number}
    if not keys:
        return {}
    terminals = {t for t, _ in keys}
    numbers = {n for _, n in keys}
    rows = Batch.objects.filter(terminal_id__in=terminals, batch_number__in=numbers).values_list(
        "terminal_id", "batch_number", "closed_at"
    )
    return {(t, n): closed for t, n, closed in rows if (t, n) in keys}


def deposits_for_intents(
    intents: list[Operation], *, merchant_ids: Iterable[int] = ()
) -> DepositsSummary:
    """The deposits of these approved payments and refunds (`_operations`), in a fixed number
    of queries. `merchant_ids`: merchants whose terms count even without operations (so a day
    without sales still says whether the table is confirmed)."""
    merchants = {i.merchant_id for i in intents} | set(merchant_ids)
    terms = fee_terms_for_merchants(Merchant(pk=pk) for pk in merchants)
    closes = _presentation_days(intents)
    lines = []
    for intent in intents:
        closed_at = closes.get((intent.terminal_id, intent.batch_number))
        moment = closed_at or intent.moment
        presented_on = moment.astimezone(_zone(intent.time_zone)).date()
        amount = intent.amount or ZERO
        gross = -amount if intent.kind == Kind.REFUND else amount
        lines.append(
            operation_deposit(
                intent=intent,
                gross=gross,
                terms=terms[intent.merchant_id],
                presented_on=presented_on,
            )
        )
    return summarize(lines, (terms[pk] for pk in merchants))


def deposits_report(*, stores: list[Store], day: dt.date | None) -> DepositsSummary:
    """The expected deposits of the day's operations of these stores (already scoped): the
    selector the daily report page calls for `report_deposits.html`."""
    return deposits_for_intents(
        _operations(stores, day), merchant_ids={s.merchant_id for s in stores}
    )
