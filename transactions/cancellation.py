"""Withdrawing a waiting intention at the provider: the engine's half of a cancel.

Both the services (a person or a POS asks) and the poller (nobody picked it in time, or the
provider still lists it as waiting after we asked) cancel intents; this module is what they share,
so the poller needs nothing from the services layer. Rules about *who* may cancel live in
`transactions.services.cancel`.
"""

from django.db.models import F
from django.utils import timezone

from transactions.events import SYSTEM, Actor, intent_note
from transactions.gateway import GatewayError, gateway_for
from transactions.models import Intent, IntentEvent
from transactions.states import Kind, State
from transactions.transitions import intent_record_answer, intent_transition

CANCEL_CALLS: dict[str, tuple[str, str]] = {
    Kind.PAYMENT: ("payment_cancel", "payment_id"),
    Kind.REVERSAL: ("reversal_cancel", "reversal_id"),
    Kind.REFUND: ("refund_cancel", "refund_id"),
}
CANCELLABLE_STATES = (State.PENDING, State.PROCESSING, State.CANCELLING)


def intent_is_cancellable(intent: Intent) -> bool:
    """The provider has it, it is of a kind that can be withdrawn and it is not over yet."""
    return (
        intent.kind in CANCEL_CALLS
        and intent.state in CANCELLABLE_STATES
        and bool(intent.provider_id)
    )


def intent_start_cancelling(intent: Intent, *, actor: Actor = SYSTEM) -> bool:
    """Moves the intent to `cancelling` (one event). Returns whether it is now cancelling: False
    when it became final meanwhile, so there is nothing left to withdraw."""
    if intent.state == State.CANCELLING:
        return True
    intent_transition(
        intent,
        to_state=State.CANCELLING,
        actor=actor,
        event_type=IntentEvent.Type.CANCEL,
        fields={"cancel_requested_at": timezone.now()},
        message="Cancelación pedida",
    )
    return intent.state == State.CANCELLING


def intent_send_cancel_request(intent: Intent, *, actor: Actor = SYSTEM) -> bool:
    """Sends (or re-sends: PUT cancellations is idempotent) the cancel of a cancelling intent and
    records the answer. Returns False when the provider refused it (a note says why); the caller
    decides whether to read the intent at once to learn what the terminal is doing."""
    method_name, id_arg = CANCEL_CALLS[intent.kind]
    gateway = gateway_for(intent.credential)
    now = timezone.now()
    Intent.objects.filter(pk=intent.pk).update(
        cancel_attempts=F("cancel_attempts") + 1, cancel_sent_at=now
    )
    intent.cancel_attempts += 1
    intent.cancel_sent_at = now
    try:
        answer = getattr(gateway, method_name)(
            cuit=intent.store.merchant.cuit, intent_id=intent.pk, **{id_arg: intent.provider_id}
        )
    except GatewayError as exc:
        intent_note(
            intent,
            type=IntentEvent.Type.NOTE,
            actor=actor,
            message=f"Prisma no aceptó la cancelación: {exc.message}",
        )
        return False
    intent_record_answer(intent, answer, actor=actor)
    return True
