"""Issue 12 item 8: what became of the money reads on the payment itself. A payment annulled or
refunded reads "Anulada", "Devuelta" or "Devuelta parcialmente"; an approved settlement reads
"Lote cerrado". The status is kept on the payment's own row by the transition that approves the
reversal or refund, so lists read it without a query per row."""

from decimal import Decimal

import pytest

from tests.factories import make_intent
from transactions.models import Intent
from transactions.states import Followup, Kind, Resolution, State, Status, display_status
from transactions.transitions import intent_transition, payment_followup_refresh

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "state", "followup", "resolution", "expected"),
    [
        (Kind.PAYMENT, State.APPROVED, "", "", State.APPROVED),
        (Kind.PAYMENT, State.APPROVED, Followup.REVERSED, "", Status.REVERSED),
        (Kind.PAYMENT, State.APPROVED, Followup.REFUNDED, "", Status.REFUNDED),
        (Kind.PAYMENT, State.APPROVED, Followup.PARTIALLY_REFUNDED, "", "partially_refunded"),
        (Kind.SETTLEMENT, State.APPROVED, "", "", Status.BATCH_CLOSED),
        (Kind.SETTLEMENT, State.DECLINED, "", "", State.DECLINED),
        (Kind.REVERSAL, State.APPROVED, "", "", State.APPROVED),
        (Kind.PAYMENT, State.FAILED, "", Resolution.NOT_RECEIVED, Status.NOT_RECEIVED),
        (Kind.PAYMENT, State.FAILED, "", "", State.FAILED),
        (Kind.PAYMENT, State.PENDING, "", "", State.PENDING),
    ],
)
def test_display_status(kind, state, followup, resolution, expected):
    assert display_status(kind=kind, state=state, followup=followup, resolution=resolution) == (
        expected
    )


def test_every_state_is_a_status_with_its_label():
    """A portal state added later is offered by the filter and named on the pages too."""
    from transactions.states import STATUS_LABELS

    for state in State:
        assert STATUS_LABELS[state] == state.label


def test_labels_are_the_spanish_ones():
    assert Status(Status.REVERSED).label == "Anulada"
    assert Status(Status.REFUNDED).label == "Devuelta"
    assert Status(Status.PARTIALLY_REFUNDED).label == "Devuelta parcialmente"
    assert Status(Status.BATCH_CLOSED).label == "Lote cerrado"


def _approve(intent: Intent) -> None:
    assert intent_transition(intent, to_state=State.APPROVED)


def test_an_approved_reversal_makes_the_payment_read_anulada(store_a, terminal_a):
    payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    reversal = make_intent(
        store_a, terminal=terminal_a, kind=Kind.REVERSAL, state=State.PROCESSING, original=payment
    )
    payment.refresh_from_db()
    assert payment.status_label == "Aprobada"
    _approve(reversal)
    payment.refresh_from_db()
    assert (payment.state, payment.status, payment.status_label) == (
        State.APPROVED,
        Status.REVERSED,
        "Anulada",
    )


def test_refunds_make_it_partially_then_fully_refunded(store_a, terminal_a):
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("1000.00")
    )
    first = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.PROCESSING,
        original=payment,
        amount=Decimal("400.00"),
    )
    declined = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.PROCESSING,
        original=payment,
        amount=Decimal("600.00"),
    )
    _approve(first)
    payment.refresh_from_db()
    assert payment.status_label == "Devuelta parcialmente"
    assert intent_transition(declined, to_state=State.DECLINED)
    payment.refresh_from_db()
    assert payment.status_label == "Devuelta parcialmente", "a declined refund returns nothing"
    rest = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.PROCESSING,
        original=payment,
        amount=Decimal("600.00"),
    )
    _approve(rest)
    payment.refresh_from_db()
    assert payment.status_label == "Devuelta"
    assert payment_followup_refresh(payment_id=payment.pk) == Followup.REFUNDED  # idempotent
