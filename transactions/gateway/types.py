"""Typed requests and answers of the gateway.

Requests validate themselves on construction (a bad amount is a `ValueError` before anything is
sent) and know their wire body (contract §3). Answers of all four families are normalised into
one `IntentAnswer`; statuses are kept verbatim, unknown fields land in `extra`, and nothing in an
answer can make parsing raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from transactions.gateway.convert import (
    from_cents,
    parse_datetime,
    redact,
    to_cents,
    to_int,
    to_str,
)

ECR_NAME = "ECR Portal"
# Contract §6: the provider's sandbox demands these fixed fields on every money-moving body.
SANDBOX_FIXED_FIELDS: dict[str, str] = {"merchant_group_code": "1238494234", "currency_code": "032"}


@dataclass(frozen=True)
class EcrIdentity:
    """`ecr_provider`, `ecr_name` and `ecr_version` as the credential's registration declared."""

    provider: str = ECR_NAME
    name: str = ECR_NAME
    version: str = ""


MENU_TEXT_MAX = 40
METHODS = frozenset({"CARD", "QR_CODE"})
PRINT_COPIES = frozenset({"MERCHANT_ONLY", "CUSTOMER_ONLY", "BOTH", "NONE"})


def _check_common(terminal_ids: list[str], menu_text: str, print_copies: str) -> None:
    if not terminal_ids or not all(isinstance(t, str) and t for t in terminal_ids):
        raise ValueError("hace falta al menos una terminal")
    if not menu_text or len(menu_text) > MENU_TEXT_MAX:
        raise ValueError(f"el texto de la terminal debe tener entre 1 y {MENU_TEXT_MAX} caracteres")
    if print_copies not in PRINT_COPIES:
        raise ValueError(f"print_copies inválido: {print_copies!r}")


def _terminals_list(terminal_ids: list[str]) -> list[dict[str, str]]:
    return [{"terminal_id": terminal_id} for terminal_id in terminal_ids]


@dataclass(frozen=True)
class PaymentRequest:
    """A payment intention (cobro) offered to one or more terminals."""

    amount: Decimal
    terminal_ids: list[str]
    menu_text: str
    reference: str | None = None
    installments: int = 1
    brand: str | None = None
    method: str = "CARD"  # or "QR_CODE"
    print_copies: str = "BOTH"
    receipt_notes: str | None = None
    card_holder_id: str | None = None
    # Cash-back on a debit payment (contract §3), in pesos; 0 is "no cash-back".
    change_amount: Decimal = Decimal(0)
    # Allow benefit cards on a QR payment (contract §3); None: not asked.
    qr_benefit_code: bool | None = None

    def __post_init__(self) -> None:
        to_cents(self.amount)
        if self.change_amount:
            to_cents(self.change_amount)
        _check_common(self.terminal_ids, self.menu_text, self.print_copies)
        if self.method not in METHODS:
            raise ValueError(f"método inválido: {self.method!r}")
        if isinstance(self.installments, bool) or not isinstance(self.installments, int):
            raise ValueError("las cuotas deben ser un entero")
        if not 1 <= self.installments <= 99:
            raise ValueError("las cuotas deben estar entre 1 y 99")

    def wire_body(
        self,
        *,
        subnet_acquirer_id: str,
        ecr_version: str,
        ecr_provider: str = ECR_NAME,
        ecr_name: str = ECR_NAME,
        sandbox_fields: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """`{"payment_request_data": {...}}` exactly as contract §3 and the examples, plus the
        sandbox's fixed fields (§6) when given."""
        return {
            "payment_request_data": {
                **(sandbox_fields or {}),
                "subnet_acquirer_id": subnet_acquirer_id,
                "payment_amount": to_cents(self.amount),
                "terminal_menu_text": self.menu_text,
                "ecr_transaction_id": self.reference,
                "installments_number": self.installments,
                "ecr_provider": ecr_provider,
                "ecr_name": ecr_name,
                "ecr_version": ecr_version,
                "change_amount": to_cents(self.change_amount) if self.change_amount else "0",
                "bank_account_type": None,
                "payment_plan_id": None,
                "print_method": "MOBITEF_NON_FISCAL",
                "print_copies": self.print_copies,
                "terminals_list": _terminals_list(self.terminal_ids),
                "card_brand_product": self.brand,
                "terminal_operation_method": self.method,
                "qr_benefit_code": self.qr_benefit_code,
                "trx_receipt_notes": self.receipt_notes,
                "card_holder_id": self.card_holder_id,
            }
        }


@dataclass(frozen=True)
class ReversalRequest:
    """A reversal (anulación) of a whole approved payment, same open batch."""

    payment_id: str
    terminal_ids: list[str]
    menu_text: str
    reference: str | None = None
    print_copies: str = "BOTH"

    def __post_init__(self) -> None:
        if not self.payment_id:
            raise ValueError("falta el payment_id a anular")
        _check_common(self.terminal_ids, self.menu_text, self.print_copies)

    def wire_body(
        self, *, subnet_acquirer_id: str, ecr_version: str, **_identity
    ) -> dict[str, Any]:
        # A reversal carries no ECR identity nor sandbox fields (contract §3).
        return {
            "reversal_request_data": {
                "subnet_acquirer_id": subnet_acquirer_id,
                "payment_id": self.payment_id,
                "ecr_transaction_id": self.reference,
                "terminal_menu_text": self.menu_text,
                "print_copies": self.print_copies,
                "terminals_list": _terminals_list(self.terminal_ids),
            }
        }


@dataclass(frozen=True)
class RefundRequest:
    """A refund (devolución): the card is presented again; no link to the payment on the wire."""

    amount: Decimal
    terminal_ids: list[str]
    menu_text: str
    reference: str | None = None
    brand: str | None = None
    print_copies: str = "BOTH"

    def __post_init__(self) -> None:
        to_cents(self.amount)
        _check_common(self.terminal_ids, self.menu_text, self.print_copies)

    def wire_body(
        self,
        *,
        subnet_acquirer_id: str,
        ecr_version: str,
        ecr_provider: str = ECR_NAME,
        ecr_name: str = ECR_NAME,
        sandbox_fields: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The refund body is flat (no wrapper), contract §3."""
        return {
            **(sandbox_fields or {}),
            "subnet_acquirer_id": subnet_acquirer_id,
            "ecr_transaction_id": self.reference,
            "terminal_menu_text": self.menu_text,
            "print_copies": self.print_copies,
            "ecr_provider": ecr_provider,
            "ecr_name": ecr_name,
            "ecr_version": ecr_version,
            "refund_amount": to_cents(self.amount),
            "card_brand_product": self.brand,
            "terminals_list": _terminals_list(self.terminal_ids),
        }


# --- Answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    kind: str
    data_keys: tuple[str, ...]
    request_keys: tuple[str, ...]
    id_field: str
    status_field: str
    request_date_field: str
    status_date_field: str
    amount_fields: tuple[str, ...]
    ticket_fields: tuple[str, ...]


_FAMILIES = {
    "payment": _Family(
        "payment",
        ("payment_data",),
        ("payment_request_data",),
        "payment_id",
        "payment_status",
        "payment_request_date",
        "payment_status_date",
        ("authorized_payment_amount",),
        ("transaction_receipt",),
    ),
    "reversal": _Family(
        "reversal",
        ("reversal_data",),
        ("reversal_request_data",),
        "payment_id",
        "reversal_status",
        "reversal_request_date",
        "reversal_status_date",
        (),
        ("transaction_receipt",),
    ),
    "refund": _Family(
        "refund",
        ("refund_data",),
        ("refund_request", "refund_request_data"),
        "refund_id",
        "refund_status",
        "refund_request_date",
        "refund_status_date",
        ("refund_amount", "authorized_refund_amount", "authorized_payment_amount"),
        ("refunds_transaction_receipt", "transaction_receipt"),
    ),
    "settlement": _Family(
        "settlement",
        ("settlements_data", "settlement_data"),
        ("settlements_request_data", "settlement_request_data"),
        "settlement_id",
        "settlement_status",
        "settlement_request_date",
        "settlement_status_date",
        (),
        (),
    ),
}

# Fields read into named attributes, the same name in every family.
_COMMON_FIELDS = (
    "terminal_id",
    "payment_type",
    "acquirer_id",
    "card_brand_product",
    "card_brand",
    "card_type",
    "bin",
    "last_four_digits",
    "installments_number",
    "batch_number",
    "authorization_code",
    "acquirer_response_code",
    "acquirer_additional_message",
    "client_receipt_detail",
    "merchant_receipt_detail",
    "ecr_transaction_id",
)


def _first(data: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        if data.get(name) not in (None, ""):
            return data[name]
    return None


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class IntentAnswer:
    """One provider answer of any family, normalised.

    `status` is the provider's word verbatim (unknown ones included); dates are aware UTC or None;
    amounts are `Decimal` pesos. `raw` is the whole answer body, redacted (no card holder, no full
    card number). `extra` holds the fields of the answer's data object that have no attribute
    here (merchant_id, terminal_serial, unknown fields...), redacted but otherwise verbatim.
    """

    kind: str
    provider_id: str | None = None
    status: str | None = None
    request_date: datetime | None = None
    status_date: datetime | None = None
    terminal_id: str | None = None
    payment_type: str | None = None
    acquirer_id: str | None = None
    card_brand_product: str | None = None
    card_brand: str | None = None
    entry_mode: str | None = None
    bin: str | None = None
    last_four: str | None = None
    authorized_amount: Decimal | None = None
    installments: int | None = None
    ticket_number: str | None = None
    batch_number: int | None = None
    authorization_code: str | None = None
    response_code: str | None = None
    response_message: str | None = None
    client_receipt: str | None = None
    merchant_receipt: str | None = None
    reference: str | None = None
    reversed_payment: IntentAnswer | None = None
    raw: dict = field(default_factory=dict, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, kind: str, body: Any) -> IntentAnswer:
        """Reads a create/get/cancel answer of `kind`. Never raises on odd content."""
        family = _FAMILIES[kind]
        if not isinstance(body, dict):
            return cls(kind=kind, raw={"body": redact(body)})
        data = None
        for key in family.data_keys:
            if isinstance(body.get(key), dict):
                data = body[key]
                break
        if data is None:
            # Tolerate an answer that is the data object itself, without the envelope.
            data = body if family.id_field in body or family.status_field in body else {}
        request = {}
        for key in family.request_keys:
            if isinstance(body.get(key), dict):
                request = body[key]
                break
        return cls._from_data(family, data, request, raw=redact(body))

    @classmethod
    def _from_data(cls, family: _Family, data: dict, request: dict, *, raw: dict) -> IntentAnswer:
        safe = redact(data)
        used = {
            family.id_field,
            family.status_field,
            family.request_date_field,
            family.status_date_field,
            *family.amount_fields,
            *family.ticket_fields,
            *_COMMON_FIELDS,
        }
        reversed_payment = None
        if family.kind == "reversal" and isinstance(data.get("payment_data"), dict):
            used.add("payment_data")
            nested = data["payment_data"]
            reversed_payment = cls._from_data(
                _FAMILIES["payment"], nested, {}, raw=redact({"payment_data": nested})
            )
        reference = _first(_as_dict(request), ("ecr_transaction_id",))
        if reference is None:
            reference = data.get("ecr_transaction_id")
        return cls(
            kind=family.kind,
            provider_id=to_str(data.get(family.id_field)),
            status=to_str(data.get(family.status_field)),
            request_date=parse_datetime(data.get(family.request_date_field)),
            status_date=parse_datetime(data.get(family.status_date_field)),
            terminal_id=to_str(data.get("terminal_id")),
            payment_type=to_str(data.get("payment_type")),
            acquirer_id=to_str(data.get("acquirer_id")),
            card_brand_product=to_str(data.get("card_brand_product")),
            card_brand=to_str(data.get("card_brand")),
            entry_mode=to_str(data.get("card_type")),
            bin=to_str(data.get("bin")),
            last_four=to_str(data.get("last_four_digits")),
            authorized_amount=from_cents(_first(data, family.amount_fields)),
            installments=to_int(data.get("installments_number")),
            ticket_number=to_str(_first(data, family.ticket_fields)),
            batch_number=to_int(data.get("batch_number")),
            authorization_code=to_str(data.get("authorization_code")),
            response_code=to_str(data.get("acquirer_response_code")),
            response_message=to_str(data.get("acquirer_additional_message")),
            client_receipt=to_str(data.get("client_receipt_detail")),
            merchant_receipt=to_str(data.get("merchant_receipt_detail")),
            reference=to_str(reference),
            reversed_payment=reversed_payment,
            raw=raw,
            extra={key: value for key, value in safe.items() if key not in used},
        )
