"""The caches: throttle windows and provider tokens live in a "pinned" alias that culling the
default cache never touches, and the database cache does not cull at Django's 300 entries."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings

from transactions.api.throttling import PosClientRateThrottle
from transactions.gateway import tokens

ROOT = Path(__file__).resolve().parents[2]


def _read_settings(env: dict, expression: str):
    """`expression` (JSON-able, over `settings`) as a fresh `manage.py shell` reads it with
    `env` as its whole environment."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"import json; from django.conf import settings; print(json.dumps({expression}))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _production_caches(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ECR_"))}
    base.pop("REDIS_URL", None)
    base.update(
        DEBUG="0",
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-check",
        ALLOWED_HOSTS="ecr.example.com",
        ECR_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL="",
        SQLITE_PATH="/tmp/ecr-cache-settings.sqlite3",
        **env,
    )
    return _read_settings(base, "settings.CACHES")


def test_database_cache_gives_the_pinned_entries_their_own_table_and_a_high_ceiling():
    configured = _production_caches()
    default, pinned = configured["default"], configured["pinned"]
    assert default["BACKEND"] == pinned["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert default["LOCATION"] != pinned["LOCATION"]
    assert default["OPTIONS"]["MAX_ENTRIES"] >= 100_000
    assert pinned["OPTIONS"]["MAX_ENTRIES"] >= 100_000


def test_redis_cache_takes_the_key_prefix():
    configured = _production_caches(
        REDIS_URL="redis://127.0.0.1:6379/0", ECR_CACHE_KEY_PREFIX="staging"
    )
    for alias in ("default", "pinned"):
        assert configured[alias]["BACKEND"] == "ecrportal.redis_cache.RedisCacheReusingClients"
        assert configured[alias]["KEY_PREFIX"] == "staging"


def test_throttle_and_tokens_use_the_pinned_cache(settings):
    assert PosClientRateThrottle().cache is caches[settings.PINNED_CACHE]
    assert tokens._shared_cache() is caches[settings.PINNED_CACHE]


DATABASE_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "test_ecr_cache",
        "OPTIONS": {"MAX_ENTRIES": 30, "CULL_FREQUENCY": 2},
    },
    "pinned": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "test_ecr_cache_pinned",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}


@pytest.mark.django_db(transaction=True)
def test_culling_the_default_cache_keeps_throttle_windows_and_tokens():
    with override_settings(CACHES=DATABASE_CACHES):
        call_command("createcachetable", verbosity=0)
        try:
            pinned, default = caches["pinned"], caches["default"]
            pinned.set("throttle_pos_1", [1.0], 60)
            pinned.set("ecr:gateway:token:1:abc", "tok", 600)
            for n in range(200):  # login attempts, locks: far past the default's ceiling
                default.set(f"login:{n}", n, 60)
            assert pinned.get("throttle_pos_1") == [1.0]
            assert pinned.get("ecr:gateway:token:1:abc") == "tok"
            assert len([n for n in range(200) if default.get(f"login:{n}") is not None]) < 200
        finally:
            from django.db import connection

            with connection.cursor() as cursor:
                for table in ("test_ecr_cache", "test_ecr_cache_pinned"):
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")


def test_tests_never_use_a_shells_redis():
    """`cache.clear()` in a test must never reach a Redis database the test did not create."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(REDIS_URL="redis://127.0.0.1:6379/0", ECR_TESTING="1")
    backend, redis_url = _read_settings(
        env, "[settings.CACHES['default']['BACKEND'], settings.REDIS_URL]"
    )
    assert backend == "django.core.cache.backends.locmem.LocMemCache"
    assert redis_url == ""
