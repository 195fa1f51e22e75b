"""Errors as `application/problem+json` (RFC 9457) with a stable `code` and Spanish text.

`problem_exception_handler` is DRF's EXCEPTION_HANDLER for the whole project (it only changes
the shape of error answers). Every error answer looks like:

    {"type": "urn:ecr-portal:problem:terminal_busy", "title": "Terminal ocupada", "status": 409,
     "detail": "La terminal ya tiene una intención en curso.", "code": "terminal_busy",
     "errors": [{"field": "terminal", "code": "terminal_busy", "detail": "..."}]}

Clients branch on `code` (stable); `title` and `detail` are for people and may be reworded.
Every `code` is a member of the catalogue (`transactions.errors.Code`), which gives its `status`
and `title`: this module never decides a status of its own.
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import set_rollback

from transactions.errors import Code, IntentRuleError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ecr-portal:problem:"

# Field error codes that are domain codes: when a validation error carries one, it becomes the
# problem's `code` (a negative amount answers `amount_invalid`, not only `validation_error`).
DOMAIN_FIELD_CODES = frozenset(
    {
        Code.AMOUNT_INVALID,
        Code.AMOUNT_TOO_LARGE,
        Code.INSTALLMENTS_INVALID,
        Code.BRAND_INVALID,
        Code.METHOD_INVALID,
        Code.TEXT_INVALID,
        Code.TERMINAL_NOT_IN_STORE,
    }
)


class ApiProblem(exceptions.APIException):
    """An API error with a catalogue code and a Spanish detail (idempotency, webhooks...); the
    status is the code's."""

    def __init__(
        self,
        code: Code,
        detail: str,
        *,
        field: str | None = None,
        headers: dict | None = None,
    ):
        code = Code(code)
        super().__init__(detail=detail, code=code.value)
        self.status_code = code.http_status
        self.problem_code = code
        self.field = field
        self.headers = headers or {}


def problem_body(*, code: Code, detail: str, errors: list[dict] | None = None) -> dict:
    """The problem+json body of a catalogue code: its status and title come from the catalogue."""
    code = Code(code)
    return {
        "type": PROBLEM_TYPE_PREFIX + code.value,
        "title": code.problem_title,
        "status": code.http_status,
        "detail": detail,
        "code": code.value,
        "errors": errors or [],
    }


def problem_response(
    *,
    code: Code,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict | None = None,
) -> Response:
    return Response(
        problem_body(code=code, detail=detail, errors=errors),
        status=code.http_status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def rule_error_response(exc: IntentRuleError) -> Response:
    errors = (
        [{"field": exc.field, "code": exc.code.value, "detail": exc.message}] if exc.field else []
    )
    response = problem_response(code=exc.code, detail=exc.message, errors=errors)
    if exc.blocking_intent_id:
        # An extension member (RFC 9457 §3.2): the intent that holds the terminal, so the till
        # can read it (`GET /api/v1/intents/{id}`) or cancel it instead of retrying blindly.
        response.data["blocking_intent_id"] = exc.blocking_intent_id
    return response


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
    domain = next((e for e in errors if e["code"] in DOMAIN_FIELD_CODES), None)
    if domain is None:
        code, detail = Code.VALIDATION_ERROR, "Revise los campos indicados en `errors`."
    else:
        code, detail = Code(domain["code"]), domain["detail"]
    return problem_response(code=code, detail=detail, errors=errors)


def problem_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error as problem+json; unexpected ones logged, answered 500."""
    set_rollback()
    if isinstance(exc, IntentRuleError):
        return rule_error_response(exc)
    if isinstance(exc, Http404):
        return problem_response(code=Code.NOT_FOUND, detail="No encontrado.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ApiProblem):
        errors = [{"field": exc.field, "code": exc.problem_code.value, "detail": str(exc.detail)}]
        return problem_response(
            code=exc.problem_code,
            detail=str(exc.detail),
            errors=errors if exc.field else [],
            headers=exc.headers,
        )
    if isinstance(exc, serializers.ValidationError):
        return validation_problem(exc)
    if isinstance(exc, RequestDataTooBig):
        # Bad input, not a crash: nothing ran (the body is read before anything is written).
        return problem_response(
            code=Code.PAYLOAD_TOO_LARGE,
            detail="El cuerpo del pedido es demasiado grande (máximo "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} kB).",
        )
    if isinstance(exc, exceptions.APIException):
        return _api_exception_problem(exc, context)
    logger.exception("POS API: unexpected error", exc_info=exc)
    return _internal_error()


def _internal_error() -> Response:
    return problem_response(
        code=Code.INTERNAL_ERROR,
        detail="Ocurrió un error inesperado. El pedido pudo no haberse completado: consulte la "
        "intención antes de reintentar.",
    )


def _api_exception_problem(exc: exceptions.APIException, context) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = Code.AUTHENTICATION_FAILED
        detail = (
            "Envíe `Authorization: Api-Key <clave>` con una clave vigente de esta sucursal."
            if isinstance(exc, exceptions.NotAuthenticated)
            else str(exc.detail)
        )
        # DRF answers 403 when no authenticator offers a challenge; ours always does (the
        # catalogue's status, 401, is what the answer carries).
        headers["WWW-Authenticate"] = 'Api-Key realm="api"'
    elif isinstance(exc, exceptions.Throttled):
        code = Code.THROTTLED
        wait = max(math.ceil(getattr(exc, "wait", None) or 1), 1)
        headers["Retry-After"] = str(wait)
        detail = f"Demasiados pedidos con esta clave. Reintente en {wait} s."
    elif isinstance(exc, exceptions.NotFound):
        code, detail = Code.NOT_FOUND, "No encontrado."
    elif isinstance(exc, exceptions.PermissionDenied):
        code, detail = Code.PERMISSION_DENIED, "Esta clave no puede hacer esta operación."
    elif isinstance(exc, exceptions.MethodNotAllowed):
        code = Code.METHOD_NOT_ALLOWED
        detail = f"El método {context['request'].method} no está permitido aquí."
        view = context.get("view")
        if view is not None:
            headers["Allow"] = ", ".join(view.allowed_methods)
    elif isinstance(exc, exceptions.NotAcceptable):
        code, detail = Code.NOT_ACCEPTABLE, "Solo se responde application/json."
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        code, detail = Code.UNSUPPORTED_MEDIA_TYPE, "Envíe el cuerpo como application/json."
    elif isinstance(exc, exceptions.ParseError):
        code, detail = Code.INVALID_JSON, "El cuerpo no es JSON válido."
    else:
        # Every APIException DRF raises on its own is mapped above: another one is our bug.
        logger.error("POS API: unmapped %s: %s", type(exc).__name__, exc.detail)
        return _internal_error()
    return problem_response(code=code, detail=detail, headers=headers)


@csrf_exempt  # an API path answers problem+json to any method, never a CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer problem+json like every other API error, not HTML."""
    return JsonResponse(
        problem_body(code=Code.NOT_FOUND, detail="Ruta desconocida en la API."),
        status=Code.NOT_FOUND.http_status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
