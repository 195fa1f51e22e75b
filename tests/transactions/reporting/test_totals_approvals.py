"""A refund or reversal waiting for approval (maker-checker, issue 15) moved no money: the day's
totals and the net leave it out, and so do they once it is rejected or expired (cancelled).
Only an approved one counts, like any other."""

from decimal import Decimal

import pytest

from tests.factories import make_intent
from transactions.reporting.totals import store_day_totals
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def test_refunds_and_reversals_waiting_or_refused_approval_are_not_counted(store_a, terminal_a):
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("1000.00")
    )
    for kind, state in [
        (Kind.REFUND, State.APPROVAL_PENDING),
        (Kind.REVERSAL, State.APPROVAL_PENDING),
        (Kind.REFUND, State.CANCELLED),  # rejected or expired
    ]:
        make_intent(
            store_a,
            terminal=terminal_a,
            kind=kind,
            state=state,
            amount=Decimal("600.00"),
            original=payment,
        )
    (today,) = store_day_totals(stores=[store_a])
    assert (today.refund_count, today.reversal_count) == (0, 0)
    assert today.net == Decimal("1000.00")

    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        amount=Decimal("600.00"),
        original=payment,
    )
    (today,) = store_day_totals(stores=[store_a])
    assert (today.refund_count, today.refund_amount) == (1, Decimal("600.00"))
