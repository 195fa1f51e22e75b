"""With REDIS_URL, the per-intent poll lock and the sweeper slots are shared by every process.

Skipped where no Redis answers (a laptop without one); CI's machine has one on 127.0.0.1:6379.
"""

import os
import uuid

import pytest

from ecrportal.redis_cache import RedisCacheReusingClients as RedisCache
from transactions import polling

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_caches():
    """Two independent cache clients, as two worker processes on two hosts would have."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})
    second = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})
    try:
        first.set("ping", 1, timeout=5)
    except Exception as exc:  # connection refused, no server
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    yield first, second
    # Only this test's keys: `clear()` would FLUSHDB a database other runs may be using.
    client = first._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


pytestmark = pytest.mark.redis


def test_poll_lock_is_exclusive_across_processes(redis_caches, monkeypatch):
    first, second = redis_caches
    monkeypatch.setattr(polling, "_shared_lock_is_cheap", lambda: True)
    # Another process (its own Redis client) is polling intent 42.
    assert first.add("ecr:poll-lock:42", 1, timeout=30)
    monkeypatch.setattr(polling, "cache", second)
    with polling.poll_lock(42) as acquired:
        assert not acquired, "a second process must not poll the same intent"
    first.delete("ecr:poll-lock:42")
    with polling.poll_lock(42) as acquired:
        assert acquired
        assert first.get("ecr:poll-lock:42") == 1, "the lock is visible to the other process"
    assert first.get("ecr:poll-lock:42") is None, "released after the poll"


def test_sweeper_slots_limit_the_loops_across_processes(redis_caches, monkeypatch, settings):
    from transactions import sweeper, tasks

    first, _ = redis_caches
    settings.ECR_SWEEPERS = 1
    settings.ECR_SWEEPER_CHAIN = False
    monkeypatch.setattr(sweeper, "cache", first)
    first.add("ecr:sweeper-slot:0", "someone-else", timeout=30)
    assert "ocupadas" in tasks.sweeper_task(seconds=0)
