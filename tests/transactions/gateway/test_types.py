"""Request bodies and answer parsing, field by field against the contract's examples
(`prisma-ecr-examples.json`; the bodies are copied here so the tests stand alone)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from transactions.gateway import IntentAnswer, PaymentRequest, RefundRequest, ReversalRequest

EXAMPLE_PAYMENT_BODY = {
    "payment_request_data": {
        "subnet_acquirer_id": "9",
        "payment_amount": "152050",
        "terminal_menu_text": "Pedido 4411 $1.520,50",
        "ecr_transaction_id": "POS7-000004411",
        "installments_number": 3,
        "ecr_provider": "ECR Portal",
        "ecr_name": "ECR Portal",
        "ecr_version": "1.0.0",
        "change_amount": "0",
        "bank_account_type": None,
        "payment_plan_id": None,
        "print_method": "MOBITEF_NON_FISCAL",
        "print_copies": "BOTH",
        "terminals_list": [{"terminal_id": "38011127"}, {"terminal_id": "38011128"}],
        "card_brand_product": None,
        "terminal_operation_method": "CARD",
        "qr_benefit_code": None,
        "trx_receipt_notes": "Gracias por su compra",
        "card_holder_id": None,
    }
}

EXAMPLE_PAYMENT_CONFIRMED = {
    "payment_request_data": {"ecr_transaction_id": "POS7-000004411"},
    "payment_data": {
        "payment_id": "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10",
        "payment_status": "CONFIRMED",
        "payment_request_date": "2026-11-27T15:04:05.123-03:00",
        "payment_status_date": "2026-11-27T15:04:41.870-03:00",
        "payment_type": "CREDIT",
        "merchant_id": "0012345678",
        "merchant_name": "ALMACEN DEMO SA",
        "cuit_cuil": "30-71234567-1",
        "terminal_id": "38011128",
        "terminal_serial": "6A123456",
        "terminal_model": "A910",
        "mobitef_app_vers": "2.11.3",
        "authorized_payment_amount": "152050",
        "change_amount": "0",
        "installments_number": 3,
        "bank_account_type": None,
        "payment_plan_id": None,
        "acquirer_id": "PRISMA",
        "card_brand_product": "VI",
        "card_brand": "VISA",
        "card_type": "CHIP_CONTACTLESS",
        "bin": "450799",
        "last_four_digits": "0010",
        "card_holder": "GOMEZ/ANA",
        "card_holder_id": None,
        "client_transaction_id": 4411,
        "transaction_receipt": 87,
        "batch_number": 112,
        "qr_code_id": None,
        "qr_original_amount": None,
        "acquirer_response_code": "00",
        "acquirer_additional_message": "APROBADA",
        "acquirer_response_date": "2026-11-27T15:04:40-03:00",
        "authorization_code": "A1B2C3",
        "payment_auth_nsu": "000123456789",
        "client_receipt_detail": "ALMACEN DEMO SA\nVISA ****0010\nCUOTAS 3",
        "merchant_receipt_detail": "...",
        "trx_receipt_notes": "Gracias por su compra",
        "order_notes": None,
    },
}


def test_payment_body_matches_the_example_exactly():
    request = PaymentRequest(
        amount=Decimal("1520.50"),
        terminal_ids=["38011127", "38011128"],
        menu_text="Pedido 4411 $1.520,50",
        reference="POS7-000004411",
        installments=3,
        receipt_notes="Gracias por su compra",
    )
    body = request.wire_body(subnet_acquirer_id="9", ecr_version="1.0.0")
    assert body == EXAMPLE_PAYMENT_BODY
    assert list(body["payment_request_data"]) == list(EXAMPLE_PAYMENT_BODY["payment_request_data"])
    assert "currency_code" not in body["payment_request_data"]


def test_payment_body_qr_and_brand():
    body = PaymentRequest(
        amount=Decimal("15"),
        terminal_ids=["38011128"],
        menu_text="QR",
        brand="VI",
        method="QR_CODE",
        print_copies="NONE",
    ).wire_body(subnet_acquirer_id="2", ecr_version="9.9")
    data = body["payment_request_data"]
    assert data["terminal_operation_method"] == "QR_CODE"
    assert data["card_brand_product"] == "VI"
    assert data["print_copies"] == "NONE"
    assert data["payment_amount"] == "1500"
    assert data["subnet_acquirer_id"] == "2"
    assert data["ecr_version"] == "9.9"


def test_reversal_body_matches_the_example_exactly():
    body = ReversalRequest(
        payment_id="476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10",
        terminal_ids=["38011128"],
        menu_text="Anulación pedido 4411",
        reference="POS7-000004411-A",
    ).wire_body(subnet_acquirer_id="9", ecr_version="1.0.0")
    assert body == {
        "reversal_request_data": {
            "subnet_acquirer_id": "9",
            "payment_id": "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10",
            "ecr_transaction_id": "POS7-000004411-A",
            "terminal_menu_text": "Anulación pedido 4411",
            "print_copies": "BOTH",
            "terminals_list": [{"terminal_id": "38011128"}],
        }
    }


def test_refund_body_is_flat_and_matches_the_example_exactly():
    body = RefundRequest(
        amount=Decimal("500.00"),
        terminal_ids=["38011128"],
        menu_text="Devolución pedido 4411",
        reference="POS7-000004411-D1",
        brand="VI",
    ).wire_body(subnet_acquirer_id="9", ecr_version="1.0.0")
    assert body == {
        "subnet_acquirer_id": "9",
        "ecr_transaction_id": "POS7-000004411-D1",
        "terminal_menu_text": "Devolución pedido 4411",
        "print_copies": "BOTH",
        "ecr_provider": "ECR Portal",
        "ecr_name": "ECR Portal",
        "ecr_version": "1.0.0",
        "refund_amount": "50000",
        "card_brand_product": "VI",
        "terminals_list": [{"terminal_id": "38011128"}],
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": Decimal("1.001")},
        {"amount": Decimal("0")},
        {"amount": 15.5},
        {"terminal_ids": []},
        {"menu_text": ""},
        {"menu_text": "x" * 41},
        {"method": "CASH"},
        {"print_copies": "ALL"},
        {"installments": 0},
    ],
)
def test_payment_request_refuses_bad_values(kwargs):
    base = {"amount": Decimal("10"), "terminal_ids": ["38011128"], "menu_text": "Pedido"}
    with pytest.raises(ValueError):
        PaymentRequest(**{**base, **kwargs})


def test_payment_answer_field_by_field():
    answer = IntentAnswer.parse("payment", EXAMPLE_PAYMENT_CONFIRMED)
    assert answer.kind == "payment"
    assert answer.provider_id == "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10"
    assert answer.status == "CONFIRMED"
    assert answer.request_date == datetime(2026, 11, 27, 18, 4, 5, 123000, tzinfo=UTC)
    assert answer.status_date == datetime(2026, 11, 27, 18, 4, 41, 870000, tzinfo=UTC)
    assert answer.terminal_id == "38011128"
    assert answer.payment_type == "CREDIT"
    assert answer.acquirer_id == "PRISMA"
    assert answer.card_brand_product == "VI"
    assert answer.card_brand == "VISA"
    assert answer.entry_mode == "CHIP_CONTACTLESS"
    assert answer.bin == "450799"
    assert answer.last_four == "0010"
    assert answer.authorized_amount == Decimal("1520.50")
    assert answer.installments == 3
    assert answer.ticket_number == "87"
    assert answer.batch_number == 112
    assert answer.authorization_code == "A1B2C3"
    assert answer.response_code == "00"
    assert answer.response_message == "APROBADA"
    assert answer.client_receipt.startswith("ALMACEN DEMO SA")
    assert answer.merchant_receipt == "..."
    assert answer.reference == "POS7-000004411"
    assert answer.reversed_payment is None
    # Fields without an attribute are kept; card holder data is not, anywhere.
    assert answer.extra["terminal_serial"] == "6A123456"
    assert answer.extra["payment_auth_nsu"] == "000123456789"
    assert "card_holder" not in answer.extra
    assert "card_holder" not in answer.raw["payment_data"]
    assert "GOMEZ" not in repr(answer.raw)
    assert answer.raw["payment_data"]["bin"] == "450799"


def test_unknown_status_and_fields_are_kept_verbatim():
    answer = IntentAnswer.parse(
        "payment",
        {
            "payment_data": {
                "payment_id": "p-1",
                "payment_status": "PENDING_SOMETHING_NEW",
                "payment_status_date": "ayer",
                "authorized_payment_amount": "no-number",
                "installments_number": "tres",
                "brand_new_field": {"nested": [1, 2]},
            },
            "surprise": True,
        },
    )
    assert answer.status == "PENDING_SOMETHING_NEW"
    assert answer.status_date is None
    assert answer.authorized_amount is None
    assert answer.installments is None
    assert answer.extra["brand_new_field"] == {"nested": [1, 2]}
    assert answer.raw["surprise"] is True


@pytest.mark.parametrize("body", [None, [], "texto", 42, {}, {"payment_data": "x"}])
def test_odd_bodies_never_raise(body):
    answer = IntentAnswer.parse("payment", body)
    assert answer.provider_id is None and answer.status is None


def test_reversal_answer_with_nested_payment():
    answer = IntentAnswer.parse(
        "reversal",
        {
            "reversal_request_data": {"ecr_transaction_id": "POS7-000004411-A"},
            "reversal_data": {
                "payment_id": "9b1d0c7e-8a51-4a3e-a7c2-0f6b2d1e3c44",
                "reversal_status": "REVERSED",
                "reversal_request_date": "2026-11-27T16:10:00-03:00",
                "reversal_status_date": "2026-11-27T16:10:30-03:00",
                "terminal_id": "38011128",
                "payment_data": EXAMPLE_PAYMENT_CONFIRMED["payment_data"],
            },
        },
    )
    assert answer.kind == "reversal"
    assert answer.provider_id == "9b1d0c7e-8a51-4a3e-a7c2-0f6b2d1e3c44"
    assert answer.status == "REVERSED"
    assert answer.request_date == datetime(2026, 11, 27, 19, 10, tzinfo=UTC)
    assert answer.terminal_id == "38011128"
    assert answer.reference == "POS7-000004411-A"
    nested = answer.reversed_payment
    assert nested.kind == "payment"
    assert nested.provider_id == "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10"
    assert nested.status == "CONFIRMED"
    assert nested.authorized_amount == Decimal("1520.50")
    assert "payment_data" not in answer.extra
    assert "GOMEZ" not in repr(answer.raw)


@pytest.mark.parametrize("request_key", ["refund_request", "refund_request_data"])
def test_refund_answer_on_create_and_read(request_key):
    answer = IntentAnswer.parse(
        "refund",
        {
            request_key: {"ecr_transaction_id": "POS7-000004411-D1", "refund_amount": "50000"},
            "refund_data": {
                "refund_id": "c0ffee00-1d2e-4f50-8a9b-1c2d3e4f5a6b",
                "refund_status": "CONFIRMED",
                "refund_request_date": "2026-11-28T10:00:00-03:00",
                "refund_status_date": "2026-11-28T10:00:20-03:00",
                "refunds_transaction_receipt": 91,
                "batch_number": 113,
                "authorization_code": "Z9Y8X7",
                "acquirer_response_code": "00",
                "refund_amount": "50000",
                "card_brand_product": "VI",
                "error": None,
            },
        },
    )
    assert answer.kind == "refund"
    assert answer.provider_id == "c0ffee00-1d2e-4f50-8a9b-1c2d3e4f5a6b"
    assert answer.status == "CONFIRMED"
    assert answer.ticket_number == "91"
    assert answer.batch_number == 113
    assert answer.authorization_code == "Z9Y8X7"
    assert answer.authorized_amount == Decimal("500.00")
    assert answer.reference == "POS7-000004411-D1"
    assert answer.status_date == datetime(2026, 11, 28, 13, 0, 20, tzinfo=UTC)


def test_settlement_answer():
    answer = IntentAnswer.parse(
        "settlement",
        {
            "settlements_data": {
                "settlement_id": "5e77a1b2-3c4d-4e5f-9a0b-1c2d3e4f5a6b",
                "terminal_id": "38011128",
                "print_receipt": True,
                "settlement_status": "CONFIRMED",
                "settlement_status_date": "2026-11-27T22:00:31-03:00",
                "settlement_request_date": "2026-11-27T22:00:00-03:00",
                "acquirer_response_code": "00",
                "acquirer_additional_message": "CIERRE OK",
                "batch_number": 112,
                "merchant_receipt_detail": "CIERRE DE LOTE 112\nTOTAL CANT 21 $ 302.190,00",
            }
        },
    )
    assert answer.kind == "settlement"
    assert answer.provider_id == "5e77a1b2-3c4d-4e5f-9a0b-1c2d3e4f5a6b"
    assert answer.status == "CONFIRMED"
    assert answer.terminal_id == "38011128"
    assert answer.batch_number == 112
    assert answer.response_message == "CIERRE OK"
    assert answer.merchant_receipt.startswith("CIERRE DE LOTE 112")
    assert answer.status_date == datetime(2026, 11, 28, 1, 0, 31, tzinfo=UTC)
    assert answer.extra["print_receipt"] is True
