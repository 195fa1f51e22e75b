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
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
from django.db import connections
from django.db.models import Case, DateField, Exists, OuterRef, When
from django.db.models.functions import Coalesce, TruncDate

from stores.models import Merchant, Store
from transactions.brands import brand_label
from transactions.models import Batch, FeeSchedule, Intent
from transactions.money import to_decimal
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


class Operation(NamedTuple):
    """What a deposit reads of an approved payment or refund, as `_operations` reads it: plain
    values, not model instances (a merchant-day is thousands of operations: a tuple is the
    cheapest record to build)."""

    kind: str
    merchant_id: int
    # The day it was presented to the acquirer, in its store's zone: its batch's close, or the
    # day it ended while the batch is open.
    presented_on: dt.date
    # What it moved: the amount authorized, else the one asked for.
    amount: Decimal
    card_brand: str
    card_brand_code: str
    payment_type: str
    installments: int


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


def _calendar(days: dict[dt.date, DepositDay], earliest: dict[dt.date, dt.date]):
    calendar = [days[d] for d in sorted(days)]
    for entry in calendar:
        # Holidays between presentation and deposit explain a date later than expected.
        probe = earliest[entry.day]
        while probe < entry.day:
            name = holiday_name(probe)
            if name and probe.weekday() < 5:
                entry.holiday_before.append(f"{probe:%d/%m}: {name}")
            probe += dt.timedelta(days=1)
    return calendar


def _terms_notes(summary: DepositsSummary, terms_used: Iterable[FeeTerms]) -> DepositsSummary:
    terms = list(terms_used)
    summary.unconfirmed = any(not t.confirmed for t in terms)
    summary.uses_defaults = any(t.is_default for t in terms)
    return summary


def summarize(lines: list[OperationDeposit], terms_used: Iterable[FeeTerms]) -> DepositsSummary:
    """The summary of per-operation lines (`operation_deposit`): the reference the report's
    own summary (`deposits_for_operations`) is tested against."""
    summary = DepositsSummary()
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
    summary.calendar = _calendar(days, earliest)
    return _terms_notes(summary, terms_used)


def _local_day(stores: list[Store]):
    """The local day an intent ended (or, never ended, was created) in its store's zone, as a
    query expression (one zone, or a CASE per zone among the stores)."""
    moment = Coalesce("finished_at", "created_at")
    zones: dict[str, list[int]] = {}
    for store in stores:
        zones.setdefault(store.time_zone, []).append(store.pk)
    if len(zones) == 1:
        return TruncDate(moment, tzinfo=_zone(next(iter(zones))))
    return Case(
        *(
            When(store_id__in=pks, then=TruncDate(moment, tzinfo=_zone(name)))
            for name, pks in zones.items()
        ),
        output_field=DateField(),
    )


def _closing_days(stores: list[Store], keys: set[tuple[int, int]]) -> dict[tuple, dt.date]:
    """The local day each (terminal, batch) among `keys` was closed, if it was: one query."""
    if not keys:
        return {}
    zone_of = {store.pk: _zone(store.time_zone) for store in stores}
    rows = Batch.objects.filter(
        terminal_id__in={t for t, _ in keys}, batch_number__in={n for _, n in keys}
    ).values_list("terminal_id", "batch_number", "closed_at", "settlement__store_id")
    default = next(iter(zone_of.values()))
    return {
        (t, n): closed.astimezone(zone_of.get(store_id, default)).date()
        for t, n, closed, store_id in rows
        if (t, n) in keys
    }


def _operations(stores: list[Store], day: dt.date | None) -> list[Operation]:
    """Approved payments and refunds of the business day (the report's day: the provider's
    transaction time in the store's zone); payments annulled by an approved reversal are left
    out (they are never paid). Two queries: the operations, with the local day they ended
    computed by the database (a datetime per operation cost more to read than the rest of the
    row), and the closes of their batches (the day they were presented).

    The ORM builds the statement; its rows are read straight from the cursor (a merchant-day is
    thousands of rows, and the ORM's per-value converters are no-ops on PostgreSQL): the two
    computed values are normalized here, whatever the database gave."""
    reversed_payment = Intent.objects.filter(
        original=OuterRef("pk"), kind=Kind.REVERSAL, state=State.APPROVED
    )
    queryset = (
        intents_of_business_day(stores=stores, day=day)
        .filter(kind__in=[Kind.PAYMENT, Kind.REFUND], state=State.APPROVED)
        .annotate(reversed=Exists(reversed_payment))
        .filter(reversed=False)
        .annotate(ended_on=_local_day(stores), moved=Coalesce("authorized_amount", "amount"))
        # Operation's fields in order (the merchant for the terms), then the batch's key.
        .values_list(
            "kind",
            "store__merchant_id",
            "ended_on",
            "moved",
            "card_brand",
            "card_brand_code",
            "payment_type",
            "installments",
            "terminal_id",
            "batch_number",
        )
        .order_by()
    )
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    closes = _closing_days(stores, {(r[8], r[9]) for r in rows if r[8] and r[9]})
    new = tuple.__new__
    operations = []
    for kind, merchant_id, ended_on, amount, *card, terminal_id, batch in rows:
        if type(ended_on) is not dt.date:
            ended_on = _date(ended_on)
        if type(amount) is not Decimal:
            amount = _amount(amount)
        if batch and terminal_id:
            ended_on = closes.get((terminal_id, batch), ended_on)
        operations.append(new(Operation, (kind, merchant_id, ended_on, amount, *card)))
    return operations


def _date(value) -> dt.date:
    """A computed day as the database gives it (SQLite: text; another driver: a datetime)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _amount(value) -> Decimal:
    # SQLite coalesces decimals as floats: read as money reads them.
    return (to_decimal(value) or ZERO).quantize(CENT)


def deposit_lines(operations: list[Operation]) -> list[OperationDeposit]:
    """Each operation's deposit, component by component (`operation_deposit`)."""
    terms = fee_terms_for_merchants(Merchant(pk=pk) for pk in {o.merchant_id for o in operations})
    return [
        operation_deposit(
            intent=op,
            gross=-op.amount if op.kind == Kind.REFUND else op.amount,
            terms=terms[op.merchant_id],
            presented_on=op.presented_on,
        )
        for op in operations
    ]


def _ratio(percent: Decimal) -> tuple[int, int]:
    """`percent` as n/d of an amount: amount × percent / 100 = amount × n / d, exactly."""
    n, d = percent.as_integer_ratio()
    return n, d * 100


def _share(cents: int, ratio: tuple[int, int]) -> int:
    """`cents` × a ratio, rounded half up (away from zero) to a cent, in integers: what
    `percent_of` computes with Decimal, a tenth of the cost."""
    n, d = ratio
    if n < 0:
        return -_share(cents, (-n, d))
    return (2 * cents * n + d) // (2 * d)


def _cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def deposits_for_operations(
    operations: list[Operation], *, merchant_ids: Iterable[int] = ()
) -> DepositsSummary:
    """The summary and calendar of these operations' deposits: the same figures as adding up
    `operation_deposit` of each (each component rounded per operation), computed in integer
    cents per group of operations that share their terms and presentation day, in a fixed
    number of queries. `merchant_ids`: merchants whose terms count even without operations (so
    a day without sales still says whether the table is confirmed)."""
    merchants = {o.merchant_id for o in operations} | set(merchant_ids)
    terms = fee_terms_for_merchants(Merchant(pk=pk) for pk in merchants)
    groups: dict[tuple, list[int]] = {}
    for op in operations:
        key = (
            op.merchant_id,
            op.kind == Kind.REFUND,
            op.card_brand,
            op.card_brand_code,
            op.payment_type,
            op.installments or 1,
            op.presented_on,
        )
        cents = int(op.amount.scaleb(2))
        found = groups.get(key)
        if found is None:
            groups[key] = [cents]
        else:
            found.append(cents)
    # Integer cents: count, gross, fee, financing, iva, iibb, iva withholding, ganancias, net.
    total = [0] * 9
    days: dict[dt.date, list[int]] = {}  # deposit day -> [count, gross, net]
    earliest: dict[dt.date, dt.date] = {}
    for (merchant_id, refund, brand, code, ptype, plan, presented_on), amounts in groups.items():
        merchant_terms = terms[merchant_id]
        label = brand_label(brand, code)
        rule = merchant_terms.rule_for(label, DEBIT if ptype == DEBIT else CREDIT)
        deposit_on = add_business_days(presented_on, rule.term_business_days)
        day = days.setdefault(deposit_on, [0, 0, 0])
        earliest[deposit_on] = min(presented_on, earliest.get(deposit_on, presented_on))
        if refund:  # discounted whole: no fee, IVA or withholding
            gross = -sum(amounts)
            total[0] += len(amounts)
            total[1] += gross
            total[8] += gross
            day[0] += len(amounts)
            day[1] += gross
            day[2] += gross
            continue
        fee_r = _ratio(rule.fee_percent)
        plan_r = _ratio(merchant_terms.plan_cost(plan))
        iva_r = _ratio(merchant_terms.iva_percent)
        iibb_r = _ratio(merchant_terms.iibb_withholding_percent)
        ivaw_r = _ratio(merchant_terms.iva_withholding_percent)
        gan_r = _ratio(merchant_terms.ganancias_withholding_percent)
        gross = fee = financing = iva = iibb = ivaw = gan = 0
        for cents in amounts:
            f = _share(cents, fee_r)
            c = _share(cents, plan_r)
            gross += cents
            fee += f
            financing += c
            iva += _share(f + c, iva_r)
            iibb += _share(cents, iibb_r)
            ivaw += _share(cents, ivaw_r)
            gan += _share(cents, gan_r)
        net = gross - fee - financing - iva - iibb - ivaw - gan
        for i, value in enumerate((len(amounts), gross, fee, financing, iva, iibb, ivaw, gan, net)):
            total[i] += value
        day[0] += len(amounts)
        day[1] += gross
        day[2] += net
    count, gross, fee, financing, iva, iibb, ivaw, gan, net = total
    summary = DepositsSummary(
        count=count,
        gross=_cents(gross),
        fee=_cents(fee),
        financing=_cents(financing),
        iva=_cents(iva),
        iibb=_cents(iibb),
        iva_withholding=_cents(ivaw),
        ganancias=_cents(gan),
        net=_cents(net),
    )
    summary.calendar = _calendar(
        {d: DepositDay(d, n, _cents(g), _cents(x)) for d, (n, g, x) in days.items()}, earliest
    )
    return _terms_notes(summary, (terms[pk] for pk in merchants))


def deposits_report(*, stores: list[Store], day: dt.date | None) -> DepositsSummary:
    """The expected deposits of the day's operations of these stores (already scoped): the
    selector the daily report page calls for `report_deposits.html`."""
    stores = list(stores)
    return deposits_for_operations(
        _operations(stores, day), merchant_ids={s.merchant_id for s in stores}
    )
