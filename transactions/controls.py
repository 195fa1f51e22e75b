"""Money controls (issue 15): the rules a store sets on money moving back out, and on cash-back.

- POS key permissions: a key does only what its `PosClient.can_*` allow (`require_key`).
- Refunds without an original payment: only keys and roles configured for them.
- Refund windows per brand: a payment older than its brand's window is not refunded.
- A daily refund limit per store.
- Maker-checker: a refund or reversal above the store's threshold waits in `approval_pending`
  for a second person (`refund_approval_need`, `reversal_approval_need`; the writes are
  `services.approvals`).
- Cash-back (`change_amount`, debit card payments only, contract §3) up to the store's limit,
  and QR benefit codes (`qr_benefit_code`, QR payments only).

Every check runs before anything is written and refuses with an `IntentRuleError` whose message
says why, in Spanish. A store without `MoneyControls` (or with blank values) has no controls:
below the thresholds nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum
from django.utils import timezone

from stores.models import PosClient, Store
from stores.permissions import user_can
from stores.roles import Action
from transactions import rules
from transactions.brands import DEBIT_PRODUCTS, brand_label
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent, Method, MoneyControls
from transactions.money import format_ars
from transactions.states import Kind, State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ZERO = Decimal("0.00")
# The wildcard of `MoneyControls.refund_window_days`: every brand without its own window.
OTHER_BRANDS = "*"
# Refunds that will never move money: they do not count against the daily limit.
_NOT_COUNTED = [State.DECLINED, State.FAILED, State.CANCELLED]


def controls_for(store: Store) -> MoneyControls | None:
    """The store's controls, or None when it has none (one query)."""
    return MoneyControls.objects.filter(store=store).first()


# --- POS key permissions -------------------------------------------------------------------


def require_key(pos_client: PosClient | None, action: str) -> None:
    """A POS key may do only what its permissions allow; people are checked by their role."""
    if pos_client is not None and not pos_client.allows(action):
        raise IntentRuleError(
            Code.KEY_ACTION_NOT_ALLOWED,
            f"La clave POS «{pos_client.name}» no tiene permiso para: "
            f"{Action(action).label.lower()}.",
        )


def require_unreferenced_refund(
    *, store: Store, user: User | None, pos_client: PosClient | None
) -> None:
    """A refund that names no original payment: only a key or a role configured for it."""
    if pos_client is not None and not pos_client.allows(Action.REFUND_UNREFERENCED):
        raise IntentRuleError(
            Code.UNREFERENCED_REFUND_NOT_ALLOWED,
            f"La clave POS «{pos_client.name}» no puede devolver sin indicar el cobro original "
            "(`original`).",
            field="original",
        )
    if user is not None and not user_can(user=user, store=store, action=Action.REFUND_UNREFERENCED):
        raise IntentRuleError(
            Code.UNREFERENCED_REFUND_NOT_ALLOWED,
            "Tu rol no permite devolver sin indicar el cobro original.",
            field="original",
        )


# --- Refund windows and the daily limit ----------------------------------------------------


def refund_window_days(controls: MoneyControls | None, brand: str) -> int | None:
    """The days within which a payment of `brand` (a `brands.brand_label`) may be refunded, or
    None when no window applies."""
    windows = (controls.refund_window_days if controls else None) or {}
    days = windows.get(brand, windows.get(OTHER_BRANDS))
    return None if days in (None, "") else int(days)


def check_refund_window(
    *, payment: Intent, controls: MoneyControls | None, now: datetime | None = None
) -> None:
    brand = brand_label(payment.card_brand, payment.card_brand_code)
    days = refund_window_days(controls, brand)
    if days is None:
        return
    now = now or timezone.now()
    paid_at = payment.finished_at or payment.created_at
    deadline = paid_at + timedelta(days=days)
    if now > deadline:
        tz = payment.store.tzinfo
        raise IntentRuleError(
            Code.REFUND_WINDOW_EXPIRED,
            f"Los cobros {brand} se devuelven hasta {days} días después del cobro: este cobro "
            f"es del {paid_at.astimezone(tz):%d/%m/%Y} y el plazo venció el "
            f"{deadline.astimezone(tz):%d/%m/%Y}.",
            field="original",
        )


def _day_bounds(store: Store, now: datetime) -> tuple[datetime, datetime]:
    """The store's local day of `now`, as an aware [start, end) range."""
    tz = store.tzinfo
    local_day = now.astimezone(tz).date()
    start = datetime.combine(local_day, time.min, tzinfo=tz)
    return start, datetime.combine(local_day + timedelta(days=1), time.min, tzinfo=tz)


def refunds_of_day(*, store: Store, now: datetime | None = None) -> Decimal:
    """The refunds asked today (store's day) that may still move money or did: approved, in
    flight or waiting for approval."""
    start, end = _day_bounds(store, now or timezone.now())
    total = (
        Intent.objects.filter(
            store=store, kind=Kind.REFUND, created_at__gte=start, created_at__lt=end
        )
        .exclude(state__in=_NOT_COUNTED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


def check_daily_refund_limit(
    *, store: Store, amount: Decimal, controls: MoneyControls | None, now: datetime | None = None
) -> None:
    limit = controls.daily_refund_limit if controls else None
    if limit is None:
        return
    done = refunds_of_day(store=store, now=now)
    if done + amount > limit:
        raise IntentRuleError(
            Code.DAILY_REFUND_LIMIT_EXCEEDED,
            f"La sucursal devuelve hasta {format_ars(limit)} por día: hoy ya van "
            f"{format_ars(done)} y quedan {format_ars(max(limit - done, ZERO))}.",
            field="amount",
        )


# --- Maker-checker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalNeed:
    """Why a refund or reversal must wait for a second person, and until when."""

    threshold: Decimal
    reason: str
    expires_at: datetime


def _need(
    controls: MoneyControls, threshold: Decimal, reason: str, now: datetime | None
) -> ApprovalNeed:
    now = now or timezone.now()
    return ApprovalNeed(
        threshold=threshold,
        reason=reason[:200],
        expires_at=now + timedelta(minutes=max(1, controls.approval_expiry_minutes)),
    )


def refund_approval_need(
    *, amount: Decimal, controls: MoneyControls | None, now: datetime | None = None
) -> ApprovalNeed | None:
    threshold = controls.refund_approval_threshold if controls else None
    if controls is None or threshold is None or amount <= threshold:
        return None
    return _need(
        controls,
        threshold,
        f"Devolución de {format_ars(amount)}: supera {format_ars(threshold)}.",
        now,
    )


def reversal_approval_need(
    *, payment: Intent, controls: MoneyControls | None, now: datetime | None = None
) -> ApprovalNeed | None:
    threshold = controls.reversal_approval_threshold if controls else None
    amount = payment.amount or ZERO
    if controls is None or threshold is None or amount <= threshold:
        return None
    return _need(
        controls,
        threshold,
        f"Anulación de {format_ars(amount)}: supera {format_ars(threshold)}.",
        now,
    )


# --- Cash-back and QR benefits ---------------------------------------------------------------


def clean_cashback(value, *, store: Store, method: str, installments: int, brand: str) -> Decimal:
    """The cash-back of a payment: 0 when none is asked; else a debit card payment in one
    installment (contract §3: "cash back on debit"), up to the store's limit."""
    if value in (None, "", 0, "0", ZERO):
        return ZERO
    amount = rules.clean_amount(value, field="change_amount")
    if method != Method.CARD:
        raise IntentRuleError(
            Code.CASHBACK_NOT_ALLOWED,
            "La extracción solo se da en cobros con tarjeta de débito, no con QR.",
            field="change_amount",
        )
    if installments != 1:
        raise IntentRuleError(
            Code.CASHBACK_NOT_ALLOWED,
            "La extracción solo se da con débito, en un pago: sin cuotas.",
            field="change_amount",
        )
    if brand and brand not in DEBIT_PRODUCTS:
        raise IntentRuleError(
            Code.CASHBACK_NOT_ALLOWED,
            f"La extracción solo se da con tarjetas de débito ({', '.join(sorted(DEBIT_PRODUCTS))}"
            f"), no con {brand}.",
            field="change_amount",
        )
    controls = controls_for(store)
    limit = controls.cashback_max if controls else ZERO
    if not limit:
        raise IntentRuleError(
            Code.CASHBACK_NOT_ALLOWED,
            "La sucursal no da extracciones (cash-back).",
            field="change_amount",
        )
    if amount > limit:
        raise IntentRuleError(
            Code.CASHBACK_LIMIT_EXCEEDED,
            f"La extracción máxima de la sucursal es {format_ars(limit)}.",
            field="change_amount",
        )
    return amount


def clean_qr_benefit(value, *, method: str) -> bool | None:
    """`qr_benefit_code` (contract §3: "allow benefit cards on QR"): true, false or absent, and
    only on a QR payment."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise IntentRuleError(
            Code.VALIDATION_ERROR, "qr_benefit_code: true, false o null.", field="qr_benefit_code"
        )
    if value and method != Method.QR:
        raise IntentRuleError(
            Code.QR_BENEFIT_NOT_ALLOWED,
            "El beneficio QR solo se pide en cobros con QR (`method: qr`).",
            field="qr_benefit_code",
        )
    return value
