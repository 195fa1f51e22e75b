"""Errors as `application/problem+json` (RFC 9457) with a stable `code` and Spanish text.

`problem_exception_handler` is DRF's EXCEPTION_HANDLER for the whole project (it only changes
the shape of error answers). Every error answer looks like:

    {"type": "urn:ecr-portal:problem:terminal_busy", "title": "Terminal ocupada", "status": 409,
     "detail": "La terminal ya tiene una intención en curso.", "code": "terminal_busy",
     "errors": [{"field": "terminal", "code": "terminal_busy", "detail": "..."}]}

Clients branch on `code` (stable); `title` and `detail` are for people and may be reworded.
"""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from transactions.errors import IntentRuleError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ecr-portal:problem:"

# Spanish titles of every code the API answers. A code missing here gets a generic title.
TITLES: dict[str, str] = {
    "validation_error": "Datos inválidos",
    "invalid_json": "El cuerpo no es JSON válido",
    "authentication_failed": "Clave de API inválida o ausente",
    "permission_denied": "Operación no permitida",
    "not_found": "No encontrado",
    "method_not_allowed": "Método no permitido",
    "not_acceptable": "Formato de respuesta no disponible",
    "unsupported_media_type": "Tipo de contenido no soportado",
    "throttled": "Demasiados pedidos",
    "internal_error": "Error interno",
    "idempotency_key_missing": "Falta el encabezado Idempotency-Key",
    "idempotency_key_invalid": "Idempotency-Key inválido",
    "idempotency_key_reused": "Idempotency-Key usado con otro pedido",
    "idempotency_request_in_progress": "Pedido con ese Idempotency-Key en curso",
    "webhook_url_invalid": "URL de webhook inválida",
    # Lifecycle rule codes (transactions.errors.IntentRuleError.code).
    "amount_invalid": "Importe inválido",
    "amount_too_large": "Importe demasiado alto",
    "installments_invalid": "Cuotas inválidas",
    "brand_invalid": "Marca de tarjeta inválida",
    "method_invalid": "Medio de pago inválido",
    "terminal_disabled": "Terminal deshabilitada",
    "terminal_not_in_store": "Terminal desconocida",
    "terminal_busy": "Terminal ocupada",
    "reference_in_use": "Referencia en uso",
    "reversal_not_allowed": "Anulación no permitida",
    "batch_closed": "Lote cerrado",
    "refund_not_allowed": "Devolución no permitida",
    "refund_exceeds_balance": "Devolución mayor que el saldo",
    "forbidden": "Operación no permitida",
    "settlement_in_progress": "Cierre de lote en curso",
    "not_cancellable": "No se puede cancelar",
    "not_resolvable": "No se puede resolver",
    "credential_missing": "Sin credencial de Prisma",
    "provider_rejected": "Prisma rechazó el pedido",
    "provider_unavailable": "Prisma no responde",
    "text_invalid": "Texto inválido",
}

# Field error codes that are domain codes: when a validation error carries one, it becomes the
# problem's `code` (a negative amount answers `amount_invalid`, not only `validation_error`).
DOMAIN_FIELD_CODES = frozenset(TITLES) - {
    "validation_error",
    "invalid_json",
    "authentication_failed",
    "permission_denied",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "throttled",
    "internal_error",
}


class ApiProblem(exceptions.APIException):
    """An API error with an explicit code, status and Spanish detail (idempotency, webhooks...)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        http_status: int = 400,
        field: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail=detail, code=code)
        self.status_code = http_status
        self.problem_code = code
        self.field = field
        self.headers = headers or {}


def problem_body(
    *, code: str, status_code: int, detail: str, errors: list[dict] | None = None
) -> dict:
    return {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": TITLES.get(code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }


def problem_response(
    *,
    code: str,
    status_code: int,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict | None = None,
) -> Response:
    return Response(
        problem_body(code=code, status_code=status_code, detail=detail, errors=errors),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def rule_error_response(exc: IntentRuleError) -> Response:
    errors = [{"field": exc.field, "code": exc.code, "detail": exc.message}] if exc.field else []
    return problem_response(
        code=exc.code, status_code=exc.http_status, detail=exc.message, errors=errors
    )


def _flatten(detail, prefix: str = "") -> list[dict]:
    """DRF's nested ValidationError detail as a flat list of {field, code, detail}."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list) and not isinstance(value, exceptions.ErrorDetail):
                out.extend(_flatten(value, f"{prefix}[{index}]"))
            else:
                out.extend(_flatten(value, prefix))
    else:
        code = getattr(detail, "code", None) or "invalid"
        out.append({"field": prefix or None, "code": str(code), "detail": str(detail)})
    return out


def validation_problem(exc: exceptions.ValidationError) -> Response:
    errors = _flatten(exc.detail)
    code = next((e["code"] for e in errors if e["code"] in DOMAIN_FIELD_CODES), "validation_error")
    if code == "validation_error":
        detail = "Revise los campos indicados en `errors`."
    else:
        detail = next(e["detail"] for e in errors if e["code"] == code)
    return problem_response(code=code, status_code=400, detail=detail, errors=errors)


def problem_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error as problem+json; unexpected ones logged, answered 500."""
    set_rollback()
    if isinstance(exc, IntentRuleError):
        return rule_error_response(exc)
    if isinstance(exc, Http404):
        return problem_response(code="not_found", status_code=404, detail="No encontrado.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ApiProblem):
        errors = [{"field": exc.field, "code": exc.problem_code, "detail": str(exc.detail)}]
        return problem_response(
            code=exc.problem_code,
            status_code=exc.status_code,
            detail=str(exc.detail),
            errors=errors if exc.field else [],
            headers=exc.headers,
        )
    if isinstance(exc, serializers.ValidationError):
        return validation_problem(exc)
    if isinstance(exc, exceptions.APIException):
        return _api_exception_problem(exc, context)
    logger.exception("POS API: unexpected error", exc_info=exc)
    return problem_response(
        code="internal_error",
        status_code=500,
        detail="Ocurrió un error inesperado. El pedido pudo no haberse completado: consulte la "
        "intención antes de reintentar.",
    )


def _api_exception_problem(exc: exceptions.APIException, context) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = "authentication_failed"
        detail = (
            "Envíe `Authorization: Api-Key <clave>` con una clave vigente de esta sucursal."
            if isinstance(exc, exceptions.NotAuthenticated)
            else str(exc.detail)
        )
        # DRF answers 403 when no authenticator offers a challenge; ours always does.
        exc.status_code = status.HTTP_401_UNAUTHORIZED
        headers["WWW-Authenticate"] = 'Api-Key realm="api"'
    elif isinstance(exc, exceptions.Throttled):
        code = "throttled"
        wait = max(math.ceil(exc.wait or 1), 1)
        headers["Retry-After"] = str(wait)
        detail = f"Demasiados pedidos con esta clave. Reintente en {wait} s."
    elif isinstance(exc, exceptions.NotFound):
        code, detail = "not_found", "No encontrado."
    elif isinstance(exc, exceptions.PermissionDenied):
        code, detail = "permission_denied", "Esta clave no puede hacer esta operación."
    elif isinstance(exc, exceptions.MethodNotAllowed):
        code = "method_not_allowed"
        detail = f"El método {context['request'].method} no está permitido aquí."
        view = context.get("view")
        if view is not None:
            headers["Allow"] = ", ".join(view.allowed_methods)
    elif isinstance(exc, exceptions.NotAcceptable):
        code, detail = "not_acceptable", "Solo se responde application/json."
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        code, detail = "unsupported_media_type", "Envíe el cuerpo como application/json."
    elif isinstance(exc, exceptions.ParseError):
        code, detail = "invalid_json", "El cuerpo no es JSON válido."
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        detail = str(exc.detail)
    return problem_response(code=code, status_code=exc.status_code, detail=detail, headers=headers)


def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer problem+json like every other API error, not HTML."""
    return JsonResponse(
        problem_body(code="not_found", status_code=404, detail="Ruta desconocida en la API."),
        status=404,
        content_type=PROBLEM_CONTENT_TYPE,
    )
