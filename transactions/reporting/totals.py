"""The one implementation of totals: what an intent moved, which day it belongs to, and a day's
(or a batch's) sums per outcome, brand, credit/debit and cuotas.

Hoy (`store_day_totals`), the daily report (`reporting.daily`), its exports and the batch
reconciliation (`batch_totals`) all add up here, so they agree to the cent and under the same
brand labels (`transactions.brands.brand_label`).

The day of an intent is the store's local calendar day of the moment it ended: `finished_at`
(approval, decline, failure, cancellation), or `created_at` while it has not ended (in doubt,
processing). Every function takes stores the caller already scoped to the user, and answers in a
fixed number of queries however many intents there are: the home page must cost the same at the
first sale of the day as at the thousandth.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DateField, DecimalField, Q, QuerySet, Sum, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from stores.models import Store
from transactions.brands import brand_label
from transactions.models import Intent
from transactions.states import Kind, State

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
_MONEY = DecimalField(max_digits=16, decimal_places=2)

CREDIT, DEBIT = "CREDIT", "DEBIT"
_PAYMENT_TYPE_LABELS = {CREDIT: "Crédito", DEBIT: "Débito"}
# Cuotas in the bands people talk about; the exact value is in the operations export.
INSTALLMENT_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1 cuota", 1, 1),
    ("2 a 6 cuotas", 2, 6),
    ("7 a 12 cuotas", 7, 12),
    ("13 o más", 13, None),
)
NO_PAYMENT_TYPE = "Sin dato"
# The outcomes a day's totals count: approved money, and the payments the customer saw fail.
_COUNTED_STATES = [State.APPROVED, State.DECLINED, State.FAILED, State.CANCELLED]


def effective_amount():
    """What an intent moved, as a query expression: the amount the provider authorized when it
    reported one (it may differ from the one asked for, and it is the money that moved), else
    the amount requested; a reversal row without either moves its payment's."""
    return Coalesce(
        "authorized_amount",
        "amount",
        "original__authorized_amount",
        "original__amount",
        output_field=_MONEY,
    )


def local_day(*, store: Store, now: dt.datetime | None = None) -> dt.date:
    """The store's calendar day at `now` (its own time zone, not the server's)."""
    return (now or timezone.now()).astimezone(store.tzinfo).date()


def day_bounds(*, store: Store, day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local day of the store as aware datetimes."""
    day = day or local_day(store=store)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=store.tzinfo)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=store.tzinfo)
    return start, end


def day_filter(stores: list[Store], *, field_name: str, day: dt.date | None, prefix="") -> Q:
    """Each store's own local day, OR-ed: one query for all stores, whatever their zones.
    `prefix` reaches the store through a relation (`terminal__` for batches)."""
    q = Q(pk__in=[])
    for store in stores:
        start, end = day_bounds(store=store, day=day)
        q |= Q(
            **{f"{prefix}store_id": store.pk, f"{field_name}__gte": start, f"{field_name}__lt": end}
        )
    return q


def intents_of_day(*, stores: list[Store], day: dt.date | None) -> QuerySet[Intent]:
    """Every intent of the day of these stores (see the module docstring for which day), with
    that moment annotated as `done_at`."""
    return (
        Intent.objects.all()
        .annotate(done_at=Coalesce("finished_at", "created_at"))
        .filter(day_filter(stores, field_name="done_at", day=day))
    )


@dataclass
class BrandTotal:
    brand: str
    count: int
    amount: Decimal
    percent: Decimal = ZERO


@dataclass
class Bucket:
    """A count and an amount under a label (a payment type, a band of cuotas)."""

    label: str
    count: int = 0
    amount: Decimal = ZERO


@dataclass
class DayTotals:
    """The numbers of one store's day, or of several stores together (`store` None).

    Declined, failed and cancelled count payments only: they are the charges the customer saw
    fail. `net` is what stays with the store: approved payments minus approved reversals and
    refunds. The breakdowns are of approved payments."""

    store: Store | None
    day: dt.date
    approved_count: int = 0
    approved_amount: Decimal = ZERO
    reversal_count: int = 0
    reversal_amount: Decimal = ZERO
    refund_count: int = 0
    refund_amount: Decimal = ZERO
    declined_count: int = 0
    failed_count: int = 0
    cancelled_count: int = 0
    brands: list[BrandTotal] = field(default_factory=list)
    payment_types: list[Bucket] = field(default_factory=list)
    installments: list[Bucket] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.approved_amount - self.reversal_amount - self.refund_amount


def payment_type_label(payment_type: str) -> str:
    value = (payment_type or "").strip().upper()
    return _PAYMENT_TYPE_LABELS.get(value, value or NO_PAYMENT_TYPE)


def installment_band(installments: int | None) -> str:
    n = installments or 1
    for label, low, high in INSTALLMENT_BANDS:
        if n >= low and (high is None or n <= high):
            return label
    return INSTALLMENT_BANDS[0][0]


def _add(buckets: dict[str, Bucket], label: str, count: int, amount: Decimal) -> None:
    bucket = buckets.setdefault(label, Bucket(label=label))
    bucket.count += count
    bucket.amount += amount


def _add_brand(brands: dict[str, BrandTotal], row: Mapping[str, Any], amount: Decimal) -> None:
    """Folds a row grouped by `card_brand` and `card_brand_code` under its brand's label."""
    label = brand_label(row["card_brand"], row["card_brand_code"])
    brand = brands.setdefault(label, BrandTotal(brand=label, count=0, amount=ZERO))
    brand.count += row["n"]
    brand.amount += amount


def _biggest_first(brands: dict[str, BrandTotal]) -> list[BrandTotal]:
    return sorted(brands.values(), key=lambda b: (-b.amount, b.brand))


class _Accumulator:
    """Folds the grouped rows of one scope (a store, or all) into a DayTotals."""

    def __init__(self, totals: DayTotals):
        self.totals = totals
        self.brands: dict[str, BrandTotal] = {}
        self.payment_types: dict[str, Bucket] = {}
        self.installments: dict[str, Bucket] = {
            label: Bucket(label) for label, *_ in INSTALLMENT_BANDS
        }

    def add_outcome(self, *, kind: str, state: str, count: int, amount: Decimal) -> None:
        t = self.totals
        if state == State.APPROVED:
            if kind == Kind.PAYMENT:
                t.approved_count += count
                t.approved_amount += amount
            elif kind == Kind.REVERSAL:
                t.reversal_count += count
                t.reversal_amount += amount
            elif kind == Kind.REFUND:
                t.refund_count += count
                t.refund_amount += amount
        elif kind == Kind.PAYMENT and state == State.DECLINED:
            t.declined_count += count
        elif kind == Kind.PAYMENT and state == State.FAILED:
            t.failed_count += count
        elif kind == Kind.PAYMENT and state == State.CANCELLED:
            t.cancelled_count += count

    def add_breakdown(self, row: Mapping[str, Any], amount: Decimal) -> None:
        count = row["n"]
        _add_brand(self.brands, row, amount)
        _add(self.payment_types, payment_type_label(row["payment_type"]), count, amount)
        _add(self.installments, installment_band(row["installments"]), count, amount)

    def finish(self) -> DayTotals:
        t = self.totals
        t.brands = _biggest_first(self.brands)
        if t.approved_amount:
            for brand in t.brands:
                brand.percent = (brand.amount * 100 / t.approved_amount).quantize(Decimal("0.1"))
        order = {label: i for i, label in enumerate(_PAYMENT_TYPE_LABELS.values())}
        t.payment_types = sorted(
            self.payment_types.values(), key=lambda b: (order.get(b.label, len(order)), b.label)
        )
        t.installments = list(self.installments.values())
        return t


_GROUP_FIELDS = (
    "store_id",
    "kind",
    "state",
    "card_brand",
    "card_brand_code",
    "payment_type",
    "installments",
)


def _counted(queryset: QuerySet[Intent]) -> QuerySet[Intent]:
    return queryset.filter(
        kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND], state__in=_COUNTED_STATES
    )


def _fold(row: Mapping[str, Any], accumulators: Iterable[_Accumulator]) -> None:
    """Adds one grouped row (store, kind, state, brand, credit/debit, cuotas) to the outcomes of
    each accumulator, and to their breakdowns when it is of approved payments."""
    amount = row["total"] or ZERO
    breakdown = row["kind"] == Kind.PAYMENT and row["state"] == State.APPROVED
    for acc in accumulators:
        acc.add_outcome(kind=row["kind"], state=row["state"], count=row["n"], amount=amount)
        if breakdown:
            acc.add_breakdown(row, amount)


def day_totals(
    *, stores: list[Store], day: dt.date | None, overall_day: dt.date
) -> tuple[dict[int, DayTotals], DayTotals]:
    """The day's totals of each store (by pk) and of them all, in one grouped query (served by
    the `intent_store_day` index: it reads the day, not the ledger).

    `day` is a local calendar date applied in each store's own time zone; None means each
    store's today. `overall_day` is the day the sum of them all is labelled with."""
    per_store = {
        s.pk: _Accumulator(DayTotals(store=s, day=day or local_day(store=s))) for s in stores
    }
    overall = _Accumulator(DayTotals(store=None, day=overall_day))
    if not stores:
        return {}, overall.finish()
    # Outcomes and the three breakdowns of approved payments from one GROUP BY: the groups are
    # bounded by the kinds, states, brands and plans in use, not by the sales.
    rows = (
        _counted(intents_of_day(stores=stores, day=day))
        .values(*_GROUP_FIELDS)
        .annotate(n=Count("pk"), total=Sum(effective_amount()))
        .order_by()
    )
    for row in rows:
        _fold(row, (per_store[row["store_id"]], overall))
    return {pk: acc.finish() for pk, acc in per_store.items()}, overall.finish()


def range_filter(
    stores: list[Store], *, field_name: str, first: dt.date, last: dt.date, prefix=""
) -> Q:
    """Each store's local days from `first` to `last` (both included), OR-ed: one range per
    store (see `day_filter`)."""
    q = Q(pk__in=[])
    for store in stores:
        start, _ = day_bounds(store=store, day=first)
        _, end = day_bounds(store=store, day=last)
        q |= Q(
            **{f"{prefix}store_id": store.pk, f"{field_name}__gte": start, f"{field_name}__lt": end}
        )
    return q


def _local_date(stores: list[Store]):
    """The store's local calendar date of `done_at`, as a query expression (one CASE branch per
    time zone among the stores)."""
    by_zone: dict[str, list[int]] = {}
    for store in stores:
        by_zone.setdefault(str(store.tzinfo), []).append(store.pk)
    zones = {str(store.tzinfo): store.tzinfo for store in stores}
    if len(by_zone) == 1:
        (zone,) = zones.values()
        return TruncDate("done_at", tzinfo=zone)
    return Case(
        *[
            When(store_id__in=pks, then=TruncDate("done_at", tzinfo=zones[name]))
            for name, pks in by_zone.items()
        ],
        output_field=DateField(),
    )


def range_totals(
    *, stores: list[Store], first: dt.date, last: dt.date
) -> dict[dt.date, tuple[dict[int, DayTotals], DayTotals]]:
    """The totals of every local day from `first` to `last` (both included): for each day, each
    store's totals (by pk) and those of them all, in ONE grouped query over the range (a month
    costs one statement, not thirty). The same numbers as `day_totals` of each day."""
    stores = list(stores)
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    accumulators = {
        d: (
            {s.pk: _Accumulator(DayTotals(store=s, day=d)) for s in stores},
            _Accumulator(DayTotals(store=None, day=d)),
        )
        for d in days
    }
    if stores and days:
        rows = (
            _counted(
                Intent.objects.annotate(done_at=Coalesce("finished_at", "created_at")).filter(
                    range_filter(stores, field_name="done_at", first=first, last=last)
                )
            )
            .annotate(local_date=_local_date(stores))
            .values("local_date", *_GROUP_FIELDS)
            .annotate(n=Count("pk"), total=Sum(effective_amount()))
            .order_by()
        )
        for row in rows:
            per_store, overall = accumulators[row["local_date"]]
            _fold(row, (per_store[row["store_id"]], overall))
    return {
        d: ({pk: acc.finish() for pk, acc in per_store.items()}, overall.finish())
        for d, (per_store, overall) in accumulators.items()
    }


def store_day_totals(*, stores: Iterable[Store], day: dt.date | None = None) -> list[DayTotals]:
    """Today's (or `day`'s) totals of every store, in the stores' order, in two queries: the
    same numbers as that day's daily report."""
    stores = list(stores)
    if not stores:
        return []
    per_store, _overall = day_totals(
        stores=stores, day=day, overall_day=day or local_day(store=stores[0])
    )
    return [per_store[store.pk] for store in stores]


def _cents(value: Decimal | None) -> Decimal:
    # SQLite sums decimals as floats: two places, as the ledger writes them.
    return (value or ZERO).quantize(CENT)


def batch_totals(*, terminal, batch_number: int) -> dict:
    """The portal's own totals of a terminal's batch, from approved intents, in three queries;
    stored on the Batch (JSON, amounts as text) and compared with the closing ticket."""
    amount = effective_amount()
    payments = Intent.objects.filter(
        terminal=terminal, kind=Kind.PAYMENT, state=State.APPROVED, batch_number=batch_number
    )
    # A reversal lives in its payment's batch (same terminal, same open lote).
    reversals = Intent.objects.filter(
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original__terminal=terminal,
        original__batch_number=batch_number,
    )
    refunds = Intent.objects.filter(
        terminal=terminal, kind=Kind.REFUND, state=State.APPROVED, batch_number=batch_number
    )
    brands: dict[str, BrandTotal] = {}
    rows = (
        payments.values("card_brand", "card_brand_code")
        .annotate(n=Count("pk"), total=Sum(amount))
        .order_by()
    )
    for row in rows:
        _add_brand(brands, row, _cents(row["total"]))
    reversal = reversals.aggregate(n=Count("pk"), total=Sum(amount))
    refund = refunds.aggregate(n=Count("pk"), total=Sum(amount))
    reversal_total, refund_total = _cents(reversal["total"]), _cents(refund["total"])
    gross = sum((brand.amount for brand in brands.values()), ZERO)
    return {
        "brands": {
            b.brand: {"count": b.count, "amount": str(b.amount)} for b in _biggest_first(brands)
        },
        "reversals": {"count": reversal["n"], "amount": str(reversal_total)},
        "refunds": {"count": refund["n"], "amount": str(refund_total)},
        "gross": str(gross),
        "net": str(gross - reversal_total - refund_total),
    }
