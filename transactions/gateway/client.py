"""The Prisma / Payway ECR client: the only code that speaks HTTP to the provider.

One `PrismaGateway` per credential (see `gateway_for`), one pooled `httpx.Client` inside it, and
one `_request()` every call goes through: mandatory timeouts, the Bearer token (cached in Django's
cache, renewed once on a 401), error classification into `GatewayError`, and one `GatewayCall`
row per HTTP exchange, except the idle reads of a poll (`provider_reads_held`): a read that
changed nothing is counted and sampled, not written. A create's rows are written in the
transaction that records its answer (`provider_calls_held`). Creates are never retried automatically
(contract §5): a create whose answer was lost is reported `in_doubt` and the caller must look
for the intention first.

The parts live beside it: what an answer or failure means in `classify`, the shared token in
`tokens`, and the contract's operations (paths, kinds, parsers) in `operations`; `PrismaGateway`
puts them together. Nothing here logs or stores headers, keys or tokens.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from django.conf import settings
from django.db import DatabaseError, transaction

from ecrportal.compiled_insert import CompiledInsert
from stores.crypto import SecretUnreadable
from transactions.gateway.classify import (
    CallKind,
    decode_answer,
    error_from_body,
    garbled_answer,
    http_error,
    transport_error,
)
from transactions.gateway.convert import redact
from transactions.gateway.errors import GatewayError
from transactions.gateway.operations import ProviderOperations
from transactions.gateway.pinning import PinnedTransport
from transactions.gateway.tokens import (
    TokenCache,
    process_token_lock,
    token_cache_key,
    token_lock_key,
)
from transactions.gateway.types import ECR_NAME, SANDBOX_FIXED_FIELDS, EcrIdentity

logger = logging.getLogger("transactions.gateway")

# A read is repeated once after at most this pause; a longer Retry-After goes back to the caller.
MAX_RETRY_PAUSE_S = 2.0
DEFAULT_RETRY_PAUSE_S = 0.25


class _TokenRejected(Exception):
    """Internal: a business call answered 401; the token is renewed and the call replayed."""


_NO_BODY = object()


class PrismaGateway(ProviderOperations, TokenCache):
    """The provider API for one credential. Thread-safe; build it through `gateway_for()`.

    `transport` lets tests put an `httpx.MockTransport` under the real client.
    """

    def __init__(
        self,
        credential,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credential_id: int = credential.pk
        self.version = credential.updated_at
        self.base_url: str = credential.base_url.rstrip("/")
        self.subnet_acquirer_id: str = credential.subnet_acquirer_id
        # What the credential's registration declared (contract §3), and the sandbox's fixed
        # fields (contract §6) when the credential is a sandbox one.
        self.ecr_identity = EcrIdentity(
            provider=credential.ecr_provider or ECR_NAME,
            name=credential.ecr_name or ECR_NAME,
            version=credential.ecr_version or settings.ECR_VERSION,
        )
        self.sandbox_fields: dict[str, str] = (
            dict(SANDBOX_FIXED_FIELDS) if credential.environment == "sandbox" else {}
        )
        self._public_key: str = credential.public_key
        try:
            self._secret: str = credential.get_secret()
        except SecretUnreadable as exc:
            raise GatewayError(
                "El secreto de la credencial no se puede descifrar con las claves configuradas."
            ) from exc
        self._sleep = sleep
        self._token_key = token_cache_key(
            self.credential_id, self.base_url, self._public_key, self._secret
        )
        self._token_lock_key = token_lock_key(self.credential_id)
        self._lock = process_token_lock(self.credential_id)
        connect_s = settings.ECR_GATEWAY_CONNECT_TIMEOUT_MS / 1000
        read_s = settings.ECR_GATEWAY_READ_TIMEOUT_MS / 1000
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30)
        if transport is None:
            # Every connection goes to an address the policy checked (`pinning`); tests that
            # pass a transport fake the network, so there is nothing to pin.
            transport = PinnedTransport(httpx.HTTPTransport(limits=limits))
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s),
            limits=limits,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"ECR-Portal/{settings.ECR_VERSION}",
            },
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<PrismaGateway credential={self.credential_id} {self.base_url}>"

    def close(self) -> None:
        self._client.close()

    # --- The one way out ------------------------------------------------------------------------

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        kind: CallKind,
        params: dict[str, Any] | None = None,
        json_body: Any = _NO_BODY,
        intent_id: int | None = None,
        parse: Callable[[Any], Any] = lambda data: data,
        basic_auth: bool = False,
        expect_json: bool = True,
    ) -> Any:
        """Sends one call, with at most one token renewal and (reads only) one retry."""
        renewed = False
        retried = False
        while True:
            token = None if basic_auth else self.token()
            try:
                return self._attempt(
                    operation,
                    method,
                    path,
                    kind=kind,
                    params=params,
                    json_body=json_body,
                    intent_id=intent_id,
                    parse=parse,
                    token=token,
                    last_401=basic_auth or renewed,
                    expect_json=expect_json,
                )
            except _TokenRejected:
                renewed = True
                self._renew_token(stale=token)
            except GatewayError as exc:
                if retried or kind is not CallKind.READ or not exc.retryable:
                    raise
                if isinstance(exc.__cause__, httpx.ReadTimeout):
                    # The provider is slow, not down: another full wait would only stall the
                    # caller (a poller thread); the next poll asks again.
                    raise
                if exc.retry_after is not None and exc.retry_after > MAX_RETRY_PAUSE_S:
                    raise
                retried = True
                # A pause in seconds, not money: float is exact enough for a sleep.
                pause = float(
                    exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_PAUSE_S
                )
                logger.info("prisma %s: reintento en %.2f s (%s)", operation, pause, exc.message)
                self._sleep(pause)

    def _attempt(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        kind: CallKind,
        params: dict[str, Any] | None,
        json_body: Any,
        intent_id: int | None,
        parse: Callable[[Any], Any],
        token: str | None,
        last_401: bool,
        expect_json: bool,
    ) -> Any:
        """One HTTP exchange: send, classify, record a GatewayCall row, return or raise."""
        extra: dict[str, Any] = {}
        if token is not None:
            extra["headers"] = {"Authorization": f"Bearer {token}"}
        else:
            extra["auth"] = (self._public_key, self._secret)
        if json_body is not _NO_BODY:
            extra["json"] = json_body
        started = time.monotonic()
        status: int | None = None
        try:
            try:
                response = self._client.request(method, path, params=params, **extra)
            except httpx.TransportError as exc:
                raise transport_error(exc, kind, operation) from exc
            status = response.status_code
            if 200 <= status < 300:
                try:
                    data = decode_answer(response, expect_json)
                except ValueError as exc:
                    raise garbled_answer(kind, operation, status) from exc
                result = parse(data)
                self._record(operation, method, path, status, "ok", "", started, intent_id, kind)
                logger.info(
                    "prisma %s %s %s -> %s en %d ms",
                    operation,
                    method,
                    path,
                    status,
                    self._elapsed_ms(started),
                )
                return result
            if status == 401 and not last_401:
                message, _code = error_from_body(response)
                self._record(
                    operation,
                    method,
                    path,
                    status,
                    "retryable",
                    self._scrub(f"token rechazado ({message}); se renueva y se repite"),
                    started,
                    intent_id,
                    kind,
                )
                logger.info("prisma %s: token rechazado (401), se renueva", operation)
                raise _TokenRejected()
            raise http_error(response, kind, operation)
        except GatewayError as exc:
            exc.message = self._scrub(exc.message)
            if exc.operation is None:
                exc.operation = operation
            self._record(
                operation, method, path, status, exc.outcome, str(exc), started, intent_id, kind
            )
            logger.warning(
                "prisma %s %s %s falló en %d ms: %s (reintentable=%s, en duda=%s)",
                operation,
                method,
                path,
                self._elapsed_ms(started),
                exc,
                exc.retryable,
                exc.in_doubt,
            )
            raise

    def _scrub(self, text: str) -> str:
        """Defence in depth: a provider echoing our secret or token never gets it stored, nor
        a full card number (masked to BIN + last four, as stored answers are)."""
        for secret in (self._secret, self._shared_token()):
            if secret and len(secret) >= 6:
                text = text.replace(secret, "***")
        return redact(text)

    @staticmethod
    def _elapsed_ms(started: float) -> int:
        return int((time.monotonic() - started) * 1000)

    def _record(
        self,
        operation: str,
        method: str,
        path: str,
        http_status: int | None,
        outcome: str,
        error: str,
        started: float,
        intent_id: int | None,
        kind: CallKind,
    ) -> None:
        """Writes the GatewayCall row, or hands a successful read to the poll holding it."""
        row = {
            "credential_id": self.credential_id,
            "intent_id": intent_id,
            "operation": operation[:40],
            "method": method,
            "path": path[:300],
            "http_status": http_status,
            "outcome": outcome,
            "duration_ms": self._elapsed_ms(started),
            "error": error,
        }
        held_calls: CallHold | None = getattr(_call_holds, "current", None)
        if held_calls is not None and intent_id is not None and intent_id == held_calls.intent_id:
            held_calls.rows.append(row)
            return
        hold: ReadHold | None = getattr(_holds, "current", None)
        if hold is not None and intent_id is not None and intent_id == hold.intent_id:
            if outcome == "ok" and kind is CallKind.READ:
                hold.rows.append(row)
                return
            # A failure, a renewal or a write in the same poll: its reads are kept as context.
            hold.other_calls = True
        _store_call(row)


class UnrecordedCalls:
    """Per process: how many GatewayCall rows could not be written (the database failed).

    A failure to record never fails the provider call itself (its answer is what matters to the
    intent), but a lost audit row is never silent: it is logged at error level with what the row
    said, and counted here for the operations pages and metrics.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


UNRECORDED_CALLS = UnrecordedCalls()


@functools.cache
def _call_insert(model) -> CompiledInsert:
    """The provider-call row's INSERT, compiled once per connection: every create and every read
    that changed something writes one (`CompiledInsert`). (The model is passed in: this module is
    imported before the models are loaded.)"""
    return CompiledInsert(model)


def _store_call(row: dict[str, Any]) -> None:
    """Writes one GatewayCall row. A failure to record never fails the call itself; it is logged
    at error level (with the row's operation, intent, status and outcome, so the audit can be
    rebuilt from the logs) and counted (`UNRECORDED_CALLS`)."""
    from transactions.models import GatewayCall

    try:
        with transaction.atomic():
            _call_insert(GatewayCall).save(GatewayCall(**row))
    except DatabaseError:
        UNRECORDED_CALLS.add()
        logger.error(
            "no se pudo registrar la llamada a Prisma: operation=%s intent=%s http_status=%s "
            "outcome=%s duration_ms=%s",
            row["operation"],
            row["intent_id"],
            row["http_status"],
            row["outcome"],
            row["duration_ms"],
            exc_info=True,
        )


# --- Idle reads: counted and sampled, not one row each -------------------------------------------

# An intent read again and again with no news leaves one row per this many seconds (per process).
IDLE_READ_SAMPLE_SECONDS = 60.0
# Counts of intents nobody polled for this long are dropped (their poller moved elsewhere).
_IDLE_FORGET_SECONDS = 600.0


class ReadHold:
    """The successful reads of one poll of one intent, held until the poll knows its outcome.

    The poller sets `changed`; `provider_reads_held` then writes the rows (the read changed the
    intent, or another call of the poll failed or wrote) or counts them as idle.
    """

    def __init__(self, intent_id: int) -> None:
        self.intent_id = intent_id
        self.rows: list[dict[str, Any]] = []
        self.changed = False
        self.other_calls = False


class IdleReadCounter:
    """Per process: idle reads of each intent not yet written, and since when.

    `idle()` counts one and says whether it is time for a sampled row (the oldest unwritten one
    is `IDLE_READ_SAMPLE_SECONDS` old), returning the count that row stands for; `take()` hands
    the count to a row written anyway (a read that changed something). Counts live in memory:
    a process that stops loses at most a minute of counts of the intents it was reading, never a
    change or a failure (those are always written).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[float, int]] = {}
        self._next_forget = 0.0

    def idle(self, intent_id: int, *, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            since, count = self._pending.get(intent_id, (now, 0))
            count += 1
            if now - since >= IDLE_READ_SAMPLE_SECONDS:
                self._pending.pop(intent_id, None)
                return count
            self._pending[intent_id] = (since, count)
            self._forget_old(now)
            return 0

    def take(self, intent_id: int) -> int:
        with self._lock:
            return self._pending.pop(intent_id, (0.0, 0))[1]

    def pending(self, intent_id: int) -> int:
        with self._lock:
            return self._pending.get(intent_id, (0.0, 0))[1]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def _forget_old(self, now: float) -> None:
        if now < self._next_forget:
            return
        self._next_forget = now + _IDLE_FORGET_SECONDS
        for intent_id, (since, _count) in list(self._pending.items()):
            if now - since > _IDLE_FORGET_SECONDS:
                del self._pending[intent_id]


IDLE_READS = IdleReadCounter()
_holds = threading.local()


@contextlib.contextmanager
def provider_reads_held(intent_id: int) -> Iterator[ReadHold]:
    """Within, this thread's successful reads of `intent_id` are held, not written at once.

    On the way out: if the caller set `hold.changed` (or raised, or another call of the intent
    was recorded meanwhile) the held rows are written, carrying the idle reads counted before
    them; otherwise each is an idle read: counted, and written only as a sample once a minute.
    Failures are never held: they are written when they happen.
    """
    hold = ReadHold(intent_id)
    outer = getattr(_holds, "current", None)
    _holds.current = hold
    try:
        yield hold
    except BaseException:
        hold.changed = True
        raise
    finally:
        _holds.current = outer
        _settle(hold)


def _settle(hold: ReadHold) -> None:
    if not hold.rows:
        return
    if hold.changed or hold.other_calls:
        hold.rows[0]["idle_reads"] = IDLE_READS.take(hold.intent_id)
        for row in hold.rows:
            _store_call(row)
        return
    for row in hold.rows:
        sampled = IDLE_READS.idle(hold.intent_id)
        if sampled:
            row["idle_reads"] = sampled
            _store_call(row)


# --- A create's calls, written with the answer they brought -------------------------------------


class CallHold:
    """The call rows of one intent's create, held until the caller records the outcome, so that
    they commit in the same transaction (`provider_calls_held`)."""

    def __init__(self, intent_id: int) -> None:
        self.intent_id = intent_id
        self.rows: list[dict[str, Any]] = []
        self._written: list[dict[str, Any]] = []
        self._committed = False

    def write(self) -> None:
        """Inserts the held rows (one statement) in the caller's open transaction."""
        from transactions.models import GatewayCall

        if not self.rows:
            return
        if len(self.rows) == 1:  # nearly always: the create call alone
            _call_insert(GatewayCall).save(GatewayCall(**self.rows[0]))
        else:
            GatewayCall.objects.bulk_create([GatewayCall(**row) for row in self.rows])
        self._written, self.rows = self.rows, []
        transaction.on_commit(self._mark_committed)

    def _mark_committed(self) -> None:
        self._committed = True
        self._written = []

    def rolled_back(self) -> None:
        """The transaction that carried the rows failed: hold them again (written on exit)."""
        if not self._committed:
            self.rows[:0] = self._written
        self._written = []


_call_holds = threading.local()


@contextlib.contextmanager
def provider_calls_held(intent_id: int) -> Iterator[CallHold]:
    """Within, this thread's calls for `intent_id` (successes and failures) are held, not
    written at once; the caller writes them with `hold.write()` inside the transaction that
    records what the call brought (no transaction of their own, no network call inside one).

    Rows still held on the way out (the outcome was not recorded, or its transaction failed:
    `hold.rolled_back()`) are written then, each on its own, as `_store_call` always did: a
    call is never left unrecorded because its outcome could not be.
    """
    hold = CallHold(intent_id)
    outer = getattr(_call_holds, "current", None)
    _call_holds.current = hold
    try:
        yield hold
    finally:
        _call_holds.current = outer
        rows, hold.rows = hold.rows, []
        for row in rows:
            _store_call(row)


# --- One gateway per credential -----------------------------------------------------------------

_gateways: dict[int, PrismaGateway] = {}
_gateways_guard = threading.Lock()


def gateway_for(credential) -> PrismaGateway:
    """The process-wide gateway of a credential, rebuilt when the credential changes.

    Keyed by pk and `updated_at`, so saving a new secret or base URL builds a new client (and,
    through the token cache key, a new token). The replaced gateway is not closed here: a thread
    may still be using it; its pooled connections go with it when it is collected.
    """
    with _gateways_guard:
        gateway = _gateways.get(credential.pk)
        if gateway is None or gateway.version != credential.updated_at:
            gateway = PrismaGateway(credential)
            _gateways[credential.pk] = gateway
        return gateway


def reset_gateways() -> None:
    """Closes and forgets every cached gateway (tests, and after changing settings)."""
    with _gateways_guard:
        gateways = list(_gateways.values())
        _gateways.clear()
    for gateway in gateways:
        gateway.close()
