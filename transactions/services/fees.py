"""The merchant's fee and terms table: saved whole by an owner (the rows replace the old ones)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from stores.models import Merchant
from stores.permissions import user_manages_merchant
from transactions.errors import Code, IntentRuleError
from transactions.models import FeeRule, FeeSchedule, InstallmentCost
from transactions.reporting.deposits import ANY_BRAND
from transactions.reporting.totals import CREDIT, DEBIT

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class FeeRuleInput:
    brand: str
    payment_type: str
    fee_percent: Decimal
    term_business_days: int


def fee_schedule_save(
    *,
    merchant: Merchant,
    user: User,
    iva_percent: Decimal,
    iibb_withholding_percent: Decimal,
    iva_withholding_percent: Decimal,
    ganancias_withholding_percent: Decimal,
    rules: list[FeeRuleInput],
    plans: dict[int, Decimal],
    confirmed: bool,
) -> FeeSchedule:
    """Replaces the merchant's table. Refused (nothing written) unless the user manages the
    merchant, a brand and type appears once, and "otras marcas" has a crédito and a débito
    row (every sale needs a fee and a term)."""
    if not user_manages_merchant(user=user, merchant=merchant):
        raise IntentRuleError(Code.FORBIDDEN, "Solo el dueño del comercio cambia los aranceles.")
    keys = [(rule.brand, rule.payment_type) for rule in rules]
    if len(keys) != len(set(keys)):
        raise IntentRuleError(
            Code.VALIDATION_ERROR, "Cada marca aparece una sola vez por crédito y por débito."
        )
    if not {(ANY_BRAND, CREDIT), (ANY_BRAND, DEBIT)} <= set(keys):
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            "Cargá el arancel y el plazo de «Otras marcas» para crédito y para débito.",
        )
    with transaction.atomic():
        schedule, _ = FeeSchedule.objects.select_for_update().update_or_create(
            merchant=merchant,
            defaults={
                "iva_percent": iva_percent,
                "iibb_withholding_percent": iibb_withholding_percent,
                "iva_withholding_percent": iva_withholding_percent,
                "ganancias_withholding_percent": ganancias_withholding_percent,
                "updated_by": user,
            },
        )
        # Confirming is a statement of a person at a moment: kept while they keep it ticked.
        if confirmed and schedule.confirmed_at is None:
            schedule.confirmed_at = timezone.now()
        elif not confirmed:
            schedule.confirmed_at = None
        schedule.save(update_fields=["confirmed_at"])
        schedule.rules.all().delete()
        schedule.plans.all().delete()
        FeeRule.objects.bulk_create(
            FeeRule(
                schedule=schedule,
                brand=rule.brand,
                payment_type=rule.payment_type,
                fee_percent=rule.fee_percent,
                term_business_days=rule.term_business_days,
            )
            for rule in rules
        )
        InstallmentCost.objects.bulk_create(
            InstallmentCost(schedule=schedule, installments=n, cost_percent=cost)
            for n, cost in sorted(plans.items())
        )
    return schedule
