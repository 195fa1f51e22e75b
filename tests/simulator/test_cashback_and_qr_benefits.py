"""Cash-back (`change_amount`, debit only) and QR benefits (`qr_benefit_code`, bool or null, QR
only), contract §3: accepted, echoed, and refused where they cannot apply."""

import pytest

from tests.simulator.support import T2, payment_body

pytestmark = pytest.mark.django_db


def _error_title(response) -> str:
    return response.json()["errors"][0]["title"]


def test_cashback_on_debit_is_echoed_and_approved(api, control, clock):
    body = payment_body(change_amount="200000", installments_number=1)
    created = api.create_payment(body)
    assert created.status_code == 200, created.content
    answer = created.json()
    assert answer["payment_request_data"]["change_amount"] == "200000"
    assert answer["payment_data"]["change_amount"] == "200000"
    payment_id = answer["payment_data"]["payment_id"]
    control.pick(T2, payment_id)
    control.pay(T2, "visa_debito")
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert data["payment_type"] == "DEBIT"
    assert data["change_amount"] == "200000"


def test_cashback_with_a_credit_card_is_declined(api, control, clock):
    created = api.create_payment(payment_body(change_amount="5000", installments_number=1))
    payment_id = created.json()["payment_data"]["payment_id"]
    control.pick(T2, payment_id)
    control.pay(T2, "visa_credito")
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "DECLINED"
    assert data["acquirer_additional_message"] == "EXTRACCION SOLO DEBITO"


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"terminal_operation_method": "QR_CODE", "installments_number": 1}, "change_amount"),
        ({"installments_number": 3}, "cuotas"),
        ({"installments_number": 1, "card_brand_product": "VI"}, "débito"),
        ({"installments_number": 1, "change_amount": 500}, "change_amount"),
    ],
)
def test_cashback_that_cannot_be_debit_is_refused(api, overrides, title):
    body = payment_body(**{"change_amount": "5000", **overrides})
    response = api.create_payment(body)
    assert response.status_code == 400
    assert title in _error_title(response)


def test_qr_benefit_code_is_accepted_and_echoed_on_qr(api):
    body = payment_body(
        terminal_operation_method="QR_CODE", installments_number=1, qr_benefit_code=True
    )
    response = api.create_payment(body)
    assert response.status_code == 200, response.content
    assert response.json()["payment_request_data"]["qr_benefit_code"] is True
    payment_id = response.json()["payment_data"]["payment_id"]
    read = api.get_payment(payment_id).json()
    assert read["payment_request_data"]["qr_benefit_code"] is True


@pytest.mark.parametrize("value", ["SI", 1, "true", {"code": "X"}])
def test_qr_benefit_code_must_be_a_bool_or_null(api, value):
    body = payment_body(terminal_operation_method="QR_CODE", qr_benefit_code=value)
    response = api.create_payment(body)
    assert response.status_code == 400
    assert "qr_benefit_code" in _error_title(response)


def test_qr_benefit_code_true_only_on_qr(api):
    response = api.create_payment(payment_body(qr_benefit_code=True))
    assert response.status_code == 400
    assert "QR_CODE" in _error_title(response)
    # false on a card payment asks for nothing and is accepted
    assert api.create_payment(payment_body(qr_benefit_code=False)).status_code == 200
