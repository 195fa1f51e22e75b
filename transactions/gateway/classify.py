"""How a provider exchange turns into an answer or a `GatewayError` with a verdict.

Split out of the client so the rules that decide `retryable` / `in_doubt` (contract §5) can be
read in one place, apart from the plumbing that sends requests: what a transport failure means
for each `CallKind`, what each HTTP status means, and how any error body (contract JSON, other
JSON, text, HTML) becomes one readable line. Nothing here sends anything or touches the database.
"""

from __future__ import annotations

import enum
import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict

import httpx

from transactions.gateway.errors import AuthenticationFailed, GatewayError, ProviderRejected

MESSAGE_MAX = 300


class _ErrorFields(TypedDict):
    http_status: int
    code: str | None
    operation: str


class CallKind(enum.Enum):
    """What repeating a call would mean; decides retries and the in-doubt verdict."""

    READ = "read"  # GET, search, token: safe to repeat
    CREATE = "create"  # moves money or opens an intention: never repeated blindly
    CANCEL = "cancel"  # asks for a state change; repeating asks the same thing again


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


def decode_answer(response: httpx.Response, expect_json: bool) -> Any:
    """The data of a 2xx answer; a `ValueError` here becomes `garbled_answer()`."""
    content = response.content or b""
    if not content.strip():
        return None
    try:
        return _json_loads(content)
    except ValueError:
        if expect_json:
            raise
        return content.decode(response.encoding or "utf-8", errors="replace")


def transport_error(exc: httpx.TransportError, kind: CallKind, operation: str) -> GatewayError:
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


def garbled_answer(kind: CallKind, operation: str, status: int) -> GatewayError:
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


def http_error(response: httpx.Response, kind: CallKind, operation: str) -> GatewayError:
    status = response.status_code
    message, code = error_from_body(response)
    common: _ErrorFields = {"http_status": status, "code": code, "operation": operation}
    if status == 401:
        what = "la credencial" if operation == "token" else "el token recién renovado"
        return AuthenticationFailed(f"Prisma rechazó {what}: {message}", **common)
    if status in (408, 425, 429):
        # The provider says it did not process the request: safe to repeat later.
        return GatewayError(message, retryable=True, retry_after=_retry_after(response), **common)
    if status >= 500:
        if kind is CallKind.CREATE:
            return GatewayError(
                f"{message} (la intención puede haberse creado)", in_doubt=True, **common
            )
        return GatewayError(message, retryable=True, retry_after=_retry_after(response), **common)
    if 400 <= status < 500:
        return ProviderRejected(message, **common)
    return GatewayError(message, **common)
