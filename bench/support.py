"""What the benchmark scripts share (they run as `python bench/<name>.py`, so this directory is
on their import path)."""

from __future__ import annotations

# A throw-away Fernet key for the portal's encrypted fields in a bench's own database.
FERNET_KEY = "p7nWezPIC70-6hBUpYVIxZx9rkBrLoXVBW0wuXy6c4c="


def forget_redis_keys(redis_url: str, prefix: str) -> None:
    """Deletes this run's keys (`<prefix>:*`) from a Redis others may share: never FLUSHDB."""
    import redis  # noqa: PLC0415 (only with a Redis)

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)
