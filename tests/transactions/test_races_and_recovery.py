"""Races on one payment, slow answers, cancellations that do not register, a sweeper that errs.

A cross-cutting suite: each test crosses the services, the poller, the sweeper and the ledger,
so it mirrors no single module.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from tests.transactions.support import approved_payment
from transactions import polling, sweeper, tasks
from transactions.errors import IntentRuleError
from transactions.events import SWEEPER
from transactions.gateway import PrismaGateway
from transactions.models import Batch, Intent
from transactions.selectors import reversal_allowed
from transactions.services import (
    intent_refresh,
    intent_resolve,
    payment_create,
    refund_create,
    reversal_create,
    settlement_create,
)
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_live_reversal_blocks_a_refund_and_a_live_refund_blocks_a_reversal(
    sim, store_a, terminal_a
):
    from tests import factories

    other = factories.make_terminal(store_a, terminal_id="12121212")
    sim.register_terminal(other.terminal_id, store_a.merchant.cuit)
    first = approved_payment(sim, store_a, terminal_a)
    reversal_create(payment=first)
    with pytest.raises(IntentRuleError) as exc:
        refund_create(store=store_a, terminal=other, amount=Decimal("1.00"), original=first)
    assert exc.value.code == "refund_exceeds_balance"

    second = approved_payment(sim, store_a, other, amount="500.00")
    refund_create(store=store_a, terminal=other, amount=Decimal("1.00"), original=second)
    with pytest.raises(IntentRuleError) as exc:
        reversal_create(payment=second)
    assert exc.value.code == "reversal_not_allowed"


@pytest.mark.postgres
def test_reversal_and_refund_racing_on_one_payment_never_both_go_out(sim, store_a, terminal_a):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")
    from tests import factories

    other = factories.make_terminal(store_a, terminal_id="13131313")
    sim.register_terminal(other.terminal_id, store_a.merchant.cuit)
    payment = approved_payment(sim, store_a, terminal_a)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(action):
        try:
            barrier.wait(timeout=30)
            action()
            outcomes.append("sent")
        except IntentRuleError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=(lambda: reversal_create(payment=payment),)),
        threading.Thread(
            target=attempt,
            args=(
                lambda: refund_create(
                    store=store_a, terminal=other, amount=Decimal("1000.00"), original=payment
                ),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "both attempts finish"
    assert sorted(outcomes).count("sent") == 1, outcomes
    assert Intent.objects.filter(original=payment).count() == 1


def test_an_answer_slower_than_the_grace_period_is_adopted_not_lost(
    sim, store_a, terminal_a, monkeypatch
):
    real_create = PrismaGateway.payment_create

    def slow_create(self, **kw):
        answer = real_create(self, **kw)
        # Meanwhile the sweeper took the row for orphaned and put it in doubt.
        Intent.objects.filter(pk=kw["intent_id"]).update(state=State.IN_DOUBT)
        return answer

    monkeypatch.setattr(PrismaGateway, "payment_create", slow_create)
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    intent.refresh_from_db()
    assert intent.provider_id, "the late answer's id is kept"
    assert intent.state == State.PENDING
    assert sim.counters()["creates_total"] == 1


def test_an_intent_the_provider_knows_is_never_resolved_by_hand(
    sim, store_a, terminal_a, manager_a
):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    Intent.objects.filter(pk=intent.pk).update(state=State.IN_DOUBT, needs_attention=True)
    intent.refresh_from_db()
    with pytest.raises(IntentRuleError) as exc:
        intent_resolve(intent=intent, outcome="cancelled", evidence="", reason="x", user=manager_a)
    assert exc.value.code == "not_resolvable"
    Intent.objects.filter(pk=intent.pk).update(state=State.PROCESSING)
    intent.refresh_from_db()
    with pytest.raises(IntentRuleError):
        intent_resolve(intent=intent, outcome="cancelled", evidence="", reason="x", user=manager_a)


def test_unregistered_cancellations_are_resent_spaced_out(sim, store_a, terminal_a, monkeypatch):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    Intent.objects.filter(pk=intent.pk).update(
        state=State.CANCELLING, cancel_sent_at=timezone.now(), cancel_attempts=1
    )
    intent.refresh_from_db()
    sent = []
    monkeypatch.setattr(
        "transactions.polling.intent_send_cancel_request",
        lambda intent, **kw: sent.append(kw),
    )
    polling._apply_time_rules(intent, actor=SWEEPER)
    assert sent == [], "not again within seconds of the last try"
    intent.cancel_sent_at = timezone.now() - timedelta(seconds=11)
    polling._apply_time_rules(intent, actor=SWEEPER)
    assert sent == [{"actor": SWEEPER}]


def test_reversal_is_refused_once_a_later_settlement_closed_the_batch_even_without_its_row(
    sim, store_a, terminal_a
):
    payment = approved_payment(sim, store_a, terminal_a)
    settlement = settlement_create(terminal=terminal_a)
    assert reversal_allowed(payment=payment)[1][0] == "settlement_in_progress"
    intent_refresh(intent=settlement, wait=5)
    Batch.objects.all().delete()  # as if the after-commit step had been lost
    assert reversal_allowed(payment=payment)[1][0] == "batch_closed"
    from transactions.reporting.reconciliation import batch_backfill

    assert batch_backfill() == 1
    assert Batch.objects.get().settlement_id == settlement.pk


def test_a_retried_order_gets_its_own_provider_reference(sim, store_a, terminal_a):
    first = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("5"), reference="ORD-77"
    )
    sim.pick_and_pay(terminal_a.terminal_id, card="declinada")
    intent_refresh(intent=first)
    second = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("5"), reference="ORD-77"
    )
    assert first.ecr_transaction_id == "ORD-77"
    assert second.ecr_transaction_id == "ORD-77-R2"
    assert second.reference == "ORD-77"
    sim.pick_and_pay(terminal_a.terminal_id)
    intent_refresh(intent=second)
    reversal = approved_payment(sim, store_a, terminal_a, reference="ORD-78")
    rev = reversal_create(payment=reversal)
    assert rev.kind == Kind.REVERSAL and rev.ecr_transaction_id == "ORD-78-A"


def test_a_sweep_that_fails_does_not_end_the_loop_nor_the_chain(monkeypatch, settings):
    calls = []

    def flaky_sweep(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return 0

    monkeypatch.setattr(sweeper, "sweep_once", flaky_sweep)
    monkeypatch.setattr(sweeper.time, "sleep", lambda s: None)
    # Ended by a count, not a clock: a long deadline and a stop after the third sweep, so the
    # test does not depend on how fast the machine runs the failing first sweep.
    sweeper.sweeper_loop(seconds=60, stop=lambda: len(calls) >= 3)
    assert len(calls) == 3, "the loop went on after the failing sweep"

    chained = []
    settings.ECR_SWEEPER_CHAIN = True
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: chained.append(a))

    def broken_loop(**kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(sweeper, "sweeper_loop", broken_loop)
    with pytest.raises(RuntimeError):
        tasks.sweeper_task(seconds=1)
    assert chained == [("transactions.tasks.sweeper_task", 1)]
