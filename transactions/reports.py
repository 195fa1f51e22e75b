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


# --- Daily settlement report ("Reporte diario") ---------------------------------------------
#
# The day of an intent is the store's local calendar day of the moment it ended: `finished_at`
# (approval, decline, failure, cancellation), or `created_at` while it has not ended (in doubt,
# processing). That is the same rule as `store_day_totals`, so the report of today agrees with
# the home page to the cent. A batch belongs to the local day it was closed (`closed_at`).

CREDIT, DEBIT = "CREDIT", "DEBIT"
_PAYMENT_TYPE_LABELS = {CREDIT: "Crédito", DEBIT: "Débito"}
# Cuotas in the bands people talk about; the exact value is in the operations export.
INSTALLMENT_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1 cuota", 1, 1),
    ("2 a 6 cuotas", 2, 6),
    ("7 a 12 cuotas", 7, 12),
    ("13 o más", 13, None),
)
NO_BRAND = "Sin marca"
NO_PAYMENT_TYPE = "Sin dato"


@dataclass
class Bucket:
    """A count and an amount under a label (a payment type, a band of cuotas)."""

    label: str
    count: int = 0
    amount: Decimal = ZERO


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
class ReportTotals:
    """The numbers of one store's day, or of all the report's stores (`store` None).

    Declined, failed and cancelled count payments only: they are the charges the customer saw
    fail. `net` is approved payments minus approved reversals and refunds."""

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


@dataclass
class StoreDayReport:
    totals: ReportTotals
    batches: list[BatchLine] = field(default_factory=list)
    attention: list[Intent] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.totals.store


@dataclass
class DailyReport:
    """The day of some stores: one section per store and the sum of them all."""

    day: dt.date
    stores: list[StoreDayReport]
    overall: ReportTotals

    @property
    def batches(self) -> list[BatchLine]:
        return [line for section in self.stores for line in section.batches]

    @property
    def attention(self) -> list[Intent]:
        return [intent for section in self.stores for intent in section.attention]


def _effective_amount():
    """What an intent moved: its amount, else the authorized amount, else (a reversal without
    one) its payment's. The same expression as the home page's totals."""
    return Coalesce("amount", "authorized_amount", "original__amount", output_field=_MONEY)


def _with_done_at(queryset: QuerySet[Intent]) -> QuerySet[Intent]:
    return queryset.annotate(done_at=Coalesce("finished_at", "created_at"))


def brand_label(card_brand: str, card_brand_code: str = "") -> str:
    """One spelling per brand ('Visa' and 'VISA' are one bar)."""
    return (card_brand or "").strip().upper() or (card_brand_code or "").strip() or NO_BRAND


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


def _add_brand(brands: dict[str, BrandTotal], label: str, count: int, amount: Decimal) -> None:
    brand = brands.setdefault(label, BrandTotal(brand=label, count=0, amount=ZERO))
    brand.count += count
    brand.amount += amount


class _Accumulator:
    """Folds the grouped rows of one scope (a store, or all) into a ReportTotals."""

    def __init__(self, totals: ReportTotals):
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

    def add_breakdown(self, row: dict, amount: Decimal) -> None:
        count = row["n"]
        _add_brand(
            self.brands, brand_label(row["card_brand"], row["card_brand_code"]), count, amount
        )
        _add(self.payment_types, payment_type_label(row["payment_type"]), count, amount)
        _add(self.installments, installment_band(row["installments"]), count, amount)

    def finish(self) -> ReportTotals:
        t = self.totals
        t.brands = sorted(self.brands.values(), key=lambda b: (-b.amount, b.brand))
        if t.approved_amount:
            for brand in t.brands:
                brand.percent = (brand.amount * 100 / t.approved_amount).quantize(Decimal("0.1"))
        order = {label: i for i, label in enumerate(_PAYMENT_TYPE_LABELS.values())}
        t.payment_types = sorted(
            self.payment_types.values(), key=lambda b: (order.get(b.label, len(order)), b.label)
        )
        t.installments = list(self.installments.values())
        return t


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
        store=batch.terminal.store,
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


def _resolve_days(stores: list[Store], day: dt.date | None) -> dt.date:
    """The report's day: `day`, or today in the first store's zone (each store still uses its
    own local today for its bounds when `day` is None)."""
    if day is not None:
        return day
    return local_day(store=stores[0]) if stores else timezone.localdate()


def daily_report(*, stores, day: dt.date | None = None, attention_limit: int = 200) -> DailyReport:
    """The day's settlement report of `stores` (already scoped to the user and to the
    VIEW_REPORTS permission), in five queries however many intents and stores there are.

    `day` is a local calendar date applied in each store's own time zone; None means each
    store's today. See the block comment above for which day an intent belongs to.
    """
    stores = list(stores)
    report_day = _resolve_days(stores, day)
    if not stores:
        return DailyReport(
            day=report_day, stores=[], overall=ReportTotals(store=None, day=report_day)
        )

    per_store = {
        s.pk: _Accumulator(ReportTotals(store=s, day=day or local_day(store=s))) for s in stores
    }
    overall = _Accumulator(ReportTotals(store=None, day=report_day))
    in_day = _day_filter(stores, field_name="done_at", day=day)
    base = _with_done_at(Intent.objects.all()).filter(in_day)
    amount = _effective_amount()

    # 1. Outcomes by store, kind and state.
    outcomes = (
        base.filter(kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND])
        .values("store_id", "kind", "state")
        .annotate(n=Count("pk"), total=Sum(amount))
        .order_by()
    )
    for row in outcomes:
        for acc in (per_store[row["store_id"]], overall):
            acc.add_outcome(
                kind=row["kind"], state=row["state"], count=row["n"], amount=row["total"] or ZERO
            )

    # 2. Approved payments by brand x credit/debit x cuotas: one grouped query feeds the three
    # breakdowns (the groups are bounded by the brands and plans in use, not by the sales).
    breakdown = (
        base.filter(kind=Kind.PAYMENT, state=State.APPROVED)
        .values("store_id", "card_brand", "card_brand_code", "payment_type", "installments")
        .annotate(n=Count("pk"), total=Sum(amount))
        .order_by()
    )
    for row in breakdown:
        for acc in (per_store[row["store_id"]], overall):
            acc.add_breakdown(row, row["total"] or ZERO)

    sections = {s.pk: StoreDayReport(totals=per_store[s.pk].finish()) for s in stores}
    overall_totals = overall.finish()

    # 3. Batches closed during the day.
    batches = (
        Batch.objects.filter(_batch_day_filter(stores, day=day))
        .select_related("terminal", "terminal__store", "settlement")
        .order_by("closed_at", "pk")
    )
    for batch in batches:
        sections[batch.terminal.store_id].batches.append(_batch_line(batch))

    # 4. Settlements approved during the day whose Batch row is missing (the write after the
    # close can be lost with its process): the manager must still see the close happened.
    orphans = (
        base.filter(kind=Kind.SETTLEMENT, state=State.APPROVED, closed_batch__isnull=True)
        .select_related("store", "terminal")
        .order_by("done_at", "pk")
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

    # 5. What still needs a person: in doubt, or flagged, from that day.
    attention = (
        base.filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .select_related("store", "terminal")
        .order_by("done_at", "pk")[:attention_limit]
    )
    for intent in attention:
        sections[intent.store_id].attention.append(intent)

    return DailyReport(
        day=report_day, stores=[sections[s.pk] for s in stores], overall=overall_totals
    )


def _batch_day_filter(stores: list[Store], *, day: dt.date | None) -> Q:
    q = Q(pk__in=[])
    for store in stores:
        start, end = day_bounds(store=store, day=day)
        q |= Q(terminal__store_id=store.pk, closed_at__gte=start, closed_at__lt=end)
    return q


def daily_report_operations(*, stores, day: dt.date | None = None) -> QuerySet[Intent]:
    """Every intent of the day of these stores, of any kind and state, oldest first, with what an
    export row shows joined in (stream it with `.iterator()`)."""
    stores = list(stores)
    if not stores:
        return Intent.objects.none()
    return (
        _with_done_at(Intent.objects.all())
        .filter(_day_filter(stores, field_name="done_at", day=day))
        .annotate(effective_amount=_effective_amount())
        .select_related("store", "terminal")
        .order_by("done_at", "pk")
    )
