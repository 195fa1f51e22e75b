"""Reversal while the batch is open, refund after it closes, and the batch close itself."""

from decimal import Decimal

import pytest

from tests.transactions.support import approved_payment
from transactions.errors import IntentRuleError
from transactions.models import Batch
from transactions.selectors import refundable_balance, reversal_allowed
from transactions.services import (
    intent_refresh,
    payment_create,
    refund_create,
    reversal_create,
    settlement_create,
    store_batch_close,
)
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db(transaction=True)


def _close(sim, terminal_a):
    settlement = settlement_create(terminal=terminal_a)
    settlement = intent_refresh(intent=settlement, wait=5)
    assert settlement.state == State.APPROVED
    return settlement


def test_reversal_of_an_approved_payment_in_the_open_batch(sim, store_a, terminal_a):
    payment = approved_payment(sim, store_a, terminal_a)
    reversal = reversal_create(payment=payment)
    assert reversal.kind == Kind.REVERSAL and reversal.state == State.PENDING
    assert reversal.original == payment
    sim.pick_and_pay(terminal_a.terminal_id)
    reversal = intent_refresh(intent=reversal)
    assert reversal.state == State.APPROVED
    assert reversal.provider_status == "REVERSED"
    assert refundable_balance(payment=payment) == Decimal("0")
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=payment)
    assert exc.value.code == "reversal_not_allowed"


def test_after_the_batch_closes_reversal_is_refused_and_refund_is_offered(sim, store_a, terminal_a):
    payment = approved_payment(sim, store_a, terminal_a)
    _close(sim, terminal_a)
    allowed, reason = reversal_allowed(payment=payment)
    assert not allowed and reason[0] == "batch_closed"
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=payment)
    assert exc.value.code == "batch_closed"

    with pytest.raises(IntentRuleError) as exc:
        refund_create(
            store=store_a, terminal=terminal_a, amount=Decimal("1000.01"), original=payment
        )
    assert exc.value.code == "refund_exceeds_balance"

    refund = refund_create(
        store=store_a, terminal=terminal_a, amount=Decimal("400.00"), original=payment
    )
    assert refund.brand_restriction == payment.card_brand_code
    # While the refund is in flight its amount is already off the balance.
    assert refundable_balance(payment=payment) == Decimal("600.00")
    sim.pick_and_pay(terminal_a.terminal_id)
    assert intent_refresh(intent=refund).state == State.APPROVED
    assert refundable_balance(payment=payment) == Decimal("600.00")
    with pytest.raises(IntentRuleError) as exc:
        refund_create(
            store=store_a, terminal=terminal_a, amount=Decimal("600.01"), original=payment
        )
    assert exc.value.code == "refund_exceeds_balance"


def test_amex_payments_are_never_reversed(sim, store_a, terminal_a):
    payment = approved_payment(sim, store_a, terminal_a, card="amex")
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=payment)
    assert exc.value.code == "reversal_not_allowed"
    refund = refund_create(
        store=store_a, terminal=terminal_a, amount=Decimal("1000"), original=payment
    )
    assert refund.state == State.PENDING


def test_reversal_of_a_declined_payment_is_refused(sim, store_a, terminal_a):
    payment = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("5"))
    sim.pick_and_pay(terminal_a.terminal_id, card="declinada")
    payment = intent_refresh(intent=payment)
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=payment)
    assert exc.value.code == "reversal_not_allowed"


def test_settlement_records_the_batch_and_reconciles_it(sim, store_a, terminal_a):
    first = approved_payment(sim, store_a, terminal_a, amount="1000.00")
    approved_payment(sim, store_a, terminal_a, amount="250.50", card="mastercard")
    reversal = reversal_create(payment=first)
    sim.pick_and_pay(terminal_a.terminal_id)
    intent_refresh(intent=reversal)

    settlement = _close(sim, terminal_a)

    batch = Batch.objects.get(settlement=settlement)
    assert batch.batch_number == first.batch_number
    assert batch.closing_ticket
    assert batch.totals["gross"] == "1250.50"
    assert batch.totals["net"] == "250.50"
    assert batch.verdict == Batch.Verdict.MATCHED, batch.differences
    # The next payment goes into the next batch.
    nxt = approved_payment(sim, store_a, terminal_a, amount="1.00")
    assert nxt.batch_number != first.batch_number


def test_one_open_settlement_per_terminal(sim, store_a, terminal_a):
    approved_payment(sim, store_a, terminal_a)
    settlement_create(terminal=terminal_a)
    with pytest.raises(IntentRuleError) as exc:
        settlement_create(terminal=terminal_a)
    assert exc.value.code == "settlement_in_progress"


def test_closing_a_store_asks_every_enabled_terminal(sim, store_a, terminal_a):
    from tests import factories

    second = factories.make_terminal(store_a, terminal_id="44444444")
    sim.register_terminal(second.terminal_id, store_a.merchant.cuit)
    factories.make_terminal(store_a, terminal_id="55555555", enabled=False)
    approved_payment(sim, store_a, terminal_a)
    approved_payment(sim, store_a, second)
    results = store_batch_close(store=store_a)
    assert [t.terminal_id for t, _ in results] == ["11111111", "44444444"]
    assert all(r.kind == Kind.SETTLEMENT for _, r in results)
