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

from django.db.models import DateTimeField, F, Func, Q, QuerySet
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns
from stores.models import Store, Terminal
from transactions.models import Batch, Intent
from transactions.reporting.totals import (
    DayTotals,
    bounds_filter,
    business_range_filter,
    day_bounds,
    effective_amount,
    intents_of_business_day,
    local_day,
    scope_totals,
    stores_by_day,
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
    # The close's intent when its Batch row is missing (the page links to it instead).
    settlement: Intent | None = None
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


def _batch_line(batch: Batch, store: Store) -> BatchLine:
    totals = batch.totals if isinstance(batch.totals, dict) else {}
    return BatchLine(
        store=store,
        terminal=batch.terminal,
        batch_number=batch.batch_number,
        closed_at=batch.closed_at,
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


# The attention list shows at most this many intents, oldest first (a list for a person to work
# through; the intents page finds the rest).
ATTENTION_LIMIT = 200

_TERMINAL_COLUMNS = concrete_columns(Terminal)
_INTENT_COLUMNS = concrete_columns(Intent)
_BATCH_COLUMNS = concrete_columns(Batch)
_STORE_FIELD = Intent._meta.get_field("store")


def _with_terminal(columns: list[str], prefix: str = "") -> list[str]:
    """`columns` of the row's model, then its terminal's (NULL when it has none)."""
    return [*columns, *(f"{prefix}terminal__{name}" for name in _TERMINAL_COLUMNS)]


def _split_terminal(model, row: tuple, width: int):
    """A row of `_with_terminal` as the model instance with its terminal (or None) cached."""
    instance = model.from_db("default", concrete_columns(model), row[:width])
    terminal_row = row[width : width + len(_TERMINAL_COLUMNS)]
    terminal = (
        Terminal.from_db("default", _TERMINAL_COLUMNS, terminal_row)
        if terminal_row[0] is not None
        else None
    )
    model.terminal.field.set_cached_value(instance, terminal)
    return instance


# The report's small reads as SQL built once per process and planned once per session
# (`CompiledQuery`): building these statements (every column of an intent, a batch and a
# terminal) cost the ORM more than the database spent running them.
_BATCHES = CompiledQuery(
    "report_batches",
    lambda store_ids, starts, ends: (
        Batch.objects.filter(
            # The store the close was made in (a moved terminal leaves its batches behind).
            bounds_filter("closed_at", store_ids, starts, ends, prefix="settlement__")
        )
        .order_by("closed_at", "pk")
        .values_list(*_with_terminal(_BATCH_COLUMNS), "settlement__store_id")
    ),
    server_prepared=True,
    store_ids=Arg(_STORE_FIELD, many=True),
    starts=Arg(Batch._meta.get_field("closed_at"), many=True),
    ends=Arg(Batch._meta.get_field("closed_at"), many=True),
)
_ORPHAN_SETTLEMENTS = CompiledQuery(
    "report_orphan_settlements",
    lambda store_ids, day: (
        Intent.objects.filter(
            store_id__in=store_ids,
            business_day=day,
            kind=Kind.SETTLEMENT,
            state=State.APPROVED,
            closed_batch__isnull=True,
        )
        .order_by("transacted_at", "pk")
        .values_list(*_with_terminal(_INTENT_COLUMNS))
    ),
    server_prepared=True,
    store_ids=Arg(_STORE_FIELD, many=True),
    day=Arg(Intent._meta.get_field("business_day")),
)
_ATTENTION = CompiledQuery(
    "report_attention",
    lambda store_ids, starts, ends: (
        Intent.objects.filter(bounds_filter("created_at", store_ids, starts, ends))
        .filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .order_by("created_at", "pk")
        .values_list(*_with_terminal(_INTENT_COLUMNS))[:ATTENTION_LIMIT]
    ),
    server_prepared=True,
    store_ids=Arg(_STORE_FIELD, many=True),
    starts=Arg(Intent._meta.get_field("created_at"), many=True),
    ends=Arg(Intent._meta.get_field("created_at"), many=True),
)


def _day_bounds_of(stores: list[Store], day: dt.date | None) -> dict:
    """The arguments of a query over each store's own local day: ids, starts and ends."""
    bounds = [day_bounds(store=store, day=day) for store in stores]
    return {
        "store_ids": [store.pk for store in stores],
        "starts": [start for start, _ in bounds],
        "ends": [end for _, end in bounds],
    }


def _orphan_settlements(stores: list[Store], day: dt.date | None) -> list[Intent]:
    """Settlements approved during the business day whose Batch row is missing."""
    rows = []
    for the_day, store_ids in stores_by_day(stores, day=day).items():
        rows += _ORPHAN_SETTLEMENTS.rows(store_ids=store_ids, day=the_day)
    intents = [_split_terminal(Intent, row, len(_INTENT_COLUMNS)) for row in rows]
    return sorted(intents, key=lambda i: (i.transacted_at is None, i.transacted_at, i.pk))


def daily_report(*, stores, day: dt.date | None = None) -> DailyReport:
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
    by_pk = {store.pk: store for store in stores}
    bounds = _day_bounds_of(stores, day)

    # Batches closed during the day.
    for row in _BATCHES.rows(**bounds):
        batch = _split_terminal(Batch, row, len(_BATCH_COLUMNS))
        store = by_pk[row[-1]]
        sections[store.pk].batches.append(_batch_line(batch, store))

    # Settlements approved during the day whose Batch row is missing (the write after the
    # close can be lost with its process): the manager must still see the close happened.
    for settlement in _orphan_settlements(stores, day):
        store = by_pk[settlement.store_id]
        Intent.store.field.set_cached_value(settlement, store)
        sections[store.pk].batches.append(
            BatchLine(
                store=store,
                terminal=settlement.terminal,
                batch_number=settlement.batch_number,
                closed_at=settlement.finished_at,
                settlement=settlement,
                verdict_label="Sin registro de lote",
            )
        )

    # What still needs a person: created that day, in doubt or flagged (read through the
    # partial `intent_attention` index: as small as the open problems).
    for row in _ATTENTION.rows(**bounds):
        intent = _split_terminal(Intent, row, len(_INTENT_COLUMNS))
        Intent.store.field.set_cached_value(intent, by_pk[intent.store_id])
        sections[intent.store_id].attention.append(intent)

    return DailyReport(
        day=the_day,
        stores=[sections[s.pk] for s in stores],
        overall=totals.overall,
        merchants=list(merchants.values()),
    )


class LocalTime(Func):
    """A moment (by default the provider's transaction time) on a wall clock (by default the
    store's). PostgreSQL converts it (`AT TIME ZONE`): a naive timestamp is read by the driver's
    C loader, several times faster than an aware one through Django's (a merchant-day is ~9k
    rows). Elsewhere it is the aware value, which the reader converts the same way
    (`exports.operation_values`, the intents CSV)."""

    output_field = DateTimeField()

    def __init__(self, moment: str = "transacted_at", zone=None):
        super().__init__(F(moment), zone if zone is not None else F("store__time_zone"))

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        moment, moment_params = compiler.compile(self.source_expressions[0])
        zone, zone_params = compiler.compile(self.source_expressions[1])
        return f"({moment} AT TIME ZONE {zone})", [*moment_params, *zone_params]


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
    "local_time",
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
            local_time=LocalTime(),
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
