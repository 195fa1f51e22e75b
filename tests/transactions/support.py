"""Helpers of the tests that drive the real services against the simulator (`sim` fixture)."""

from decimal import Decimal

from transactions.services import intent_refresh, payment_create
from transactions.states import State


def approved_payment(
    sim, store, terminal, *, amount: str = "1000.00", reference: str = "", card="visa_credito"
):
    """A payment created through the services on `terminal`, picked and paid there with `card`
    by a person at the simulator, and refreshed until approved."""
    intent = payment_create(
        store=store, terminals=[terminal], amount=Decimal(amount), reference=reference
    )
    sim.pick_and_pay(terminal.terminal_id, card=card)
    intent = intent_refresh(intent=intent)
    assert intent.state == State.APPROVED
    return intent


def set_money_controls(store, **values):
    """The store's money controls (issue 15), as a person would save them in the dashboard."""
    from transactions.models import MoneyControls

    controls, _ = MoneyControls.objects.update_or_create(store=store, defaults=values)
    return controls
