"""Connections and statements of the sweeper and of a long poll (README "Scaling out").

A claimed intent is polled with what the claim returned (no statement when the read is idle);
poller threads keep one connection each for the whole loop; a long poll keeps its connection
and costs one statement per round. On PostgreSQL the connections are also counted in
pg_stat_activity.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from transactions import sweeper
from transactions.gateway import IDLE_READS, gateway_for
from transactions.models import Intent
from transactions.services import intent_refresh, payment_create
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pending_intents(sim, store_a, merchant, credential):
    """Six pending payments (nobody at the terminals), due now."""
    IDLE_READS.clear()
    gateway_for(credential).token()
    intents = []
    for n in range(6):
        terminal = factories.make_terminal(store_a, terminal_id=f"7800000{n}")
        sim.register_terminal(terminal.terminal_id, merchant.cuit)
        intents.append(
            payment_create(
                store=store_a, terminals=[terminal], amount=Decimal("10.00"), reference=f"C{n}"
            )
        )
    Intent.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    yield intents
    IDLE_READS.clear()


class OpenedConnections:
    """Connections opened meanwhile, by thread name (and PostgreSQL backend pid)."""

    def __init__(self):
        self.threads: list[str] = []
        self.pids: set[int] = set()
        self._lock = threading.Lock()

    OURS = ("poller", "MainThread", "long-poll")

    def __call__(self, sender, connection, **kwargs):
        name = threading.current_thread().name
        with self._lock:
            self.threads.append(name)
            if connection.vendor == "postgresql" and name.startswith(self.OURS):
                self.pids.add(connection.connection.info.backend_pid)

    def ours(self) -> list[str]:
        """Ignores the live server's threads (the simulator is served in this process)."""
        return [t for t in self.threads if t.startswith(self.OURS)]

    def __enter__(self):
        connection_created.connect(self, weak=False, dispatch_uid="count-connections")
        return self

    def __exit__(self, *exc):
        connection_created.disconnect(dispatch_uid="count-connections")


def test_the_claim_carries_what_an_idle_poll_needs(pending_intents):
    claimed = sweeper.claim_due_intents(limit=10)
    assert len(claimed) == 6
    with CaptureQueriesContext(connection) as queries:
        for intent in claimed:
            assert sweeper._poll_claimed(intent) is False
    # Six provider reads that changed nothing: no re-select, no provider-call row, nothing.
    assert [q["sql"] for q in queries] == []
    assert sum(IDLE_READS.pending(i.pk) for i in claimed) == 6


def test_a_claimed_poll_that_changes_the_intent_writes_only_the_change(sim, pending_intents):
    claimed = sweeper.claim_due_intents(limit=10)
    sim.pick(claimed[0].terminal.terminal_id if claimed[0].terminal else "78000000")
    target = next(i for i in claimed if i.reference == "C0")
    with CaptureQueriesContext(connection) as queries:
        assert sweeper._poll_claimed(target) is True
    assert target.state == State.PROCESSING
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # The terminal that took it is looked up by its id; the intent is never selected again.
    assert not [s for s in selects if 'FROM "transactions_intent"' in s]


def test_a_long_poll_keeps_one_connection_and_one_statement_per_round(
    sim, pending_intents, settings
):
    settings.ECR_WATCH_INTERVAL_MS = 100
    intent = Intent.objects.get(pk=pending_intents[0].pk)  # as a view would load it
    connection.ensure_connection()
    before = connection.connection
    with OpenedConnections() as opened, CaptureQueriesContext(connection) as queries:
        intent_refresh(intent=intent, wait=1.0)
    rounds = sim.counters()["reads_by_intention_id"][intent.provider_id]
    assert opened.ours() == [] and connection.connection is before
    # watched_until, the first load with store/merchant/credential, then one per round.
    assert rounds >= 2
    assert len(queries) <= 1 + rounds, [q["sql"][:80] for q in queries]


def test_sweeper_and_long_poll_stay_within_the_documented_bound(pending_intents, settings):
    concurrency = 3
    settings.ECR_POLL_CONCURRENCY = concurrency
    settings.ECR_WATCH_INTERVAL_MS = 100
    bound = sweeper.connections_bound(concurrency) + 1  # + the long poll's request thread
    peak = {"n": 0}
    stop = threading.Event()

    def long_poll():
        try:
            intent_refresh(intent=Intent.objects.get(pk=pending_intents[0].pk), wait=2.0)
        finally:
            connection.close()

    def sample_pg(pids):
        from django.db import connections

        with connections["default"].cursor() as cursor:  # a connection of its own thread
            while not stop.wait(0.05):
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                )
                live = {row[0] for row in cursor.fetchall()}
                peak["n"] = max(peak["n"], len(live & pids))
        connections["default"].close()

    with OpenedConnections() as opened:
        connection.close()  # the loop's own connection is opened (and counted) by the loop
        watcher = threading.Thread(target=long_poll, name="long-poll")
        sampler = None
        if connection.vendor == "postgresql":
            sampler = threading.Thread(target=sample_pg, args=(opened.pids,), name="sampler")
            sampler.start()
        watcher.start()
        # Every intent is due again at every sweep: the worst case for connection churn.
        deadline = time.monotonic() + 30
        polls = 0
        with sweeper.PollerPool(concurrency) as pool:
            while (polls < 25 or watcher.is_alive()) and time.monotonic() < deadline:
                Intent.objects.exclude(pk=pending_intents[0].pk).update(
                    next_poll_at=timezone.now() - timedelta(seconds=1)
                )
                polls += sweeper.sweep_once(pool=pool)
                time.sleep(0.05)
        watcher.join(30)
        stop.set()
        if sampler is not None:
            sampler.join(30)
    assert not watcher.is_alive(), "the long poll ends within its wait"
    assert polls >= 25, polls  # several sweeps, each polling every intent
    ours = opened.ours()
    assert len(ours) <= bound, ours
    assert ours.count("long-poll") == 1
    if connection.vendor == "postgresql":
        assert 1 <= peak["n"] <= bound, peak
