"""The Prisma / Payway ECR client: the only code that speaks HTTP to the provider.

One `PrismaGateway` per credential (see `gateway_for`), one pooled `httpx.Client` inside it, and
one `_request()` every call goes through: mandatory timeouts, the Bearer token (cached in Django's
cache, renewed once on a 401), error classification into `GatewayError`, and one `GatewayCall`
row per HTTP exchange. Creates are never retried automatically (contract §5): a create whose
answer was lost is reported `in_doubt` and the caller must look for the intention first.

Nothing here logs or stores headers, keys or tokens.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction

from stores.crypto import SecretUnreadable
from stores.validators import normalize_cuit
from transactions.gateway.errors import AuthenticationFailed, GatewayError, ProviderRejected
from transactions.gateway.types import IntentAnswer, PaymentRequest, RefundRequest, ReversalRequest

logger = logging.getLogger("transactions.gateway")

PAYMENTS = "/v1/paystore_terminals/terminal_payments/payments"
REVERSALS = "/v1/paystore_terminals/terminal_reversals/reversals"
REFUNDS = "/v1/paystore_terminals/terminal_refunds/refunds"
SETTLEMENTS = "/v1/paystore_terminals/terminal_settlements/settlements"
TOKEN_PATH = "/v1/oauth/accesstoken"
LIVENESS_PATH = "/health/liveness"

MESSAGE_MAX = 300
# A read is repeated once after at most this pause; a longer Retry-After goes back to the caller.
MAX_RETRY_PAUSE_S = 2.0
DEFAULT_RETRY_PAUSE_S = 0.25
# Token renewal: how long before `expires_in` the cached token is dropped, and the cross-process
# lock that keeps one token request per credential at a time.
TOKEN_MARGIN_S = 60
TOKEN_LOCK_TIMEOUT_S = 10
TOKEN_LOCK_POLL_S = 0.05


class CallKind(enum.Enum):
    """What repeating a call would mean; decides retries and the in-doubt verdict."""

    READ = "read"  # GET, search, token: safe to repeat
    CREATE = "create"  # moves money or opens an intention: never repeated blindly
    CANCEL = "cancel"  # asks for a state change; repeating asks the same thing again


class _TokenRejected(Exception):
    """Internal: a business call answered 401; the token is renewed and the call replayed."""


_NO_BODY = object()
_CUIT_DIGITS = re.compile(r"^\d{11}$")

# One lock per credential in this process, shared by every gateway built for it.
_token_locks: dict[int, threading.Lock] = {}
_token_locks_guard = threading.Lock()


def _token_lock(credential_id: int) -> threading.Lock:
    with _token_locks_guard:
        return _token_locks.setdefault(credential_id, threading.Lock())


def _json_loads(content: bytes) -> Any:
    # Non-integer numbers stay text: no float ever touches an amount.
    return json.loads(content, parse_float=str)


def _one_line(text: str) -> str:
    text = re.sub(r"<[^>]{0,200}>", " ", text)  # an HTML error page becomes its text
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MESSAGE_MAX:
        text = text[: MESSAGE_MAX - 1].rstrip() + "…"
    return text


def _retry_after(response: httpx.Response) -> Decimal | float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        # delay-seconds (RFC 9110 says whole; some servers send "1.5"), read as a Decimal.
        seconds = Decimal(value)
    except InvalidOperation:
        pass
    else:
        if seconds.is_finite():
            return max(Decimal(0), seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_body(response: httpx.Response) -> tuple[str, str | None]:
    """A readable message and the provider's error code from any error body.

    The contract's `{"errors": [{"code", "title", "acquirer_message"}]}`, other JSON, plain text
    or HTML all give a one-line message of at most ~300 characters.
    """
    content = response.content or b""
    try:
        data = _json_loads(content) if content.strip() else None
    except ValueError:
        data = None
    if data is None:
        text = content.decode(response.encoding or "utf-8", errors="replace")
        message = _one_line(text)
        if not message:
            message = f"Prisma respondió HTTP {response.status_code} sin detalle"
        return message, None
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        first = data["errors"][0]
        if isinstance(first, dict):
            parts = [
                str(first[key])
                for key in ("title", "detail", "acquirer_message")
                if first.get(key) not in (None, "")
            ]
            code = first.get("code")
            message = " — ".join(dict.fromkeys(parts)) or f"error {code or response.status_code}"
            return _one_line(message), (str(code) if code not in (None, "") else None)
        return _one_line(str(first)), None
    if isinstance(data, dict):
        for key in ("message", "error_description", "detail", "title", "error", "description"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                code = data.get("code") or (data.get("error") if key != "error" else None)
                return _one_line(value), (str(code) if isinstance(code, str | int) else None)
    return _one_line(json.dumps(data, ensure_ascii=False, default=str)), None


class PrismaGateway:
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
        self._public_key: str = credential.public_key
        try:
            self._secret: str = credential.get_secret()
        except SecretUnreadable as exc:
            raise GatewayError(
                "El secreto de la credencial no se puede descifrar con las claves configuradas."
            ) from exc
        self._sleep = sleep
        fingerprint = hmac.new(
            settings.SECRET_KEY.encode(),
            f"{self.base_url}\0{self._public_key}\0{self._secret}".encode(),
            hashlib.sha256,
        ).hexdigest()[:24]
        self._token_key = f"ecr:gateway:token:{self.credential_id}:{fingerprint}"
        self._token_lock_key = f"ecr:gateway:token-lock:{self.credential_id}"
        self._lock = _token_lock(self.credential_id)
        connect_s = settings.ECR_GATEWAY_CONNECT_TIMEOUT_MS / 1000
        read_s = settings.ECR_GATEWAY_READ_TIMEOUT_MS / 1000
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s),
            limits=httpx.Limits(
                max_connections=20, max_keepalive_connections=10, keepalive_expiry=30
            ),
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

    # --- Token ----------------------------------------------------------------------------------

    def token(self, *, fresh: bool = False) -> str:
        """A valid access token, from the shared cache or from the provider.

        `fresh=True` asks the provider for a new one even if one is cached (ecr_check uses it to
        prove the keys work now).
        """
        cached = None if fresh else self._cache_get(self._token_key)
        if cached:
            return cached
        with self._lock:
            if not fresh:
                cached = self._cache_get(self._token_key)
                if cached:
                    return cached
            return self._fetch_token_locked(
                stale=self._cache_get(self._token_key) if fresh else None
            )

    def _renew_token(self, *, stale: str) -> str:
        """Replaces a token the provider refused, unless another thread or process already did."""
        with self._lock:
            current = self._cache_get(self._token_key)
            if current and current != stale:
                return current
            return self._fetch_token_locked(stale=stale)

    def _fetch_token_locked(self, *, stale: str | None) -> str:
        """Gets a token while holding the process lock; other processes are kept out by a
        best-effort cache lock (`cache.add`), and wait for the token it leaves in the cache."""
        deadline = time.monotonic() + TOKEN_LOCK_TIMEOUT_S + 2
        while True:
            if self._cache_add(self._token_lock_key, TOKEN_LOCK_TIMEOUT_S):
                try:
                    # Another process may have finished while we waited for the lock.
                    current = self._cache_get(self._token_key)
                    if current and current != stale:
                        return current
                    token, ttl = self._request_token()
                    self._cache_set(self._token_key, token, ttl)
                    return token
                finally:
                    self._cache_delete(self._token_lock_key)
            self._sleep(TOKEN_LOCK_POLL_S)
            current = self._cache_get(self._token_key)
            if current and current != stale:
                return current
            if time.monotonic() > deadline:
                # The other holder is gone or the cache misbehaves: fetch anyway.
                token, ttl = self._request_token()
                self._cache_set(self._token_key, token, ttl)
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

    def _cache_get(self, key: str) -> str | None:
        try:
            return cache.get(key)
        except Exception:  # noqa: BLE001 - any backend error means "not cached"
            logger.warning("cache de tokens no disponible (lectura)", exc_info=False)
            return None

    def _cache_set(self, key: str, value: str, timeout: int) -> None:
        try:
            cache.set(key, value, timeout=timeout)
        except Exception:  # noqa: BLE001
            logger.warning("cache de tokens no disponible (escritura)", exc_info=False)

    def _cache_add(self, key: str, timeout: int) -> bool:
        try:
            return bool(cache.add(key, 1, timeout=timeout))
        except Exception:  # noqa: BLE001
            return True  # no shared lock available: act alone

    def _cache_delete(self, key: str) -> None:
        try:
            cache.delete(key)
        except Exception:  # noqa: BLE001
            logger.warning("cache de tokens no disponible (borrado)", exc_info=False)

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
                pause = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_PAUSE_S
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
                raise self._transport_error(exc, kind, operation) from exc
            status = response.status_code
            if 200 <= status < 300:
                try:
                    data = self._decode(response, expect_json)
                except ValueError as exc:
                    raise self._garbled_answer(kind, operation, status) from exc
                result = parse(data)
                self._record(operation, method, path, status, "ok", "", started, intent_id)
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
                )
                logger.info("prisma %s: token rechazado (401), se renueva", operation)
                raise _TokenRejected()
            raise self._http_error(response, kind, operation)
        except GatewayError as exc:
            exc.message = self._scrub(exc.message)
            if exc.operation is None:
                exc.operation = operation
            self._record(operation, method, path, status, exc.outcome, str(exc), started, intent_id)
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

    @staticmethod
    def _decode(response: httpx.Response, expect_json: bool) -> Any:
        content = response.content or b""
        if not content.strip():
            return None
        try:
            return _json_loads(content)
        except ValueError:
            if expect_json:
                raise
            return content.decode(response.encoding or "utf-8", errors="replace")

    @staticmethod
    def _transport_error(exc: httpx.TransportError, kind: CallKind, operation: str) -> GatewayError:
        detail = type(exc).__name__
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # Nothing left this process: safe to repeat, even a create (the caller decides).
            return GatewayError(
                f"No se pudo conectar con Prisma; no se envió nada ({detail}).",
                retryable=True,
                operation=operation,
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            return GatewayError(
                f"La URL base de la credencial no es válida ({detail}).", operation=operation
            )
        if kind is CallKind.CREATE:
            timeout = isinstance(exc, httpx.TimeoutException)
            what = "no respondió a tiempo" if timeout else "cortó la conexión"
            return GatewayError(
                f"Prisma {what} después de recibir el pedido; la intención puede haberse "
                f"creado ({detail}).",
                in_doubt=True,
                operation=operation,
            )
        return GatewayError(
            f"Prisma no respondió ({detail}).",
            retryable=True,
            operation=operation,
        )

    @staticmethod
    def _garbled_answer(kind: CallKind, operation: str, status: int) -> GatewayError:
        if kind is CallKind.CREATE:
            return GatewayError(
                "Prisma aceptó el pedido pero su respuesta no se puede leer; la intención puede "
                "haberse creado.",
                http_status=status,
                in_doubt=True,
                operation=operation,
            )
        return GatewayError(
            "La respuesta de Prisma no es JSON válido.",
            http_status=status,
            retryable=kind is CallKind.READ,
            operation=operation,
        )

    @staticmethod
    def _http_error(response: httpx.Response, kind: CallKind, operation: str) -> GatewayError:
        status = response.status_code
        message, code = error_from_body(response)
        common = {"http_status": status, "code": code, "operation": operation}
        if status == 401:
            what = "la credencial" if operation == "token" else "el token recién renovado"
            return AuthenticationFailed(f"Prisma rechazó {what}: {message}", **common)
        if status in (408, 425, 429):
            # The provider says it did not process the request: safe to repeat later.
            return GatewayError(
                message, retryable=True, retry_after=_retry_after(response), **common
            )
        if status >= 500:
            if kind is CallKind.CREATE:
                return GatewayError(
                    f"{message} (la intención puede haberse creado)", in_doubt=True, **common
                )
            return GatewayError(
                message, retryable=True, retry_after=_retry_after(response), **common
            )
        if 400 <= status < 500:
            return ProviderRejected(message, **common)
        return GatewayError(message, **common)

    def _scrub(self, text: str) -> str:
        """Defence in depth: a provider echoing our secret or token never gets it stored."""
        for secret in (self._secret, self._cache_get(self._token_key)):
            if secret and len(secret) >= 6:
                text = text.replace(secret, "***")
        return text

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
    ) -> None:
        """Writes the GatewayCall row. A failure to record never fails the call itself."""
        from transactions.models import GatewayCall

        try:
            with transaction.atomic():
                GatewayCall.objects.create(
                    credential_id=self.credential_id,
                    intent_id=intent_id,
                    operation=operation[:40],
                    method=method,
                    path=path[:300],
                    http_status=http_status,
                    outcome=outcome,
                    duration_ms=self._elapsed_ms(started),
                    error=error,
                )
        except DatabaseError:
            logger.warning("no se pudo registrar la llamada %s a Prisma", operation, exc_info=True)

    # --- Helpers for the operations -------------------------------------------------------------

    @staticmethod
    def _cuit(cuit: str) -> str:
        if not isinstance(cuit, str):
            raise ValueError("el CUIT debe ser texto")
        digits = re.sub(r"[\s.\-]", "", cuit)
        if not _CUIT_DIGITS.match(digits):
            raise ValueError(f"CUIT inválido: {cuit!r}")
        return normalize_cuit(digits)

    def _query(self, cuit: str, **more: Any) -> dict[str, Any]:
        return {
            "subnet_acquirer_id": self.subnet_acquirer_id,
            "cuit_cuil": self._cuit(cuit),
            **more,
        }

    @staticmethod
    def _id(value: str, what: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._:-]{1,80}", value):
            raise ValueError(f"{what} inválido: {value!r}")
        return value

    @staticmethod
    def _created(kind: str) -> Callable[[Any], IntentAnswer]:
        """Parses a create answer; one without the new id leaves the intention in doubt."""

        def parse(data: Any) -> IntentAnswer:
            answer = IntentAnswer.parse(kind, data)
            if not answer.provider_id:
                raise GatewayError(
                    "Prisma aceptó el pedido pero no devolvió el id de la intención; puede "
                    "haberse creado.",
                    http_status=200,
                    in_doubt=True,
                )
            return answer

        return parse

    @staticmethod
    def _read(kind: str, fallback_id: str | None = None) -> Callable[[Any], IntentAnswer]:
        def parse(data: Any) -> IntentAnswer:
            answer = IntentAnswer.parse(kind, data)
            if fallback_id and not answer.provider_id:
                # An empty or partial cancel answer still says which intention it was about.
                answer = replace(answer, provider_id=fallback_id)
            return answer

        return parse

    def _create(self, operation, kind, path, *, cuit, body, intent_id) -> IntentAnswer:
        return self._request(
            operation,
            "POST",
            path,
            kind=CallKind.CREATE,
            params={"cuit_cuil": self._cuit(cuit)},
            json_body=body,
            intent_id=intent_id,
            parse=self._created(kind),
        )

    def _get(self, operation, kind, path, *, cuit, provider_id, intent_id) -> IntentAnswer:
        return self._request(
            operation,
            "GET",
            f"{path}/{self._id(provider_id, 'id')}",
            kind=CallKind.READ,
            params=self._query(cuit),
            intent_id=intent_id,
            parse=self._read(kind),
        )

    def _cancel(self, operation, kind, path, *, cuit, provider_id, intent_id) -> IntentAnswer:
        return self._request(
            operation,
            "PUT",
            f"{path}/{self._id(provider_id, 'id')}/cancellations",
            kind=CallKind.CANCEL,
            params=self._query(cuit),
            intent_id=intent_id,
            parse=self._read(kind, fallback_id=provider_id),
        )

    def _body(self, request) -> dict[str, Any]:
        return request.wire_body(
            subnet_acquirer_id=self.subnet_acquirer_id, ecr_version=settings.ECR_VERSION
        )

    # --- Operations (contract §2) ---------------------------------------------------------------

    def liveness(self, *, intent_id: int | None = None) -> bool:
        """True when the provider says it is alive; False when it answers but is not healthy.
        Authentication and connection failures raise `GatewayError`."""

        def parse(data: Any) -> bool:
            if isinstance(data, dict):
                status = str(data.get("status", "UP")).upper()
                return status in ("UP", "OK", "HEALTHY", "ALIVE", "PASS")
            return True

        try:
            return self._request(
                "liveness",
                "GET",
                LIVENESS_PATH,
                kind=CallKind.READ,
                intent_id=intent_id,
                parse=parse,
                expect_json=False,
            )
        except AuthenticationFailed:
            raise
        except GatewayError as exc:
            if exc.http_status is not None:
                return False
            raise

    def payment_create(
        self, *, cuit: str, request: PaymentRequest, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._create(
            "payment_create",
            "payment",
            PAYMENTS,
            cuit=cuit,
            body=self._body(request),
            intent_id=intent_id,
        )

    def payment_get(
        self, *, cuit: str, payment_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._get(
            "payment_get",
            "payment",
            PAYMENTS,
            cuit=cuit,
            provider_id=payment_id,
            intent_id=intent_id,
        )

    def payment_cancel(
        self, *, cuit: str, payment_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._cancel(
            "payment_cancel",
            "payment",
            PAYMENTS,
            cuit=cuit,
            provider_id=payment_id,
            intent_id=intent_id,
        )

    def payment_search(
        self,
        *,
        cuit: str,
        date_from: datetime,
        date_to: datetime,
        reference: str | None = None,
        terminal_id: str | None = None,
        intent_id: int | None = None,
    ) -> list[IntentAnswer]:
        """Payments of the merchant in a time window, optionally by POS reference or terminal.

        The contract does not know this body; it is the simulator's (see the module docstring of
        the gateway package). Answers as a bare list or under `payments`/`results`/`data` are read.
        """

        def iso(moment: datetime) -> str:
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("las fechas de búsqueda deben tener zona horaria")
            return moment.astimezone(UTC).isoformat()

        def parse(data: Any) -> list[IntentAnswer]:
            items: Any = data
            if isinstance(data, dict):
                items = next(
                    (data[key] for key in ("payments", "results", "data") if key in data), []
                )
            if not isinstance(items, list):
                return []
            return [IntentAnswer.parse("payment", item) for item in items if isinstance(item, dict)]

        body = {
            "ecr_transaction_id": reference,
            "terminal_id": terminal_id,
            "date_from": iso(date_from),
            "date_to": iso(date_to),
        }
        return self._request(
            "payment_search",
            "POST",
            f"{PAYMENTS}/searches",
            kind=CallKind.READ,
            params={"cuit_cuil": self._cuit(cuit)},
            json_body=body,
            intent_id=intent_id,
            parse=parse,
        )

    def reversal_create(
        self, *, cuit: str, request: ReversalRequest, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._create(
            "reversal_create",
            "reversal",
            REVERSALS,
            cuit=cuit,
            body=self._body(request),
            intent_id=intent_id,
        )

    def reversal_get(
        self, *, cuit: str, reversal_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        """`reversal_id` is `reversal_data.payment_id` of the create answer (contract §2)."""
        return self._get(
            "reversal_get",
            "reversal",
            REVERSALS,
            cuit=cuit,
            provider_id=reversal_id,
            intent_id=intent_id,
        )

    def reversal_cancel(
        self, *, cuit: str, reversal_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._cancel(
            "reversal_cancel",
            "reversal",
            REVERSALS,
            cuit=cuit,
            provider_id=reversal_id,
            intent_id=intent_id,
        )

    def refund_create(
        self, *, cuit: str, request: RefundRequest, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._create(
            "refund_create",
            "refund",
            REFUNDS,
            cuit=cuit,
            body=self._body(request),
            intent_id=intent_id,
        )

    def refund_get(
        self, *, cuit: str, refund_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._get(
            "refund_get",
            "refund",
            REFUNDS,
            cuit=cuit,
            provider_id=refund_id,
            intent_id=intent_id,
        )

    def refund_cancel(
        self, *, cuit: str, refund_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._cancel(
            "refund_cancel",
            "refund",
            REFUNDS,
            cuit=cuit,
            provider_id=refund_id,
            intent_id=intent_id,
        )

    def settlement_create(
        self,
        *,
        cuit: str,
        terminal_id: str,
        print_receipt: bool = True,
        intent_id: int | None = None,
    ) -> IntentAnswer:
        """Batch close of one terminal: everything in the query, no body (contract §2)."""
        return self._request(
            "settlement_create",
            "POST",
            SETTLEMENTS,
            kind=CallKind.CREATE,
            params={
                "cuit_cuil": self._cuit(cuit),
                "subnet_acquirer_id": self.subnet_acquirer_id,
                "terminal_id": self._id(terminal_id, "terminal_id"),
                "print_receipt": "true" if print_receipt else "false",
            },
            intent_id=intent_id,
            parse=self._created("settlement"),
        )

    def settlement_get(
        self, *, cuit: str, settlement_id: str, intent_id: int | None = None
    ) -> IntentAnswer:
        return self._get(
            "settlement_get",
            "settlement",
            SETTLEMENTS,
            cuit=cuit,
            provider_id=settlement_id,
            intent_id=intent_id,
        )


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
