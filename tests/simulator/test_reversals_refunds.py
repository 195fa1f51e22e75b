"""Reversals (anulaciones) and refunds (devoluciones)."""

import pytest

from tests.simulator.support import T1, T2, paid_payment
from tests.simulator.test_payments import DATE, assert_error

pytestmark = pytest.mark.django_db


def _settle(api, terminal_id=T2):
    settlement_id = api.create_settlement(terminal_id).json()["settlements_data"]["settlement_id"]
    return settlement_id


def test_reversal_of_an_approved_payment_in_the_open_batch(api, control, clock):
    payment = paid_payment(api, control)["payment_data"]
    clock.shift(60)

    created = api.create_reversal(payment["payment_id"])
    assert created.status_code == 200
    answer = created.json()
    assert set(answer) == {"reversal_request_data", "reversal_data"}
    assert answer["reversal_request_data"]["payment_id"] == payment["payment_id"]
    data = answer["reversal_data"]
    assert set(data) == {
        "payment_id", "reversal_status", "reversal_request_date", "reversal_status_date",
    }  # fmt: skip
    assert data["reversal_status"] == "REVERSAL_REQUEST"
    assert data["payment_id"] != payment["payment_id"]
    assert DATE.match(data["reversal_request_date"])
    reversal_id = data["payment_id"]

    # Offered to the payment's terminal; a person confirms it there.
    assert [i["id"] for i in control.get(f"terminals/{T2}")["pending"]] == [reversal_id]
    picked = control.pick(T2, reversal_id)
    assert picked["status"] == "PROCESSING_REVERSAL"
    assert api.get_reversal(reversal_id).json()["reversal_data"]["reversal_status"] == (
        "PROCESSING_REVERSAL"
    )
    assert control.act(T2, "pay").status_code == 200

    read = api.get_reversal(reversal_id).json()
    assert read["reversal_data"]["reversal_status"] == "REVERSED"
    nested = read["reversal_data"]["payment_data"]
    assert nested["payment_id"] == payment["payment_id"]
    # Documented choice: the annulled payment itself stays CONFIRMED.
    assert nested["payment_status"] == "CONFIRMED"
    assert api.get_payment(payment["payment_id"]).json()["payment_data"]["payment_status"] == (
        "CONFIRMED"
    )
    # Reversed once is enough.
    assert_error(api.create_reversal(payment["payment_id"]), 409, "ya fue anulado")


def test_reversal_refused_after_the_batch_closed(api, control, clock):
    payment = paid_payment(api, control)["payment_data"]
    _settle(api)
    clock.shift(2)
    assert_error(api.create_reversal(payment["payment_id"]), 409, "lote del pago ya fue cerrado")


def test_reversal_refused_for_amex(api, control):
    payment = paid_payment(api, control, card="amex")["payment_data"]
    assert payment["acquirer_id"] == "AMEX"
    assert_error(api.create_reversal(payment["payment_id"]), 409, "American Express")


def test_reversal_refused_for_a_declined_payment(api, control):
    payment = paid_payment(api, control, card="declinada")["payment_data"]
    assert_error(api.create_reversal(payment["payment_id"]), 409, "pago aprobado")


def test_reversal_refused_while_one_is_pending_and_on_other_terminal(api, control):
    payment = paid_payment(api, control)["payment_data"]
    assert_error(
        api.create_reversal(payment["payment_id"], terminals_list=[{"terminal_id": T1}]),
        409,
        T2,
    )
    assert api.create_reversal(payment["payment_id"]).status_code == 200
    assert_error(api.create_reversal(payment["payment_id"]), 409, "anulación en curso")


def test_reversal_of_unknown_payment_is_404(api):
    response = api.create_reversal("476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10")
    assert_error(response, 404, "Registro no encontrado")


def test_cancel_pending_reversal(api, control, clock):
    payment = paid_payment(api, control)["payment_data"]
    reversal_id = api.create_reversal(payment["payment_id"]).json()["reversal_data"]["payment_id"]
    cancelled = api.cancel_reversal(reversal_id)
    assert cancelled.status_code == 200
    assert cancelled.json()["reversal_data"]["reversal_status"] == "UNDO_REVERSAL_REQUEST"
    clock.shift(1)
    assert api.get_reversal(reversal_id).json()["reversal_data"]["reversal_status"] == (
        "REVERSAL_UNDONE"
    )
    # The payment can be reversed again after an undone reversal.
    assert api.create_reversal(payment["payment_id"]).status_code == 200


def test_partial_refund(api, control, clock):
    created = api.create_refund(refund_amount="50000", card_brand_product="VI")
    assert created.status_code == 200
    answer = created.json()
    assert set(answer) == {"refund_request", "refund_data"}
    assert answer["refund_request"]["refund_amount"] == "50000"
    data = answer["refund_data"]
    assert set(data) == {"refund_id", "refund_status", "refund_request_date", "refund_status_date"}
    assert data["refund_status"] == "REFUND_REQUEST"
    refund_id = data["refund_id"]

    picked = control.pick(T2, refund_id)
    assert picked["status"] == "PROCESSING_REFUND"
    assert_error(control.act(T2, "pay", card="mastercard"), 409, "solo VI")
    control.pay(T2, "visa_credito")

    read = api.get_refund(refund_id).json()
    assert set(read) == {"refund_request_data", "refund_data"}
    data = read["refund_data"]
    assert data["refund_status"] == "CONFIRMED"
    for field in (
        "refund_id", "refund_request_date", "refund_status_date", "merchant_id", "merchant_name",
        "cuit_cuil", "terminal_id", "terminal_serial", "terminal_model", "mobitef_app_vers",
        "acquirer_id", "card_brand_product", "refunds_transaction_receipt", "batch_number",
        "authorization_code", "acquirer_response_code", "client_receipt_detail",
        "merchant_receipt_detail", "error",
    ):  # fmt: skip
        assert field in data, field
    assert data["terminal_id"] == T2
    assert data["acquirer_id"] == "PRISMA"
    assert data["card_brand_product"] == "VI"
    assert data["acquirer_response_code"] == "00"
    assert isinstance(data["refunds_transaction_receipt"], int)
    assert data["batch_number"] == control.get(f"terminals/{T2}")["batch_number"]
    assert len(data["authorization_code"]) == 6
    assert "TOTAL $ -500,00" in data["client_receipt_detail"]
    assert data["error"] is None


def test_amex_refund_and_cancel(api, control, clock):
    refund_id = api.create_refund(refund_amount="152050").json()["refund_data"]["refund_id"]
    cancelled = api.cancel_refund(refund_id)
    assert cancelled.json()["refund_data"]["refund_status"] == "UNDO_REQUEST"
    clock.shift(1)
    assert api.get_refund(refund_id).json()["refund_data"]["refund_status"] == "UNDONE"

    refund_id = api.create_refund(refund_amount="152050").json()["refund_data"]["refund_id"]
    control.pick(T2, refund_id)
    control.pay(T2, "amex")
    data = api.get_refund(refund_id).json()["refund_data"]
    assert (data["refund_status"], data["acquirer_id"]) == ("CONFIRMED", "AMEX")


def test_refund_validation(api):
    assert_error(api.create_refund(refund_amount="5,00"), 400, "refund_amount: formato inválido")
    assert_error(api.create_refund(terminals_list=[]), 400, "terminals_list")
