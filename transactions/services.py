"""Writes of the intent lifecycle: create, cancel, reverse, refund, close, refresh, resolve.

The shape of every money-moving service is the same (DESIGN.md, STYLE.md rule 2):
  1. check the rules (nothing written if refused);
  2. commit the intent as `created` in a short transaction that also locks the terminals, so two
     requests cannot both find a terminal free;
  3. call the provider outside any transaction;
  4. record the answer in a second short, guarded write.
A create whose answer was lost is `in_doubt` and is never sent again: the resolver looks for it.
"""

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from stores.models import Store, Terminal
from stores.roles import Action
from stores.selectors import credential_for_store, user_can
from transactions import rules
from transactions.backoff import IN_DOUBT_FAST_SEARCH, created_grace_seconds
from transactions.errors import IntentRuleError
from transactions.gateway import (
    GatewayError,
    PaymentRequest,
    RefundRequest,
    ReversalRequest,
    gateway_for,
)
from transactions.models import Intent, IntentEvent
from transactions.money import format_ars
from transactions.polling import intent_poll, poll_lock
from transactions.selectors import refundable_balance, reversal_allowed
from transactions.states import RESERVING_STATES, Kind, State
from transactions.transitions import (
    SYSTEM,
    Actor,
    intent_note,
    intent_record_answer,
    intent_transition,
)

logger = logging.getLogger(__name__)


def _actor(user, pos_client) -> Actor:
    if pos_client is not None:
        return Actor(pos_client=pos_client, label=f"POS {pos_client.name}")
    if user is not None:
        return Actor(user=user, label=user.get_username())
    return SYSTEM


def _require(user, store: Store, action: str) -> None:
    """People must hold a role that allows the action; POS keys are checked by the API."""
    if user is not None and not user_can(user=user, store=store, action=action):
        raise IntentRuleError("forbidden", "Su rol no permite esta operación.", http_status=403)


def _credential(store: Store):
    credential = credential_for_store(store=store)
    if credential is None:
        raise IntentRuleError(
            "credential_missing",
            "La sucursal no tiene credenciales de Prisma para su ambiente.",
            http_status=422,
        )
    return credential


def _busy_terminals(terminals: list[Terminal]) -> list[Terminal]:
    """Terminals that hold an intention which may still be on their screen.

    An in-doubt create that the resolver could not find within its fast search window is not on
    any screen: it stops blocking the terminal (its POS reference stays reserved until a person
    resolves it, so the order still cannot be charged twice).
    """
    stale_doubt = Q(state=State.IN_DOUBT, created_at__lt=timezone.now() - IN_DOUBT_FAST_SEARCH)
    busy_ids = set(
        Intent.objects.filter(offered_terminals__in=terminals, state__in=sorted(RESERVING_STATES))
        .exclude(stale_doubt)
        .values_list("offered_terminals", flat=True)
    )
    return [t for t in terminals if t.pk in busy_ids]


def _unique_ecr_transaction_id(*, store: Store, base: str, public_id) -> str:
    """The reference sent to the provider: the POS's own when it has one, made unique within the
    merchant (a retried order gets `-R2`, `-R3`...), because the in-doubt resolver identifies an
    intention by it and must never adopt another attempt's payment."""
    if not base:
        return f"ECR-{public_id.hex[:16]}"
    candidate, attempt = base[:64], 1
    while Intent.objects.filter(
        store__merchant_id=store.merchant_id, ecr_transaction_id=candidate
    ).exists():
        attempt += 1
        suffix = f"-R{attempt}"
        candidate = base[: 64 - len(suffix)] + suffix
    return candidate


_created_listener: ContextVar[Callable[[Intent], None] | None] = ContextVar(
    "intent_created_listener", default=None
)


@contextlib.contextmanager
def intent_created_listener(callback: Callable[[Intent], None]):
    """Calls `callback(intent)` as soon as a service in this block has committed its intent row,
    before the provider is called. The POS API links its idempotency key to the intent this way,
    so a request that dies mid-call still leaves the key pointing at what it created."""
    token = _created_listener.set(callback)
    try:
        yield
    finally:
        _created_listener.reset(token)


def _create_row(
    *,
    store,
    terminals,
    credential,
    actor: Actor,
    ecr_base: str = "",
    recheck: Callable[[Intent], None] | None = None,
    **fields,
) -> Intent:
    """Commits the intent as `created` with its terminals locked, after the last rule checks.

    A reversal or refund also locks its original payment and re-runs `recheck` on the locked row,
    so a reversal and a refund (or two refunds) racing on one payment cannot both pass.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            # Lock the terminals so a concurrent request cannot also find them free. On SQLite the
            # IMMEDIATE transaction already serialises writers.
            list(
                Terminal.objects.select_for_update()
                .filter(pk__in=[t.pk for t in terminals])
                .order_by("pk")
            )
            original = fields.get("original")
            if original is not None:
                locked = Intent.objects.select_for_update().get(pk=original.pk)
                if recheck is not None:
                    recheck(locked)
            busy = _busy_terminals(terminals)
            if busy:
                raise IntentRuleError(
                    "terminal_busy",
                    f"La terminal {busy[0].terminal_id} tiene una operación pendiente.",
                    field="terminal",
                    http_status=409,
                )
            reference = fields.get("reference", "")
            if (
                fields["kind"] == Kind.PAYMENT
                and reference
                and Intent.objects.filter(
                    store=store,
                    kind=Kind.PAYMENT,
                    reference=reference,
                    state__in=sorted(RESERVING_STATES),
                ).exists()
            ):
                raise IntentRuleError(
                    "reference_in_use",
                    f"Ya hay un cobro en curso o en duda para la referencia {reference}.",
                    field="reference",
                    http_status=409,
                )
            public_id = uuid.uuid4()
            intent = Intent.objects.create(
                public_id=public_id,
                store=store,
                credential=credential,
                requested_by_user=actor.user,
                requested_by_pos=actor.pos_client,
                ecr_transaction_id=_unique_ecr_transaction_id(
                    store=store, base=ecr_base, public_id=public_id
                ),
                # If this process dies before recording the answer, the sweeper finds the row
                # after the grace period and resolves it like an in-doubt create.
                next_poll_at=now + timedelta(seconds=created_grace_seconds()),
                **fields,
            )
            intent.offered_terminals.set(terminals)
            IntentEvent.objects.create(
                intent=intent,
                type=IntentEvent.Type.CREATED,
                to_state=State.CREATED,
                **actor.event_fields(),
            )
    except IntegrityError as exc:
        # The partial unique index on live references caught a race the check above missed.
        raise IntentRuleError(
            "reference_in_use",
            "Ya hay un cobro en curso o en duda para esa referencia.",
            field="reference",
            http_status=409,
        ) from exc
    listener = _created_listener.get()
    if listener is not None:
        listener(intent)
    return intent


def _send(intent: Intent, call, *, actor: Actor) -> Intent:
    """Calls the provider for a freshly created intent and records what happened."""
    sent_at = timezone.now()
    try:
        answer = call()
    except GatewayError as exc:
        return _record_create_error(intent, exc, actor=actor, sent_at=sent_at)
    # One write records both the sending and the provider's first answer.
    recorded = intent_record_answer(
        intent, answer, actor=actor, reschedule=True, extra_fields={"sent_at": sent_at}
    )
    if (
        not recorded
        and intent.state == State.IN_DOUBT
        and not intent.provider_id
        and answer.provider_id
    ):
        # The answer was so slow that the sweeper took this row for orphaned and put it in
        # doubt. The answer is here after all: adopt it instead of losing the provider's id.
        Intent.objects.filter(pk=intent.pk, provider_id="").update(provider_id=answer.provider_id)
        intent.provider_id = answer.provider_id
        intent_record_answer(
            intent, answer, actor=actor, reschedule=True, extra_fields={"sent_at": sent_at}
        )
    return intent


def _record_create_error(intent: Intent, exc: GatewayError, *, actor: Actor, sent_at) -> Intent:
    if exc.in_doubt:
        intent_transition(
            intent,
            to_state=State.IN_DOUBT,
            actor=actor,
            fields={"sent_at": sent_at, "next_poll_at": timezone.now() + timedelta(seconds=2)},
            message=f"Respuesta perdida al crear: {exc.message}. Se buscará en Prisma; "
            "no se volverá a enviar.",
        )
        return intent
    # Definitely not created at the provider (refused, or never sent).
    intent_transition(
        intent,
        to_state=State.FAILED,
        actor=actor,
        fields={"response_message": exc.message[:200], "sent_at": sent_at},
        message=f"Prisma no creó la intención: {exc.message}",
    )
    status = exc.http_status
    if status == 409:
        raise _provider_rule_error("terminal_busy", exc, 409, intent)
    if status is not None and 400 <= status < 500:
        raise _provider_rule_error("provider_rejected", exc, 422, intent)
    raise _provider_rule_error("provider_unavailable", exc, 503, intent)


def _provider_rule_error(code: str, exc: GatewayError, status: int, intent: Intent):
    messages = {
        "terminal_busy": "Prisma informa que la terminal tiene una operación pendiente.",
        "provider_rejected": f"Prisma rechazó la operación: {exc.message}",
        "provider_unavailable": f"No se pudo contactar a Prisma: {exc.message}",
    }
    error = IntentRuleError(code, messages[code], http_status=status)
    error.intent = intent
    return error


def payment_create(
    *,
    store: Store,
    terminals: list[Terminal],
    amount,
    installments=1,
    brand: str = "",
    method: str = "card",
    reference: str = "",
    menu_text: str = "",
    print_copies: str = "BOTH",
    receipt_notes: str = "",
    user=None,
    pos_client=None,
) -> Intent:
    """Offers a payment to one or more terminals of the store."""
    _require(user, store, Action.CHARGE)
    amount = rules.clean_amount(amount)
    installments = rules.clean_installments(installments)
    brand = rules.clean_brand(brand)
    method = rules.clean_method(method)
    print_copies = rules.clean_print_copies(print_copies)
    reference = rules.clean_text(reference, field="reference", max_length=rules.REFERENCE_MAX)
    menu_text = rules.clean_text(menu_text, field="menu_text", max_length=rules.MENU_TEXT_MAX)
    receipt_notes = rules.clean_text(receipt_notes, field="receipt_notes", max_length=120)
    terminals = rules.clean_terminals(store=store, terminals=terminals)
    credential = _credential(store)
    actor = _actor(user, pos_client)
    menu_text = menu_text or (f"{reference} " if reference else "") + format_ars(amount)
    intent = _create_row(
        store=store,
        terminals=terminals,
        credential=credential,
        actor=actor,
        kind=Kind.PAYMENT,
        ecr_base=reference,
        amount=amount,
        installments=installments,
        brand_restriction=brand,
        method=method,
        reference=reference,
        menu_text=menu_text[: rules.MENU_TEXT_MAX],
        print_copies=print_copies,
        receipt_notes=receipt_notes,
    )
    request = PaymentRequest(
        amount=amount,
        terminal_ids=[t.terminal_id for t in terminals],
        menu_text=intent.menu_text,
        reference=intent.ecr_transaction_id,
        installments=installments,
        brand=brand or None,
        method="QR_CODE" if method == "qr" else "CARD",
        print_copies=print_copies,
        receipt_notes=receipt_notes or None,
    )
    gateway = gateway_for(credential)
    return _send(
        intent,
        lambda: gateway.payment_create(
            cuit=store.merchant.cuit, request=request, intent_id=intent.pk
        ),
        actor=actor,
    )


def _check_reversal(payment: Intent) -> None:
    allowed, reason = reversal_allowed(payment=payment)
    if not allowed:
        code, message = reason
        raise IntentRuleError(code, message, http_status=409)


def _check_refund(payment: Intent, amount: Decimal) -> None:
    if payment.state != State.APPROVED:
        raise IntentRuleError(
            "refund_not_allowed", "Solo se puede devolver un cobro aprobado.", http_status=409
        )
    balance = refundable_balance(payment=payment)
    if amount > balance:
        raise IntentRuleError(
            "refund_exceeds_balance",
            f"El importe supera el saldo devolvible ({format_ars(balance)}).",
            field="amount",
            http_status=422,
        )


def reversal_create(
    *, payment: Intent, reference: str = "", menu_text: str = "", user=None, pos_client=None
) -> Intent:
    """Annuls an approved payment while its batch is open (anulación)."""
    store = payment.store
    _require(user, store, Action.REVERSE)
    _check_reversal(payment)
    reference = rules.clean_text(reference, field="reference", max_length=rules.REFERENCE_MAX)
    menu_text = rules.clean_text(menu_text, field="menu_text", max_length=rules.MENU_TEXT_MAX)
    credential = _credential(store)
    actor = _actor(user, pos_client)
    terminal = payment.terminal
    intent = _create_row(
        store=store,
        terminals=[terminal],
        credential=credential,
        actor=actor,
        recheck=_check_reversal,
        kind=Kind.REVERSAL,
        terminal=terminal,
        original=payment,
        amount=payment.amount,
        reference=reference,
        ecr_base=(reference or payment.ecr_transaction_id)[:62] + "-A",
        menu_text=(menu_text or f"Anulación {format_ars(payment.amount)}")[:40],
        print_copies=payment.print_copies,
        card_brand_code=payment.card_brand_code,
    )
    request = ReversalRequest(
        payment_id=payment.provider_id,
        terminal_ids=[terminal.terminal_id],
        menu_text=intent.menu_text,
        reference=intent.ecr_transaction_id,
        print_copies=intent.print_copies,
    )
    gateway = gateway_for(credential)
    return _send(
        intent,
        lambda: gateway.reversal_create(
            cuit=store.merchant.cuit, request=request, intent_id=intent.pk
        ),
        actor=actor,
    )


def refund_create(
    *,
    store: Store,
    terminal: Terminal,
    amount,
    original: Intent | None = None,
    brand: str = "",
    reference: str = "",
    menu_text: str = "",
    user=None,
    pos_client=None,
) -> Intent:
    """A devolución: the card is presented again; up to the original's refundable balance."""
    _require(user, store, Action.REFUND)
    amount = rules.clean_amount(amount)
    brand = rules.clean_brand(brand)
    reference = rules.clean_text(reference, field="reference", max_length=rules.REFERENCE_MAX)
    menu_text = rules.clean_text(menu_text, field="menu_text", max_length=rules.MENU_TEXT_MAX)
    (terminal,) = rules.clean_terminals(store=store, terminals=[terminal])

    def check_balance(payment: Intent) -> None:
        _check_refund(payment, amount)

    if original is not None:
        if original.store_id != store.pk or original.kind != Kind.PAYMENT:
            raise IntentRuleError(
                "refund_not_allowed", "El cobro original no es de esta sucursal.", http_status=404
            )
        check_balance(original)
        brand = brand or original.card_brand_code
    credential = _credential(store)
    actor = _actor(user, pos_client)
    base_reference = reference or (original.ecr_transaction_id if original else "")
    intent = _create_row(
        store=store,
        terminals=[terminal],
        credential=credential,
        actor=actor,
        recheck=check_balance,
        kind=Kind.REFUND,
        terminal=terminal,
        original=original,
        amount=amount,
        brand_restriction=brand,
        reference=reference,
        ecr_base=(base_reference[:62] + "-D") if base_reference else "",
        menu_text=(menu_text or f"Devolución {format_ars(amount)}")[:40],
    )
    request = RefundRequest(
        amount=amount,
        terminal_ids=[terminal.terminal_id],
        menu_text=intent.menu_text,
        reference=intent.ecr_transaction_id,
        brand=brand or None,
    )
    gateway = gateway_for(credential)
    return _send(
        intent,
        lambda: gateway.refund_create(
            cuit=store.merchant.cuit, request=request, intent_id=intent.pk
        ),
        actor=actor,
    )


def settlement_create(
    *, terminal: Terminal, print_receipt: bool = True, user=None, pos_client=None
) -> Intent:
    """Closes the terminal's open batch (cierre de lote)."""
    store = terminal.store
    _require(user, store, Action.CLOSE_BATCH)
    (terminal,) = rules.clean_terminals(store=store, terminals=[terminal])
    if Intent.objects.filter(
        kind=Kind.SETTLEMENT, offered_terminals=terminal, state__in=sorted(RESERVING_STATES)
    ).exists():
        raise IntentRuleError(
            "settlement_in_progress",
            "Ya hay un cierre de lote en curso para esta terminal.",
            http_status=409,
        )
    credential = _credential(store)
    actor = _actor(user, pos_client)
    intent = _create_row(
        store=store,
        terminals=[terminal],
        credential=credential,
        actor=actor,
        kind=Kind.SETTLEMENT,
        print_receipt=bool(print_receipt),
        menu_text="Cierre de lote",
        terminal=terminal,
    )
    gateway = gateway_for(credential)
    return _send(
        intent,
        lambda: gateway.settlement_create(
            cuit=store.merchant.cuit,
            terminal_id=terminal.terminal_id,
            print_receipt=bool(print_receipt),
            intent_id=intent.pk,
        ),
        actor=actor,
    )


_CANCEL_CALLS = {
    Kind.PAYMENT: "payment_cancel",
    Kind.REVERSAL: "reversal_cancel",
    Kind.REFUND: "refund_cancel",
}
_CANCEL_ID_ARG = {
    Kind.PAYMENT: "payment_id",
    Kind.REVERSAL: "reversal_id",
    Kind.REFUND: "refund_id",
}


def intent_cancel(*, intent: Intent, user=None, pos_client=None, actor: Actor | None = None):
    """Asks the provider to withdraw a waiting intention. The terminal may win the race: then
    the intent ends as the terminal decided, and a person is told the cancellation failed."""
    if user is not None:
        _require(user, intent.store, Action.CANCEL)
    actor = actor or _actor(user, pos_client)
    if (
        intent.kind not in _CANCEL_CALLS
        or intent.state not in (State.PENDING, State.PROCESSING, State.CANCELLING)
        or not intent.provider_id
    ):
        raise IntentRuleError(
            "not_cancellable",
            f"La intención no se puede cancelar en estado «{intent.get_state_display()}».",
            http_status=409,
        )
    if intent.state != State.CANCELLING:
        intent_transition(
            intent,
            to_state=State.CANCELLING,
            actor=actor,
            event_type=IntentEvent.Type.CANCEL,
            fields={"cancel_requested_at": timezone.now()},
            message="Cancelación pedida",
        )
        if intent.state != State.CANCELLING:
            # It moved (became final) while we looked: nothing to cancel any more.
            return intent
    intent_send_cancel(intent, actor=actor)
    return intent


def intent_send_cancel(intent: Intent, *, actor: Actor = SYSTEM, learn: bool = True) -> None:
    """Sends (or re-sends: PUT cancellations is idempotent) the cancel of a cancelling intent.

    With `learn`, a refused cancel is followed by a read, so the caller knows at once what the
    terminal is doing; the poller passes False (it reads on its own schedule).
    """
    gateway = gateway_for(intent.credential)
    call = getattr(gateway, _CANCEL_CALLS[intent.kind])
    now = timezone.now()
    Intent.objects.filter(pk=intent.pk).update(
        cancel_attempts=F("cancel_attempts") + 1, cancel_sent_at=now
    )
    intent.cancel_attempts += 1
    intent.cancel_sent_at = now
    try:
        answer = call(
            cuit=intent.store.merchant.cuit,
            intent_id=intent.pk,
            **{_CANCEL_ID_ARG[intent.kind]: intent.provider_id},
        )
    except GatewayError as exc:
        intent_note(
            intent,
            type=IntentEvent.Type.NOTE,
            actor=actor,
            message=f"Prisma no aceptó la cancelación: {exc.message}",
        )
        if learn:
            # A 409 usually means the terminal took the intention: learn what it is doing.
            intent_poll(intent, actor=actor)
        return
    intent_record_answer(intent, answer, actor=actor)


_PROVIDER_KNOWS = (State.PENDING, State.PROCESSING, State.CANCELLING)


def intent_refresh(*, intent: Intent, wait: float = 0) -> Intent:
    """Reads the intent's state from the provider now and, with `wait`, keeps doing so at a
    watcher's pace (about twice a second) until it is final or the wait ends.

    Only intents the provider is working on are read at that pace; a created or in-doubt one is
    left to the sweeper's schedule (its search is expensive) and only re-read from the database.
    Safe to call from many places at once: a per-intent lock lets one caller poll while the
    others re-read the database.
    """
    deadline = time.monotonic() + max(0, min(wait, 60))
    if wait:
        Intent.objects.filter(pk=intent.pk).update(
            watched_until=timezone.now() + timedelta(seconds=wait + 1)
        )
    while True:
        if intent.state in _PROVIDER_KNOWS and intent.provider_id:
            with poll_lock(intent.pk) as acquired:
                intent.refresh_from_db()
                if acquired and intent.state in _PROVIDER_KNOWS:
                    intent_poll(intent, actor=SYSTEM, watched=True)
        elif not intent.is_final:
            intent.refresh_from_db()
        remaining = deadline - time.monotonic()
        if intent.is_final or remaining <= 0:
            return intent
        if not connection.in_atomic_block:
            # A long poll sleeps most of its time: give the connection back meanwhile, so a
            # hundred waiting tills do not hold a hundred database connections.
            connection.close()
        time.sleep(min(settings.ECR_WATCH_INTERVAL_MS / 1000, remaining))


RESOLVE_OUTCOMES = {
    "approved": State.APPROVED,
    "declined": State.DECLINED,
    "cancelled": State.CANCELLED,
    "failed": State.FAILED,
}


def intent_resolve(*, intent: Intent, outcome: str, evidence: str, reason: str, user) -> Intent:
    """An operator settles, with evidence, an intent the provider cannot tell us about: a create
    whose answer was lost and that the resolver could not find.

    An intent the provider knows (it has a provider id) is never settled by hand: its outcome
    comes from the provider, or a person cancels it. Closing it here would stop the polling while
    the intention may still be on a terminal, and free the POS order to be charged again.
    """
    _require(user, intent.store, Action.RESOLVE)
    if intent.state != State.IN_DOUBT or intent.provider_id:
        raise IntentRuleError(
            "not_resolvable",
            "Solo se resuelven a mano intenciones en duda que Prisma no identificó; "
            "las demás se consultan en Prisma o se cancelan.",
            http_status=409,
        )
    to_state = RESOLVE_OUTCOMES.get(outcome)
    if to_state is None:
        raise IntentRuleError("outcome_invalid", "Resultado inválido.", field="outcome")
    evidence = rules.clean_text(evidence, field="evidence", max_length=200)
    reason = rules.clean_text(reason, field="reason", max_length=500)
    if not reason:
        raise IntentRuleError("reason_required", "Indique el motivo.", field="reason")
    if to_state == State.APPROVED and not evidence:
        raise IntentRuleError(
            "evidence_required",
            "Para darla por aprobada indique el cupón o el código de autorización.",
            field="evidence",
        )
    fields = {"needs_attention": False, "attention_reason": ""}
    if to_state == State.APPROVED and evidence and not intent.authorization_code:
        fields["authorization_code"] = evidence[:16]
    changed = intent_transition(
        intent,
        to_state=to_state,
        actor=_actor(user, None),
        fields=fields,
        event_type=IntentEvent.Type.RESOLVED,
        message=f"Resuelta a mano como «{to_state.label}». Evidencia: {evidence or '-'}. "
        f"Motivo: {reason}",
    )
    if not changed:
        raise IntentRuleError(
            "not_resolvable",
            "La intención cambió mientras tanto; vuelva a mirarla.",
            http_status=409,
        )
    return intent


def intent_acknowledge(*, intent: Intent, user, note: str = "") -> Intent:
    """Clears the attention flag of a final intent once a person has looked at it."""
    _require(user, intent.store, Action.RESOLVE)
    with transaction.atomic():
        Intent.objects.filter(pk=intent.pk).update(needs_attention=False, attention_reason="")
        intent_note(
            intent,
            type=IntentEvent.Type.NOTE,
            actor=_actor(user, None),
            message=f"Revisada: {note or 'sin nota'}",
        )
    intent.needs_attention = False
    return intent


def store_batch_close(
    *, store: Store, user=None, pos_client=None, print_receipt: bool = True
) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """Asks a batch close of every enabled terminal of the store; one refusal stops no other."""
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    for terminal in store.terminals.filter(enabled=True).order_by("terminal_id"):
        try:
            intent = settlement_create(
                terminal=terminal, print_receipt=print_receipt, user=user, pos_client=pos_client
            )
        except IntentRuleError as exc:
            results.append((terminal, exc))
        else:
            results.append((terminal, intent))
    return results


def store_batch_close_due(*, now) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """The daily automatic close: stores whose local close hour has come and whose terminals
    have no settlement yet today (local day). Busy terminals are retried on the next run."""
    results = []
    for store in Store.objects.select_related("merchant"):
        local = timezone.localtime(now, store.tzinfo)
        if local.hour < store.batch_close_hour:
            continue
        day_start = local.replace(hour=store.batch_close_hour, minute=0, second=0, microsecond=0)
        for terminal in store.terminals.filter(enabled=True):
            done = Intent.objects.filter(
                kind=Kind.SETTLEMENT,
                offered_terminals=terminal,
                created_at__gte=day_start,
            ).exclude(state__in=[State.FAILED, State.DECLINED])
            if done.exists():
                continue
            try:
                results.append((terminal, settlement_create(terminal=terminal)))
            except IntentRuleError as exc:
                logger.info("automatic close of %s postponed: %s", terminal, exc.message)
                results.append((terminal, exc))
    return results
