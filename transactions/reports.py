"""Read-only aggregates for people: today's totals per store and per card brand, and batches.

Every function takes stores the caller already scoped to the user (see `stores.selectors`), and
answers in a fixed number of queries however many intents there are: the home page must cost the
same at the first sale of the day as at the thousandth.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from stores.models import Store, Terminal
from transactions.models import Batch, Intent
from transactions.states import Kind, State

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def local_day(*, store: Store, now: dt.datetime | None = None) -> dt.date:
    """The store's calendar day at `now` (its own time zone, not the server's)."""
    return (now or timezone.now()).astimezone(store.tzinfo).date()


def day_bounds(*, store: Store, day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local day of the store as aware datetimes."""
    day = day or local_day(store=store)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=store.tzinfo)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=store.tzinfo)
    return start, end


@dataclass
class BrandTotal:
    brand: str
    count: int
    amount: Decimal
    percent: Decimal = ZERO


@dataclass
class DayTotals:
    """One store's day. `net` is what stays with the store: approved charges minus approved
    reversals and refunds."""

    store: Store
    day: dt.date
    approved_count: int = 0
    approved_amount: Decimal = ZERO
    reversal_count: int = 0
    reversal_amount: Decimal = ZERO
    refund_count: int = 0
    refund_amount: Decimal = ZERO
    declined_count: int = 0
    brands: list[BrandTotal] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.approved_amount - self.reversal_amount - self.refund_amount


def _day_filter(stores: list[Store], *, field_name: str, day: dt.date | None) -> Q:
    """Each store's own local day, OR-ed: one query for all stores, whatever their zones."""
    q = Q(pk__in=[])
    for store in stores:
        start, end = day_bounds(store=store, day=day)
        q |= Q(store_id=store.pk, **{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return q


def store_day_totals(*, stores, day: dt.date | None = None) -> list[DayTotals]:
    """Today's (or `day`'s) totals of every store, in two queries.

    An approved intent counts on the local day it finished (its creation day if the finish time
    is missing). A reversal's amount is its payment's when the reversal row has none.
    """
    stores = list(stores)
    totals = {
        store.pk: DayTotals(store=store, day=day or local_day(store=store)) for store in stores
    }
    if not stores:
        return []
    base = Intent.objects.annotate(done_at=Coalesce("finished_at", "created_at")).filter(
        _day_filter(stores, field_name="done_at", day=day),
        kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND],
        state__in=[State.APPROVED, State.DECLINED],
    )
    effective_amount = Coalesce(
        "amount", "authorized_amount", "original__amount", output_field=_MONEY
    )
    rows = base.values("store_id", "kind", "state").annotate(
        n=Count("pk"), total=Sum(effective_amount)
    )
    for row in rows:
        day_totals = totals[row["store_id"]]
        amount = row["total"] or ZERO
        if row["state"] == State.DECLINED:
            if row["kind"] == Kind.PAYMENT:
                day_totals.declined_count += row["n"]
            continue
        if row["kind"] == Kind.PAYMENT:
            day_totals.approved_count += row["n"]
            day_totals.approved_amount += amount
        elif row["kind"] == Kind.REVERSAL:
            day_totals.reversal_count += row["n"]
            day_totals.reversal_amount += amount
        elif row["kind"] == Kind.REFUND:
            day_totals.refund_count += row["n"]
            day_totals.refund_amount += amount

    brand_rows = (
        base.filter(kind=Kind.PAYMENT, state=State.APPROVED)
        .values("store_id", "card_brand")
        .annotate(n=Count("pk"), total=Sum(effective_amount))
        .order_by("store_id", "-total")
    )
    for row in brand_rows:
        day_totals = totals[row["store_id"]]
        day_totals.brands.append(
            BrandTotal(
                brand=row["card_brand"] or "Sin marca",
                count=row["n"],
                amount=row["total"] or ZERO,
            )
        )
    for day_totals in totals.values():
        if day_totals.approved_amount:
            for brand in day_totals.brands:
                brand.percent = (brand.amount * 100 / day_totals.approved_amount).quantize(
                    Decimal("0.1")
                )
    return [totals[store.pk] for store in stores]


def terminal_intents_today(*, terminal: Terminal, limit: int = 50) -> QuerySet[Intent]:
    """Intents the terminal was offered or took during the store's local day, newest first."""
    start, end = day_bounds(store=terminal.store)
    return (
        Intent.objects.filter(Q(terminal=terminal) | Q(offered_terminals=terminal))
        .filter(created_at__gte=start, created_at__lt=end)
        .select_related("store", "terminal")
        .distinct()
        .order_by("-created_at")[:limit]
    )


def batch_list(*, stores) -> QuerySet[Batch]:
    """Closed batches of these stores, newest first, with what the list shows joined in."""
    return Batch.objects.filter(terminal__store__in=stores).select_related(
        "terminal", "terminal__store", "settlement"
    )
