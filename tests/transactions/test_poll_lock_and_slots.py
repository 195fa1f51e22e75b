"""The per-intent poll lock and the sweeper's slot leases."""

import pytest
from django.core.cache import cache

from transactions import polling, sweeper, tasks


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("shared", [True, False])
def test_poll_lock_is_exclusive_in_a_process_with_or_without_the_shared_cache(monkeypatch, shared):
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: shared)
    with polling.poll_lock(7) as first:
        assert first
        with polling.poll_lock(7) as second:
            assert not second
        with polling.poll_lock(8) as other:
            assert other, "another intent is not blocked"
    with polling.poll_lock(7) as again:
        assert again


def test_without_a_cheap_shared_cache_the_lock_writes_nothing(monkeypatch):
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: False)
    with polling.poll_lock(9):
        assert cache.get("ecr:poll-lock:9") is None


def test_shared_lock_blocks_another_process(monkeypatch):
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: True)
    cache.add("ecr:poll-lock:10", 1, timeout=60)  # held by another process
    with polling.poll_lock(10) as acquired:
        assert not acquired
    assert 10 not in polling._local_polls


@pytest.mark.django_db
def test_a_dead_loops_slot_frees_itself_quickly(settings):
    settings.ECR_SWEEPERS = 1
    settings.ECR_SWEEPER_CHAIN = False
    cache.add("ecr:sweeper-slot:0", "dead-worker", timeout=sweeper.SLOT_LEASE_SECONDS)
    assert "ocupadas" in tasks.sweeper_task(seconds=0)
    assert sweeper.SLOT_LEASE_SECONDS <= 15, "a dead worker's lease must expire within seconds"
    cache.delete("ecr:sweeper-slot:0")  # what the lease's expiry does
    assert tasks.sweeper_task(seconds=0) == "0 consultas"
    assert cache.get("ecr:sweeper-slot:0") is None, "released at the end of the run"


@pytest.mark.django_db
def test_a_loop_that_lost_its_slot_stops(settings, monkeypatch):
    settings.ECR_SWEEPERS = 1
    settings.ECR_SWEEPER_CHAIN = False
    calls = []
    real_monotonic = sweeper.time.monotonic

    def fake_loop(*, seconds, stop):
        cache.set("ecr:sweeper-slot:0", "someone-else", timeout=60)
        # Past the renewal interval from now, whatever the clock reads: the monotonic clock
        # counts from boot, so a fixed value would be in the past on a host up for hours.
        later = real_monotonic() + sweeper.SLOT_LEASE_SECONDS
        monkeypatch.setattr(sweeper.time, "monotonic", lambda: later)
        calls.append(stop())
        return 0

    monkeypatch.setattr(sweeper, "sweeper_loop", fake_loop)
    tasks.sweeper_task(seconds=5)
    assert calls == [True]
    assert cache.get("ecr:sweeper-slot:0") == "someone-else", "never frees another loop's slot"
