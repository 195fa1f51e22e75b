"""The state machine: every allowed move, every refused one, and the guard against stale copies."""

from decimal import Decimal

import pytest

from tests import factories
from transactions.models import Intent, IntentEvent
from transactions.states import FINAL_STATES, TRANSITIONS, Kind, State, portal_state_for
from transactions.transitions import intent_transition


@pytest.fixture
def payment_in(store_a, credential):
    """`payment_in(state)`: a payment of store A in that state."""

    def _make(state):
        return factories.make_intent(
            store_a, credential=credential, state=state, amount=Decimal("10.00")
        )

    return _make


ALL_MOVES = [(a, b) for a in State for b in State if a != b]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), ALL_MOVES)
def test_each_move_is_allowed_exactly_when_the_table_says(payment_in, from_state, to_state):
    intent = payment_in(from_state)
    allowed = to_state in TRANSITIONS[from_state]
    assert intent_transition(intent, to_state=to_state) is allowed
    intent.refresh_from_db()
    assert intent.state == (to_state if allowed else from_state)
    assert IntentEvent.objects.filter(intent=intent).count() == (1 if allowed else 0)


def test_final_states_have_no_way_out():
    for state in FINAL_STATES:
        assert TRANSITIONS[state] == frozenset()


@pytest.mark.django_db
def test_a_stale_copy_cannot_overwrite_a_newer_state(payment_in):
    intent = payment_in(State.PENDING)
    stale = Intent.objects.get(pk=intent.pk)
    assert intent_transition(intent, to_state=State.APPROVED)
    # The stale copy still believes the intent is pending: its move touches no row.
    assert intent_transition(stale, to_state=State.CANCELLING) is False
    assert stale.state == State.APPROVED, "the loser re-reads the winner's state"
    assert Intent.objects.get(pk=intent.pk).state == State.APPROVED
    assert IntentEvent.objects.filter(intent=intent).count() == 1


@pytest.mark.django_db
def test_reaching_a_final_state_sets_finished_and_stops_polling(payment_in):
    intent = payment_in(State.PROCESSING)
    intent_transition(intent, to_state=State.DECLINED)
    intent.refresh_from_db()
    assert intent.finished_at is not None
    assert intent.next_poll_at is None


@pytest.mark.parametrize(
    ("kind", "status", "state"),
    [
        (Kind.PAYMENT, "PAYMENT_REQUEST", State.PENDING),
        (Kind.PAYMENT, "PROCESSING_PAYMENT", State.PROCESSING),
        (Kind.PAYMENT, "WAITING_CONFIRMATION", State.PROCESSING),
        (Kind.PAYMENT, "UNDO_REQUEST", State.CANCELLING),
        (Kind.PAYMENT, "CONFIRMED", State.APPROVED),
        (Kind.PAYMENT, "DECLINED", State.DECLINED),
        (Kind.PAYMENT, "UNDONE", State.CANCELLED),
        (Kind.PAYMENT, "ERROR", State.FAILED),
        (Kind.REVERSAL, "REVERSED", State.APPROVED),
        (Kind.REVERSAL, "REVERSAL_UNDONE", State.CANCELLED),
        (Kind.REVERSAL, "UNDO_REVERSAL_DECLINED", State.APPROVED),
        (Kind.REFUND, "PROCESSING_REFUND", State.PROCESSING),
        (Kind.REFUND, "CONFIRMED", State.APPROVED),
        (Kind.SETTLEMENT, "SETTLEMENT_REQUEST", State.PENDING),
        (Kind.SETTLEMENT, "CONFIRMED", State.APPROVED),
        (Kind.PAYMENT, "confirmed", State.APPROVED),
        (Kind.PAYMENT, "SOMETHING_NEW", None),
        (Kind.PAYMENT, "REVERSED", None),
        (Kind.PAYMENT, "", None),
        (Kind.PAYMENT, None, None),
    ],
)
def test_provider_statuses_map_onto_portal_states(kind, status, state):
    assert portal_state_for(kind, status) == state


@pytest.mark.django_db
def test_failed_create_frees_the_terminal_but_stale_doubt_does_too(store_a, terminal_a, credential):
    from datetime import timedelta

    from django.utils import timezone

    from transactions.services.pipeline import busy_terminals

    intent = factories.make_intent(
        store_a, credential=credential, state=State.IN_DOUBT, offered_terminals=[terminal_a]
    )
    assert busy_terminals([terminal_a]) == [terminal_a]
    Intent.objects.filter(pk=intent.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    assert busy_terminals([terminal_a]) == [], "not found in the fast window: not on a screen"
    other = factories.make_terminal(store_a)
    assert busy_terminals([other]) == []
