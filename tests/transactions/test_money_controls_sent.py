"""Money controls (issue 15) against the simulator: what the rules allow reaches the provider, and
maker-checker end to end: a refund or reversal above the threshold waits unsent
(`approval_pending`: no provider call, no terminal held, never polled), then is approved (sent),
rejected, withdrawn or expired (cancelled), with the actors in its history."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from stores.services import pos_client_create
from tests.transactions.support import approved_payment, set_money_controls
from transactions import services, sweeper
from transactions.errors import Code, IntentRuleError
from transactions.models import ApprovalRequest, GatewayCall, IntentEvent
from transactions.polling import intent_poll
from transactions.selectors import refundable_balance, terminals_busy
from transactions.services import (
    approval_approve,
    approval_reject,
    approvals_expire_due,
    intent_cancel,
    intent_refresh,
    payment_create,
    refund_create,
    reversal_create,
)
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def _sim_request(intent) -> dict:
    """What the simulator received for this intent (`payment_request_data` as sent)."""
    from simulator.models import SimIntention

    return SimIntention.objects.get(pk=intent.provider_id).request_data


def _held_refund(sim, store_a, terminal_a, user, amount="600.00"):
    payment = approved_payment(sim, store_a, terminal_a)
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    refund = refund_create(
        store=store_a, terminal=terminal_a, amount=Decimal(amount), original=payment, user=user
    )
    return payment, refund


def test_below_the_threshold_a_refund_is_sent_as_before(sim, store_a, terminal_a, manager_a):
    payment, refund = _held_refund(sim, store_a, terminal_a, manager_a, amount="500.00")
    assert refund.state == State.PENDING and refund.provider_id
    assert not ApprovalRequest.objects.exists()
    assert refundable_balance(payment=payment) == Decimal("500.00")


def test_above_the_threshold_a_refund_waits_unsent(sim, store_a, terminal_a, manager_a):
    payment, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    assert refund.state == State.APPROVAL_PENDING
    assert refund.provider_id == "" and refund.next_poll_at is None
    assert refund.approval_expires_at > timezone.now()
    assert not GatewayCall.objects.filter(intent=refund).exists(), "sent before approval"
    approval = ApprovalRequest.objects.get(intent=refund)
    assert approval.status == ApprovalRequest.Status.PENDING
    assert approval.requested_by_user == manager_a and "$ 500,00" in approval.reason
    # It reserves the balance, holds no terminal and is never polled.
    assert refundable_balance(payment=payment) == Decimal("400.00")
    assert terminals_busy(terminals=[terminal_a]) == []
    assert refund.pk not in sweeper.claim_due(now=timezone.now() + timedelta(days=1))
    assert intent_poll(refund) is False
    assert intent_refresh(intent=refund).state == State.APPROVAL_PENDING
    assert not GatewayCall.objects.filter(intent=refund).exists()


def test_the_requester_cannot_approve_nor_a_cashier(sim, store_a, terminal_a, manager_a, cashier_a):
    _, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=refund, user=manager_a)
    assert exc.value.code == Code.APPROVAL_BY_REQUESTER
    with pytest.raises(IntentRuleError) as exc:
        approval_reject(intent=refund, user=manager_a)
    assert exc.value.code == Code.APPROVAL_BY_REQUESTER
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=refund, user=cashier_a)
    assert exc.value.code == Code.FORBIDDEN
    refund.refresh_from_db()
    assert refund.state == State.APPROVAL_PENDING
    assert not GatewayCall.objects.filter(intent=refund).exists()


def test_approved_by_another_person_it_is_sent_and_completes(
    sim, store_a, terminal_a, manager_a, owner
):
    _, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    refund = approval_approve(intent=refund, user=owner, note="cliente conocido")
    assert refund.state == State.PENDING and refund.provider_id
    approval = ApprovalRequest.objects.get(intent=refund)
    assert approval.status == ApprovalRequest.Status.APPROVED
    assert approval.decided_by == owner and approval.note == "cliente conocido"
    event = refund.events.get(type=IntentEvent.Type.APPROVAL, to_state=State.CREATED)
    assert event.actor_user == owner and "cliente conocido" in event.message
    requested = refund.events.get(type=IntentEvent.Type.CREATED)
    assert requested.actor_user == manager_a and requested.to_state == State.APPROVAL_PENDING
    sim.pick_and_pay(terminal_a.terminal_id)
    assert intent_refresh(intent=refund).state == State.APPROVED
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=refund, user=owner)
    assert exc.value.code == Code.APPROVAL_NOT_PENDING


def test_approval_waits_for_a_busy_terminal(sim, store_a, terminal_a, manager_a, owner):
    _, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    busy = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10.00"))
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=refund, user=owner)
    assert exc.value.code == Code.TERMINAL_BUSY
    refund.refresh_from_db()
    assert refund.state == State.APPROVAL_PENDING
    assert ApprovalRequest.objects.get(intent=refund).status == ApprovalRequest.Status.PENDING
    intent_cancel(intent=busy)
    intent_refresh(intent=busy, wait=5)
    assert approval_approve(intent=refund, user=owner).state == State.PENDING


def test_rejected_it_is_cancelled_and_frees_the_balance(sim, store_a, terminal_a, manager_a, owner):
    payment, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    refund = approval_reject(intent=refund, user=owner, note="no corresponde")
    assert refund.state == State.CANCELLED and refund.is_final
    approval = ApprovalRequest.objects.get(intent=refund)
    assert (approval.status, approval.decided_by) == (ApprovalRequest.Status.REJECTED, owner)
    event = refund.events.get(type=IntentEvent.Type.APPROVAL, to_state=State.CANCELLED)
    assert event.actor_user == owner and "no corresponde" in event.message
    assert not GatewayCall.objects.filter(intent=refund).exists()
    assert refundable_balance(payment=payment) == Decimal("1000.00")


def test_expired_it_is_cancelled_and_can_no_longer_be_approved(
    sim, store_a, terminal_a, manager_a, owner, time_machine
):
    _, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    later = refund.approval_expires_at + timedelta(seconds=1)
    time_machine.move_to(later)
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=refund, user=owner)
    assert exc.value.code == Code.APPROVAL_EXPIRED
    refund.refresh_from_db()
    assert refund.state == State.CANCELLED
    assert ApprovalRequest.objects.get(intent=refund).status == ApprovalRequest.Status.EXPIRED
    assert approvals_expire_due() == 0, "already expired: running again changes nothing"


def test_the_expiry_task_cancels_what_nobody_decided(
    sim, store_a, terminal_a, manager_a, time_machine
):
    _, refund = _held_refund(sim, store_a, terminal_a, manager_a)
    assert approvals_expire_due() == 0
    time_machine.move_to(refund.approval_expires_at + timedelta(minutes=1))
    assert approvals_expire_due() == 1
    refund.refresh_from_db()
    assert refund.state == State.CANCELLED
    event = refund.events.get(type=IntentEvent.Type.APPROVAL, to_state=State.CANCELLED)
    assert event.actor_label == "sistema" and "venció" in event.message


def test_a_reversal_above_its_threshold_waits_and_is_sent_once_approved(
    sim, store_a, terminal_a, manager_a, owner
):
    payment = approved_payment(sim, store_a, terminal_a)
    set_money_controls(store_a, reversal_approval_threshold=Decimal("999.99"))
    reversal = reversal_create(payment=payment, user=manager_a)
    assert reversal.state == State.APPROVAL_PENDING
    assert not GatewayCall.objects.filter(intent=reversal).exists()
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=payment, user=manager_a)
    assert exc.value.code == Code.REVERSAL_NOT_ALLOWED, "one reversal at a time"
    reversal = approval_approve(intent=reversal, user=owner)
    assert reversal.state == State.PENDING
    sim.pick_and_pay(terminal_a.terminal_id)
    assert intent_refresh(intent=reversal).state == State.APPROVED


def test_a_pos_key_withdraws_its_own_pending_request(sim, store_a, terminal_a):
    payment = approved_payment(sim, store_a, terminal_a)
    set_money_controls(store_a, refund_approval_threshold=Decimal("100.00"))
    key, _ = pos_client_create(store=store_a, name="Caja")
    refund = refund_create(
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("200.00"),
        original=payment,
        pos_client=key,
    )
    approval = ApprovalRequest.objects.get(intent=refund)
    assert approval.requested_by_pos == key
    refund = intent_cancel(intent=refund, pos_client=key)
    assert refund.state == State.CANCELLED
    asked, withdrawn = refund.events.filter(type=IntentEvent.Type.APPROVAL)
    assert asked.to_state == State.APPROVAL_PENDING and asked.actor_pos == key
    assert withdrawn.to_state == State.CANCELLED and withdrawn.actor_pos == key
    assert not GatewayCall.objects.filter(intent=refund).exists()


def test_unreferenced_refund_by_a_configured_key_is_sent(sim, store_a, terminal_a):
    key, _ = pos_client_create(
        store=store_a, name="Caja", permissions={"can_refund_unreferenced": True}
    )
    refund = refund_create(
        store=store_a, terminal=terminal_a, amount=Decimal("50.00"), pos_client=key
    )
    assert refund.state == State.PENDING and refund.original is None


def test_cashback_and_qr_benefits_reach_the_provider(sim, store_a, terminal_a):
    set_money_controls(store_a, cashback_max=Decimal("5000.00"))
    payment = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("100.00"), change_amount="2000.00"
    )
    assert payment.change_amount == Decimal("2000.00")
    assert _sim_request(payment)["change_amount"] == "200000"
    sim.pick_and_pay(terminal_a.terminal_id, card="visa_debito")
    assert intent_refresh(intent=payment).state == State.APPROVED

    qr = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("100.00"), method="qr",
        qr_benefit=True,
    )  # fmt: skip
    assert qr.qr_benefit is True
    sent = _sim_request(qr)
    assert sent["qr_benefit_code"] is True and sent["change_amount"] == "0"
    services.intent_cancel(intent=qr)


def test_the_pos_gets_a_webhook_when_its_request_is_approved(
    sim, store_a, terminal_a, owner, django_capture_on_commit_callbacks
):
    from tests.transactions.api.support import Receiver
    from transactions.webhooks.services import webhook_endpoint_register

    receiver = Receiver()
    try:
        payment = approved_payment(sim, store_a, terminal_a)
        set_money_controls(store_a, refund_approval_threshold=Decimal("100.00"))
        key, _ = pos_client_create(store=store_a, name="Caja")
        webhook_endpoint_register(pos_client=key, url=receiver.url)
        refund = refund_create(
            store=store_a,
            terminal=terminal_a,
            amount=Decimal("200.00"),
            original=payment,
            pos_client=key,
        )
        with django_capture_on_commit_callbacks(execute=True):
            approval_approve(intent=refund, user=owner)
        events = [json.loads(r["body"]) for r in receiver.requests]
        (approved,) = [e for e in events if e["event"] == "intent.approval_approved"]
        assert approved["data"]["id"] == str(refund.public_id)
        assert approved["data"]["state"] in ("created", "pending")
    finally:
        receiver.close()


def test_a_charge_only_key_still_charges_and_the_payment_is_its_own(sim, store_a, terminal_a):
    key, _ = pos_client_create(
        store=store_a,
        name="Solo cobra",
        permissions={"can_reverse": False, "can_refund": False, "can_close_batch": False},
    )
    payment = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("10.00"), pos_client=key
    )
    assert payment.state == State.PENDING and payment.requested_by_pos == key
    created = payment.events.get(type=IntentEvent.Type.CREATED)
    assert created.actor_pos == key and created.actor_label == "POS Solo cobra"
    intent_cancel(intent=payment, pos_client=key)
