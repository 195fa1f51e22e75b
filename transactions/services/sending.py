"""Sending a refund or reversal whose row is already written: right after its create, or once a
second person approved it (maker-checker, `services.approvals`). The request is built from the
intent row alone, so both paths send exactly the same thing."""

from transactions.events import Actor
from transactions.gateway import RefundRequest, ReversalRequest, gateway_for
from transactions.models import Intent
from transactions.services.pipeline import send


def reversal_send(intent: Intent, *, actor: Actor) -> Intent:
    """Sends a `created` reversal of `intent.original` to the terminal that took the payment."""
    payment = intent.original
    terminal = intent.terminal
    assert payment is not None and terminal is not None, "a reversal has its payment and terminal"
    request = ReversalRequest(
        payment_id=payment.provider_id,
        terminal_ids=[terminal.terminal_id],
        menu_text=intent.menu_text,
        reference=intent.ecr_transaction_id,
        print_copies=intent.print_copies,
    )
    gateway = gateway_for(intent.credential)
    cuit = intent.store.merchant.cuit
    return send(
        intent,
        lambda: gateway.reversal_create(cuit=cuit, request=request, intent_id=intent.pk),
        actor=actor,
    )


def refund_send(intent: Intent, *, actor: Actor) -> Intent:
    """Sends a `created` refund to its terminal."""
    terminal = intent.terminal
    assert terminal is not None and intent.amount is not None, "a refund has terminal and amount"
    request = RefundRequest(
        amount=intent.amount,
        terminal_ids=[terminal.terminal_id],
        menu_text=intent.menu_text,
        reference=intent.ecr_transaction_id,
        brand=intent.brand_restriction or None,
    )
    gateway = gateway_for(intent.credential)
    cuit = intent.store.merchant.cuit
    return send(
        intent,
        lambda: gateway.refund_create(cuit=cuit, request=request, intent_id=intent.pk),
        actor=actor,
    )
