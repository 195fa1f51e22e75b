"""The state machine of intentions, the terminals' behaviour and the autopilot.

Time moves lazily and deterministically: every transition that happens by itself (the autopilot
picking or finishing, an undo completing, a settlement closing) has its due time stored on the
row, and every request first calls `advance_due(now)` inside `locked()`. Status dates are the due
times, not the time somebody happened to look, so frozen-time tests see exact values.

Every write runs under `locked()`: one transaction holding the SimState row lock. Several portal
pollers hit the simulator at once; one big lock makes double picks and lost updates impossible on
PostgreSQL and SQLite alike (SQLite already serialises writers).

Choices where the contract is silent (the hardest plausible behaviour for the client):

- A terminal with any intention not yet final (offered to it and untaken, taken, being undone,
  or a settlement in progress) is busy: a create that lists it answers 409.
- Cancelling an intention already being undone answers 409, like any other cancel it cannot do.
- A card of another brand than `card_brand_product` is refused on the terminal: the intention
  stays PROCESSING_* and the person may present another card or reject it.
- A person rejecting on the terminal ends a payment or refund DECLINED (reversal:
  REVERSAL_DECLINED) with acquirer message "CANCELADA POR OPERADOR".
- A reversal is offered only to the terminal that took the payment (it must be in
  `terminals_list`). When it is confirmed the reversal is REVERSED and the payment stays
  CONFIRMED: the client learns of the annulment from the reversal, not the payment.
- QR_CODE intentions can only be paid by QR, CARD intentions only by card.
- The autopilot plan is fixed at creation, from the first listed terminal with autopilot on.
"""

import dataclasses
import random
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from simulator import receipts, services
from simulator.cards import CARDS, QR_WALLET, TestCard, card_for_restriction
from simulator.errors import ALREADY_PROCESSING_TITLE, BUSY_TITLE, SimError, conflict, not_found
from simulator.models import (
    CONFIRMED,
    DECLINED,
    ERROR,
    FINAL_STATUSES,
    OFFERED_STATUSES,
    PAYMENT_REQUEST,
    PROCESSING_PAYMENT,
    PROCESSING_REFUND,
    PROCESSING_REVERSAL,
    PROCESSING_SETTLEMENT,
    PROCESSING_STATUSES,
    REFUND_REQUEST,
    REVERSAL_DECLINED,
    REVERSAL_ERROR,
    REVERSAL_FAILED_STATUSES,
    REVERSAL_REQUEST,
    REVERSAL_UNDONE,
    REVERSED,
    SETTLEMENT_REQUEST,
    UNDO_REQUEST,
    UNDO_REVERSAL_REQUEST,
    UNDONE,
    SimCredential,
    SimIntention,
    SimState,
    SimTerminal,
)

Kind = SimIntention.Kind

# Autopilot outcomes by the amount's last two digits (cents), like a payment sandbox's magic
# amounts. "lost" confirms normally but the create's answer never reaches the client; "busy"
# refuses the create with 409 and stores nothing.
MAGIC_CENTS = {51: "decline", 52: "error", 53: "never", 54: "stuck", 55: "lost", 56: "busy"}

_PROCESSING = {
    Kind.PAYMENT: PROCESSING_PAYMENT,
    Kind.REFUND: PROCESSING_REFUND,
    Kind.REVERSAL: PROCESSING_REVERSAL,
}
_REQUEST = {
    Kind.PAYMENT: PAYMENT_REQUEST,
    Kind.REFUND: REFUND_REQUEST,
    Kind.REVERSAL: REVERSAL_REQUEST,
}
_UNDO = {
    Kind.PAYMENT: UNDO_REQUEST,
    Kind.REFUND: UNDO_REQUEST,
    Kind.REVERSAL: UNDO_REVERSAL_REQUEST,
}
_UNDONE = {Kind.PAYMENT: UNDONE, Kind.REFUND: UNDONE, Kind.REVERSAL: REVERSAL_UNDONE}
_APPROVED = {Kind.PAYMENT: CONFIRMED, Kind.REFUND: CONFIRMED, Kind.REVERSAL: REVERSED}
_DECLINED = {Kind.PAYMENT: DECLINED, Kind.REFUND: DECLINED, Kind.REVERSAL: REVERSAL_DECLINED}
_ERROR = {Kind.PAYMENT: ERROR, Kind.REFUND: ERROR, Kind.REVERSAL: REVERSAL_ERROR}


@contextmanager
def locked():
    """A transaction holding the simulator's one big lock (the SimState row)."""
    services.state_get()
    with transaction.atomic():
        SimState.objects.select_for_update().get(pk=1)
        yield


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)


def _set_status(intention: SimIntention, status: str, at: datetime) -> None:
    intention.status = status
    intention.status_changed_at = at


# --- Lazy advance --------------------------------------------------------------------------


def advance_due(now: datetime) -> None:
    """Run every automatic step due at or before `now`. Call it under `locked()`."""
    due = (
        SimIntention.objects.filter(next_due_at__lte=now)
        .order_by("next_due_at")
        .values_list("pk", flat=True)
    )
    for pk in list(due):
        advance(SimIntention.objects.get(pk=pk), now)


def advance(intention: SimIntention, now: datetime) -> SimIntention:
    while True:
        due, step = _next_step(intention)
        if due is None or due > now:
            break
        step(intention, due)
    intention.next_due_at = _next_step(intention)[0]
    intention.save()
    return intention


def _next_step(intention: SimIntention):
    status = intention.status
    if status in OFFERED_STATUSES and intention.auto_pick_at and intention.auto_terminal_id:
        return intention.auto_pick_at, _auto_pick
    if status in PROCESSING_STATUSES and intention.auto_finish_at:
        return intention.auto_finish_at, _auto_finish
    if status in (UNDO_REQUEST, UNDO_REVERSAL_REQUEST) and intention.undo_at:
        return intention.undo_at, _undo_complete
    if status == SETTLEMENT_REQUEST:
        return intention.auto_pick_at, _settlement_start
    if status == PROCESSING_SETTLEMENT:
        return intention.auto_finish_at, _settlement_close
    return None, None


def _auto_pick(intention: SimIntention, at: datetime) -> None:
    _take(intention, intention.auto_terminal, at)


def _auto_finish(intention: SimIntention, at: datetime) -> None:
    outcome = intention.auto_outcome
    if outcome == "error":
        _finish_error(intention, at)
    elif intention.kind == Kind.REVERSAL:
        _finish_with_card(intention, _original_card(intention), at)
    elif outcome == "decline":
        _finish_with_card(intention, CARDS["declinada"], at)
    elif intention.operation_method == "QR_CODE":
        _finish_with_card(intention, QR_WALLET, at)
    elif intention.change_amount_cents and not intention.brand_restriction:
        # Cash-back is debit only: the autopilot's customer brings a debit card.
        _finish_with_card(intention, CARDS["visa_debito"], at)
    else:
        _finish_with_card(intention, card_for_restriction(intention.brand_restriction), at)


def _undo_complete(intention: SimIntention, at: datetime) -> None:
    _set_status(intention, _UNDONE[intention.kind], at)
    intention.undo_at = None


def _settlement_start(intention: SimIntention, at: datetime) -> None:
    _set_status(intention, PROCESSING_SETTLEMENT, at)
    intention.picked_at = at


def _settlement_close(intention: SimIntention, at: datetime) -> None:
    """Close the terminal's open batch: its approved items move into it, the next one opens.

    With the `settlement_fault` knob the close ends in ERROR (the batch stays open) or its
    ticket comes out garbled."""
    terminal = SimTerminal.objects.get(pk=intention.terminal_id)
    fault = services.state_get().settlement_fault
    if fault == "error":
        intention.acquirer_response_code = "96"
        intention.acquirer_additional_message = "CIERRE NO REALIZADO"
        intention.acquirer_response_date = at
        _set_status(intention, ERROR, at)
        intention.save()
        return
    items = list(
        SimIntention.objects.filter(
            terminal=terminal,
            batch_number=terminal.batch_number,
            settled_by=None,
            kind__in=[Kind.PAYMENT, Kind.REFUND, Kind.REVERSAL],
            status__in=[CONFIRMED, REVERSED],
        )
    )
    intention.batch_number = terminal.batch_number
    intention.merchant_receipt_detail = receipts.closing_ticket(
        batch_number=terminal.batch_number, items=items
    )
    if fault == "illegible_ticket":
        intention.merchant_receipt_detail = receipts.garbled(intention.merchant_receipt_detail)
    intention.acquirer_response_code = "00"
    intention.acquirer_additional_message = "CIERRE OK"
    intention.acquirer_response_date = at
    _set_status(intention, CONFIRMED, at)
    intention.save()
    SimIntention.objects.filter(pk__in=[item.pk for item in items]).update(settled_by=intention)
    terminal.batch_number += 1
    terminal.save(update_fields=["batch_number"])


# --- Outcomes on the terminal --------------------------------------------------------------


def _take(intention: SimIntention, terminal: SimTerminal, at: datetime) -> None:
    intention.terminal = terminal
    intention.picked_at = at
    _set_status(intention, _PROCESSING[intention.kind], at)


def _original_card(intention: SimIntention) -> TestCard:
    original = intention.original
    return CARDS.get(original.card_key) or card_for_restriction(original.card_brand_product)


def _finish_with_card(intention: SimIntention, card: TestCard, at: datetime) -> None:
    """The card was read and the acquirer answered: approved (stamped into the open batch) or
    declined."""
    seeded = random.Random(str(intention.pk))
    intention.card_key = card.key
    intention.payment_type = card.payment_type
    intention.card_brand_product = card.card_brand_product
    intention.card_brand = card.card_brand
    intention.card_type = card.card_type
    intention.bin = card.bin
    intention.last_four_digits = card.last_four_digits
    intention.card_holder = card.card_holder
    intention.acquirer_id = card.acquirer_id
    intention.acquirer_response_code = card.response_code
    intention.acquirer_additional_message = card.message
    intention.acquirer_response_date = at
    if card.card_type == "QR_CODE":
        intention.qr_code_id = str(uuid.UUID(int=seeded.getrandbits(128), version=4))
    intention.auto_finish_at = None
    if not card.approved:
        intention.error = "Operación rechazada por el emisor"
        _set_status(intention, _DECLINED[intention.kind], at)
        return
    terminal = SimTerminal.objects.get(pk=intention.terminal_id)
    intention.terminal = terminal
    intention.batch_number = terminal.batch_number
    intention.transaction_receipt = terminal.next_receipt
    terminal.next_receipt += 1
    terminal.save(update_fields=["next_receipt"])
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    intention.authorization_code = "".join(seeded.choice(alphabet) for _ in range(6))
    intention.payment_auth_nsu = f"{seeded.randrange(10**12):012d}"
    intention.client_receipt_detail = receipts.sale_receipt(intention, copy="CLIENTE")
    intention.merchant_receipt_detail = receipts.sale_receipt(intention, copy="COMERCIO")
    _set_status(intention, _APPROVED[intention.kind], at)


def _finish_error(intention: SimIntention, at: datetime) -> None:
    intention.acquirer_additional_message = "ERROR DE COMUNICACION"
    intention.error = "Error de comunicación con el autorizador"
    intention.auto_finish_at = None
    _set_status(intention, _ERROR[intention.kind], at)


def _finish_rejected(intention: SimIntention, at: datetime) -> None:
    intention.acquirer_additional_message = "CANCELADA POR OPERADOR"
    intention.error = "Operación cancelada en la terminal"
    intention.auto_finish_at = None
    _set_status(intention, _DECLINED[intention.kind], at)


# --- Creates -------------------------------------------------------------------------------


def terminals_for(credential: SimCredential, terminal_ids: list[str]) -> list[SimTerminal]:
    """The listed terminals, which must belong to the credential's merchant (else 400)."""
    known = {
        t.terminal_id: t
        for t in SimTerminal.objects.filter(terminal_id__in=terminal_ids, cuit=credential.cuit)
    }
    for terminal_id in terminal_ids:
        if terminal_id not in known:
            raise SimError(400, f"terminals_list: terminal {terminal_id} inexistente")
    return [known[terminal_id] for terminal_id in terminal_ids]


def terminal_is_busy(terminal: SimTerminal) -> bool:
    return (
        SimIntention.objects.exclude(status__in=FINAL_STATUSES)
        .filter(Q(terminal=terminal) | Q(terminal__isnull=True, offered_to=terminal))
        .exists()
    )


def _refuse_busy(terminals: list[SimTerminal]) -> None:
    if any(terminal_is_busy(t) for t in terminals):
        raise conflict(BUSY_TITLE)


def _autopilot_plan(terminals: list[SimTerminal], *, amount_cents: int | None, now: datetime):
    """(terminal, outcome, pick_at, finish_at) of the first terminal with autopilot on, or None."""
    state = services.state_get()
    for terminal in terminals:
        settings = services.autopilot_effective(terminal, state)
        if not settings["enabled"]:
            continue
        outcome = "confirm"
        if amount_cents is not None:
            outcome = MAGIC_CENTS.get(amount_cents % 100, "confirm")
        pick_at = now + _ms(settings["pick_delay_ms"])
        hold = settings["stuck_processing_ms"] if outcome == "stuck" else settings["processing_ms"]
        return terminal, outcome, pick_at, pick_at + _ms(hold)
    return None


def _new_intention(
    *, kind: str, credential: SimCredential, terminals: list[SimTerminal], now: datetime, **fields
) -> tuple[SimIntention, bool]:
    """Store a new offered intention with its autopilot plan. Returns (intention, lose_answer)."""
    plan = _autopilot_plan(terminals, amount_cents=fields.get("amount_cents"), now=now)
    if plan and plan[1] == "busy":
        raise conflict(BUSY_TITLE)
    _refuse_busy(terminals)
    intention = SimIntention(
        kind=kind,
        status=_REQUEST[kind],
        cuit=credential.cuit,
        subnet_acquirer_id=credential.subnet_acquirer_id,
        merchant_id=credential.merchant_id,
        merchant_name=credential.merchant_name,
        created_at=now,
        status_changed_at=now,
        **fields,
    )
    lose_answer = False
    if plan:
        terminal, outcome, pick_at, finish_at = plan
        lose_answer = outcome == "lost"
        if outcome != "never":
            intention.auto_terminal = terminal
            intention.auto_outcome = outcome
            intention.auto_pick_at = pick_at
            intention.auto_finish_at = finish_at
            intention.next_due_at = pick_at
    intention.save()
    intention.offered_to.set(terminals)
    return intention, lose_answer


def payment_create(
    *, credential: SimCredential, request_data: dict, clean: dict, now: datetime
) -> tuple[SimIntention, bool]:
    terminals = terminals_for(credential, clean["terminal_ids"])
    return _new_intention(
        kind=Kind.PAYMENT,
        credential=credential,
        terminals=terminals,
        now=now,
        request_data=request_data,
        ecr_transaction_id=clean["ecr_transaction_id"],
        amount_cents=clean["amount_cents"],
        change_amount_cents=clean["change_amount_cents"],
        installments=clean["installments"],
        brand_restriction=clean["card_brand_product"],
        operation_method=clean["operation_method"],
    )


def refund_create(
    *, credential: SimCredential, request_data: dict, clean: dict, now: datetime
) -> tuple[SimIntention, bool]:
    terminals = terminals_for(credential, clean["terminal_ids"])
    return _new_intention(
        kind=Kind.REFUND,
        credential=credential,
        terminals=terminals,
        now=now,
        request_data=request_data,
        ecr_transaction_id=clean["ecr_transaction_id"],
        amount_cents=clean["amount_cents"],
        brand_restriction=clean["card_brand_product"],
    )


def reversal_create(
    *, credential: SimCredential, request_data: dict, clean: dict, now: datetime
) -> tuple[SimIntention, bool]:
    """A reversal annuls a whole CONFIRMED payment still in its terminal's open batch."""
    listed = terminals_for(credential, clean["terminal_ids"])
    original = intention_get(credential=credential, kind=Kind.PAYMENT, pk=clean["payment_id"])
    if original.status != CONFIRMED:
        raise conflict(f"Solo se anula un pago aprobado (estado {original.status})")
    if original.acquirer_id == "AMEX":
        raise conflict("Los pagos American Express no se anulan: corresponde una devolución")
    terminal = original.terminal
    if original.settled_by_id or original.batch_number != terminal.batch_number:
        raise conflict("El lote del pago ya fue cerrado: corresponde una devolución")
    if original.reversals.exclude(status__in=REVERSAL_FAILED_STATUSES).exists():
        raise conflict("El pago ya fue anulado o tiene una anulación en curso")
    if terminal not in listed:
        raise conflict(
            f"La anulación debe ofrecerse a la terminal que cobró el pago ({terminal.terminal_id})"
        )
    return _new_intention(
        kind=Kind.REVERSAL,
        credential=credential,
        terminals=[terminal],
        now=now,
        request_data=request_data,
        ecr_transaction_id=clean["ecr_transaction_id"],
        amount_cents=original.amount_cents,
        installments=original.installments,
        original=original,
    )


def settlement_create(
    *, credential: SimCredential, terminal_id: str, print_receipt: bool, now: datetime
) -> SimIntention:
    """A batch close needs no operator: it completes `settlement_delay_ms` after creation."""
    (terminal,) = terminals_for(credential, [terminal_id])
    pending = SimIntention.objects.filter(terminal=terminal, kind=Kind.SETTLEMENT).exclude(
        status__in=FINAL_STATUSES
    )
    if pending.exists():
        raise conflict("Ya hay un cierre de lote en curso en la terminal")
    _refuse_busy([terminal])
    if services.state_get().settlement_fault == "refuse":
        raise conflict("La terminal no puede cerrar el lote en este momento")
    delay = _ms(services.state_get().settlement_delay_ms)
    intention = SimIntention.objects.create(
        kind=Kind.SETTLEMENT,
        status=SETTLEMENT_REQUEST,
        cuit=credential.cuit,
        subnet_acquirer_id=credential.subnet_acquirer_id,
        merchant_id=credential.merchant_id,
        merchant_name=credential.merchant_name,
        terminal=terminal,
        print_receipt=print_receipt,
        created_at=now,
        status_changed_at=now,
        auto_pick_at=now + delay / 2,
        auto_finish_at=now + delay,
        next_due_at=now + delay / 2,
    )
    return intention


# --- Reads and cancels ---------------------------------------------------------------------


def intention_get(*, credential: SimCredential, kind: str, pk) -> SimIntention:
    """The intention of this kind seen by the credential's merchant and environment, else 404."""
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        raise not_found() from None
    intention = (
        SimIntention.objects.filter(
            pk=pk,
            kind=kind,
            cuit=credential.cuit,
            subnet_acquirer_id=credential.subnet_acquirer_id,
        )
        .select_related("terminal", "original", "original__terminal")
        .first()
    )
    if intention is None:
        raise not_found()
    return intention


def intention_cancel(*, intention: SimIntention, now: datetime) -> SimIntention:
    """Ask to withdraw an intention nobody took yet; it becomes UNDONE `undo_delay_ms` later."""
    status = intention.status
    if status in PROCESSING_STATUSES:
        raise conflict(ALREADY_PROCESSING_TITLE)
    if status in (UNDO_REQUEST, UNDO_REVERSAL_REQUEST):
        raise conflict("La intención ya tiene una cancelación en curso")
    if status not in OFFERED_STATUSES:
        raise conflict(f"La intención ya finalizó (estado {status})")
    _set_status(intention, _UNDO[intention.kind], now)
    intention.auto_pick_at = intention.auto_finish_at = None
    intention.auto_terminal = None
    intention.undo_at = now + _ms(services.state_get().undo_delay_ms)
    intention.next_due_at = intention.undo_at
    intention.save()
    return intention


def payments_search(
    *,
    credential: SimCredential,
    date_from: datetime,
    date_to: datetime,
    ecr_transaction_id: str | None = None,
    terminal_id: str | None = None,
    limit: int = 200,
) -> list[SimIntention]:
    found = SimIntention.objects.filter(
        kind=Kind.PAYMENT,
        cuit=credential.cuit,
        subnet_acquirer_id=credential.subnet_acquirer_id,
        created_at__gte=date_from,
        created_at__lte=date_to,
    )
    if ecr_transaction_id is not None:
        found = found.filter(ecr_transaction_id=ecr_transaction_id)
    if terminal_id is not None:
        found = found.filter(
            Q(terminal__terminal_id=terminal_id) | Q(offered_to__terminal_id=terminal_id)
        ).distinct()
    return list(found.select_related("terminal").order_by("-created_at")[:limit])


# --- A person at the terminal --------------------------------------------------------------


def terminal_pending(terminal: SimTerminal) -> list[SimIntention]:
    """Intentions in the terminal's list: offered to it and not yet taken by anyone."""
    return list(
        SimIntention.objects.filter(
            offered_to=terminal, terminal__isnull=True, status__in=OFFERED_STATUSES
        ).order_by("created_at")
    )


def terminal_current(terminal: SimTerminal) -> SimIntention | None:
    return (
        SimIntention.objects.filter(terminal=terminal, status__in=PROCESSING_STATUSES)
        .select_related("original")
        .first()
    )


def terminal_recent(terminal: SimTerminal, limit: int = 5) -> list[SimIntention]:
    return list(
        SimIntention.objects.filter(terminal=terminal, status__in=FINAL_STATUSES).order_by(
            "-status_changed_at"
        )[:limit]
    )


def terminal_pick(
    *, terminal: SimTerminal, now: datetime, intention_id: str | None = None
) -> SimIntention:
    """The operator takes one intention from the list (the oldest, or the one named)."""
    if terminal_current(terminal):
        raise conflict("La terminal ya está procesando una operación")
    pending = terminal_pending(terminal)
    if intention_id:
        chosen = [i for i in pending if str(i.pk) == str(intention_id)]
        if not chosen:
            raise SimError(404, "La intención no está en la lista de la terminal")
        intention = chosen[0]
    elif pending:
        intention = pending[0]
    else:
        raise SimError(404, "No hay intenciones pendientes en la terminal")
    # A person took over: the autopilot plan no longer applies.
    intention.auto_terminal = None
    intention.auto_pick_at = intention.auto_finish_at = None
    _take(intention, terminal, now)
    intention.next_due_at = None
    intention.save()
    return intention


def _current_or_409(terminal: SimTerminal) -> SimIntention:
    intention = terminal_current(terminal)
    if intention is None:
        raise conflict("La terminal no tiene una operación en curso")
    return intention


def terminal_pay(*, terminal: SimTerminal, card_key: str | None, now: datetime) -> SimIntention:
    """The customer presents a test card for the intention the terminal is processing."""
    intention = _current_or_409(terminal)
    if intention.kind == Kind.REVERSAL:
        card = CARDS["declinada"] if card_key == "declinada" else _original_card(intention)
    else:
        card = CARDS.get(card_key or "")
        if card is None:
            raise SimError(400, f"card: tarjeta de prueba desconocida ({card_key})")
        if intention.operation_method == "QR_CODE":
            raise conflict("Esta intención se cobra con QR")
        restriction = intention.brand_restriction
        if restriction and card.card_brand_product != restriction:
            raise conflict(f"Tarjeta no habilitada para esta operación (solo {restriction})")
        if intention.change_amount_cents and card.payment_type != "DEBIT":
            # Cash-back is for debit only (contract §3): the acquirer declines a credit card.
            card = dataclasses.replace(
                card, approved=False, response_code="57", message="EXTRACCION SOLO DEBITO"
            )
    _finish_with_card(intention, card, now)
    intention.next_due_at = None
    intention.save()
    return intention


def terminal_qr(*, terminal: SimTerminal, now: datetime) -> SimIntention:
    """The customer pays the current intention by scanning its QR code with a wallet."""
    intention = _current_or_409(terminal)
    if intention.kind != Kind.PAYMENT or intention.operation_method != "QR_CODE":
        raise conflict("Esta intención se cobra con tarjeta")
    _finish_with_card(intention, QR_WALLET, now)
    intention.next_due_at = None
    intention.save()
    return intention


def terminal_reject(
    *, terminal: SimTerminal, now: datetime, intention_id: str | None = None
) -> SimIntention:
    """The operator cancels on the terminal: the current intention, or one from the list."""
    intention = terminal_current(terminal)
    if intention is None:
        intention = terminal_pick(terminal=terminal, now=now, intention_id=intention_id)
    _finish_rejected(intention, now)
    intention.next_due_at = None
    intention.save()
    return intention
