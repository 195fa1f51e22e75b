"""The four creates: payment (cobro), reversal (anulación), refund (devolución) and settlement
(cierre de lote). Each checks its rules, then runs the shared pipeline (`services.pipeline`)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from stores.models import Store, Terminal
from transactions import controls, rules
from transactions.errors import Code, IntentRuleError
from transactions.gateway import PaymentRequest, gateway_for
from transactions.models import Intent
from transactions.money import format_ars
from transactions.selectors import (
    refundable_balance,
    reversal_allowed,
    terminal_open_batch_is_empty,
)
from transactions.services.approvals import create_row_held
from transactions.services.common import Action, actor_for, credential_required, require_role
from transactions.services.pipeline import create_row, send
from transactions.services.sending import refund_send, reversal_send
from transactions.states import RESERVING_STATES, Kind, State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient


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
    change_amount=None,
    qr_benefit: bool | None = None,
    user: User | None = None,
    pos_client: PosClient | None = None,
) -> Intent:
    """Offers a payment to one or more terminals of the store. `change_amount` is cash-back and
    `qr_benefit` the contract's `qr_benefit_code` (`transactions.controls`)."""
    require_role(user, store, Action.CHARGE)
    controls.require_key(pos_client, Action.CHARGE)
    amount = rules.clean_amount(amount)
    installments = rules.clean_installments(installments)
    brand = rules.clean_brand(brand)
    method = rules.clean_method(method)
    print_copies = rules.clean_print_copies(print_copies)
    reference = rules.clean_text(reference, field="reference", max_length=rules.REFERENCE_MAX)
    menu_text = rules.clean_text(menu_text, field="menu_text", max_length=rules.MENU_TEXT_MAX)
    receipt_notes = rules.clean_text(receipt_notes, field="receipt_notes", max_length=120)
    terminals = rules.clean_terminals(store=store, terminals=terminals)
    change_amount = controls.clean_cashback(
        change_amount, store=store, method=method, installments=installments, brand=brand
    )
    qr_benefit = controls.clean_qr_benefit(qr_benefit, method=method)
    credential = credential_required(store)
    rules.clean_go_live(store=store, terminals=terminals, environment=credential.environment)
    actor = actor_for(user, pos_client)
    menu_text = menu_text or (f"{reference} " if reference else "") + format_ars(amount)
    intent = create_row(
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
        change_amount=change_amount,
        qr_benefit=qr_benefit,
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
        change_amount=change_amount,
        qr_benefit_code=qr_benefit,
    )
    gateway = gateway_for(credential)
    return send(
        intent,
        lambda: gateway.payment_create(
            cuit=store.merchant.cuit, request=request, intent_id=intent.pk
        ),
        actor=actor,
    )


def _check_reversal(payment: Intent) -> None:
    _, reason = reversal_allowed(payment=payment)
    if reason is not None:
        code, message = reason
        raise IntentRuleError(code, message)


def _check_refund(payment: Intent, amount: Decimal) -> None:
    if payment.state != State.APPROVED:
        raise IntentRuleError(
            Code.REFUND_NOT_ALLOWED,
            "Solo se puede devolver un cobro aprobado.",
        )
    balance = refundable_balance(payment=payment)
    if amount > balance:
        raise IntentRuleError(
            Code.REFUND_EXCEEDS_BALANCE,
            f"El importe supera el saldo devolvible ({format_ars(balance)}).",
            field="amount",
        )


def reversal_create(
    *,
    payment: Intent,
    reference: str = "",
    menu_text: str = "",
    user: User | None = None,
    pos_client: PosClient | None = None,
) -> Intent:
    """Annuls an approved payment while its batch is open (anulación). Above the store's
    threshold it waits for a second person (`approval_pending`, not sent)."""
    store = payment.store
    require_role(user, store, Action.REVERSE)
    controls.require_key(pos_client, Action.REVERSE)
    _check_reversal(payment)
    need = controls.reversal_approval_need(payment=payment, controls=controls.controls_for(store))
    reference = rules.clean_text(reference, field="reference", max_length=rules.REFERENCE_MAX)
    menu_text = rules.clean_text(menu_text, field="menu_text", max_length=rules.MENU_TEXT_MAX)
    credential = credential_required(store)
    actor = actor_for(user, pos_client)
    terminal = payment.terminal
    assert terminal is not None, "an approved payment has the terminal that took it"
    intent = create_row_held(
        need,
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
    if need is not None:
        return intent
    return reversal_send(intent, actor=actor)


def refund_create(
    *,
    store: Store,
    terminal: Terminal,
    amount,
    original: Intent | None = None,
    brand: str = "",
    reference: str = "",
    menu_text: str = "",
    user: User | None = None,
    pos_client: PosClient | None = None,
) -> Intent:
    """A devolución: the card is presented again; up to the original's refundable balance.
    The store's controls apply (`transactions.controls`): refund window, daily limit, refunds
    without an original, and above the threshold it waits for a second person."""
    require_role(user, store, Action.REFUND)
    controls.require_key(pos_client, Action.REFUND)
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
                Code.REFUND_NOT_ALLOWED,
                "El cobro original no es de esta sucursal.",
            )
        check_balance(original)
        brand = brand or original.card_brand_code
    else:
        controls.require_unreferenced_refund(store=store, user=user, pos_client=pos_client)
    store_controls = controls.controls_for(store)
    if original is not None:
        controls.check_refund_window(payment=original, controls=store_controls)

    def daily_limit() -> None:
        controls.check_daily_refund_limit(store=store, amount=amount, controls=store_controls)

    daily_limit()
    need = controls.refund_approval_need(amount=amount, controls=store_controls)
    credential = credential_required(store)
    actor = actor_for(user, pos_client)
    base_reference = reference or (original.ecr_transaction_id if original else "")
    limited = store_controls is not None and store_controls.daily_refund_limit is not None
    intent = create_row_held(
        need,
        store_limit=daily_limit if limited else None,
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
    if need is not None:
        return intent
    return refund_send(intent, actor=actor)


def settlement_create(
    *,
    terminal: Terminal,
    print_receipt: bool = True,
    user: User | None = None,
    pos_client: PosClient | None = None,
) -> Intent:
    """Closes the terminal's open batch (cierre de lote)."""
    store = terminal.store
    require_role(user, store, Action.CLOSE_BATCH)
    controls.require_key(pos_client, Action.CLOSE_BATCH)
    (terminal,) = rules.clean_terminals(store=store, terminals=[terminal])
    if Intent.objects.filter(
        kind=Kind.SETTLEMENT, offered_terminals=terminal, state__in=sorted(RESERVING_STATES)
    ).exists():
        raise IntentRuleError(
            Code.SETTLEMENT_IN_PROGRESS,
            "Ya hay un cierre de lote en curso para esta terminal.",
        )
    if terminal_open_batch_is_empty(terminal=terminal):
        raise IntentRuleError(
            Code.BATCH_EMPTY,
            f"El lote de la terminal {terminal.terminal_id} está vacío: no tiene cobros, "
            "anulaciones ni devoluciones desde el último cierre, no hay nada que cerrar.",
        )
    credential = credential_required(store)
    actor = actor_for(user, pos_client)
    intent = create_row(
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
    return send(
        intent,
        lambda: gateway.settlement_create(
            cuit=store.merchant.cuit,
            terminal_id=terminal.terminal_id,
            print_receipt=bool(print_receipt),
            intent_id=intent.pk,
        ),
        actor=actor,
    )
