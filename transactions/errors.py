"""The one catalogue of error codes: each machine-readable code with its HTTP status and Spanish
title. Raises, the problem+json renderer and the OpenAPI document all read it, so a code cannot
answer one status and be documented with another.

`IntentRuleError` is the refusal of the intent rules and services. It is raised before anything is
written, so a refused request changes nothing. The POS API turns it into problem+json with the
same `code` and the catalogue's status; the dashboard shows `message` as a form error.
"""

from enum import StrEnum


class Code(StrEnum):
    """A stable error code (the member's value is what clients see in `code`).

    Each member carries `http_status`, `problem_title` (Spanish, for people; `code` is for
    programs) and `api`: whether the POS API can answer it (a few refusals only reach people in
    the dashboard).
    """

    http_status: int
    problem_title: str
    api: bool

    # Defaults only so `Code("terminal_busy")` (a lookup by value) type-checks: every member
    # below gives all three.
    def __new__(cls, value: str, http_status: int = 500, title: str = "", api: bool = True):
        member = str.__new__(cls, value)
        member._value_ = value
        member.http_status = http_status
        # Not `title`: that would hide `str.title()` on a string enum.
        member.problem_title = title
        member.api = api
        return member

    # --- Shape of the input: nothing ran (400) -----------------------------------------------
    VALIDATION_ERROR = "validation_error", 400, "Datos inválidos"
    INVALID_JSON = "invalid_json", 400, "El cuerpo no es JSON válido"
    AMOUNT_INVALID = "amount_invalid", 400, "Importe inválido"
    AMOUNT_TOO_LARGE = "amount_too_large", 400, "Importe demasiado alto"
    INSTALLMENTS_INVALID = "installments_invalid", 400, "Cuotas inválidas"
    BRAND_INVALID = "brand_invalid", 400, "Marca de tarjeta inválida"
    METHOD_INVALID = "method_invalid", 400, "Medio de pago inválido"
    TEXT_INVALID = "text_invalid", 400, "Texto inválido"
    TERMINAL_NOT_IN_STORE = "terminal_not_in_store", 400, "Terminal desconocida"
    # A field code only (in `errors`): a body id naming nothing in the key's store.
    DOES_NOT_EXIST = "does_not_exist", 400, "No existe en la sucursal"
    IDEMPOTENCY_KEY_MISSING = "idempotency_key_missing", 400, "Falta el encabezado Idempotency-Key"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid", 400, "Idempotency-Key inválido"
    WEBHOOK_URL_INVALID = "webhook_url_invalid", 400, "URL de webhook inválida"

    # --- Who is asking -----------------------------------------------------------------------
    AUTHENTICATION_FAILED = "authentication_failed", 401, "Clave de API inválida o ausente"
    PERMISSION_DENIED = "permission_denied", 403, "Operación no permitida"
    # A person's role does not allow the action (POS keys are scoped by the API instead).
    FORBIDDEN = "forbidden", 403, "Operación no permitida", False
    # A POS key whose permissions (`PosClient.can_*`) do not include the action.
    KEY_ACTION_NOT_ALLOWED = "key_action_not_allowed", 403, "La clave POS no permite la operación"
    # A refund with no original payment, by a key or a role not configured for it.
    UNREFERENCED_REFUND_NOT_ALLOWED = (
        "unreferenced_refund_not_allowed",
        403,
        "Devolución sin cobro original no permitida",
    )
    # Maker-checker (dashboard only): the approver is never the requester.
    APPROVAL_BY_REQUESTER = (
        "approval_by_requester",
        403,
        "Quien pidió la operación no puede aprobarla",
        False,
    )

    # --- Routing and content negotiation -----------------------------------------------------
    NOT_FOUND = "not_found", 404, "No encontrado"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "Método no permitido"
    NOT_ACCEPTABLE = "not_acceptable", 406, "Formato de respuesta no disponible"
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "Cuerpo demasiado grande"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "Tipo de contenido no soportado"
    THROTTLED = "throttled", 429, "Demasiados pedidos"
    INTERNAL_ERROR = "internal_error", 500, "Error interno"

    # --- The state does not allow it now (409) -----------------------------------------------
    TERMINAL_DISABLED = "terminal_disabled", 409, "Terminal deshabilitada"
    TERMINAL_BUSY = "terminal_busy", 409, "Terminal ocupada"
    REFERENCE_IN_USE = "reference_in_use", 409, "Referencia en uso"
    REVERSAL_NOT_ALLOWED = "reversal_not_allowed", 409, "Anulación no permitida"
    BATCH_CLOSED = "batch_closed", 409, "Lote cerrado"
    SETTLEMENT_IN_PROGRESS = "settlement_in_progress", 409, "Cierre de lote en curso"
    # The terminal's open batch holds no operation the portal knows (`selectors.
    # terminal_open_batch_is_empty`): the contract does not say what the provider does then.
    BATCH_EMPTY = "batch_empty", 409, "Lote vacío"
    REFUND_NOT_ALLOWED = "refund_not_allowed", 409, "Devolución no permitida"
    # Go-live (stores.golive): a test terminal in production or the reverse, and the pilot gate.
    TERMINAL_WRONG_PURPOSE = "terminal_wrong_purpose", 409, "Terminal de otro ambiente"
    PILOT_GATE = "pilot_gate", 409, "Fuera del piloto de producción"
    NOT_CANCELLABLE = "not_cancellable", 409, "No se puede cancelar"
    NOT_RESOLVABLE = "not_resolvable", 409, "No se puede resolver", False
    APPROVAL_NOT_PENDING = "approval_not_pending", 409, "La aprobación ya no está pendiente", False
    APPROVAL_EXPIRED = "approval_expired", 409, "La aprobación venció", False
    IDEMPOTENCY_REQUEST_IN_PROGRESS = (
        "idempotency_request_in_progress",
        409,
        "Pedido con ese Idempotency-Key en curso",
    )

    # --- Business rules and the provider (422, 503) ------------------------------------------
    REFUND_EXCEEDS_BALANCE = "refund_exceeds_balance", 422, "Devolución mayor que el saldo"
    CREDENTIAL_MISSING = "credential_missing", 422, "Sin credencial de Prisma"
    # Money controls (`transactions.controls`).
    DAILY_REFUND_LIMIT_EXCEEDED = (
        "daily_refund_limit_exceeded",
        422,
        "Supera el límite diario de devoluciones",
    )
    REFUND_WINDOW_EXPIRED = "refund_window_expired", 422, "Venció el plazo para devolver"
    CASHBACK_NOT_ALLOWED = "cashback_not_allowed", 422, "Extracción (cash-back) no permitida"
    CASHBACK_LIMIT_EXCEEDED = "cashback_limit_exceeded", 422, "Extracción mayor que el límite"
    QR_BENEFIT_NOT_ALLOWED = "qr_benefit_not_allowed", 422, "Beneficio QR solo en cobros con QR"
    # Prisma answered 4xx to a create: nothing was created there (decided: 422, not 502).
    PROVIDER_REJECTED = "provider_rejected", 422, "Prisma rechazó el pedido"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 422, "Idempotency-Key usado con otro pedido"
    # Operator resolution of an in-doubt intent (dashboard only).
    OUTCOME_INVALID = "outcome_invalid", 422, "Resultado inválido", False
    REASON_REQUIRED = "reason_required", 422, "Falta el motivo", False
    EVIDENCE_REQUIRED = "evidence_required", 422, "Falta la evidencia", False
    PROVIDER_UNAVAILABLE = "provider_unavailable", 503, "Prisma no responde"
    # Receipts (dashboard only): only an approved payment, reversal or refund has one; sending
    # it by e-mail is limited so the portal cannot be used to flood an inbox.
    RECEIPT_NOT_AVAILABLE = "receipt_not_available", 409, "Sin comprobante", False
    RECEIPT_RATE_LIMITED = "receipt_rate_limited", 429, "Demasiados envíos", False
    EMAIL_NOT_SENT = "email_not_sent", 503, "No se pudo enviar el correo", False


class IntentRuleError(Exception):
    """A request the rules refuse: a catalogue `code`, a Spanish `message` and optionally the
    `field` it is about. The HTTP status is the code's (`Code.http_status`). `intent_id` names the
    intent the refusal left behind, if any (a create the provider refused ends `failed`): the API
    keeps its idempotency key pointing at it. `blocking_intent_id` (a public UUID) names another
    intent that stands in the way (the one holding a busy terminal): pages link to it and the
    API's problem body carries it, so the till or the person can go and act on it."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        field: str | None = None,
        intent_id: int | None = None,
        blocking_intent_id: str | None = None,
    ):
        super().__init__(message)
        self.code = Code(code)
        self.message = message
        self.field = field
        self.intent_id = intent_id
        self.blocking_intent_id = blocking_intent_id

    @property
    def http_status(self) -> int:
        return self.code.http_status

    def __repr__(self) -> str:
        return f"IntentRuleError({self.code.value!r}, {self.message!r})"
