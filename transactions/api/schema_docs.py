"""OpenAPI texts, examples and error responses of the POS API (drf-spectacular).

Kept apart from the views so they stay short. Importing this module also registers the
`Api-Key` security scheme.

The error responses are generated from the catalogue (`transactions.errors.Code`): each view
declares the codes it can answer (`error_codes`), `problems()` groups them by the catalogue's
status with one example per code, and the description's table of codes is the catalogue itself.
A code cannot be documented with a status other than the one it answers.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from transactions.api.idempotency import HEADER, KEY_PATTERN
from transactions.api.problems import PROBLEM_CONTENT_TYPE, problem_body
from transactions.api.serializers import IntentOutputSerializer, ProblemSerializer
from transactions.errors import Code


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "transactions.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key <clave>`. La clave (`ecr_xxxxxxxx.<secreto>`) "
            "la crea un administrador en el portal; pertenece a una sucursal y se puede revocar. "
            "En Swagger UI escriba `Api-Key ` seguido de la clave.",
        }


API_DESCRIPTION_INTRO = """
API para que cualquier POS cobre con las terminales Paystore (Prisma / Payway) de su sucursal.

## Autenticación
`Authorization: Api-Key <clave>`. Cada clave pertenece a **una** sucursal: una URL de algo que
está fuera de ella responde `404`; un id del cuerpo (terminal, cobro original) que no es de la
sucursal responde `400` con el campo en `errors` (`terminal_not_in_store`, `does_not_exist`), sin
decir si existe en otra. Límite por clave: al excederlo, `429` con `Retry-After` (segundos).

Permisos de la clave: el dueño decide qué puede hacer cada una (cobrar, cancelar, anular,
devolver, cerrar lote; una clave "solo cobra" no mueve dinero de vuelta). Lo que la clave no
tiene permitido responde `403 key_action_not_allowed`. Las devoluciones sin `original` (sin el
cobro que devuelven) solo para claves habilitadas: si no, `403 unreferenced_refund_not_allowed`.

## Controles de dinero de la sucursal
Devoluciones y anulaciones por encima del umbral de la sucursal esperan la aprobación de otra
persona (`202`, `state: approval_pending`; ver `POST /refunds`). También pueden regir un límite
diario de devoluciones (`422 daily_refund_limit_exceeded`), plazos para devolver por marca
(`422 refund_window_expired`) y un máximo de extracción (cash-back) en débito
(`422 cashback_not_allowed`, `422 cashback_limit_exceeded`). Cada rechazo explica el motivo en
`detail`.

## Flujo típico
1. `POST /api/v1/payments` con `Idempotency-Key` → `201` con la intención (`state: pending`).
2. `GET /api/v1/intents/{id}?wait=30` hasta que `is_final` sea `true` (responde apenas la
   terminal termina, o a los 30 s con el estado actual: repetir).
3. `state: approved` → imprimir `receipts.client`; `declined`/`cancelled`/`failed` → no cobrado.
   `in_doubt`: la creación no tuvo respuesta; el portal la busca en Prisma. **No** cobrar de nuevo
   el mismo pedido: seguir consultando la intención.

## Importes
Texto decimal en pesos, `"1500.00"`, mayor que cero, hasta dos decimales. Nunca números JSON.

## Idempotencia
Todo `POST` exige `Idempotency-Key` (1 a 255 caracteres ASCII visibles; use un UUID nuevo por
operación y reutilícelo solo para reintentar **esa** operación).
- Misma clave y mismo pedido (método, ruta y cuerpo JSON, sin importar orden ni espacios): la
  misma respuesta que la primera vez (mismo código y cuerpo, encabezado
  `Idempotent-Replayed: true`); no se crea otra intención.
- Misma clave con otro pedido: `422 idempotency_key_reused`.
- Misma clave mientras el primer pedido sigue en curso: `409 idempotency_request_in_progress`
  con `Retry-After`.
- Se guarda como respuesta de la clave todo lo que llegó a ejecutarse, éxitos y rechazos de
  reglas (`reference_in_use`, `provider_rejected`, `reversal_not_allowed`, ...): repetir
  devuelve el mismo rechazo; para volver a intentar, use una clave nueva. Los errores de
  validación de datos (`400`) y los `404` no ejecutan nada: la clave queda libre y puede reusarse
  con el cuerpo corregido.
- Los rechazos que **no crearon nada en Prisma y pueden salir bien más tarde** no son la
  respuesta final de la clave: `503 provider_unavailable` (Prisma no respondió o falló) y
  `409 terminal_busy` (la terminal tiene otra operación en pantalla, según el portal o según
  Prisma). Reintentar con la **misma** clave vuelve a ejecutar el pedido.
- Si el pedido se interrumpe (caída del servidor o de la base de datos): si la intención llegó a
  crearse, repetir con la misma clave devuelve esa intención (`201`, con su estado actual); si
  no, la clave queda libre y repetir la crea.
- Las claves se guardan al menos 48 horas por cliente POS.

"""

API_DESCRIPTION_WEBHOOKS = """
## Webhooks
Registre una URL https con `POST /api/v1/webhook` (recibe el secreto de firma **una sola vez**).
Cuando una intención pedida por su clave llega a un estado final o queda `in_doubt`, el portal
hace `POST` a su URL con:

```json
{"id": "<uuid de la entrega>", "event": "intent.final", "created_at": "...",
 "data": { ...la intención, igual que GET /intents/{id}... }}
```

Aprobaciones (maker-checker): una devolución o anulación que quedó `approval_pending` genera
`intent.approval_approved` cuando otra persona la aprueba (y se envía a la terminal; luego llega
`intent.final` como siempre), `intent.approval_rejected` cuando la rechazan o se retira, e
`intent.approval_expired` cuando vence sin decisión (en esos dos casos también `intent.final`,
con `state: cancelled`).

Encabezados: `X-ECR-Signature: t=<unix>,v1=<hex>`, `X-ECR-Event`, `X-ECR-Delivery`.
Responda `2xx` en menos de 10 s. Si no, se reintenta con espera exponencial (30 s, 1 min, 2 min,
... hasta 1 h; 8 intentos). La entrega es **al menos una vez**: descarte repetidos por
`X-ECR-Delivery`. Una clave revocada no recibe más entregas.

Verificación (Python; igual en cualquier lenguaje: HMAC-SHA256 de `"<t>." + cuerpo crudo`):

```python
import hashlib, hmac, time

def verify(secret: str, raw_body: bytes, header: str) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + raw_body   # bytes tal como llegaron
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) < 300  # rechaza repeticiones viejas
    return fresh and hmac.compare_digest(expected, parts["v1"])
```
"""


# Answered for what no operation describes: a method the path does not have (405), and a
# permission refusal that no POS key reaches today (each key is bound to its store) but the
# renderer still maps. They are in the description's table, not on an operation.
ANY_ROUTE_CODES = (Code.METHOD_NOT_ALLOWED, Code.PERMISSION_DENIED)


def _errors_section() -> str:
    rows = "\n".join(
        f"| `{code.value}` | {code.http_status} | {code.problem_title} |"
        for code in sorted((c for c in Code if c.api), key=lambda c: (c.http_status, c.value))
    )
    return (
        "## Errores\n"
        "`application/problem+json`: `type`, `title`, `status`, `detail` (en castellano), `code`\n"
        "(estable, para programar contra él) y `errors` (lista de `{field, code, detail}`). Cada\n"
        "operación documenta los códigos que puede responder. Todos los códigos:\n\n"
        "| code | status | title |\n|---|---|---|\n" + rows + "\n\n"
    )


API_DESCRIPTION = API_DESCRIPTION_INTRO + _errors_section() + API_DESCRIPTION_WEBHOOKS

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type={"type": "string", "pattern": KEY_PATTERN, "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    required=True,
    description="Clave única de esta operación (p. ej. un UUID). Repetir el pedido con la misma "
    "clave devuelve la primera respuesta sin repetir la operación.",
    examples=[OpenApiExample("uuid", value="6f1c2a9e-3b7d-4c55-9a0e-2f4b8d1e7c3a")],
)

PUBLIC_ID_PARAMETER = OpenApiParameter(
    name="public_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="El `id` (UUID) de la intención.",
)

# Every operation may answer these: a bad key, an Accept it cannot serve, the per-key limit, and
# an unexpected error.
EVERY_OPERATION = (
    Code.AUTHENTICATION_FAILED,
    Code.NOT_ACCEPTABLE,
    Code.THROTTLED,
    Code.INTERNAL_ERROR,
)
# Every POST (see `transactions.api.idempotency`) with a JSON body.
IDEMPOTENT_POST = (
    Code.IDEMPOTENCY_KEY_MISSING,
    Code.IDEMPOTENCY_KEY_INVALID,
    Code.IDEMPOTENCY_KEY_REUSED,
    Code.IDEMPOTENCY_REQUEST_IN_PROGRESS,
    Code.INVALID_JSON,
    Code.UNSUPPORTED_MEDIA_TYPE,
    Code.PAYLOAD_TOO_LARGE,
)
# Every POST that offers a new intention to a terminal through Prisma.
PROVIDER_CREATE = (
    Code.TERMINAL_BUSY,
    Code.CREDENTIAL_MISSING,
    Code.PROVIDER_REJECTED,
    Code.PROVIDER_UNAVAILABLE,
)
# Example `detail` and `field` of some codes; the others show their title.
_EXAMPLES: dict[Code, tuple[str, str | None]] = {
    Code.AMOUNT_INVALID: (
        'El importe debe ser un texto decimal positivo con hasta dos decimales, p. ej. "1500.00".',
        "amount",
    ),
    Code.AMOUNT_TOO_LARGE: ("El importe supera el máximo permitido (9999999.99).", "amount"),
    Code.INSTALLMENTS_INVALID: ("Las cuotas deben estar entre 1 y 24.", "installments"),
    Code.BRAND_INVALID: ('"XX" no es una opción válida.', "brand"),
    Code.METHOD_INVALID: ('"cash" no es una opción válida.', "method"),
    Code.TEXT_INVALID: ("Asegúrese de que este campo no tenga más de 64 caracteres.", "reference"),
    Code.TERMINAL_NOT_IN_STORE: ("Terminal desconocida en esta sucursal.", "terminal"),
    Code.DOES_NOT_EXIST: ("Cobro original desconocido en esta sucursal.", "original"),
    Code.VALIDATION_ERROR: ("Revise los campos indicados en `errors`.", None),
    Code.IDEMPOTENCY_KEY_MISSING: (
        "Todo POST necesita el encabezado Idempotency-Key.",
        "Idempotency-Key",
    ),
    Code.IDEMPOTENCY_KEY_REUSED: ("Este Idempotency-Key ya se usó con otro pedido.", None),
    Code.IDEMPOTENCY_REQUEST_IN_PROGRESS: (
        "Un pedido con este Idempotency-Key todavía está en curso.",
        None,
    ),
    Code.AUTHENTICATION_FAILED: ("La clave de API no existe o fue revocada.", None),
    Code.TERMINAL_BUSY: ("La terminal 38011128 tiene una operación pendiente.", "terminal"),
    Code.TERMINAL_DISABLED: ("La terminal 38011128 está deshabilitada.", "terminal"),
    Code.REFERENCE_IN_USE: (
        "Ya hay un cobro en curso o en duda para la referencia PEDIDO-1042.",
        "reference",
    ),
    Code.REVERSAL_NOT_ALLOWED: ("Solo se anula un cobro aprobado.", None),
    Code.BATCH_CLOSED: ("El lote del cobro ya se cerró: corresponde una devolución.", None),
    Code.REFUND_EXCEEDS_BALANCE: (
        "El importe supera el saldo devolvible ($ 1.000,00).",
        "amount",
    ),
    Code.THROTTLED: ("Demasiados pedidos con esta clave. Reintente en 3 s.", None),
    Code.PROVIDER_REJECTED: ("Prisma rechazó la operación: terminal inexistente.", None),
    Code.PROVIDER_UNAVAILABLE: ("No se pudo contactar a Prisma: tiempo de espera agotado.", None),
}
# Codes that only travel in `errors[].code`: the problem's own code is `validation_error`.
_FIELD_ONLY = frozenset({Code.DOES_NOT_EXIST})


def _problem_example(code: Code) -> OpenApiExample:
    detail, field = _EXAMPLES.get(code, (f"{code.problem_title}.", None))
    errors = [{"field": field, "code": code.value, "detail": detail}] if field else []
    if code in _FIELD_ONLY:
        value = problem_body(
            code=Code.VALIDATION_ERROR, detail=_EXAMPLES[Code.VALIDATION_ERROR][0], errors=errors
        )
    else:
        value = problem_body(code=code, detail=detail, errors=errors)
    return OpenApiExample(
        code.value,
        value=value,
        summary=code.problem_title,
        response_only=True,
        status_codes=[str(code.http_status)],
    )


def problems(*codes: Code) -> dict:
    """`responses=` entries for the codes an operation can answer (plus `EVERY_OPERATION`), as
    problem+json grouped by each code's catalogue status, with one example per code."""
    declared: list[Code] = []
    for item in (*codes, *EVERY_OPERATION):
        code = Code(item)
        if code not in declared:
            declared.append(code)
    by_status: dict[int, list[Code]] = {}
    for code in declared:
        by_status.setdefault(code.http_status, []).append(code)
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer,
            description="; ".join(f"`{code.value}`: {code.problem_title}" for code in status_codes)
            + ".",
            examples=[_problem_example(code) for code in status_codes],
        )
        for status, status_codes in sorted(by_status.items())
    }


PAYMENT_CREATE = """Ofrece un cobro a una terminal (`terminal`) o a varias (`terminals`, la
primera que lo tome lo cobra). Responde `201` con la intención, normalmente `pending` (en la
lista de la terminal). Luego espere el resultado con `GET /intents/{id}?wait=30` o por webhook.

Una misma `reference` no puede tener dos cobros vivos a la vez (`409 reference_in_use`).

Extracción (cash-back): `change_amount` en pesos, además de `amount`; solo con tarjeta de débito
(`method: card`, sin cuotas, `brand` vacío o de débito: EL, PD, MA, C2) y hasta el máximo de la
sucursal (`422 cashback_not_allowed`, `422 cashback_limit_exceeded`). Beneficios QR:
`qr_benefit_code: true` solo con `method: qr` (`422 qr_benefit_not_allowed`).
"""

INTENT_RETRIEVE = """La intención con su estado. Con `?wait=N` (0-30 s) el portal consulta a Prisma
y responde apenas la intención es final o al vencer la espera (con el estado de ese momento):
el POS sabe el resultado dentro del segundo en que la terminal termina."""

INTENT_CANCEL = """Pide a Prisma retirar una intención que todavía espera (`pending`) o está en
proceso. La terminal puede ganar la carrera: la intención termina entonces como la terminal
decidió (`approved`/`declined`); siga consultándola hasta que sea final."""

REVERSAL_CREATE = (
    """Anula un cobro aprobado mientras su lote siga abierto (mismo día). Crea una
intención `reversal` que se ofrece a la terminal que cobró. Si el lote ya cerró (`batch_closed`)
o es American Express, corresponde una devolución (`POST /refunds`).

"""
    + "{approval}"
)

REFUND_CREATE = (
    """Devolución: la tarjeta se presenta de nuevo en la terminal. Con `original` (el
cobro aprobado) el importe no puede superar su saldo devolvible
(`422 refund_exceeds_balance`) ni estar fuera del plazo de devolución de su marca
(`422 refund_window_expired`). Sin `original`, solo claves configuradas para eso
(`403 unreferenced_refund_not_allowed`). La suma del día no puede superar el límite diario de la
sucursal (`422 daily_refund_limit_exceeded`).

"""
    + "{approval}"
)

WEBHOOK_REGISTER = """Registra (o reemplaza) la URL que recibe los eventos de las intenciones de
esta clave. La respuesta trae `secret` **una sola vez**: guárdelo para verificar las firmas (ver la
receta en la descripción general). Debe ser https; http solo a localhost en desarrollo."""

PAYMENT_REQUEST_EXAMPLE = OpenApiExample(
    "Cobro en una terminal",
    value={
        "terminal": "0b7a6a4e-7f0c-4a8e-9a57-3f1f4c2b9d10",
        "amount": "1500.00",
        "installments": 1,
        "method": "card",
        "reference": "PEDIDO-1042",
        "menu_text": "Pedido 1042",
        "print_copies": "BOTH",
    },
    request_only=True,
)

PAYMENT_MULTI_REQUEST_EXAMPLE = OpenApiExample(
    "Cobro en 3 cuotas ofrecido a dos terminales, solo Visa",
    value={
        "terminals": [
            "0b7a6a4e-7f0c-4a8e-9a57-3f1f4c2b9d10",
            "5d2c1b9a-8e7f-4a6b-9c3d-2e1f0a9b8c7d",
        ],
        "amount": "45999.90",
        "installments": 3,
        "brand": "VI",
        "reference": "PEDIDO-1043",
    },
    request_only=True,
)

REFUND_REQUEST_EXAMPLE = OpenApiExample(
    "Devolución parcial de un cobro",
    value={
        "terminal": "0b7a6a4e-7f0c-4a8e-9a57-3f1f4c2b9d10",
        "amount": "500.00",
        "original": "9a3e2f1c-4b5d-4e6f-8a7b-1c2d3e4f5a6b",
    },
    request_only=True,
)

APPROVAL_FLOW = """**Aprobación de otra persona (maker-checker).** Si el importe supera el umbral de
la sucursal, la respuesta es `202 Accepted` con la intención en `approval_pending`: **no se envía a
la terminal** hasta que otra persona con permiso la apruebe en el portal (nunca quien la pidió).
`approval_expires_at` dice hasta cuándo. Siga la intención con `GET /intents/{id}?wait=30` o por
webhook: aprobada pasa a `created`/`pending` y sigue como cualquier otra; rechazada, retirada
(`POST /intents/{id}/cancel`) o vencida termina `cancelled`. Por debajo del umbral nada cambia:
`201` como siempre."""
REVERSAL_CREATE = REVERSAL_CREATE.format(approval=APPROVAL_FLOW)
REFUND_CREATE = REFUND_CREATE.format(approval=APPROVAL_FLOW)

_TERMINAL = {
    "id": "0b7a6a4e-7f0c-4a8e-9a57-3f1f4c2b9d10",
    "terminal_id": "38011128",
    "label": "Caja 1",
}
_INTENT_ID = "9a3e2f1c-4b5d-4e6f-8a7b-1c2d3e4f5a6b"
_LINKS = {"self": f"/api/v1/intents/{_INTENT_ID}", "wait": f"/api/v1/intents/{_INTENT_ID}?wait=30"}
_INTENT_BASE = {
    "id": _INTENT_ID,
    "kind": "payment",
    "amount": "1500.00",
    "installments": 1,
    "method": "card",
    "brand_restriction": "",
    "change_amount": "0.00",
    "qr_benefit_code": None,
    "approval_expires_at": None,
    "reference": "PEDIDO-1042",
    "menu_text": "Pedido 1042",
    "print_copies": "BOTH",
    "offered_terminals": [_TERMINAL],
    "original_id": None,
    "needs_attention": False,
    "created_at": "2025-05-02T14:03:11.120000-03:00",
}

INTENT_PENDING_EXAMPLE = OpenApiExample(
    "Cobro ofrecido",
    value={
        **_INTENT_BASE,
        "state": "pending",
        "is_final": False,
        "provider_status": "PAYMENT_REQUEST",
        "provider_id": "c1d2e3f4-0000-4a4a-8b8b-123456789abc",
        "authorized_amount": None,
        "terminal": None,
        "card": None,
        "authorization_code": "",
        "ticket_number": "",
        "batch_number": None,
        "response_code": "",
        "response_message": "",
        "receipts": {"client": "", "merchant": ""},
        "updated_at": "2025-05-02T14:03:11.480000-03:00",
        "taken_at": None,
        "finished_at": None,
        "links": {**_LINKS, "cancel": f"/api/v1/intents/{_INTENT_ID}/cancel"},
    },
    response_only=True,
    status_codes=["201"],
)

APPROVAL_PENDING_RESPONSE = OpenApiResponse(
    IntentOutputSerializer,
    description="Supera el umbral de la sucursal: la intención espera la aprobación de otra "
    "persona (`approval_pending`) y no se envió a la terminal.",
    examples=[
        OpenApiExample(
            "Devolución esperando aprobación",
            value={
                **_INTENT_BASE,
                "kind": "refund",
                "amount": "250000.00",
                "state": "approval_pending",
                "is_final": False,
                "provider_status": "",
                "provider_id": "",
                "authorized_amount": None,
                "approval_expires_at": "2025-05-02T15:03:11.120000-03:00",
                "terminal": _TERMINAL,
                "card": None,
                "authorization_code": "",
                "ticket_number": "",
                "batch_number": None,
                "response_code": "",
                "response_message": "",
                "receipts": {"client": "", "merchant": ""},
                "updated_at": "2025-05-02T14:03:11.120000-03:00",
                "taken_at": None,
                "finished_at": None,
                "links": {**_LINKS, "cancel": f"/api/v1/intents/{_INTENT_ID}/cancel"},
            },
            response_only=True,
            status_codes=["202"],
        )
    ],
)

INTENT_APPROVED_EXAMPLE = OpenApiExample(
    "Cobro aprobado",
    value={
        **_INTENT_BASE,
        "state": "approved",
        "is_final": True,
        "provider_status": "CONFIRMED",
        "provider_id": "c1d2e3f4-0000-4a4a-8b8b-123456789abc",
        "authorized_amount": "1500.00",
        "terminal": _TERMINAL,
        "card": {
            "brand": "VISA",
            "brand_code": "VI",
            "last_four": "4242",
            "payment_type": "CREDIT",
            "entry_mode": "CHIP_CONTACTLESS",
        },
        "authorization_code": "123456",
        "ticket_number": "0042",
        "batch_number": 17,
        "response_code": "00",
        "response_message": "APROBADA",
        "receipts": {"client": "COMERCIO DE PRUEBA\n...\nAPROBADA", "merchant": "..."},
        "updated_at": "2025-05-02T14:03:40.010000-03:00",
        "taken_at": "2025-05-02T14:03:25.300000-03:00",
        "finished_at": "2025-05-02T14:03:39.870000-03:00",
        "links": {**_LINKS, "reversal": f"/api/v1/payments/{_INTENT_ID}/reversal"},
    },
    response_only=True,
    status_codes=["200"],
)
