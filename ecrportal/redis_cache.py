"""Django's Redis cache, keeping its client objects instead of building one per operation.

Django's `RedisCacheClient.get_client` constructs a new `redis.Redis` around the same connection
pool for every `get`, `add` or `delete`. With redis-py 8 that construction costs about 110 µs,
40 % of a whole `get` with its round trip to a local Redis (measured: 112 µs to build, 166 µs
for the `get`). The POS API pays it two or three times per request (throttle, provider token)
and the sweeper three times per provider read (its poll lock taken and released, the token).

A `redis.Redis` holds no connection of its own: each command borrows one from the pool, which
is thread-safe, so one client per pool serves every caller. Django keeps a cache object per
thread anyway (`django.core.cache.caches`), so a client is not even shared across threads.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    """`RedisCacheClient` with one `redis.Redis` per connection pool, built on first use."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        # Django picks the pool (the first server for writes, a random replica for reads) and
        # keeps it for the cache's life, so its id names it for as long as this client lives.
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCacheReusingClients(RedisCache):
    """The Redis cache backend the portal configures (`settings.CACHES` with `REDIS_URL`)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def add_many(self, keys, value, timeout=DEFAULT_TIMEOUT) -> set:
        """`add(key, value, timeout)` for each of `keys` in one round trip (a pipeline of
        `SET NX`); returns the keys it added. A positive timeout only (what a lease needs)."""
        ttl = self.get_backend_timeout(timeout)
        if ttl is not None and ttl <= 0:
            raise ValueError("add_many needs a positive timeout or None")
        made = {self.make_and_validate_key(key): key for key in keys}
        if not made:
            return set()
        backend: Any = self._cache  # (its `_serializer` is not in the stubs)
        client = backend.get_client(write=True)
        stored = backend._serializer.dumps(value)
        pipeline = client.pipeline(transaction=False)
        for key in made:
            pipeline.set(key, stored, ex=None if ttl is None else int(ttl), nx=True)
        return {made[key] for key, added in zip(made, pipeline.execute(), strict=True) if added}
