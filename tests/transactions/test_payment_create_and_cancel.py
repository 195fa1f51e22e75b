"""The life of a payment against the simulator over real HTTP: create, take, pay, cancel, race.

Tests of `transactions/services/create.py` (`payment_create`) and of cancelling a payment
(`transactions/services/cancel.py`); reversals, refunds and batch closes are in
`test_reversal_refund_settlement.py`.
"""

from decimal import Decimal

import pytest

from transactions.errors import IntentRuleError
from transactions.models import GatewayCall, Intent, IntentEvent
from transactions.services import intent_cancel, intent_refresh, payment_create
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def _charge(store_a, terminal_a, amount="1520.50", **kw):
    return payment_create(store=store_a, terminals=[terminal_a], amount=Decimal(amount), **kw)


def test_payment_is_approved_with_card_data_after_the_terminal_pays(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a, installments=3, reference="POS7-4411")
    assert intent.state == State.PENDING
    assert intent.provider_status == "PAYMENT_REQUEST"
    assert intent.provider_id
    sim.pick_and_pay(terminal_a.terminal_id, card="visa_credito")

    intent = intent_refresh(intent=intent)

    assert intent.state == State.APPROVED
    intent.refresh_from_db()
    assert intent.provider_status == "CONFIRMED"
    assert intent.terminal == terminal_a
    assert intent.card_last_four and len(intent.card_last_four) == 4
    assert intent.card_bin and len(intent.card_bin) == 6
    assert intent.authorization_code
    assert intent.ticket_number
    assert intent.batch_number is not None
    assert intent.installments == 3
    assert intent.authorized_amount == Decimal("1520.50")
    assert intent.finished_at is not None
    assert intent.next_poll_at is None
    states = list(
        intent.events.filter(type=IntentEvent.Type.STATE).values_list("from_state", "to_state")
    )
    assert ("created", "pending") in states
    assert states[-1][1] == "approved"
    assert GatewayCall.objects.filter(intent=intent, operation="payment_create").count() == 1


def test_declined_card_ends_declined(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a)
    sim.pick_and_pay(terminal_a.terminal_id, card="declinada")
    assert intent_refresh(intent=intent).state == State.DECLINED


def test_final_state_never_changes_again(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a)
    sim.pick_and_pay(terminal_a.terminal_id)
    intent_refresh(intent=intent)
    events_before = intent.events.count()
    Intent.objects.filter(pk=intent.pk).update(provider_status="CONFIRMED")
    assert intent_refresh(intent=intent).state == State.APPROVED
    assert intent.events.count() == events_before


def test_cancel_of_a_waiting_intention_ends_cancelled(sim, store_a, terminal_a, manager_a):
    intent = _charge(store_a, terminal_a)
    intent = intent_cancel(intent=intent, user=manager_a)
    assert intent.state == State.CANCELLING
    intent = intent_refresh(intent=intent, wait=5)
    assert intent.state == State.CANCELLED
    assert intent.provider_status == "UNDONE"
    assert not Intent.objects.get(pk=intent.pk).needs_attention


def test_cancel_loses_the_race_when_the_terminal_already_took_it(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a)
    sim.pick(terminal_a.terminal_id)
    intent = intent_cancel(intent=intent)
    # The provider answered 409: the terminal has it; the poll right after learned so.
    assert intent.state in (State.PROCESSING, State.CANCELLING)
    sim.pay(terminal_a.terminal_id)
    intent = intent_refresh(intent=intent)
    assert intent.state == State.APPROVED
    intent.refresh_from_db()
    assert intent.needs_attention, "a cancellation that lost the race must be shown to a person"
    assert "tarde" in intent.attention_reason


def test_cancel_wins_the_race_when_the_terminal_has_not_taken_it(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a)
    intent_cancel(intent=intent)
    # The operator tries to pick it after the cancellation: it is gone from the list.
    screen = sim.terminal(terminal_a.terminal_id)
    assert all(i.get("id") != intent.provider_id for i in screen.get("pending", []))
    assert intent_refresh(intent=intent, wait=5).state == State.CANCELLED


def test_a_final_intent_cannot_be_cancelled(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a)
    sim.pick_and_pay(terminal_a.terminal_id)
    intent_refresh(intent=intent)
    with pytest.raises(IntentRuleError) as exc:
        intent_cancel(intent=intent)
    assert exc.value.code == "not_cancellable"


def test_qr_payment_is_approved(sim, store_a, terminal_a):
    intent = _charge(store_a, terminal_a, method="qr")
    sim.pick(terminal_a.terminal_id)
    sim.call("POST", f"terminals/{terminal_a.terminal_id}/qr")
    intent = intent_refresh(intent=intent)
    assert intent.state == State.APPROVED
    assert intent.entry_mode == "QR_CODE"


def test_second_payment_on_a_busy_terminal_is_refused_locally(sim, store_a, terminal_a):
    _charge(store_a, terminal_a)
    creates = sim.counters()["creates_total"]
    with pytest.raises(IntentRuleError) as exc:
        _charge(store_a, terminal_a, amount="10.00")
    assert exc.value.code == "terminal_busy"
    assert exc.value.http_status == 409
    assert Intent.objects.count() == 1
    assert sim.counters()["creates_total"] == creates, "refused before reaching the provider"


def test_pos_reference_cannot_be_charged_twice_while_live(sim, store_a, terminal_a, terminal_b):
    from tests import factories

    second = factories.make_terminal(store_a, terminal_id="33333333")
    sim.register_terminal(second.terminal_id, store_a.merchant.cuit)
    _charge(store_a, terminal_a, reference="ORDER-1")
    with pytest.raises(IntentRuleError) as exc:
        payment_create(store=store_a, terminals=[second], amount=Decimal("5"), reference="ORDER-1")
    assert exc.value.code == "reference_in_use"
    assert Intent.objects.count() == 1


def test_reference_is_free_again_after_a_decline(sim, store_a, terminal_a):
    first = _charge(store_a, terminal_a, reference="ORDER-2")
    sim.pick_and_pay(terminal_a.terminal_id, card="declinada")
    intent_refresh(intent=first)
    second = _charge(store_a, terminal_a, reference="ORDER-2")
    assert second.state == State.PENDING


def test_provider_busy_409_marks_the_intent_failed_and_says_terminal_busy(sim, store_a, terminal_a):
    sim.autopilot(terminal_a.terminal_id, enabled=True)
    with pytest.raises(IntentRuleError) as exc:
        _charge(store_a, terminal_a, amount="10.56")
    assert exc.value.code == "terminal_busy"
    intent = Intent.objects.get()
    assert intent.state == State.FAILED
