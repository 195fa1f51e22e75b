"""Settlements (cierre de lote): the closing ticket and the next batch."""

import pytest

from tests.simulator.support import T1, T2, paid_payment
from tests.simulator.test_payments import DATE, assert_error

pytestmark = pytest.mark.django_db


def test_settlement_closes_the_batch(api, control, clock):
    batch = control.get(f"terminals/{T2}")["batch_number"]
    paid_payment(api, control, payment_amount="21530000")  # Visa 215.300,00
    paid_payment(api, control, payment_amount="8841050", card="mastercard")
    reversed_payment = paid_payment(api, control, payment_amount="152050")["payment_data"]
    paid_payment(api, control, payment_amount="99999", card="declinada")  # not in the batch
    reversal_id = api.create_reversal(reversed_payment["payment_id"]).json()["reversal_data"][
        "payment_id"
    ]
    control.pick(T2, reversal_id)
    control.act(T2, "pay")
    refund_id = api.create_refund(refund_amount="10000").json()["refund_data"]["refund_id"]
    control.pick(T2, refund_id)
    control.pay(T2, "cabal")

    created = api.create_settlement(T2, print_receipt="true")
    assert created.status_code == 200
    data = created.json()["settlements_data"]
    assert set(data) == {
        "settlement_id", "terminal_id", "print_receipt", "settlement_status",
        "settlement_request_date",
    }  # fmt: skip
    assert data["settlement_status"] == "SETTLEMENT_REQUEST"
    assert data["print_receipt"] is True
    assert data["terminal_id"] == T2
    assert DATE.match(data["settlement_request_date"])
    settlement_id = data["settlement_id"]

    # Pending: the terminal is busy and a second settlement is refused.
    assert_error(api.create_settlement(T2), 409, "cierre de lote en curso")
    assert_error(api.create_payment(terminals_list=[{"terminal_id": T2}]), 409, "pendiente")
    clock.shift(0.5)
    assert api.get_settlement(settlement_id).json()["settlements_data"]["settlement_status"] == (
        "PROCESSING_SETTLEMENT"
    )
    clock.shift(0.5)

    data = api.get_settlement(settlement_id).json()["settlements_data"]
    assert set(data) == {
        "settlement_id", "terminal_id", "print_receipt", "merchant_id", "merchant_name",
        "cuit_cuil", "subnet_acquirer_id", "settlement_status", "settlement_status_date",
        "settlement_request_date", "terminal_serial", "terminal_model", "mobitef_app_vers",
        "acquirer_response_code", "acquirer_additional_message", "batch_number",
        "merchant_receipt_detail",
    }  # fmt: skip
    assert data["settlement_status"] == "CONFIRMED"
    assert data["batch_number"] == batch
    assert data["subnet_acquirer_id"] == "9"
    assert data["acquirer_response_code"] == "00"
    assert data["merchant_receipt_detail"].split("\n") == [
        f"CIERRE DE LOTE {batch}",
        "MASTERCARD  CANT  1  $  88.410,50",
        "VISA        CANT  2  $ 216.820,50",
        "ANULACIONES CANT  1  $  -1.520,50",
        "DEVOLUCIONES CANT  1  $    -100,00",
        "TOTAL       CANT  5  $ 303.610,50",
    ]
    assert control.get(f"terminals/{T2}")["batch_number"] == batch + 1

    # The next sale goes into the new batch; the next close has only it.
    payment = paid_payment(api, control, payment_amount="1000")["payment_data"]
    assert payment["batch_number"] == batch + 1
    second = api.create_settlement(T2, print_receipt="false").json()["settlements_data"]
    assert second["print_receipt"] is False
    clock.shift(1)
    ticket = api.get_settlement(second["settlement_id"]).json()["settlements_data"]
    assert ticket["batch_number"] == batch + 1
    assert ticket["merchant_receipt_detail"].endswith("TOTAL       CANT  1  $      10,00")


def test_settlement_refused_while_terminal_has_pending_intention(api, control):
    api.create_payment(terminals_list=[{"terminal_id": T1}])
    assert_error(api.create_settlement(T1), 409, "La terminal tiene una operación pendiente")
    assert api.create_settlement(T2).status_code == 200


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ({"print_receipt": "yes"}, "print_receipt"),
        ({"terminal_id": "1"}, "terminal_id"),
        ({"terminal_id": "99999999"}, "99999999"),
        ({"subnet_acquirer_id": "1"}, "subnet_acquirer_id"),
    ],
)
def test_settlement_validation(api, query, title):
    full = api.q(terminal_id=T2, print_receipt="true")
    full.update(query)
    from tests.simulator.support import SETTLEMENTS

    assert_error(api.call("POST", SETTLEMENTS, query=full), 400, title)
