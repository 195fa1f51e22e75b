"""Finding an in-doubt create at the provider instead of sending it again.

A create whose answer was lost may or may not exist at the provider. Sending it again could charge
the customer twice, so the resolver searches (by our `ecr_transaction_id`, the terminal and a time
window) and adopts what it finds. Until then the intent stays `in_doubt`, keeps its POS reference
reserved, and after a while is raised to a person who can settle it with evidence.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from transactions.backoff import IN_DOUBT_FAST_SEARCH
from transactions.events import SWEEPER, Actor, intent_flag
from transactions.gateway import GatewayError, gateway_for
from transactions.models import Intent
from transactions.states import Kind, State
from transactions.transitions import intent_record_answer

logger = logging.getLogger(__name__)


def _candidates(intent: Intent) -> list:
    gateway = gateway_for(intent.credential)
    terminals = list(intent.offered_terminals.values_list("terminal_id", flat=True))
    window_start = intent.created_at - timedelta(minutes=2)
    window_end = timezone.now() + timedelta(minutes=1)
    found = gateway.payment_search(
        cuit=intent.store.merchant.cuit,
        date_from=window_start,
        date_to=window_end,
        reference=intent.ecr_transaction_id or None,
        intent_id=intent.pk,
    )
    if not found and terminals:
        # Second chance: what the terminal has in its list (matched by reference below).
        found = gateway.payment_search(
            cuit=intent.store.merchant.cuit,
            date_from=window_start,
            date_to=window_end,
            terminal_id=terminals[0],
            intent_id=intent.pk,
        )
    return found


def _matches(intent: Intent, answer) -> bool:
    """Our `ecr_transaction_id` is unique per intent, so it identifies the intention; an answer
    that does not echo it is never adopted on a guess (that could book someone else's payment)."""
    return bool(answer.provider_id) and answer.reference == intent.ecr_transaction_id


def intent_find_in_doubt(intent: Intent, *, actor: Actor = SWEEPER) -> bool:
    """One attempt to find an in-doubt create. Returns whether the intent changed."""
    if intent.state != State.IN_DOUBT or intent.provider_id:
        return False
    if intent.kind != Kind.PAYMENT:
        # The provider offers no search for reversals, refunds or settlements.
        intent_flag(
            intent,
            reason="Respuesta perdida y Prisma no permite buscarla: ver el ticket de la terminal",
            actor=actor,
        )
        return False
    try:
        adopted = intent_search_at_provider(intent, actor=actor)
    except GatewayError as exc:
        logger.info("search for in-doubt intent %s failed: %s", intent.public_id, exc.message)
        # A person is asked on time whether or not the search worked: the next look is minutes
        # away, and the customer may be standing at the till.
        _flag_if_past_fast_search(
            intent,
            reason="No se pudo buscar en Prisma: confirmar en la terminal",
            actor=actor,
        )
        return False
    if adopted is not None:
        return adopted
    _flag_if_past_fast_search(
        intent,
        reason="No se encontró en Prisma: confirmar en la terminal",
        actor=actor,
    )
    return False


def intent_search_at_provider(intent: Intent, *, actor: Actor = SWEEPER) -> bool | None:
    """Searches the provider for an in-doubt payment create (by our reference and a time window,
    then the terminal's list) and adopts the match. Returns None when the provider has no such
    intention, else whether adopting it changed the intent. Raises `GatewayError` when the
    search itself failed (nothing is known then). Calls the provider: never inside a
    transaction."""
    candidates = _candidates(intent)
    taken = set(
        Intent.objects.filter(provider_id__in=[c.provider_id for c in candidates if c.provider_id])
        .exclude(pk=intent.pk)
        .values_list("provider_id", flat=True)
    )
    for answer in candidates:
        if answer.provider_id in taken or not _matches(intent, answer):
            continue
        Intent.objects.filter(pk=intent.pk, provider_id="").update(provider_id=answer.provider_id)
        intent.provider_id = answer.provider_id
        return intent_record_answer(intent, answer, actor=actor, reschedule=True)
    return None


def _flag_if_past_fast_search(intent: Intent, *, reason: str, actor: Actor) -> None:
    if timezone.now() - intent.created_at >= IN_DOUBT_FAST_SEARCH:
        intent_flag(intent, reason=reason, actor=actor)
