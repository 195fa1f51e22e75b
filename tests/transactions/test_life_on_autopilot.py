"""Each intent kind lives its whole life on the simulator's autopilot, driven by the sweeper."""

import time
from decimal import Decimal

import pytest

from transactions import polling, sweeper
from transactions.gateway import reset_gateways
from transactions.models import Batch, Intent
from transactions.services import (
    payment_create,
    refund_create,
    reversal_create,
    settlement_create,
)
from transactions.states import FINAL_STATES, State

pytestmark = pytest.mark.django_db(transaction=True)


def _sweep_until_final(intent, seconds=10):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sweeper.sweep_once(concurrency=1)
        intent.refresh_from_db()
        if intent.state in FINAL_STATES:
            return intent
        time.sleep(0.1)
    raise AssertionError(f"{intent.kind} still {intent.state} ({intent.provider_status})")


@pytest.fixture
def autopilot(sim, terminal_a):
    sim.autopilot(terminal_a.terminal_id, enabled=True, pick_delay_ms=150, processing_ms=150)
    sim.faults(settlement_delay_ms=200)
    return sim


def test_payment_reversal_refund_and_settlement_on_autopilot(autopilot, store_a, terminal_a):
    first = _sweep_until_final(
        payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("800.00"))
    )
    assert first.state == State.APPROVED and first.card_last_four
    second = _sweep_until_final(
        payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("200.00"))
    )
    reversal = _sweep_until_final(reversal_create(payment=first))
    assert reversal.state == State.APPROVED
    refund = _sweep_until_final(
        refund_create(store=store_a, terminal=terminal_a, amount=Decimal("50.00"), original=second)
    )
    assert refund.state == State.APPROVED
    declined_refund = _sweep_until_final(
        refund_create(store=store_a, terminal=terminal_a, amount=Decimal("10.51"), original=second)
    )
    assert declined_refund.state == State.DECLINED
    settlement = _sweep_until_final(settlement_create(terminal=terminal_a))
    assert settlement.state == State.APPROVED
    batch = Batch.objects.get(settlement=settlement)
    assert batch.totals["net"] == "150.00"
    assert batch.verdict == Batch.Verdict.MATCHED, batch.differences


def test_read_timeouts_change_nothing_and_polling_recovers(sim, store_a, terminal_a, settings):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    sim.pick_and_pay(terminal_a.terminal_id)
    usual_timeout = settings.ECR_GATEWAY_READ_TIMEOUT_MS
    settings.ECR_GATEWAY_READ_TIMEOUT_MS = 200
    reset_gateways()
    sim.faults(latency_ms=600)
    try:
        assert polling.intent_poll(intent) is False
        assert Intent.objects.get(pk=intent.pk).state == State.PENDING
    finally:
        sim.faults(latency_ms=0)
        # The recovery read runs with the usual timeout: a 200 ms budget would make the test
        # depend on how busy the machine is.
        settings.ECR_GATEWAY_READ_TIMEOUT_MS = usual_timeout
        reset_gateways()
    assert polling.intent_poll(intent) is True
    assert intent.state == State.APPROVED
