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


@pytest.mark.parametrize("shared", [True, False])
def test_a_sweeps_leases_exclude_other_pollers_until_it_ends(monkeypatch, shared):
    """A sweep's claim takes its poll locks at once: an intent another poller holds (in this
    process or, through the shared cache, another) is left out; the others cannot be polled
    by anyone else until the sweep ends."""
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: shared)
    if shared:
        cache.add("ecr:poll-lock:23", 1, timeout=60)  # another process polls 23
    with polling.poll_lock(22) as watcher:  # a watcher of this process polls 22
        assert watcher
        with polling.PollLeases([21, 22, 23, 21]) as leases:
            assert leases.held == ({21} if shared else {21, 23})
            assert leases.may_poll(21) and not leases.may_poll(22)
            with polling.poll_lock(21) as other:
                assert not other, "held for the whole sweep"
            if shared:
                assert cache.get("ecr:poll-lock:21") == 1
    assert cache.get("ecr:poll-lock:21") is None
    assert cache.get("ecr:poll-lock:23") == (1 if shared else None), "another's lock is kept"
    with polling.poll_lock(21) as again:
        assert again, "released when the sweep ended"
    assert polling._local_polls == set()


def test_late_in_a_long_sweep_an_intent_is_left_for_the_next_one(monkeypatch):
    """When every read timed out and the sweep ran long, a lease could end during the next
    poll: that intent is skipped (its claim already rescheduled it), never polled unlocked."""
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: True)
    clock = [1000.0]
    monkeypatch.setattr(polling.time, "monotonic", lambda: clock[0])
    with polling.PollLeases([31, 32]) as leases:
        assert leases.may_poll(31)
        clock[0] += polling.POLL_LOCK_SECONDS - polling._longest_poll_s() + 1
        assert not leases.may_poll(32)
    assert cache.get("ecr:poll-lock:32") is None


@pytest.mark.django_db
def test_a_sweep_takes_its_locks_once_and_polls_only_what_it_holds(monkeypatch):
    """`sweep_once` polls its claimed intents under one `PollLeases`: the shared cache is asked
    once to take them and once to free them, whatever their number."""
    from types import SimpleNamespace

    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: True)
    claimed = [SimpleNamespace(pk=pk) for pk in (41, 42, 43)]
    monkeypatch.setattr(sweeper, "claim_due_intents", lambda limit: claimed)
    polled = []
    monkeypatch.setattr(sweeper, "intent_poll", lambda intent: polled.append(intent.pk) or True)
    cache.add("ecr:poll-lock:43", 1, timeout=60)  # another process polls 43
    calls = []
    for name in ("add", "delete", "delete_many", "touch"):
        real = getattr(cache, name)
        monkeypatch.setattr(
            cache,
            name,
            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k),
        )
    assert sweeper.sweep_once(concurrency=1) == 3
    assert sorted(polled) == [41, 42]
    # One add each (locmem has no add_many; Redis takes them in one pipeline), then one
    # delete_many at the end (which locmem runs as a delete each), never a delete per poll.
    assert calls[:4] == ["add", "add", "add", "delete_many"], calls
    assert "touch" not in calls
