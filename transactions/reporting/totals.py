"""The one implementation of totals: what an intent moved, which day it belongs to, and a day's
(or a batch's) sums per outcome, brand, credit/debit and cuotas.

Hoy (`store_day_totals`), the daily report (`reporting.daily`), its exports and the batch
reconciliation (`batch_totals`) all add up here, so they agree to the cent and under the same
brand labels (`transactions.brands.brand_label`).

The day of an intent is its business day (`transactions.business_day`): the store-local day of
the provider's transaction time, written by the engine with the final state and indexed with the
store (`intent_business_day`). Only final intents have one, and only final outcomes are counted.
Every function takes stores the caller already scoped to the user, and answers in a fixed number
of queries however many intents there are: the home page must cost the same at the first sale
of the day as at the thousandth.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery
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


def bounds_filter(field_name: str, store_ids, starts, ends, prefix: str = "") -> Q:
    """Each store's own [start, end) of `field_name`, OR-ed: one query for all stores, whatever
    their zones. `prefix` reaches the store through a relation (`settlement__` for batches)."""
    q = Q(pk__in=[])
    for store_id, start, end in zip(store_ids, starts, ends, strict=True):
        q |= Q(
            **{f"{prefix}store_id": store_id, f"{field_name}__gte": start, f"{field_name}__lt": end}
        )
    return q


def day_filter(stores: list[Store], *, field_name: str, day: dt.date | None, prefix="") -> Q:
    """Each store's own local day (`bounds_filter`)."""
    bounds = [day_bounds(store=store, day=day) for store in stores]
    return bounds_filter(
        field_name,
        [store.pk for store in stores],
        [start for start, _ in bounds],
        [end for _, end in bounds],
        prefix=prefix,
    )


def stores_by_day(stores: list[Store], *, day: dt.date | None) -> dict[dt.date, list[int]]:
    """The stores' pks under the business day asked for (`day` None: each store's own today,
    which differs between zones around midnight): one entry unless it does."""
    by_day: dict[dt.date, list[int]] = {}
    for store in stores:
        by_day.setdefault(day or local_day(store=store), []).append(store.pk)
    return by_day


def business_day_filter(stores: list[Store], *, day: dt.date | None) -> Q:
    """The intents of one business day of these stores (`day` None: each store's own today),
    grouped by day so a report of one day is `store_id IN (...) AND business_day = d`."""
    by_day = stores_by_day(stores, day=day)
    q = Q(pk__in=[])
    for each_day, pks in by_day.items():
        q |= Q(store_id__in=pks, business_day=each_day)
    return q


def business_range_filter(stores: list[Store], *, first: dt.date, last: dt.date) -> Q:
    """The intents of the business days `first` to `last` (both included) of these stores."""
    return Q(store_id__in=[s.pk for s in stores], business_day__gte=first, business_day__lte=last)


def intents_of_business_day(*, stores: list[Store], day: dt.date | None) -> QuerySet[Intent]:
    """Every final intent of the business day of these stores."""
    return Intent.objects.filter(business_day_filter(stores, day=day))


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
class Line:
    """A line of a breakdown that finance reconciles against: approved payments under a key (a
    brand × crédito/débito × cuotas plan, a terminal, a batch, who charged), the approved
    reversals and refunds under the same key, and what is left."""

    key: tuple
    label: str
    count: int = 0
    amount: Decimal = ZERO
    reversal_count: int = 0
    reversal_amount: Decimal = ZERO
    refund_count: int = 0
    refund_amount: Decimal = ZERO

    @property
    def taken_back(self) -> Decimal:
        """Reversals and refunds under this key."""
        return self.reversal_amount + self.refund_amount

    @property
    def net(self) -> Decimal:
        return self.amount - self.taken_back


@dataclass
class DayTotals:
    """The numbers of one store's day, of a merchant's stores (`merchant`), or of several stores
    together (`store` and `merchant` None).

    Declined, failed and cancelled count payments only: they are the charges the customer saw
    fail. `net` is what stays with the store: approved payments minus approved reversals and
    refunds. The brand, payment type and cuotas breakdowns are of approved payments; the
    `Line` breakdowns (filled by the daily report, `detail=True`) carry the reversals and
    refunds of each key too."""

    store: Store | None
    day: dt.date
    merchant: Any = None
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
    # brand × crédito/débito × cuotas plan (fees and deposit terms depend on the combination)
    combinations: list[Line] = field(default_factory=list)
    terminals: list[Line] = field(default_factory=list)
    batches: list[Line] = field(default_factory=list)
    # who charged: the POS key, else the dashboard user
    origins: list[Line] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.approved_amount - self.reversal_amount - self.refund_amount

    @property
    def not_approved_count(self) -> int:
        return self.declined_count + self.failed_count + self.cancelled_count

    @property
    def breakdowns(self) -> list[tuple[str, str, list[Line]]]:
        """(title, key, lines) of the `Line` breakdowns, in the order pages and files show them."""
        return [
            ("Marca × tipo × cuotas", "combination", self.combinations),
            ("Terminal", "terminal", self.terminals),
            ("Lote", "batch", self.batches),
            ("Quién cobró", "origin", self.origins),
        ]


def payment_type_label(payment_type: str) -> str:
    value = (payment_type or "").strip().upper()
    return _PAYMENT_TYPE_LABELS.get(value, value or NO_PAYMENT_TYPE)


def installment_band(installments: int | None) -> str:
    n = installments or 1
    for label, low, high in INSTALLMENT_BANDS:
        if n >= low and (high is None or n <= high):
            return label
    return INSTALLMENT_BANDS[0][0]


def installments_label(installments: int | None) -> str:
    n = installments or 1
    return "1 cuota" if n == 1 else f"{n} cuotas"


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


@dataclass
class Labels:
    """What the `Line` breakdowns print for the ids a grouped row carries (read once per report,
    in a fixed number of queries: `detail_labels`)."""

    terminals: dict[int, str] = field(default_factory=dict)
    pos_clients: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)


def _combination(raw: tuple, labels: Labels) -> tuple[tuple, str]:
    card_brand, card_brand_code, payment_type, installments = raw
    brand = brand_label(card_brand, card_brand_code)
    ptype = payment_type_label(payment_type)
    plan = installments or 1
    return (brand, ptype, plan), f"{brand} · {ptype} · {installments_label(plan)}"


def _terminal(raw, labels: Labels) -> tuple[tuple, str]:
    label = labels.terminals.get(raw, "Sin terminal") if raw else "Sin terminal"
    return (raw,), label


def _batch(raw: tuple, labels: Labels) -> tuple[tuple, str]:
    terminal, batch = raw
    batch_label = f"Lote {batch}" if batch is not None else "Sin lote"
    terminal_label = labels.terminals.get(terminal, "") if terminal else ""
    return raw, f"{terminal_label} · {batch_label}" if terminal_label else batch_label


def _origin(raw: tuple, labels: Labels) -> tuple[tuple, str]:
    pos, user = raw  # who charged: the POS key, else the dashboard user
    if pos:
        return ("pos", pos), f"Clave POS {labels.pos_clients.get(pos, pos)}"
    if user:
        return ("user", user), f"Usuario {labels.users.get(user, user)}"
    return ("none",), "Sin registro de quién cobró"


# Each `Line` breakdown: its attribute on DayTotals and how a raw key (as a grouped row carries
# it) becomes the line's key and label.
_LINE_BREAKDOWNS = {
    "combinations": _combination,
    "terminals": _terminal,
    "batches": _batch,
    "origins": _origin,
}
# Where an approved kind's count and amount go in a line's sums.
_LINE_SLOT = {Kind.PAYMENT: 0, Kind.REVERSAL: 2, Kind.REFUND: 4}

_OUTCOME_FIELDS = (
    "approved_count",
    "approved_amount",
    "reversal_count",
    "reversal_amount",
    "refund_count",
    "refund_amount",
    "declined_count",
    "failed_count",
    "cancelled_count",
)


def _add_sums(into: dict, key, sums: list) -> None:
    mine = into.get(key)
    if mine is None:
        into[key] = list(sums)
    else:
        for i, value in enumerate(sums):
            mine[i] += value


class _Accumulator:
    """Folds the grouped rows of one scope (a store, a merchant, or all) into a DayTotals.

    Rows are summed under the raw keys they carry (the provider's spelling of a brand, a
    terminal's id): a row costs a few dictionary lookups. Labels are made once per distinct key
    in `finish`, where two spellings of one brand ("Visa", "VISA") fall under one label."""

    def __init__(self, totals: DayTotals):
        self.totals = totals
        # [count, amount] of approved payments per (card_brand, card_brand_code), per payment
        # type and per cuotas plan.
        self.brands: dict[Any, list] = {}
        self.payment_types: dict[Any, list] = {}
        self.plans: dict[Any, list] = {}
        # [count, amount, reversal count, reversal amount, refund count, refund amount] per raw
        # key of each `Line` breakdown.
        self.lines: dict[str, dict[Any, list]] = {name: {} for name in _LINE_BREAKDOWNS}

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

    def add_breakdown(self, row: Mapping[str, Any], count: int, amount: Decimal) -> None:
        for sums, key in (
            (self.brands, (row["card_brand"], row["card_brand_code"])),
            (self.payment_types, row["payment_type"]),
            (self.plans, row["installments"]),
        ):
            mine = sums.get(key)
            if mine is None:
                sums[key] = [count, amount]
            else:
                mine[0] += count
                mine[1] += amount

    def add_lines(self, row: Mapping[str, Any], count: int, amount: Decimal) -> None:
        slot = _LINE_SLOT[row["kind"]]
        terminal = row["terminal_id"]
        lines = self.lines
        card = (row["card_brand"], row["card_brand_code"], row["payment_type"], row["installments"])
        for name, key in (
            ("combinations", card),
            ("terminals", terminal),
            ("batches", (terminal, row["batch_number"])),
            ("origins", (row["requested_by_pos_id"], row["requested_by_user_id"])),
        ):
            sums = lines[name].get(key)
            if sums is None:
                sums = lines[name][key] = [0, ZERO, 0, ZERO, 0, ZERO]
            sums[slot] += count
            sums[slot + 1] += amount

    def absorb(self, other: "_Accumulator") -> None:
        """Adds another scope's sums (a store's into its merchant's and into the total): the
        rows are folded once per store, and a merchant or the total costs the number of keys,
        not the number of rows."""
        t, o = self.totals, other.totals
        for name in _OUTCOME_FIELDS:
            setattr(t, name, getattr(t, name) + getattr(o, name))
        for own, theirs in (
            (self.brands, other.brands),
            (self.payment_types, other.payment_types),
            (self.plans, other.plans),
        ):
            for key, sums in theirs.items():
                _add_sums(own, key, sums)
        for name, lines in other.lines.items():
            own_lines = self.lines[name]
            for key, sums in lines.items():
                _add_sums(own_lines, key, sums)

    def finish(self, labels: Labels | None = None) -> DayTotals:
        """The DayTotals, with every breakdown labelled (`labels`: the names of the ids the
        `Line` breakdowns carry) and sorted."""
        t = self.totals
        brands: dict[str, BrandTotal] = {}
        for (card_brand, code), (count, amount) in self.brands.items():
            label = brand_label(card_brand, code)
            brand = brands.setdefault(label, BrandTotal(brand=label, count=0, amount=ZERO))
            brand.count += count
            brand.amount += amount
        t.brands = _biggest_first(brands)
        if t.approved_amount:
            for brand in t.brands:
                brand.percent = (brand.amount * 100 / t.approved_amount).quantize(Decimal("0.1"))
        payment_types: dict[str, Bucket] = {}
        for payment_type, (count, amount) in self.payment_types.items():
            _add(payment_types, payment_type_label(payment_type), count, amount)
        order = {label: i for i, label in enumerate(_PAYMENT_TYPE_LABELS.values())}
        t.payment_types = sorted(
            payment_types.values(), key=lambda b: (order.get(b.label, len(order)), b.label)
        )
        bands = {label: Bucket(label) for label, *_ in INSTALLMENT_BANDS}
        for plan, (count, amount) in self.plans.items():
            _add(bands, installment_band(plan), count, amount)
        t.installments = list(bands.values())
        labels = labels or Labels()
        for name, keyer in _LINE_BREAKDOWNS.items():
            lines: dict[tuple, Line] = {}
            for raw, sums in self.lines[name].items():
                key, label = keyer(raw, labels)
                line = lines.get(key)
                if line is None:
                    line = lines[key] = Line(key=key, label=label)
                line.count += sums[0]
                line.amount += sums[1]
                line.reversal_count += sums[2]
                line.reversal_amount += sums[3]
                line.refund_count += sums[4]
                line.refund_amount += sums[5]
            if name == "combinations":
                ordered = sorted(lines.values(), key=lambda line: (-line.amount, line.key))
            else:
                ordered = sorted(lines.values(), key=lambda line: line.label)
            setattr(t, name, ordered)
        return t


# The card keys a row is grouped by. A reversal or refund is keyed by its payment's brand,
# credit/debit and plan (it gives back that payment's money, and the provider's answer to it may
# not repeat them): the crossed breakdown then nets each combination, as fees are charged.
_CARD_KEYS = {
    "card_brand": "card_brand",
    "card_brand_code": "card_brand_code",
    "payment_type": "payment_type",
    "installments": "installments",
}
_GROUP_FIELDS = ("store_id", "kind", "state", *(f"key_{name}" for name in _CARD_KEYS))
# What the daily report groups by on top of `_GROUP_FIELDS`: the per terminal, batch and origin
# breakdowns come from the same single grouped query (the groups stay bounded by terminals,
# batches and POS keys, not by sales).
_DETAIL_KEYS = ("terminal_id", "batch_number", "requested_by_pos_id", "requested_by_user_id")
_DETAIL_FIELDS = tuple(f"key_{name}" for name in _DETAIL_KEYS)


def _approved_only(expression) -> Case:
    """A key only approved rows are broken down by. Declined, failed and cancelled ones are
    counted per outcome only (`_fold`), so they group under NULL instead of spreading over every
    brand, plan, terminal and batch: a merchant-day then folds a third fewer rows."""
    return Case(When(state=State.APPROVED, then=expression))


def _card_keys(*, detail: bool) -> dict:
    # A follow-up under its payment's card (LEFT JOIN: a payment has no original, and these
    # columns are NOT NULL, so the COALESCE is the payment's own value or its original's).
    keys = {
        f"key_{name}": _approved_only(Coalesce(F(f"original__{field}"), F(field)))
        for name, field in _CARD_KEYS.items()
    }
    if detail:
        keys.update({f"key_{name}": _approved_only(F(name)) for name in _DETAIL_KEYS})
    return keys


def _counted(queryset: QuerySet[Intent]) -> QuerySet[Intent]:
    return queryset.filter(
        kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND], state__in=_COUNTED_STATES
    )


def _grouped(
    queryset: QuerySet[Intent], *fields: str, detail: bool, cards: bool = True
) -> QuerySet:
    """The counted intents of `queryset` grouped by `fields`, the outcome and the card keys (and
    the detail keys), with their count `n` and what they moved `total`, in ONE statement.

    One GROUP BY over the day's (or range's) rows, each LEFT JOINed to its payment: the join
    probes the primary key for the few follow-ups only (a payment's NULL `original_id` matches
    nothing). The UNION ALL of a payments half and a follow-ups half that it replaces found the
    follow-ups by AND-ing the day with every non-null `original_id` of the ledger: a cost that
    grew with the history (30 ms of a 66 ms query at a merchant-year). Without `cards`, only the
    outcomes (a period's daily totals: groups per store, day, kind and state)."""
    if not cards:
        group = (*fields, "store_id", "kind", "state")
        keys = {}
    else:
        group = (*fields, *_GROUP_FIELDS, *(_DETAIL_FIELDS if detail else ()))
        keys = _card_keys(detail=detail)
    return (
        _counted(queryset)
        .annotate(**keys)
        .values(*group)
        .annotate(n=Count("pk"), total=Sum(effective_amount()))
        .order_by()
    )


_HASHED_SERIAL = {"enable_sort": "off", "max_parallel_workers_per_gather": "0"}


def _one_day_grouped(detail: bool) -> CompiledQuery:
    return CompiledQuery(
        "report_day_detail" if detail else "report_day",
        lambda store_ids, day: _grouped(
            Intent.objects.filter(store_id__in=store_ids, business_day=day), detail=detail
        ),
        # Planned once per session: the statement is the same for every report of a day.
        server_prepared=True,
        # PostgreSQL plans this GROUP BY as parallel workers sorting their rows for a
        # GroupAggregate: it estimates as many groups as rows (the product of the 11 keys'
        # distinct values, clamped), where a day has a few hundred. A serial HashAggregate of
        # the same rows, measured at a store-month (bench/scale.py's kept database): merchant-day
        # 17.8 vs 29.2 ms, store-day 3.0 vs 6.7 ms; starting workers costs more than a day's
        # few thousand rows save. A month or a year goes through other statements.
        planner=_HASHED_SERIAL,
        store_ids=Arg(Intent._meta.get_field("store"), many=True),
        day=Arg(Intent._meta.get_field("business_day")),
    )


# The grouped query of one business day, as SQL built once per process (`CompiledQuery`): the
# ORM took longer to build this statement than the database took to run it.
_ONE_DAY_GROUPED = {detail: _one_day_grouped(detail) for detail in (False, True)}


def grouped_day_rows(*, stores: list[Store], day: dt.date | None, detail: bool) -> list[dict]:
    """The grouped rows (`_grouped`) of the business day of these stores, in one statement:
    compiled once when they share the day (as always when `day` is given), else the ORM's."""
    by_day = stores_by_day(stores, day=day)
    if len(by_day) == 1:
        ((the_day, pks),) = by_day.items()
        return _rows(_ONE_DAY_GROUPED[detail].dicts(store_ids=pks, day=the_day))
    return _rows(_grouped(intents_of_business_day(stores=stores, day=day), detail=detail))


def _rows(queryset) -> list[dict]:
    """The grouped rows with their card keys under the field names the folding reads."""
    rows = []
    for row in queryset:
        if "key_card_brand" in row:
            for name in _CARD_KEYS:
                row[name] = row.pop(f"key_{name}")
            for name in _DETAIL_KEYS:
                if f"key_{name}" in row:
                    row[name] = row.pop(f"key_{name}")
        rows.append(row)
    return rows


def detail_labels(rows: list[dict[str, Any]]) -> Labels:
    """The names the detailed rows' ids print as: three small queries, whatever the rows."""
    from django.contrib.auth import get_user_model

    from stores.models import PosClient, Terminal

    terminal_ids = {r["terminal_id"] for r in rows if r.get("terminal_id")}
    pos_ids = {r["requested_by_pos_id"] for r in rows if r.get("requested_by_pos_id")}
    user_ids = {r["requested_by_user_id"] for r in rows if r.get("requested_by_user_id")}
    labels = Labels()
    if terminal_ids:
        for pk, terminal_id, label in Terminal.objects.filter(pk__in=terminal_ids).values_list(
            "pk", "terminal_id", "label"
        ):
            labels.terminals[pk] = f"{label} ({terminal_id})" if label else terminal_id
    if pos_ids:
        labels.pos_clients = dict(
            PosClient.objects.filter(pk__in=pos_ids).values_list("pk", "name")
        )
    if user_ids:
        labels.users = dict(
            get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")
        )
    return labels


def _fold(row: Mapping[str, Any], accumulator: _Accumulator) -> None:
    """Adds one grouped row (store, kind, state, brand, credit/debit, cuotas[, terminal, batch,
    origin]) to the accumulator's outcomes, to its breakdowns when it is of approved payments,
    and to its `Line` breakdowns when it is approved money and detailed."""
    amount = _cents(row["total"])
    count, kind, state = row["n"], row["kind"], row["state"]
    accumulator.add_outcome(kind=kind, state=state, count=count, amount=amount)
    if state != State.APPROVED or "card_brand" not in row:
        return
    if kind == Kind.PAYMENT:
        accumulator.add_breakdown(row, count, amount)
    if "terminal_id" in row:
        accumulator.add_lines(row, count, amount)


@dataclass
class ScopeTotals:
    """A day's totals of each store (by pk), of each merchant among them (by pk) and of them
    all."""

    per_store: dict[int, DayTotals]
    per_merchant: dict[int, DayTotals]
    overall: DayTotals


def _scopes(stores: list[Store], day_of) -> tuple[dict, dict]:
    per_store = {s.pk: _Accumulator(DayTotals(store=s, day=day_of(s))) for s in stores}
    per_merchant: dict[int, _Accumulator] = {}
    for s in stores:
        if s.merchant_id not in per_merchant:
            per_merchant[s.merchant_id] = _Accumulator(
                DayTotals(store=None, day=day_of(s), merchant=s.merchant)
            )
    return per_store, per_merchant


def scope_totals(
    *, stores: list[Store], day: dt.date | None, overall_day: dt.date, detail: bool = False
) -> ScopeTotals:
    """The business day's totals of each store, each merchant and all of them, from ONE grouped
    query over the `intent_business_day` index (it reads the day, not the ledger); with
    `detail` the `Line` breakdowns too (three more small queries for their labels).

    `day` is a local calendar date; None means each store's today. `overall_day` is the day the
    sum of them all is labelled with."""
    stores = list(stores)
    per_store, per_merchant = _scopes(stores, lambda s: day or local_day(store=s))
    merchant_of = {s.pk: s.merchant_id for s in stores}
    overall = _Accumulator(DayTotals(store=None, day=overall_day))
    labels = None
    if stores:
        # Outcomes and every breakdown from one GROUP BY: the groups are bounded by the kinds,
        # states, brands and plans (and terminals, batches, POS keys) in use, not by the sales.
        rows = grouped_day_rows(stores=stores, day=day, detail=detail)
        labels = detail_labels(rows) if detail else None
        for row in rows:
            _fold(row, per_store[row["store_id"]])
        for store_id, acc in per_store.items():
            per_merchant[merchant_of[store_id]].absorb(acc)
            overall.absorb(acc)
    return ScopeTotals(
        per_store={pk: acc.finish(labels) for pk, acc in per_store.items()},
        per_merchant={pk: acc.finish(labels) for pk, acc in per_merchant.items()},
        overall=overall.finish(labels),
    )


def day_totals(
    *, stores: list[Store], day: dt.date | None, overall_day: dt.date
) -> tuple[dict[int, DayTotals], DayTotals]:
    """The day's totals of each store (by pk) and of them all, in one grouped query (see
    `scope_totals`)."""
    totals = scope_totals(stores=stores, day=day, overall_day=overall_day)
    return totals.per_store, totals.overall


def range_totals(
    *, stores: list[Store], first: dt.date, last: dt.date, breakdowns: bool = True
) -> dict[dt.date, tuple[dict[int, DayTotals], DayTotals]]:
    """The totals of every business day from `first` to `last` (both included): for each day,
    each store's totals (by pk) and those of them all, in ONE grouped query over the range (a
    month costs one statement, not thirty). The same numbers as `day_totals` of each day;
    without `breakdowns` only the outcomes (what a period's workbook shows: the groups are
    then stores × days × outcomes, not × brands × plans)."""
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
        queryset = Intent.objects.filter(business_range_filter(stores, first=first, last=last))
        grouped = _grouped(queryset, "business_day", detail=False, cards=breakdowns)
        for row in _rows(grouped):
            per_store, _overall = accumulators[row["business_day"]]
            _fold(row, per_store[row["store_id"]])
        for per_store, overall in accumulators.values():
            for acc in per_store.values():
                overall.absorb(acc)
    return {
        d: ({pk: acc.finish() for pk, acc in per_store.items()}, overall.finish())
        for d, (per_store, overall) in accumulators.items()
    }


def store_day_totals(*, stores: Iterable[Store], day: dt.date | None = None) -> list[DayTotals]:
    """Today's (or `day`'s) totals of every store, in the stores' order, in one query: the
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
