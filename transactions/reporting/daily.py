"""Daily settlement report ("Reporte diario"): a business day's totals of some stores (from
`reporting.totals`, the same numbers as Hoy) per store, per merchant (CUIT) and together, with
the crossed and per terminal / batch / origin breakdowns, the batches closed that day and what
still needs a person.

An intent belongs to its business day (`transactions.business_day`: the store-local day of the
provider's transaction time); a batch belongs to the local day it was closed (`closed_at`); the
attention list holds the intents created that day that are in doubt or flagged.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from stores.models import Store, Terminal
from transactions.models import Batch, Intent
from transactions.reporting.totals import (
    DayTotals,
    business_range_filter,
    day_filter,
    effective_amount,
    intents_of_business_day,
    local_day,
    scope_totals,
)
from transactions.states import Kind, State


@dataclass
class BatchDifference:
    """One line where the portal and the closing ticket disagree (or why they were not
    compared, in `detail`)."""

    line: str
    portal_count: int | None = None
    portal_amount: Decimal | None = None
    ticket_count: int | None = None
    ticket_amount: Decimal | None = None
    detail: str = ""


@dataclass
class BatchLine:
    """A batch closed during the day. `batch` is None when the settlement was approved but its
    Batch row was not recorded (yet): it is listed anyway, without a page to link to."""

    store: Store
    terminal: Terminal | None
    batch_number: int | None
    closed_at: dt.datetime | None
    settlement: Intent | None
    batch: Batch | None = None
    verdict: str = Batch.Verdict.PENDING
    verdict_label: str = Batch.Verdict.PENDING.label
    gross: Decimal | None = None
    reversal_amount: Decimal | None = None
    refund_amount: Decimal | None = None
    net: Decimal | None = None
    differences: list[BatchDifference] = field(default_factory=list)


@dataclass
class StoreDayReport:
    totals: DayTotals
    batches: list[BatchLine] = field(default_factory=list)
    attention: list[Intent] = field(default_factory=list)

    @property
    def store(self) -> Store:
        assert self.totals.store is not None, "a store's report has its store"
        return self.totals.store


@dataclass
class MerchantDayReport:
    """A merchant's (CUIT's) stores in the report and their subtotal."""

    totals: DayTotals
    stores: list[StoreDayReport] = field(default_factory=list)

    @property
    def merchant(self):
        return self.totals.merchant


@dataclass
class DailyReport:
    """The day of some stores: one section per store, a subtotal per merchant, and the sum of
    them all."""

    day: dt.date
    stores: list[StoreDayReport]
    overall: DayTotals
    merchants: list[MerchantDayReport] = field(default_factory=list)

    @property
    def several_merchants(self) -> bool:
        return len(self.merchants) > 1

    @property
    def batches(self) -> list[BatchLine]:
        return [line for section in self.stores for line in section.batches]

    @property
    def attention(self) -> list[Intent]:
        return [intent for section in self.stores for intent in section.attention]


def _money(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _batch_differences(raw) -> list[BatchDifference]:
    differences = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            differences.append(BatchDifference(line="", detail=str(item)))
            continue
        differences.append(
            BatchDifference(
                line=str(item.get("line", "")),
                portal_count=item.get("portal_count"),
                portal_amount=_money(item.get("portal_amount")),
                ticket_count=item.get("ticket_count"),
                ticket_amount=_money(item.get("ticket_amount")),
                detail=str(item.get("detail", "")),
            )
        )
    return differences


def _batch_line(batch: Batch) -> BatchLine:
    totals = batch.totals if isinstance(batch.totals, dict) else {}
    return BatchLine(
        store=batch.settlement.store,
        terminal=batch.terminal,
        batch_number=batch.batch_number,
        closed_at=batch.closed_at,
        settlement=batch.settlement,
        batch=batch,
        verdict=batch.verdict,
        verdict_label=batch.get_verdict_display(),
        gross=_money(totals.get("gross")),
        reversal_amount=_money((totals.get("reversals") or {}).get("amount")),
        refund_amount=_money((totals.get("refunds") or {}).get("amount")),
        net=_money(totals.get("net")),
        differences=_batch_differences(batch.differences),
    )


def report_day(stores: list[Store], day: dt.date | None) -> dt.date:
    """The report's day: `day`, or today in the first store's zone (each store still uses its
    own local today for its bounds when `day` is None)."""
    if day is not None:
        return day
    return local_day(store=stores[0]) if stores else timezone.localdate()


def daily_report(*, stores, day: dt.date | None = None, attention_limit: int = 200) -> DailyReport:
    """The business day's settlement report of `stores` (already scoped to the user and to the
    VIEW_REPORTS permission), in eight queries however many intents and stores there are: one
    grouped query for every total and breakdown, three for the breakdowns' labels, the batches,
    the orphan settlements and the attention list (the merchants come with the stores).

    `day` is a local calendar date applied in each store's own time zone; None means each
    store's today.
    """
    stores = list(stores)
    the_day = report_day(stores, day)
    totals = scope_totals(stores=stores, day=day, overall_day=the_day, detail=True)
    if not stores:
        return DailyReport(day=the_day, stores=[], overall=totals.overall)
    sections = {s.pk: StoreDayReport(totals=totals.per_store[s.pk]) for s in stores}
    merchants: dict[int, MerchantDayReport] = {}
    for store in stores:
        merchant = merchants.setdefault(
            store.merchant_id, MerchantDayReport(totals=totals.per_merchant[store.merchant_id])
        )
        merchant.stores.append(sections[store.pk])

    # Batches closed during the day.
    batches = (
        Batch.objects.filter(
            # The store the close was made in (a moved terminal leaves its batches behind).
            day_filter(stores, field_name="closed_at", day=day, prefix="settlement__")
        )
        .select_related("terminal", "settlement", "settlement__store")
        .order_by("closed_at", "pk")
    )
    for batch in batches:
        sections[batch.settlement.store_id].batches.append(_batch_line(batch))

    # Settlements approved during the day whose Batch row is missing (the write after the
    # close can be lost with its process): the manager must still see the close happened.
    orphans = (
        intents_of_business_day(stores=stores, day=day)
        .filter(kind=Kind.SETTLEMENT, state=State.APPROVED, closed_batch__isnull=True)
        .select_related("store", "terminal")
        .order_by("transacted_at", "pk")
    )
    for settlement in orphans:
        sections[settlement.store_id].batches.append(
            BatchLine(
                store=settlement.store,
                terminal=settlement.terminal,
                batch_number=settlement.batch_number,
                closed_at=settlement.finished_at,
                settlement=settlement,
                verdict_label="Sin registro de lote",
            )
        )

    # What still needs a person: created that day, in doubt or flagged (read through the
    # partial `intent_attention` index: as small as the open problems).
    attention = (
        Intent.objects.filter(day_filter(stores, field_name="created_at", day=day))
        .filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .select_related("store", "terminal")
        .order_by("created_at", "pk")[:attention_limit]
    )
    for intent in attention:
        sections[intent.store_id].attention.append(intent)

    return DailyReport(
        day=the_day,
        stores=[sections[s.pk] for s in stores],
        overall=totals.overall,
        merchants=list(merchants.values()),
    )


# What a detail row shows, read as plain values (no model instances: a merchant-day is ~9k rows
# and a merchant-month hundreds of thousands).
OPERATION_FIELDS = (
    "pk",
    "public_id",
    "kind",
    "state",
    "card_brand",
    "card_brand_code",
    "payment_type",
    "card_last_four",
    "installments",
    "authorization_code",
    "ticket_number",
    "batch_number",
    "reference",
    "provider_id",
    "transacted_at",
    "business_day",
    "store__name",
    "store__time_zone",
    "terminal__terminal_id",
    "original_id",
)
# A follow-up's payment fields, as `orig_<field>` (empty on a payment).
ORIGINAL_FIELDS = (
    "provider_id",
    "card_brand",
    "card_brand_code",
    "payment_type",
    "installments",
    "card_last_four",
)
# The detail lists the operations that make up the totals: payments, reversals and refunds.
DETAIL_KINDS = [Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND]
NOT_APPROVED_STATES = [State.DECLINED, State.FAILED, State.CANCELLED]


def _operations(queryset: QuerySet[Intent], *, approved: bool) -> QuerySet:
    """The detail of a business day or range: the approved operations (which sum to the net, a
    reversal or refund negative) or, apart, the payments that were declined, failed or
    cancelled; oldest first, with what an export row shows joined in and what it moved as
    `effective_amount`, as dicts (`OPERATION_FIELDS`; stream them with `.iterator()`)."""
    if approved:
        queryset = queryset.filter(kind__in=DETAIL_KINDS, state=State.APPROVED)
    else:
        queryset = queryset.filter(kind=Kind.PAYMENT, state__in=NOT_APPROVED_STATES)
    # One statement, each row LEFT JOINed to its payment (as `totals._grouped`): a payment's
    # `orig_` fields are NULL, and a follow-up's amount falls back to its payment's.
    return (
        queryset.annotate(
            **{f"orig_{name}": F(f"original__{name}") for name in ORIGINAL_FIELDS},
            effective_amount=effective_amount(),
        )
        .values(
            *OPERATION_FIELDS, *(f"orig_{name}" for name in ORIGINAL_FIELDS), "effective_amount"
        )
        .order_by("transacted_at", "pk")
    )


def daily_report_operations(
    *, stores, day: dt.date | None = None, approved: bool = True
) -> QuerySet:
    """The detail of the business day of these stores (see `_operations`)."""
    stores = list(stores)
    if not stores:
        return Intent.objects.none()
    return _operations(intents_of_business_day(stores=stores, day=day), approved=approved)


def period_operations(*, stores, first: dt.date, last: dt.date, approved: bool = True) -> QuerySet:
    """The detail of the business days `first` to `last` of these stores, shaped like
    `daily_report_operations` (stream it: a merchant-month is hundreds of thousands of rows)."""
    stores = list(stores)
    if not stores:
        return Intent.objects.none()
    queryset = Intent.objects.filter(business_range_filter(stores, first=first, last=last))
    return _operations(queryset, approved=approved)
