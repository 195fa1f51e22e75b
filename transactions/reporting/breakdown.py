"""What a manager reads beside the day's totals: the totals of a filtered list (Operaciones), a
day's totals per terminal and per cashier or POS key (Hoy), and the feed of recent operations.

Each function answers in one query however many intents, terminals, people or stores there are,
and takes stores (or a queryset) the caller already scoped to the user. Amounts follow the one
rule of `totals`: what an intent moved (`effective_amount`), approved payments minus approved
reversals and refunds.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from stores.models import Store
from transactions.models import Intent
from transactions.reporting.totals import effective_amount, intents_of_business_day
from transactions.states import Kind, State

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

_APPROVED_PAYMENT = Q(kind=Kind.PAYMENT, state=State.APPROVED)
_APPROVED_REVERSAL = Q(kind=Kind.REVERSAL, state=State.APPROVED)
_APPROVED_REFUND = Q(kind=Kind.REFUND, state=State.APPROVED)


def _cents(value) -> Decimal:
    # SQLite sums decimals as floats: two places, as the ledger writes them.
    return Decimal(str(value or ZERO)).quantize(CENT)


@dataclass
class Subtotal:
    """Counts and amounts of a group of intents: everything listed, and the money that moved."""

    label: str = ""
    count: int = 0
    approved_count: int = 0
    approved_amount: Decimal = ZERO
    reversed_amount: Decimal = ZERO
    refunded_amount: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.approved_amount - self.reversed_amount - self.refunded_amount


def _sums() -> dict:
    amount = effective_amount()
    return {
        "n": Count("pk"),
        "approved_n": Count("pk", filter=_APPROVED_PAYMENT),
        "approved": Sum(amount, filter=_APPROVED_PAYMENT),
        "reversed": Sum(amount, filter=_APPROVED_REVERSAL),
        "refunded": Sum(amount, filter=_APPROVED_REFUND),
    }


def _add(subtotal: Subtotal, row: Mapping[str, Any]) -> None:
    subtotal.count += row["n"]
    subtotal.approved_count += row["approved_n"]
    subtotal.approved_amount += _cents(row["approved"])
    subtotal.reversed_amount += _cents(row["reversed"])
    subtotal.refunded_amount += _cents(row["refunded"])


def selection_totals(queryset: QuerySet[Intent]) -> Subtotal:
    """The totals of a filtered list of intents (Operaciones): how many it lists, and the money
    its approved payments, reversals and refunds moved. One aggregate query."""
    row = queryset.order_by().aggregate(**_sums())
    totals = Subtotal(label="Selección")
    _add(totals, row)
    return totals


@dataclass
class StoreBreakdown:
    """A store's day per terminal and per person or POS key that asked for the operations."""

    terminals: list[Subtotal]
    requesters: list[Subtotal]


def _requester_label(row: Mapping[str, Any]) -> str:
    if row["requested_by_pos__name"]:
        return f"POS {row['requested_by_pos__name']}"
    if row["requested_by_user_id"]:
        full = " ".join(
            part
            for part in (row["requested_by_user__first_name"], row["requested_by_user__last_name"])
            if part
        )
        return full or row["requested_by_user__username"]
    return "Sin dato"


def _terminal_label(row: Mapping[str, Any]) -> str:
    if row["terminal_id"] is None:
        return "Sin terminal"
    label = row["terminal__label"] or "Terminal"
    return f"{label} ({row['terminal__terminal_id']})"


def _biggest_first(groups: dict) -> list[Subtotal]:
    return sorted(groups.values(), key=lambda s: (-s.net, -s.count, s.label))


def day_breakdown(*, stores: list[Store], day: dt.date | None = None) -> dict[int, StoreBreakdown]:
    """Each store's business day (its own local day, as the day's totals beside it count it:
    `totals.intents_of_business_day`) per terminal and per cashier or POS key, by store pk, in
    one grouped query: the groups are bounded by the terminals and people of the stores, not by
    the sales. The final payments, reversals and refunds of the day count; batch closes and
    operations still open do not.

    The business day is indexed with the store; the moment an intent ended is not, and reading
    the day by it scanned the whole ledger (100 ms of Hoy's 180 at a store-month)."""
    result: dict[int, tuple[dict, dict]] = {store.pk: ({}, {}) for store in stores}
    if not stores:
        return {}
    rows = (
        intents_of_business_day(stores=stores, day=day)
        .filter(kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND])
        .values(
            "store_id",
            "terminal_id",
            "terminal__label",
            "terminal__terminal_id",
            "requested_by_user_id",
            "requested_by_user__username",
            "requested_by_user__first_name",
            "requested_by_user__last_name",
            "requested_by_pos_id",
            "requested_by_pos__name",
        )
        .annotate(**_sums())
        .order_by()
    )
    for row in rows:
        by_terminal, by_requester = result[row["store_id"]]
        terminal_key = row["terminal_id"]
        if terminal_key not in by_terminal:
            by_terminal[terminal_key] = Subtotal(label=_terminal_label(row))
        _add(by_terminal[terminal_key], row)
        requester_key = (row["requested_by_pos_id"], row["requested_by_user_id"])
        if requester_key not in by_requester:
            by_requester[requester_key] = Subtotal(label=_requester_label(row))
        _add(by_requester[requester_key], row)
    return {
        pk: StoreBreakdown(terminals=_biggest_first(t), requesters=_biggest_first(r))
        for pk, (t, r) in result.items()
    }


FEED_SIZE = 15


def recent_operations(*, stores: list[Store], limit: int = FEED_SIZE) -> list[Intent]:
    """The latest operations of these stores, newest first (Hoy's feed): one query that reads
    the first `limit` entries of the `intent_created` index within the stores. Batch closes are
    left out: they are in Lotes."""
    if not stores:
        return []
    return list(
        Intent.objects.filter(store__in=[s.pk for s in stores])
        .exclude(kind=Kind.SETTLEMENT)
        .select_related("store", "terminal")
        .only(
            "public_id",
            "created_at",
            "finished_at",
            "kind",
            "state",
            # What `Intent.status` reads ("Anulada", "Lote cerrado"...).
            "followup_status",
            "resolution",
            "amount",
            "authorized_amount",
            "card_brand",
            "card_last_four",
            "installments",
            "needs_attention",
            "attention_reason",
            "store__name",
            "store__time_zone",
            "terminal__label",
            "terminal__terminal_id",
        )
        .order_by("-created_at", "-pk")[:limit]
    )
