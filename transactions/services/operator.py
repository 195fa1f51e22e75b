"""What only a person does: settle an in-doubt intent with evidence, acknowledge a flagged one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from transactions import rules
from transactions.errors import Code, IntentRuleError
from transactions.events import intent_note
from transactions.gateway import GatewayError
from transactions.models import Intent, IntentEvent
from transactions.resolver import intent_search_at_provider
from transactions.services.common import Action, actor_for, require_role
from transactions.states import Kind, Resolution, State
from transactions.transitions import intent_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import User

RESOLVE_OUTCOMES = {
    "approved": State.APPROVED,
    "declined": State.DECLINED,
    "cancelled": State.CANCELLED,
    "failed": State.FAILED,
}


def intent_resolve(
    *, intent: Intent, outcome: str, evidence: str, reason: str, user: User
) -> Intent:
    """An operator settles, with evidence, an intent the provider cannot tell us about: a create
    whose answer was lost and that the resolver could not find.

    An intent the provider knows (it has a provider id) is never settled by hand: its outcome
    comes from the provider, or a person cancels it. Closing it here would stop the polling while
    the intention may still be on a terminal, and free the POS order to be charged again.
    """
    require_role(user, intent.store, Action.RESOLVE)
    if intent.state != State.IN_DOUBT or intent.provider_id:
        raise IntentRuleError(
            Code.NOT_RESOLVABLE,
            "Solo se resuelven a mano intenciones en duda que Prisma no identificó; "
            "las demás se consultan en Prisma o se cancelan.",
        )
    to_state = RESOLVE_OUTCOMES.get(outcome)
    if to_state is None:
        raise IntentRuleError(Code.OUTCOME_INVALID, "Resultado inválido.", field="outcome")
    evidence = rules.clean_text(evidence, field="evidence", max_length=200)
    reason = rules.clean_text(reason, field="reason", max_length=500)
    if not reason:
        raise IntentRuleError(Code.REASON_REQUIRED, "Indique el motivo.", field="reason")
    if to_state == State.APPROVED and not evidence:
        raise IntentRuleError(
            Code.EVIDENCE_REQUIRED,
            "Para darla por aprobada indique el cupón o el código de autorización.",
            field="evidence",
        )
    fields = {"needs_attention": False, "attention_reason": "", "resolution": Resolution.BY_HAND}
    if to_state == State.APPROVED and evidence and not intent.authorization_code:
        fields["authorization_code"] = evidence[:16]
    changed = intent_transition(
        intent,
        to_state=to_state,
        actor=actor_for(user, None),
        fields=fields,
        event_type=IntentEvent.Type.RESOLVED,
        message=f"Resuelta a mano como «{to_state.label}». Evidencia: {evidence or '-'}. "
        f"Motivo: {reason}",
    )
    if not changed:
        raise IntentRuleError(
            Code.NOT_RESOLVABLE,
            "La intención cambió mientras tanto; vuelva a mirarla.",
        )
    return intent


def intent_close_not_received(
    *, intent: Intent, user: User, reason: str, release_reference: bool
) -> Intent:
    """Closes an in-doubt payment create that the provider never received, after asking the
    provider once more (the resolver's search by reference and time window, outside any
    transaction). Final state `failed` (nothing exists at the provider) with the resolution
    "No recibida por Prisma", audited with the person and the reason.

    If the search finds the intention after all, it is adopted (the intent follows the provider
    from then on) and nothing is closed: the caller sees `intent.resolution` still empty. The POS
    reference stays reserved unless the person chose `release_reference` (it can be released
    later, `intent_release_reference`): the order may have been paid some other way.
    """
    require_role(user, intent.store, Action.RESOLVE)
    if intent.state != State.IN_DOUBT or intent.provider_id:
        raise IntentRuleError(
            Code.NOT_RESOLVABLE,
            "Solo se cierra como no recibida una intención en duda que Prisma no identificó.",
        )
    if intent.kind != Kind.PAYMENT:
        raise IntentRuleError(
            Code.NOT_RESOLVABLE,
            "Prisma no permite buscar anulaciones, devoluciones ni cierres: resolvela con el "
            "ticket de la terminal.",
        )
    reason = rules.clean_text(reason, field="reason", max_length=500)
    if not reason:
        raise IntentRuleError(Code.REASON_REQUIRED, "Indicá el motivo.", field="reason")
    actor = actor_for(user, None)
    try:
        adopted = intent_search_at_provider(intent, actor=actor)
    except GatewayError as exc:
        raise IntentRuleError(
            Code.PROVIDER_UNAVAILABLE,
            f"No se pudo buscar en Prisma ({exc.message}): no se cerró. Probá de nuevo en un rato.",
        ) from exc
    if adopted is not None:
        return intent
    hold = bool(intent.reference) and not release_reference
    if not intent.reference:
        reference_text = "Sin referencia POS."
    elif hold:
        reference_text = f"La referencia POS {intent.reference} sigue reservada."
    else:
        reference_text = f"La referencia POS {intent.reference} quedó liberada."
    changed = intent_transition(
        intent,
        to_state=State.FAILED,
        actor=actor,
        fields={
            "needs_attention": False,
            "attention_reason": "",
            "resolution": Resolution.NOT_RECEIVED,
            "reference_held": hold,
            "response_message": Resolution.NOT_RECEIVED.label,
        },
        event_type=IntentEvent.Type.RESOLVED,
        message=f"Cerrada como «{Resolution.NOT_RECEIVED.label}»: la búsqueda en Prisma por "
        f"referencia {intent.ecr_transaction_id} no la encontró. {reference_text} "
        f"Motivo: {reason}",
    )
    if not changed:
        raise IntentRuleError(
            Code.NOT_RESOLVABLE, "La intención cambió mientras tanto; volvé a mirarla."
        )
    return intent


def intent_release_reference(*, intent: Intent, user: User) -> Intent:
    """Frees the POS reference of an intent closed as not received, so the order can be charged
    again: only by a person's explicit choice, audited."""
    require_role(user, intent.store, Action.RESOLVE)
    with transaction.atomic():
        released = Intent.objects.filter(pk=intent.pk, reference_held=True).update(
            reference_held=False
        )
        if released != 1:
            raise IntentRuleError(Code.NOT_RESOLVABLE, "La referencia no estaba reservada.")
        intent_note(
            intent,
            type=IntentEvent.Type.RESOLVED,
            actor=actor_for(user, None),
            message=f"Referencia POS {intent.reference} liberada: se puede volver a cobrar.",
        )
    intent.reference_held = False
    return intent


def intent_acknowledge(*, intent: Intent, user: User, note: str = "") -> Intent:
    """Clears the attention flag of a final intent once a person has looked at it."""
    require_role(user, intent.store, Action.RESOLVE)
    note = rules.clean_text(note, field="note", max_length=200)
    with transaction.atomic():
        Intent.objects.filter(pk=intent.pk).update(needs_attention=False, attention_reason="")
        intent_note(
            intent,
            type=IntentEvent.Type.NOTE,
            actor=actor_for(user, None),
            message=f"Revisada: {note or 'sin nota'}",
        )
    intent.needs_attention = False
    return intent
