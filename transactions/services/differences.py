"""The work on a reconciliation difference: assign it, annotate it, explain it (resolve) or
reopen it. Each is one guarded write plus one `DifferenceEvent` (the audit trail)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stores.permissions import roles_allowing, user_can
from stores.roles import Action
from transactions.errors import Code, IntentRuleError
from transactions.models import Difference, DifferenceEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _require(user, difference: Difference) -> None:
    if not user_can(user=user, store=difference.store, action=Action.VIEW_REPORTS):
        raise IntentRuleError(Code.FORBIDDEN, "Tu rol no permite trabajar las diferencias.")


def difference_assign(*, difference: Difference, user: User, assignee: User | None) -> Difference:
    """Assigns it to a person who may see the store's reports (or to nobody)."""
    _require(user, difference)
    if assignee is not None and not user_can(
        user=assignee, store=difference.store, action=Action.VIEW_REPORTS
    ):
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            "Esa persona no ve los reportes de la sucursal: elegí a otra.",
            field="assigned_to",
        )
    if difference.assigned_to_id == (assignee.pk if assignee else None):
        return difference
    with transaction.atomic():
        Difference.objects.filter(pk=difference.pk).update(assigned_to=assignee)
        DifferenceEvent.objects.create(
            difference=difference,
            action=DifferenceEvent.Action.ASSIGNED,
            actor=user,
            message=f"Asignada a {assignee.get_username()}" if assignee else "Sin asignar",
        )
    difference.assigned_to = assignee
    return difference


def difference_note(*, difference: Difference, user: User, text: str) -> Difference:
    _require(user, difference)
    text = (text or "").strip()
    if not text:
        raise IntentRuleError(Code.REASON_REQUIRED, "Escribí la nota.", field="note")
    DifferenceEvent.objects.create(
        difference=difference, action=DifferenceEvent.Action.NOTE, actor=user, message=text
    )
    return difference


def difference_resolve(*, difference: Difference, user: User, explanation: str) -> Difference:
    """Closes it with the person's explanation (required): it stops being raised."""
    _require(user, difference)
    explanation = (explanation or "").strip()
    if not explanation:
        raise IntentRuleError(
            Code.REASON_REQUIRED,
            "Escribí la explicación de la diferencia para darla por resuelta.",
            field="note",
        )
    now = timezone.now()
    with transaction.atomic():
        changed = Difference.objects.filter(pk=difference.pk, status=Difference.Status.OPEN).update(
            status=Difference.Status.RESOLVED,
            resolution=explanation,
            resolved_at=now,
            resolved_by=user,
        )
        if not changed:
            raise IntentRuleError(Code.NOT_RESOLVABLE, "La diferencia ya estaba explicada.")
        DifferenceEvent.objects.create(
            difference=difference,
            action=DifferenceEvent.Action.RESOLVED,
            actor=user,
            message=explanation,
        )
    difference.refresh_from_db()
    return difference


def difference_reopen(*, difference: Difference, user: User, reason: str) -> Difference:
    _require(user, difference)
    reason = (reason or "").strip()
    if not reason:
        raise IntentRuleError(Code.REASON_REQUIRED, "Escribí por qué la reabrís.", field="note")
    with transaction.atomic():
        changed = Difference.objects.filter(
            pk=difference.pk, status=Difference.Status.RESOLVED
        ).update(status=Difference.Status.OPEN, resolved_at=None, resolved_by=None)
        if not changed:
            raise IntentRuleError(Code.NOT_RESOLVABLE, "La diferencia ya está abierta.")
        DifferenceEvent.objects.create(
            difference=difference,
            action=DifferenceEvent.Action.REOPENED,
            actor=user,
            message=reason,
        )
    difference.refresh_from_db()
    return difference


def people_for_difference(difference: Difference):
    """Who it may be assigned to: members of its store or merchant whose role sees reports."""
    store = difference.store
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(memberships__store=store) | Q(memberships__merchant_id=store.merchant_id),
            memberships__role__in=roles_allowing(Action.VIEW_REPORTS),
        )
        .distinct()
        .order_by("username")
    )
