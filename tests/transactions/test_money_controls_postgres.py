"""The daily refund limit under real concurrency: refunds asked at the same moment on different
terminals of a store never add up past the limit (the store's MoneyControls row is locked while
the day's sum is read again and the refund written).

Needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises every writer, so it would
prove nothing. The refunds are above the approval threshold, so they are written and held, never
sent: no provider is involved.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from tests.factories import make_intent, make_terminal
from tests.transactions.support import set_money_controls
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent
from transactions.services import refund_create
from transactions.states import Kind, State

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def test_simultaneous_refunds_never_pass_the_daily_limit(store_a, owner):
    set_money_controls(
        store_a, daily_refund_limit=Decimal("1000.00"), refund_approval_threshold=Decimal("1.00")
    )
    work = []
    for _ in range(THREADS):
        terminal = make_terminal(store_a)
        work.append((terminal, make_intent(store_a, terminal=terminal, state=State.APPROVED)))
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask(terminal, payment):
        try:
            barrier.wait(timeout=30)
            try:
                refund_create(
                    store=store_a,
                    terminal=terminal,
                    amount=Decimal("300.00"),
                    original=payment,
                    user=owner,
                )
                outcome = "held"
            except IntentRuleError as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=pair) for pair in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(outcomes) == THREADS
    assert outcomes.count("held") == 3, outcomes
    assert outcomes.count(Code.DAILY_REFUND_LIMIT_EXCEEDED) == THREADS - 3
    assert Intent.objects.filter(kind=Kind.REFUND).count() == 3
