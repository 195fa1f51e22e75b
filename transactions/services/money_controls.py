"""Writing a store's money controls (issue 15; the rules that apply them are
`transactions.controls`). Only people whose role manages the store's settings."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from stores.models import Store
from transactions.brands import BRAND_LABELS
from transactions.controls import OTHER_BRANDS
from transactions.errors import Code, IntentRuleError
from transactions.events import Actor
from transactions.models import MoneyControls
from transactions.services.common import Action, require_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_EXPIRY_MINUTES = 7 * 24 * 60
MAX_WINDOW_DAYS = 3650
WINDOW_KEYS = (*BRAND_LABELS, OTHER_BRANDS)


def _non_negative(value: Decimal | None, field: str) -> Decimal | None:
    if value is not None and value < 0:
        raise IntentRuleError(Code.AMOUNT_INVALID, "No puede ser negativo.", field=field)
    return value


def money_controls_save(
    *,
    store: Store,
    user: User,
    refund_approval_threshold: Decimal | None = None,
    reversal_approval_threshold: Decimal | None = None,
    approval_expiry_minutes: int = 60,
    daily_refund_limit: Decimal | None = None,
    cashback_max: Decimal | None = None,
    refund_window_days: dict[str, int | None] | None = None,
) -> MoneyControls:
    """Creates or replaces the store's controls. Blank thresholds and limits mean "no control"."""
    require_role(user, store, Action.MANAGE_SETTINGS)
    if not 1 <= int(approval_expiry_minutes) <= MAX_EXPIRY_MINUTES:
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            f"El vencimiento va de 1 a {MAX_EXPIRY_MINUTES} minutos.",
            field="approval_expiry_minutes",
        )
    windows: dict[str, int] = {}
    for brand, days in (refund_window_days or {}).items():
        if brand not in WINDOW_KEYS:
            raise IntentRuleError(Code.BRAND_INVALID, f"Marca desconocida: {brand}.", field=brand)
        if days is None:
            continue
        if not 0 <= int(days) <= MAX_WINDOW_DAYS:
            raise IntentRuleError(
                Code.VALIDATION_ERROR,
                f"El plazo va de 0 a {MAX_WINDOW_DAYS} días.",
                field=f"window_{brand}",
            )
        windows[brand] = int(days)
    values = {
        "refund_approval_threshold": _non_negative(
            refund_approval_threshold, "refund_approval_threshold"
        ),
        "reversal_approval_threshold": _non_negative(
            reversal_approval_threshold, "reversal_approval_threshold"
        ),
        "approval_expiry_minutes": int(approval_expiry_minutes),
        "daily_refund_limit": _non_negative(daily_refund_limit, "daily_refund_limit"),
        "cashback_max": _non_negative(cashback_max, "cashback_max") or Decimal("0.00"),
        "refund_window_days": windows,
        "updated_by": Actor(user=user).event_fields()["actor_user"],
    }
    with transaction.atomic():
        controls, _ = MoneyControls.objects.update_or_create(store=store, defaults=values)
    return controls
