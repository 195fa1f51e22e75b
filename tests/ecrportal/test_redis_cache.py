"""The portal's Redis cache backend keeps one client per connection pool and still behaves as
Django's. Skipped where no Redis answers (a laptop without one); CI's machine has one."""

import os
import threading
import uuid

import pytest

from ecrportal.redis_cache import RedisCacheReusingClients

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache():
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    cache = RedisCacheReusingClients(REDIS_URL, {"KEY_PREFIX": prefix})
    try:
        cache.set("ping", 1, timeout=5)
    except Exception as exc:  # connection refused, no server
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    yield cache
    # Only this test's keys: `clear()` would FLUSHDB a database other runs may be using.
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def test_one_client_serves_every_operation(redis_cache, monkeypatch):
    import redis

    built = []
    real_init = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    for n in range(20):
        redis_cache.set(f"k{n}", n, timeout=30)
        assert redis_cache.get(f"k{n}") == n
        assert not redis_cache.add(f"k{n}", "other", timeout=30)
        redis_cache.delete(f"k{n}")
    assert built == [], "the client built for the first operation serves all the others"
    assert redis_cache._cache.get_client() is redis_cache._cache.get_client(write=True)


def test_it_behaves_as_djangos_backend(redis_cache):
    assert redis_cache.add("lock", "mine", timeout=30)
    assert not redis_cache.add("lock", "theirs", timeout=30), "add is still set-if-absent"
    assert redis_cache.get("lock") == "mine"
    assert redis_cache.add("counter", 0, timeout=30)
    assert redis_cache.incr("counter") == 1
    redis_cache.set_many({"a": 1, "b": [1, 2]}, timeout=30)
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": 1, "b": [1, 2]}
    assert redis_cache.delete("lock")
    assert redis_cache.get("lock", "gone") == "gone"


def test_threads_share_the_pool_safely(redis_cache):
    failures = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                key = f"t{n}-{i}"
                redis_cache.set(key, i, timeout=30)
                if redis_cache.get(key) != i:
                    failures.append(key)
        except Exception as exc:  # pragma: no cover - the failure is the assertion below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []


def test_add_many_adds_only_the_absent_keys_in_one_round_trip(redis_cache, monkeypatch):
    import redis

    assert redis_cache.add("held", "theirs", timeout=30)
    sent = []
    real_execute = redis.client.Pipeline.execute

    def counting_execute(self, *args, **kwargs):
        sent.append(len(self.command_stack))
        return real_execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting_execute)
    added = redis_cache.add_many(["held", "free-1", "free-2"], 1, timeout=30)
    assert added == {"free-1", "free-2"}
    assert sent == [3], "one pipeline of three SET NX"
    assert redis_cache.get("held") == "theirs", "a held key is left as it was"
    assert redis_cache.get("free-1") == 1 and redis_cache.get("free-2") == 1
    client = redis_cache._cache.get_client(write=True)
    assert 0 < client.ttl(redis_cache.make_key("free-1")) <= 30, "with the timeout"
    assert redis_cache.add_many([], 1, timeout=30) == set()
    with pytest.raises(ValueError):
        redis_cache.add_many(["x"], 1, timeout=0)
