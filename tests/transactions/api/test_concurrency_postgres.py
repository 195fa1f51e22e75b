"""50 simultaneous POSTs with one Idempotency-Key: exactly one intent, one provider create.

Needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises every writer, so it would
prove nothing about the claim's unique-constraint insert under real concurrency.
"""

import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from django.db import connection, connections

from tests.transactions.api.support import live_post
from transactions.api.models import IdempotencyRecord
from transactions.models import Intent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 50


@pytest.fixture(autouse=True)
def _postgres_only(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    # The live server's 50 request threads must not keep their connections (CONN_MAX_AGE),
    # or the test database cannot be dropped at the end.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def test_fifty_requests_with_one_key_make_one_intent(live_api, sim, terminal_a):
    key = str(uuid.uuid4())
    body = {"terminal": str(terminal_a.public_id), "amount": "1500.00", "reference": "RACE-1"}
    barrier = threading.Barrier(CONCURRENCY)
    statuses: list[int] = []
    bodies: list[dict] = []
    lock = threading.Lock()

    def hit():
        barrier.wait(timeout=30)
        for _ in range(5):
            try:
                response = live_post(live_api, "/payments", body, key=key)
                break
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                # The test server's listen backlog is small and resets some of 50 simultaneous
                # connections before accepting them; a POS retries with the same key, as here.
                time.sleep(0.2)
        else:
            raise AssertionError("no answer after 5 tries")
        with lock:
            statuses.append(response.status_code)
            bodies.append(response.json())

    threads = [threading.Thread(target=hit) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(statuses) == CONCURRENCY
    counts = Counter(statuses)
    assert set(counts) <= {201, 409}, counts
    assert counts[201] >= 1
    conflicts = [b for b in bodies if b.get("status") == 409]
    assert all(b["code"] == "idempotency_request_in_progress" for b in conflicts)
    assert len({b["id"] for b in bodies if "id" in b}) == 1
    assert Intent.objects.count() == 1
    assert IdempotencyRecord.objects.get(key=key).state == "done"
    assert sim.counters()["creates_total"] == 1

    # After the race, the key answers the stored 201 to everyone.
    replay = live_post(live_api, "/payments", body, key=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
