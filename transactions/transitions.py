"""Guarded state changes of intents and the recording of provider answers.

Every change is `UPDATE ... WHERE pk = ? AND state = <expected>` in a short transaction with its
event row, so two pollers, a poller and a POS long-poll, or a retry racing a cancel cannot
corrupt an intent: the loser's update touches zero rows and it re-reads. Final states never
change again (`states.TRANSITIONS` has no way out of them).
"""

import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns
from ecrportal.compiled_update import CompiledUpdate
from stores.models import Terminal
from transactions.backoff import next_poll_at
from transactions.business_day import business_day_of, store_time_zone, transaction_moment
from transactions.events import SWEEPER, SYSTEM, Actor, event_write, intent_flag
from transactions.gateway.convert import redact
from transactions.models import Intent, IntentEvent
from transactions.reporting.reconciliation import batch_record_for_settlement
from transactions.states import (
    FINAL_STATES,
    TRANSITIONS,
    Followup,
    Kind,
    State,
    portal_state_for,
)

logger = logging.getLogger(__name__)

# Fields of the intent filled from a provider answer (answer attribute -> intent field).
_ANSWER_FIELDS = {
    "payment_type": "payment_type",
    "acquirer_id": "acquirer",
    "card_brand": "card_brand",
    "card_brand_product": "card_brand_code",
    "entry_mode": "entry_mode",
    "bin": "card_bin",
    "last_four": "card_last_four",
    "authorization_code": "authorization_code",
    "ticket_number": "ticket_number",
    "response_code": "response_code",
    "response_message": "response_message",
    "client_receipt": "client_receipt",
    "merchant_receipt": "merchant_receipt",
}
_MAX_LENGTHS = {f.name: f.max_length for f in Intent._meta.fields if getattr(f, "max_length", None)}


def after_final(intent: Intent, state: str) -> None:
    """Work that follows an intent reaching a final or in-doubt state (after commit).

    The webhook is enqueued only when the intent's POS client has a receiver (a cached flag):
    most intents have none, and the enqueue re-reads the intent with three joins.
    """
    from transactions.webhooks.services import webhook_enqueue_for_intent, webhook_receiver_exists

    intent_id = intent.pk
    event = "intent.in_doubt" if state == State.IN_DOUBT else "intent.final"
    # robust: a failing webhook queue or batch record must never undo or break the state change
    # that has already been committed; the error is logged and the sweeper carries on.
    try:
        receiver = webhook_receiver_exists(pos_client_id=intent.requested_by_pos_id)
    except Exception:
        # The check must not break the state change: when in doubt, let the enqueue decide.
        logger.warning("webhook receiver check failed for intent %s", intent_id, exc_info=True)
        receiver = True
    if receiver:
        transaction.on_commit(
            lambda: webhook_enqueue_for_intent(intent_id=intent_id, event=event),
            robust=True,
        )
    if state == State.APPROVED:
        transaction.on_commit(lambda: _after_approved(intent_id), robust=True)


# After every approval: two columns of the committed row, compiled once per connection. Most
# approvals are payments nobody asked to cancel, which need nothing more (the whole row with its
# terminal was read here before, for every approval the sweeper saw).
_APPROVED_FACTS = CompiledQuery(
    "approved_facts",
    lambda pk: (
        Intent._base_manager.filter(pk=pk).order_by().values_list("kind", "cancel_requested_at")
    ),
    pk=Arg(Intent._meta.pk),
)


def _after_approved(intent_id: int) -> None:
    facts = _APPROVED_FACTS.rows(pk=intent_id)
    if not facts:
        return
    kind, cancel_requested_at = facts[0]
    late_cancel = kind == Kind.PAYMENT and cancel_requested_at is not None
    if not late_cancel and kind != Kind.SETTLEMENT:
        return
    intent = Intent.objects.select_related("terminal").get(pk=intent_id)
    if late_cancel:
        intent_flag(
            intent,
            reason="La cancelación llegó tarde: la terminal cobró. Anule si corresponde.",
        )
    if intent.kind == Kind.SETTLEMENT:
        batch_record_for_settlement(settlement=intent)


# States that mean a terminal took the intention (the customer was in front of it).
_TAKEN_STATES = frozenset({State.PROCESSING, State.APPROVED, State.DECLINED})


def _terminal_verify(terminal, now) -> None:
    """The first intention a terminal takes proves Prisma knows it: it stops reading "sin
    verificar" (the contract has no call to ask beforehand). One guarded UPDATE, a no-op after
    the first time."""
    terminal_id = getattr(terminal, "pk", terminal)
    if terminal_id is None:
        return
    Terminal.objects.filter(pk=terminal_id, verified_at__isnull=True).update(verified_at=now)


def payment_followup_refresh(*, payment_id: int) -> str:
    """Recomputes what the approved reversals and refunds of a payment made of it
    (`Intent.followup_status`: Anulada, Devuelta, Devuelta parcialmente), so every list reads
    it from the payment's own row. Called in the transaction that approves a reversal or a
    refund; safe to call again."""
    followups = Intent.objects.filter(
        original_id=payment_id, state=State.APPROVED, kind__in=[Kind.REVERSAL, Kind.REFUND]
    ).aggregate(
        reversals=Count("pk", filter=Q(kind=Kind.REVERSAL)),
        refunded=Sum("amount", filter=Q(kind=Kind.REFUND)),
    )
    payment = Intent.objects.filter(pk=payment_id, kind=Kind.PAYMENT).only("amount").first()
    if payment is None:
        return ""
    status: str
    if followups["reversals"]:
        status = Followup.REVERSED
    elif followups["refunded"] is None:
        status = ""
    elif followups["refunded"] >= (payment.amount or 0):
        status = Followup.REFUNDED
    else:
        status = Followup.PARTIALLY_REFUNDED
    Intent.objects.filter(pk=payment_id).update(followup_status=status)
    return status


# Every state change: compiled once per connection and set of columns (`CompiledUpdate`).
_GUARDED_UPDATE = CompiledUpdate(Intent, where=("pk", "state"))


def intent_transition(
    intent: Intent,
    *,
    to_state: str,
    actor: Actor = SYSTEM,
    fields: dict | None = None,
    event_type: str = IntentEvent.Type.STATE,
    message: str = "",
    raw: dict | None = None,
    provider_status: str = "",
    in_transaction: Callable[[Intent], None] | None = None,
) -> bool:
    """Moves `intent` from its current state to `to_state` if nobody moved it meanwhile.

    Returns True when this call made the change (and wrote one event); False when the intent had
    already left the state we saw, or the move is not allowed. `intent` is updated in memory
    either way (re-read on failure). `in_transaction(intent)`, when the change is made, runs last
    in its transaction with `intent` already updated: writes that must commit with the change
    (the create pipeline's provider-call row and the POS key's answer) without a transaction of
    their own.
    """
    from_state = intent.state
    if to_state != from_state and to_state not in TRANSITIONS[from_state]:
        logger.warning(
            "intent %s: refused transition %s -> %s", intent.public_id, from_state, to_state
        )
        return False
    now = timezone.now()
    values = dict(fields or {})
    values["state"] = to_state
    values["updated_at"] = now
    if to_state in FINAL_STATES:
        values.setdefault("finished_at", now)
        values["next_poll_at"] = None
        _set_business_day(intent, values, from_state=from_state, now=now)
    with transaction.atomic():
        changed = _GUARDED_UPDATE.update(
            where={"pk": intent.pk, "state": from_state}, values=values
        )
        if changed != 1:
            intent.refresh_from_db()
            return False
        event_write(
            intent=intent,
            type=event_type,
            from_state=from_state,
            to_state=to_state,
            provider_status=provider_status or values.get("provider_status", ""),
            message=message,
            raw=raw,
            **actor.event_fields(),
        )
        if to_state == State.APPROVED and to_state != from_state and intent.original_id:
            payment_followup_refresh(payment_id=intent.original_id)
        if "taken_at" in values or (
            to_state != from_state and to_state in _TAKEN_STATES and "terminal" in values
        ):
            _terminal_verify(values.get("terminal") or intent.terminal_id, now)
        if to_state != from_state and (to_state in FINAL_STATES or to_state == State.IN_DOUBT):
            after_final(intent, to_state)
        if in_transaction is not None:
            for name, value in values.items():
                setattr(intent, name, value)
            in_transaction(intent)
    for name, value in values.items():
        setattr(intent, name, value)
    return True


def _set_business_day(intent: Intent, values: dict, *, from_state: str, now) -> None:
    """The moment and the store-local day the final operation belongs to (see
    `transactions.business_day`), written in the same guarded update as the final state."""
    moment = transaction_moment(
        provider_status_at=values.get("provider_status_at") or intent.provider_status_at,
        from_state=from_state,
        created_at=intent.created_at,
        now=values["finished_at"] or now,
    )
    values.setdefault("transacted_at", moment)
    values.setdefault(
        "business_day",
        business_day_of(time_zone=store_time_zone(intent), moment=values["transacted_at"]),
    )


def _clip(field: str, value):
    limit = _MAX_LENGTHS.get(field)
    if isinstance(value, str) and limit:
        return value[:limit]
    return value


def mask_card_numbers(text: str) -> str:
    """`text` with every full card number (a Luhn-valid run of 13-19 digits) cut to BIN + `*` +
    last four, as the stored raw answer already is (`gateway.convert.redact`).

    A provider answer may print the PAN in a receipt, a message or any field; whatever is
    stored from it is masked, so no page, API document, webhook or export can show it.
    """
    return redact(text)


# The terminal that took an intent, by the provider's terminal id, once per intent that is taken
# (every poll that learns it): compiled once and prepared (`CompiledQuery`). Terminal ids are
# unique, so at most one row.
_STORE_TERMINAL = CompiledQuery(
    "store_terminal",
    lambda store_id, terminal_id: (
        Terminal.objects.filter(store_id=store_id, terminal_id=terminal_id)
        .order_by()
        .values_list(*concrete_columns(Terminal))[:1]
    ),
    server_prepared=True,
    store_id=Arg(Terminal._meta.get_field("store")),
    terminal_id=Arg(Terminal._meta.get_field("terminal_id")),
)


def answer_field_changes(intent: Intent, answer) -> dict:
    """The intent fields an answer would change (only those that differ and are known).

    Text is masked of full card numbers before it is clipped (a clip could leave a PAN's first
    digits without the run the mask recognises).
    """
    changes: dict = {}
    status = mask_card_numbers(answer.status) if answer.status else answer.status
    if status and status != intent.provider_status:
        changes["provider_status"] = _clip("provider_status", status)
        changes["provider_status_at"] = answer.status_date or timezone.now()
    if answer.provider_id and not intent.provider_id:
        changes["provider_id"] = answer.provider_id
    for source, target in _ANSWER_FIELDS.items():
        value = getattr(answer, source, None)
        if value in (None, ""):
            continue
        value = _clip(target, mask_card_numbers(str(value)))
        if getattr(intent, target) != value:
            changes[target] = value
    if answer.batch_number is not None and intent.batch_number != answer.batch_number:
        changes["batch_number"] = answer.batch_number
    if (
        answer.authorized_amount is not None
        and intent.authorized_amount != answer.authorized_amount
    ):
        changes["authorized_amount"] = answer.authorized_amount
    if answer.terminal_id and (
        intent.terminal is None or intent.terminal.terminal_id != answer.terminal_id
    ):
        found = _STORE_TERMINAL.instances(
            Terminal, store_id=intent.store_id, terminal_id=answer.terminal_id
        )
        terminal = found[0] if found else None
        if terminal is not None and terminal.pk != intent.terminal_id:
            changes["terminal"] = terminal
            changes["taken_at"] = intent.taken_at or timezone.now()
    return changes


def intent_record_answer(
    intent: Intent,
    answer,
    *,
    actor: Actor = SWEEPER,
    reschedule: bool = False,
    extra_fields: dict | None = None,
    in_transaction: Callable[[Intent], None] | None = None,
) -> bool:
    """Applies a provider answer. Writes only when something changed; returns whether it did.

    An unknown status keeps the intent where it is (a created or in-doubt intent becomes pending:
    the provider has it), is stored verbatim and raised to a person. It never counts as approved.
    `in_transaction` (see `intent_transition`) runs only when the answer is recorded in one
    write: not when nothing changed, nor for an unknown status (raising it to a person is a
    second write, after which the intent is not what the callback would have seen).
    """
    if intent.is_final:
        return False
    changes = answer_field_changes(intent, answer)
    changes.update(extra_fields or {})
    mapped = portal_state_for(intent.kind, answer.status)
    to_state: str
    if mapped is not None:
        to_state = mapped
    else:
        to_state = (
            State.PENDING if intent.state in (State.CREATED, State.IN_DOUBT) else intent.state
        )
        if answer.status and not intent.unknown_status:
            changes["unknown_status"] = True
    if to_state == State.PENDING and intent.state == State.CANCELLING:
        # We asked to cancel and the provider still lists it as waiting: the cancellation has not
        # registered yet. Stay `cancelling`; the poller asks again.
        to_state = State.CANCELLING
    if to_state == State.PROCESSING and intent.state in (State.PENDING, State.CREATED):
        changes.setdefault("taken_at", intent.taken_at or timezone.now())
    if reschedule and to_state not in FINAL_STATES:
        changes["next_poll_at"] = next_poll_at(intent, state=to_state)
    flag_unknown = mapped is None and "provider_status" in changes
    if flag_unknown:
        in_transaction = None
    if to_state == intent.state:
        if not changes or set(changes) <= {"next_poll_at"}:
            return False
        changed = intent_transition(
            intent,
            to_state=to_state,
            actor=actor,
            fields=changes,
            event_type=IntentEvent.Type.PROVIDER,
            raw=answer.raw if "provider_status" in changes else None,
            in_transaction=in_transaction,
        )
    else:
        changed = intent_transition(
            intent,
            to_state=to_state,
            actor=actor,
            fields=changes,
            raw=answer.raw,
            in_transaction=in_transaction,
        )
    if changed and flag_unknown:
        intent_flag(intent, reason=f"Estado desconocido de Prisma: {changes['provider_status']}")
    return changed
