"""The operations of the contract (§2), each one a `_request()` with its path, kind and parser.

Split out of the client so the provider's API surface (paths, query parameters, which calls are
creates, reads or cancels, and how each answer is parsed) reads as one list, apart from how a
request is sent. The CUIT and ids are validated here, before anything leaves the process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from stores.validators import normalize_cuit
from transactions.gateway.classify import CallKind
from transactions.gateway.errors import AuthenticationFailed, GatewayError
from transactions.gateway.types import (
    EcrIdentity,
    IntentAnswer,
    PaymentRequest,
    RefundRequest,
    ReversalRequest,
)

PAYMENTS = "/v1/paystore_terminals/terminal_payments/payments"
REVERSALS = "/v1/paystore_terminals/terminal_reversals/reversals"
REFUNDS = "/v1/paystore_terminals/terminal_refunds/refunds"
SETTLEMENTS = "/v1/paystore_terminals/terminal_settlements/settlements"
LIVENESS_PATH = "/health/liveness"

_CUIT_DIGITS = re.compile(r"^\d{11}$")


class ProviderOperations:
    """The operations half of `PrismaGateway` (a mixin: it is not used on its own).

    The host class provides `_request()`, `subnet_acquirer_id`, `ecr_identity` and
    `sandbox_fields`.
    """

    subnet_acquirer_id: str
    ecr_identity: EcrIdentity
    sandbox_fields: dict[str, str]
    _request: Callable[..., Any]

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
            subnet_acquirer_id=self.subnet_acquirer_id,
            ecr_version=self.ecr_identity.version,
            ecr_provider=self.ecr_identity.provider,
            ecr_name=self.ecr_identity.name,
            sandbox_fields=self.sandbox_fields,
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
