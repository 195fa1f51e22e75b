"""The provider's Bearer token: cached, shared, and fetched by one caller at a time.

Split out of the client because token reuse has its own concurrency rules: the token lives in
Django's cache (Redis in production) so every thread and process of a credential shares it; a
per-credential lock in this process plus a best-effort cache lock across processes keep it to one
token request at a time; and a cache that fails only costs the sharing, never the call.

The cache key carries a fingerprint of base URL and keys, so changing the credential's secret
gives a new token. Nothing here logs or stores keys or tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches

from transactions.gateway.classify import CallKind
from transactions.gateway.errors import GatewayError

logger = logging.getLogger("transactions.gateway")

TOKEN_PATH = "/v1/oauth/accesstoken"
# Token renewal: how long before `expires_in` the cached token is dropped, and the cross-process
# lock that keeps one token request per credential at a time.
TOKEN_MARGIN_S = 60
TOKEN_LOCK_TIMEOUT_S = 10
TOKEN_LOCK_POLL_S = 0.05

# One lock per credential in this process, shared by every gateway built for it.
_token_locks: dict[int, threading.Lock] = {}
_token_locks_guard = threading.Lock()


def _shared_cache():
    """The "pinned" cache: a token entry must never be culled by unrelated keys (see settings)."""
    return caches[settings.PINNED_CACHE]


def process_token_lock(credential_id: int) -> threading.Lock:
    with _token_locks_guard:
        return _token_locks.setdefault(credential_id, threading.Lock())


def token_cache_key(credential_id: int, base_url: str, public_key: str, secret: str) -> str:
    """Where the credential's token is cached; new keys or base URL give a new key (and token)."""
    fingerprint = hmac.new(
        settings.SECRET_KEY.encode(),
        f"{base_url}\0{public_key}\0{secret}".encode(),
        hashlib.sha256,
    ).hexdigest()[:24]
    # "v2": the entry holds (token, expiry). A process of the previous release reads its own
    # key (a bare token) during a rolling deploy, never this one as if it were a token.
    return f"ecr:gateway:token:v2:{credential_id}:{fingerprint}"


def token_lock_key(credential_id: int) -> str:
    """The cache entry that keeps other processes from fetching the same credential's token."""
    return f"ecr:gateway:token-lock:{credential_id}"


class TokenCache:
    """The token half of `PrismaGateway` (a mixin: it is not used on its own).

    The host class provides `_request()`, `_sleep`, and, from the functions above,
    `_token_key`, `_token_lock_key` and `_lock`.
    """

    _token_key: str
    _token_lock_key: str
    _lock: threading.Lock
    _sleep: Callable[[float], None]
    _request: Callable[..., Any]
    # The token this gateway last read or stored, and until when (epoch seconds) the shared
    # cache keeps it: used without asking the cache again, which every provider call did.
    _memo: tuple[str, float] | None = None

    def token(self, *, fresh: bool = False) -> str:
        """A valid access token, from this process, the shared cache or the provider.

        `fresh=True` asks the provider for a new one even if one is cached (ecr_check uses it to
        prove the keys work now).
        """
        memo = self._memo
        if not fresh and memo is not None and time.time() < memo[1]:
            return memo[0]
        cached = None if fresh else self._shared_token()
        if cached:
            return cached
        with self._lock:
            if not fresh:
                cached = self._shared_token()
                if cached:
                    return cached
            return self._fetch_token_locked(stale=self._shared_token() if fresh else None)

    def _renew_token(self, *, stale: str | None) -> str:
        """Replaces a token the provider refused, unless another thread or process already did."""
        with self._lock:
            current = self._shared_token()
            if current and current != stale:
                return current
            return self._fetch_token_locked(stale=stale)

    def _shared_token(self) -> str | None:
        """The credential's token in the shared cache, remembered in this gateway until the
        cache's own entry ends. The entry ends `TOKEN_MARGIN_S` (or a fifth of a short lifetime)
        before the provider's token does, so a remembered token is never one the provider has
        let expire; one it revoked earlier is answered 401 and renewed (`_renew_token`)."""
        value = self._cache_get(self._token_key)
        if isinstance(value, tuple) and len(value) == 2:
            token, until = value
            self._memo = (token, until)
            return token
        self._memo = None
        # A bare token (an entry without its expiry, written by other code): used, not remembered.
        return value if isinstance(value, str) else None

    def _store_token(self, token: str, ttl: int) -> None:
        until = time.time() + ttl
        self._cache_set(self._token_key, (token, until), ttl)
        self._memo = (token, until)

    def _fetch_token_locked(self, *, stale: str | None) -> str:
        """Gets a token while holding the process lock; other processes are kept out by a
        best-effort cache lock (`cache.add`), and wait for the token it leaves in the cache."""
        deadline = time.monotonic() + TOKEN_LOCK_TIMEOUT_S + 2
        while True:
            if self._cache_add(self._token_lock_key, TOKEN_LOCK_TIMEOUT_S):
                try:
                    # Another process may have finished while we waited for the lock.
                    current = self._shared_token()
                    if current and current != stale:
                        return current
                    token, ttl = self._request_token()
                    self._store_token(token, ttl)
                    return token
                finally:
                    self._cache_delete(self._token_lock_key)
            self._sleep(TOKEN_LOCK_POLL_S)
            current = self._shared_token()
            if current and current != stale:
                return current
            if time.monotonic() > deadline:
                # The other holder is gone or the cache misbehaves: fetch anyway.
                token, ttl = self._request_token()
                self._store_token(token, ttl)
                return token

    def _request_token(self) -> tuple[str, int]:
        def parse(data: Any) -> tuple[str, int]:
            if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
                raise GatewayError(
                    "Prisma respondió al pedido de token sin access_token.", operation="token"
                )
            try:
                expires_in = int(str(data.get("expires_in", 3600)))
            except ValueError:
                expires_in = 3600
            return data["access_token"], expires_in

        token, expires_in = self._request(
            "token",
            "GET",
            TOKEN_PATH,
            kind=CallKind.READ,
            params={"grant_type": "client_credentials"},
            parse=parse,
            basic_auth=True,
        )
        # Renew shortly before expiry: 60 s before for normal lifetimes, a fifth of the lifetime
        # for very short ones (so a 5 s token is still reused for 4 s).
        margin = TOKEN_MARGIN_S if expires_in > 5 * TOKEN_MARGIN_S else expires_in // 5
        return token, max(1, expires_in - margin)

    # The cache is shared infrastructure (Redis in production): if it fails, calls still work,
    # only without sharing the token.

    def _cache_get(self, key: str) -> Any:
        try:
            return _shared_cache().get(key)
        except Exception:  # noqa: BLE001 - any backend error means "not cached"
            logger.warning("cache de tokens no disponible (lectura)", exc_info=False)
            return None

    def _cache_set(self, key: str, value: Any, timeout: int) -> None:
        try:
            _shared_cache().set(key, value, timeout=timeout)
        except Exception:  # noqa: BLE001
            logger.warning("cache de tokens no disponible (escritura)", exc_info=False)

    def _cache_add(self, key: str, timeout: int) -> bool:
        try:
            return bool(_shared_cache().add(key, 1, timeout=timeout))
        except Exception:  # noqa: BLE001
            return True  # no shared lock available: act alone

    def _cache_delete(self, key: str) -> None:
        if key == self._token_key:
            self._memo = None
        try:
            _shared_cache().delete(key)
        except Exception:  # noqa: BLE001
            logger.warning("cache de tokens no disponible (borrado)", exc_info=False)
