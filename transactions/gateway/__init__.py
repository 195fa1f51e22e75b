"""The provider gateway: the only code in the project that speaks HTTP to Prisma / Payway.

Use `gateway_for(credential)` and its keyword-only methods (`payment_create`, `payment_get`, ...).
Every call either returns a typed `IntentAnswer` or raises `GatewayError`, whose `retryable` and
`in_doubt` say what the caller may do next. Every HTTP exchange leaves a `GatewayCall` row
except the idle reads of a poll, which are counted and sampled (`provider_reads_held`).

`payment_search` is not in the public contract; its body is the one the simulator defines:
`POST .../payments/searches?cuit_cuil=` with `{"ecr_transaction_id", "terminal_id", "date_from",
"date_to"}` (ISO dates) answering `{"payments": [{"payment_request_data", "payment_data"}, ...]}`.
"""

from transactions.gateway.client import (
    IDLE_READS,
    CallHold,
    PrismaGateway,
    gateway_for,
    provider_calls_held,
    provider_reads_held,
    reset_gateways,
)
from transactions.gateway.errors import AuthenticationFailed, GatewayError, ProviderRejected
from transactions.gateway.types import (
    IntentAnswer,
    PaymentRequest,
    RefundRequest,
    ReversalRequest,
)

__all__ = [
    "IDLE_READS",
    "AuthenticationFailed",
    "CallHold",
    "GatewayError",
    "IntentAnswer",
    "PaymentRequest",
    "PrismaGateway",
    "ProviderRejected",
    "RefundRequest",
    "ReversalRequest",
    "gateway_for",
    "provider_calls_held",
    "provider_reads_held",
    "reset_gateways",
]
