"""Provider-call rows of polls: idle reads are counted and sampled, changes and failures are
always written (`transactions.gateway.client.provider_reads_held`)."""

from decimal import Decimal

import pytest

from transactions.gateway import IDLE_READS, client
from transactions.models import GatewayCall
from transactions.polling import intent_poll
from transactions.services import payment_create
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_counts():
    IDLE_READS.clear()
    yield
    IDLE_READS.clear()


@pytest.fixture
def pending(sim, store_a, terminal_a):
    intent = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("10.00"), reference="S-1"
    )
    assert intent.state == State.PENDING and intent.provider_id
    return intent


def _gets(intent):
    return GatewayCall.objects.filter(intent=intent, operation="payment_get").order_by("pk")


def test_idle_reads_are_counted_not_written_one_row_each(sim, pending):
    for _ in range(5):
        assert intent_poll(pending) is False
    assert sim.counters()["reads_by_intention_id"][pending.provider_id] == 5
    assert not _gets(pending).exists()
    assert IDLE_READS.pending(pending.pk) == 5


def test_a_read_that_changes_the_intent_is_written_with_the_idle_reads_before_it(
    sim, pending, terminal_a
):
    for _ in range(3):
        intent_poll(pending)
    sim.pick(terminal_a.terminal_id)
    assert intent_poll(pending) is True
    assert pending.state == State.PROCESSING
    row = _gets(pending).get()
    assert (row.outcome, row.http_status, row.idle_reads) == ("ok", 200, 3)
    assert IDLE_READS.pending(pending.pk) == 0


def test_a_failed_read_is_always_written(sim, pending):
    intent_poll(pending)
    sim.faults(error_rate=1.0)
    assert intent_poll(pending) is False
    rows = list(_gets(pending).values_list("outcome", flat=True))
    assert rows == ["retryable", "retryable"]  # the read and its one retry
    assert IDLE_READS.pending(pending.pk) == 1  # the earlier idle read is still counted


def test_a_renewed_token_keeps_both_rows_of_an_idle_read(sim, pending):
    """The 401 and its replay are evidence (homologation): an idle read does not drop them."""
    sim.faults(revoke_tokens=True)
    assert intent_poll(pending) is False
    rows = list(_gets(pending).values_list("http_status", "outcome"))
    assert rows == [(401, "retryable"), (200, "ok")]


def test_an_intent_idle_for_a_minute_leaves_one_sampled_row(sim, pending, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(client.time, "monotonic", lambda: clock["now"])
    for _ in range(4):
        intent_poll(pending)
        clock["now"] += 15
    assert not _gets(pending).exists()
    intent_poll(pending)  # the oldest unwritten idle read is now a minute old
    row = _gets(pending).get()
    assert (row.outcome, row.idle_reads) == ("ok", 5)
    assert IDLE_READS.pending(pending.pk) == 0
    intent_poll(pending)
    assert _gets(pending).count() == 1


def test_calls_outside_a_poll_are_written_as_before(sim, pending, credential, merchant):
    from transactions.gateway import gateway_for

    gateway_for(credential).payment_get(
        cuit=merchant.cuit, payment_id=pending.provider_id, intent_id=pending.pk
    )
    assert _gets(pending).get().idle_reads == 0


def test_idle_counter_forgets_intents_nobody_reads_any_more():
    counter = client.IdleReadCounter()
    assert counter.idle(1, now=0.0) == 0
    assert counter.idle(2, now=0.0) == 0
    assert counter.idle(2, now=client.IDLE_READ_SAMPLE_SECONDS) == 2
    assert counter.pending(2) == 0
    counter.idle(3, now=client._IDLE_FORGET_SECONDS + 1)
    assert counter.pending(1) == 0  # forgotten, not leaked
    assert counter.pending(3) == 1
