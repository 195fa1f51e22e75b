"""Payment intentions: answers field by field, validation, the life on the terminal, races."""

import re

import pytest

from tests.simulator.support import CUIT, PAYMENTS, T1, T2, paid_payment, payment_body

pytestmark = pytest.mark.django_db

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-03:00$")

# Every key of the contract example `payment_get_confirmed.answer_200.payment_data`.
PAYMENT_DATA_KEYS = {
    "payment_id", "payment_status", "payment_request_date", "payment_status_date",
    "payment_type", "merchant_id", "merchant_name", "cuit_cuil", "terminal_id",
    "terminal_serial", "terminal_model", "mobitef_app_vers", "authorized_payment_amount",
    "change_amount", "installments_number", "bank_account_type", "payment_plan_id",
    "acquirer_id", "card_brand_product", "card_brand", "card_type", "bin", "last_four_digits",
    "card_holder", "card_holder_id", "client_transaction_id", "transaction_receipt",
    "batch_number", "qr_code_id", "qr_original_amount", "acquirer_response_code",
    "acquirer_additional_message", "acquirer_response_date", "authorization_code",
    "payment_auth_nsu", "client_receipt_detail", "merchant_receipt_detail",
    "trx_receipt_notes", "order_notes",
}  # fmt: skip


def assert_error(response, status, title_part):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["status"] == str(status)
    assert set(error) == {"status", "code", "title", "acquirer_message"}
    assert error["acquirer_message"] is None
    assert title_part in error["title"]
    return error


def test_create_answers_the_envelope_with_every_field(api, clock):
    body = payment_body()
    response = api.create_payment(body)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"payment_request_data", "payment_data"}
    assert answer["payment_request_data"] == body["payment_request_data"]
    data = answer["payment_data"]
    assert set(data) == PAYMENT_DATA_KEYS
    assert data["payment_status"] == "PAYMENT_REQUEST"
    assert data["payment_request_date"] == "2026-11-27T15:04:05.123-03:00"
    assert data["payment_status_date"] == data["payment_request_date"]
    assert data["cuit_cuil"] == CUIT
    assert data["terminal_id"] is None
    assert data["merchant_name"] == "ALMACEN DEMO SA"
    assert data["installments_number"] == 3
    assert data["change_amount"] == "0"
    for unknown_yet in ("authorized_payment_amount", "card_brand", "batch_number", "bin"):
        assert data[unknown_yet] is None
    assert re.fullmatch(r"[0-9a-f-]{36}", data["payment_id"])


def test_full_life_pick_and_pay_confirms_with_card_data(api, control, clock):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    terminal_before = control.get(f"terminals/{T2}")
    clock.shift(30)
    picked = control.pick(T2, payment_id)
    assert picked["status"] == "PROCESSING_PAYMENT"
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == (
        "PROCESSING_PAYMENT"
    )
    clock.shift(6)
    control.pay(T2, "visa_credito")

    answer = api.get_payment(payment_id).json()
    data = answer["payment_data"]
    assert answer["payment_request_data"]["ecr_transaction_id"] == "POS7-000004411"
    assert data["payment_status"] == "CONFIRMED"
    assert data["payment_status_date"] == "2026-11-27T15:04:41.123-03:00"
    assert data["acquirer_response_date"] == "2026-11-27T15:04:41-03:00"
    assert data["terminal_id"] == T2
    assert data["terminal_serial"] == "6A123456"
    assert data["terminal_model"] == "A910"
    assert data["authorized_payment_amount"] == "152050"
    assert data["payment_type"] == "CREDIT"
    assert data["card_brand_product"] == "VI"
    assert data["card_brand"] == "VISA"
    assert data["card_type"] == "CHIP_CONTACTLESS"
    assert data["acquirer_id"] == "PRISMA"
    assert data["acquirer_response_code"] == "00"
    assert data["acquirer_additional_message"] == "APROBADA"
    assert re.fullmatch(r"\d{6}", data["bin"])
    assert re.fullmatch(r"\d{4}", data["last_four_digits"])
    assert re.fullmatch(r"[A-Z0-9]{6}", data["authorization_code"])
    assert re.fullmatch(r"\d{12}", data["payment_auth_nsu"])
    assert data["batch_number"] == terminal_before["batch_number"]
    assert data["transaction_receipt"] == terminal_before["next_receipt"]
    assert data["client_transaction_id"] == 4411
    assert "TOTAL $ 1.520,50" in data["client_receipt_detail"]
    assert "CUOTAS 3" in data["client_receipt_detail"]
    assert "COMERCIO" in data["merchant_receipt_detail"]
    assert data["qr_code_id"] is None
    # The cupón counter moves on for the next sale.
    assert control.get(f"terminals/{T2}")["next_receipt"] == terminal_before["next_receipt"] + 1


@pytest.mark.parametrize(
    ("card", "product", "brand", "payment_type", "acquirer"),
    [
        ("visa_debito", "EL", "VISA", "DEBIT", "PRISMA"),
        ("mastercard", "MC", "MASTERCARD", "CREDIT", "PRISMA"),
        ("amex", "AM", "AMEX", "CREDIT", "AMEX"),
        ("cabal", "CA", "CABAL", "CREDIT", "PRISMA"),
        ("naranja", "NA", "NARANJA", "CREDIT", "PRISMA"),
    ],
)
def test_each_test_card(api, control, card, product, brand, payment_type, acquirer):
    data = paid_payment(api, control, card=card)["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert (data["card_brand_product"], data["card_brand"]) == (product, brand)
    assert (data["payment_type"], data["acquirer_id"]) == (payment_type, acquirer)


def test_declined_card(api, control):
    data = paid_payment(api, control, card="declinada")["payment_data"]
    assert data["payment_status"] == "DECLINED"
    assert data["acquirer_response_code"] == "05"
    assert data["acquirer_additional_message"] == "NO AUTORIZADA"
    assert data["authorization_code"] is None
    assert data["authorized_payment_amount"] is None
    assert data["batch_number"] is None


def test_brand_restriction_refuses_other_cards_on_the_terminal(api, control):
    payment_id = api.create_payment(card_brand_product="MC").json()["payment_data"]["payment_id"]
    control.pick(T1, payment_id)

    refused = control.act(T1, "pay", card="visa_credito")
    assert_error(refused, 409, "solo MC")
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == (
        "PROCESSING_PAYMENT"
    )

    control.pay(T1, "mastercard")
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert data["card_brand_product"] == "MC"


def test_qr_payment(api, control):
    created = api.create_payment(terminal_operation_method="QR_CODE")
    payment_id = created.json()["payment_data"]["payment_id"]
    control.pick(T1, payment_id)
    assert_error(control.act(T1, "pay", card="visa_credito"), 409, "QR")

    assert control.act(T1, "qr").status_code == 200
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert data["card_type"] == "QR_CODE"
    assert re.fullmatch(r"[0-9a-f-]{36}", data["qr_code_id"])
    assert data["qr_original_amount"] == "152050"


def test_card_intention_cannot_be_paid_by_qr(api, control):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    control.pick(T1, payment_id)
    assert_error(control.act(T1, "qr"), 409, "tarjeta")


def test_reject_on_terminal_declines(api, control):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    control.pick(T1, payment_id)
    assert control.act(T1, "reject").status_code == 200
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "DECLINED"
    assert data["acquirer_additional_message"] == "CANCELADA POR OPERADOR"


def test_cancel_waiting_intention_undoes_after_delay(api, control, clock):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    clock.shift(10)

    cancelled = api.cancel_payment(payment_id)
    assert cancelled.status_code == 200
    assert cancelled.json()["payment_data"]["payment_status"] == "UNDO_REQUEST"
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == "UNDO_REQUEST"
    # Gone from the terminals' lists at once.
    assert control.get(f"terminals/{T1}")["pending"] == []

    clock.shift(1)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "UNDONE"
    assert data["payment_status_date"] == "2026-11-27T15:04:16.123-03:00"
    # A second cancel, and a cancel of something final, are refused.
    assert_error(api.cancel_payment(payment_id), 409, "finalizó")


def test_cancel_twice_while_undoing_is_409(api, clock):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    assert api.cancel_payment(payment_id).status_code == 200
    assert_error(api.cancel_payment(payment_id), 409, "cancelación en curso")


def test_cancel_racing_a_picked_intention_loses(api, control):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    control.pick(T2, payment_id)

    error = assert_error(api.cancel_payment(payment_id), 409, "")
    assert error["title"] == "La intención ya está siendo procesada en la terminal"

    control.pay(T2, "visa_credito")
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == "CONFIRMED"


def test_busy_terminal_refuses_a_second_intention(api, control):
    first = api.create_payment(terminals_list=[{"terminal_id": T1}])
    assert first.status_code == 200
    error = assert_error(
        api.create_payment(terminals_list=[{"terminal_id": T2}, {"terminal_id": T1}]), 409, ""
    )
    assert error["title"] == "La terminal tiene una operación pendiente"
    # Once the first is final the terminal takes new intentions again.
    control.pick(T1)
    control.pay(T1)
    assert api.create_payment(terminals_list=[{"terminal_id": T1}]).status_code == 200


def test_intention_offered_to_two_terminals_is_taken_by_one(api, control):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    assert [i["id"] for i in control.get(f"terminals/{T1}")["pending"]] == [payment_id]
    assert [i["id"] for i in control.get(f"terminals/{T2}")["pending"]] == [payment_id]

    control.pick(T2, payment_id)

    assert control.get(f"terminals/{T1}")["pending"] == []
    assert_error(control.act(T1, "pick", intention_id=payment_id), 404, "lista")
    # The other terminal is free again while T2 works on it.
    assert not control.get(f"terminals/{T1}")["busy"]
    assert api.create_payment(terminals_list=[{"terminal_id": T1}]).status_code == 200


@pytest.mark.parametrize(
    ("override", "title"),
    [
        ({"payment_amount": 1500}, "payment_amount: formato inválido"),
        ({"payment_amount": "15.00"}, "payment_amount: formato inválido"),
        ({"payment_amount": "0"}, "payment_amount: formato inválido"),
        ({"installments_number": 0}, "installments_number: formato inválido"),
        ({"installments_number": "3"}, "installments_number: formato inválido"),
        ({"terminals_list": []}, "terminals_list: formato inválido"),
        ({"terminals_list": [{"terminal_id": "123"}]}, "terminals_list: formato inválido"),
        ({"terminals_list": [{"terminal_id": "99999999"}]}, "terminal 99999999 inexistente"),
        ({"print_method": "FISCAL"}, "print_method: formato inválido"),
        ({"print_copies": "ALL"}, "print_copies: formato inválido"),
        ({"terminal_operation_method": "NFC"}, "terminal_operation_method: formato inválido"),
        ({"terminal_menu_text": "x" * 41}, "terminal_menu_text: longitud máxima 40"),
        ({"subnet_acquirer_id": "2"}, "subnet_acquirer_id"),
        ({"card_brand_product": "ZZ"}, "card_brand_product: formato inválido"),
    ],
)
def test_create_validation(api, override, title):
    assert_error(api.create_payment(**override), 400, title)


def test_create_refuses_terminal_of_another_merchant(api):
    from simulator import services

    services.terminal_upsert(terminal_id="44444444", cuit="20-11111111-2")
    assert_error(api.create_payment(terminals_list=[{"terminal_id": "44444444"}]), 400, "44444444")


def test_cuit_must_match_the_credential(api):
    response = api.call("POST", PAYMENTS, query={"cuit_cuil": "20-11111111-2"}, body=payment_body())
    assert_error(response, 400, "cuit_cuil")
    assert_error(api.call("POST", PAYMENTS, body=payment_body()), 400, "cuit_cuil: requerido")
    # Plain digits are the same CUIT.
    plain = api.call("POST", PAYMENTS, query={"cuit_cuil": "30712345671"}, body=payment_body())
    assert plain.status_code == 200


def test_read_needs_matching_query_and_scope(api):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    wrong_env = api.call(
        "GET", f"{PAYMENTS}/{payment_id}", query={"subnet_acquirer_id": "2", "cuit_cuil": CUIT}
    )
    assert_error(wrong_env, 400, "subnet_acquirer_id")
    missing = api.call("GET", f"{PAYMENTS}/{payment_id}", query={"cuit_cuil": CUIT})
    assert_error(missing, 400, "subnet_acquirer_id")
    assert_error(api.get_payment("476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10"), 404, "no encontrado")
    assert_error(api.get_payment("not-a-uuid"), 404, "Registro no encontrado")


def test_other_merchant_cannot_see_the_payment(api, client):
    from simulator import services
    from tests.simulator.support import Api

    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    services.credential_upsert(
        public_key="pk_other", secret_key="sk_other", cuit="20-11111111-2",
        environment="homologation", merchant_name="OTRO",
    )  # fmt: skip
    other = Api(client, cuit="20-11111111-2", public_key="pk_other", secret="sk_other")
    assert_error(other.get_payment(payment_id), 404, "Registro no encontrado")


def test_delete_is_not_supported(api):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    response = api.call("DELETE", f"{PAYMENTS}/{payment_id}", query=api.q())
    assert_error(response, 405, "")
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == (
        "PAYMENT_REQUEST"
    )


def test_dates_have_milliseconds_and_argentine_offset(api):
    data = api.create_payment().json()["payment_data"]
    assert DATE.match(data["payment_request_date"])
    assert DATE.match(data["payment_status_date"])
