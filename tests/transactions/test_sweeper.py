"""The background sweeper against the simulator's autopilot, over real HTTP."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from stores.models import Store
from tests import factories
from transactions import polling, sweeper
from transactions.errors import IntentRuleError
from transactions.models import Intent
from transactions.services import payment_create
from transactions.states import FINAL_STATES, State

pytestmark = pytest.mark.django_db(transaction=True)


def _run_until_final(intents, seconds=15):
    deadline_polls = 0
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        deadline_polls += sweeper.sweep_once(concurrency=4)
        states = set(
            Intent.objects.filter(pk__in=[i.pk for i in intents]).values_list("state", flat=True)
        )
        if states <= FINAL_STATES:
            return
        time.sleep(0.1)
    raise AssertionError(f"not final after {seconds}s: {states}")


@pytest.fixture
def autopilot_terminals(sim, store_a, merchant):
    """Six terminals on autopilot with short delays, and a short pending timeout."""
    Store.objects.filter(pk=store_a.pk).update(pending_timeout_seconds=2)
    store_a.refresh_from_db()
    sim.call("PUT", "faults", undo_delay_ms=200)
    terminals = []
    for n in range(6):
        terminal = factories.make_terminal(store_a, terminal_id=f"7700000{n}")
        sim.register_terminal(terminal.terminal_id, merchant.cuit)
        sim.autopilot(
            terminal.terminal_id,
            enabled=True,
            pick_delay_ms=200,
            processing_ms=200,
            stuck_processing_ms=1500,
        )
        terminals.append(terminal)
    return terminals


def test_magic_amounts_end_in_the_right_state_with_one_create_each(
    sim, store_a, credential, autopilot_terminals
):
    from transactions.gateway import gateway_for

    gateway_for(credential).token()
    cases = {
        "10.00": State.APPROVED,
        "10.51": State.DECLINED,
        "10.52": State.FAILED,
        "10.53": State.CANCELLED,  # never picked: cancelled after the store's timeout
        "10.54": State.APPROVED,  # stays processing a while first
        "10.55": State.APPROVED,  # create answer lost: found by search and adopted
    }
    intents = {}
    for terminal, amount in zip(autopilot_terminals, cases, strict=True):
        intents[amount] = payment_create(
            store=store_a, terminals=[terminal], amount=Decimal(amount), reference=f"M{amount}"
        )
    assert intents["10.55"].state == State.IN_DOUBT

    _run_until_final(intents.values())

    for amount, expected in cases.items():
        intent = Intent.objects.get(pk=intents[amount].pk)
        assert intent.state == expected, (amount, intent.state, intent.provider_status)
    creates = sim.counters()["creates_by_ecr_transaction_id"]
    assert all(creates[f"M{amount}"] == 1 for amount in cases), creates


def test_magic_56_is_refused_as_busy_and_recorded_failed(sim, store_a, autopilot_terminals):
    with pytest.raises(IntentRuleError) as exc:
        payment_create(store=store_a, terminals=[autopilot_terminals[0]], amount=Decimal("3.56"))
    assert exc.value.code == "terminal_busy"


def test_claim_reschedules_so_a_second_claim_gets_nothing(sim, store_a, terminal_a):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"))
    Intent.objects.filter(pk=intent.pk).update(next_poll_at=intent.created_at)
    assert sweeper.claim_due() == [intent.pk]
    assert sweeper.claim_due() == []


def test_a_watched_intent_is_left_to_its_watcher(sim, store_a, terminal_a):
    from datetime import timedelta

    from django.utils import timezone

    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"))
    Intent.objects.filter(pk=intent.pk).update(
        next_poll_at=intent.created_at, watched_until=timezone.now() + timedelta(seconds=30)
    )
    assert sweeper.claim_due() == []


def test_a_poll_that_learns_nothing_writes_nothing(sim, store_a, terminal_a):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"))
    before = Intent.objects.values("updated_at", "provider_status").get(pk=intent.pk)
    events = intent.events.count()
    assert polling.intent_poll(intent) is False
    assert Intent.objects.values("updated_at", "provider_status").get(pk=intent.pk) == before
    assert intent.events.count() == events


@pytest.mark.postgres
def test_two_sweepers_in_parallel_never_poll_one_intent_at_once(
    sim, store_a, merchant, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED claims are tested on PostgreSQL")
    terminals = []
    for n in range(20):
        terminal = factories.make_terminal(store_a, terminal_id=f"6600{n:04d}")
        sim.register_terminal(terminal.terminal_id, merchant.cuit)
        terminals.append(terminal)
    intents = [
        payment_create(store=store_a, terminals=[t], amount=Decimal("2.00")) for t in terminals
    ]
    Intent.objects.update(next_poll_at=intents[0].created_at)

    in_flight: Counter = Counter()
    overlaps = []
    polled = Counter()
    lock = threading.Lock()
    real_poll = polling.intent_poll

    def tracking_poll(intent, **kw):
        with lock:
            in_flight[intent.pk] += 1
            polled[intent.pk] += 1
            if in_flight[intent.pk] > 1:
                overlaps.append(intent.pk)
        try:
            return real_poll(intent, **kw)
        finally:
            with lock:
                in_flight[intent.pk] -= 1

    # The sweeper calls the poll it imported from `polling`: patch it where it is looked up.
    monkeypatch.setattr(sweeper, "intent_poll", tracking_poll)
    for t in terminals:
        sim.pick_and_pay(t.terminal_id)

    def run_sweeper():
        try:
            sweeper.sweep_once(concurrency=4)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "both sweeps finish"

    assert not overlaps
    assert sorted(polled) == sorted(i.pk for i in intents), "each due intent polled exactly once"
    assert set(polled.values()) == {1}
    assert set(Intent.objects.values_list("state", flat=True)) == {State.APPROVED}
