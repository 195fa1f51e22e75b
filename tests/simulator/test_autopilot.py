"""The autopilot: unattended terminals whose outcome is chosen by the amount's cents."""

import pytest

from tests.simulator.support import T1, T2
from tests.simulator.test_payments import assert_error

pytestmark = pytest.mark.django_db

ONLY_T1 = [{"terminal_id": T1}]


@pytest.fixture
def autopilot_t1(control, clock):
    response = control.put(f"terminals/{T1}/autopilot", {"enabled": True})
    assert response.status_code == 200
    assert response.json()["effective"] == {
        "enabled": True, "pick_delay_ms": 1500, "processing_ms": 1500,
        "stuck_processing_ms": 10000,
    }  # fmt: skip
    control.faults(lost_answer_sleep_ms=0)
    return control


def _create(api, amount, **extra):
    response = api.create_payment(payment_amount=amount, terminals_list=ONLY_T1, **extra)
    assert response.status_code == 200, response.content
    return response.json()["payment_data"]["payment_id"]


def _status(api, payment_id):
    return api.get_payment(payment_id).json()["payment_data"]["payment_status"]


def test_plain_amount_is_picked_then_confirmed_with_visa_credit(api, autopilot_t1, clock):
    payment_id = _create(api, "152000")
    clock.shift(1.4)
    assert _status(api, payment_id) == "PAYMENT_REQUEST"
    clock.shift(0.1)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert (data["payment_status"], data["terminal_id"]) == ("PROCESSING_PAYMENT", T1)
    assert data["payment_status_date"] == "2026-11-27T15:04:06.623-03:00"
    clock.shift(1.5)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert data["payment_status_date"] == "2026-11-27T15:04:08.123-03:00"
    assert (data["card_brand"], data["payment_type"]) == ("VISA", "CREDIT")
    assert data["authorized_payment_amount"] == "152000"


def test_a_late_look_sees_the_same_dates(api, autopilot_t1, clock):
    payment_id = _create(api, "1000")
    clock.shift(3000)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "CONFIRMED"
    assert data["payment_status_date"] == "2026-11-27T15:04:08.123-03:00"


def test_cents_51_declines(api, autopilot_t1, clock):
    payment_id = _create(api, "152051")
    clock.shift(3)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert data["payment_status"] == "DECLINED"
    assert data["acquirer_response_code"] == "05"


def test_cents_52_errors(api, autopilot_t1, clock):
    payment_id = _create(api, "152052")
    clock.shift(3)
    assert _status(api, payment_id) == "ERROR"


def test_cents_53_is_never_picked(api, autopilot_t1, clock):
    payment_id = _create(api, "152053")
    clock.shift(600)
    assert _status(api, payment_id) == "PAYMENT_REQUEST"
    assert api.cancel_payment(payment_id).status_code == 200
    clock.shift(1)
    assert _status(api, payment_id) == "UNDONE"


def test_cents_54_is_stuck_processing_then_confirmed(api, autopilot_t1, clock):
    payment_id = _create(api, "152054")
    clock.shift(1.5)
    assert _status(api, payment_id) == "PROCESSING_PAYMENT"
    clock.shift(9.9)
    assert _status(api, payment_id) == "PROCESSING_PAYMENT"
    assert_error(api.cancel_payment(payment_id), 409, "siendo procesada")
    clock.shift(0.1)
    assert _status(api, payment_id) == "CONFIRMED"


def test_cents_55_loses_the_create_answer_but_stores_it(api, autopilot_t1, clock):
    response = api.create_payment(
        payment_amount="152055", terminals_list=ONLY_T1, ecr_transaction_id="LOST-1"
    )
    # Test client: no socket to abort, so the simulator answers 504 after the (zero) sleep.
    assert response.status_code == 504
    assert response.content == b"Gateway Timeout"
    clock.shift(3)
    body = {"date_from": "2026-11-27T15:00:00", "date_to": "2026-11-27T16:00:00",
            "ecr_transaction_id": "LOST-1"}  # fmt: skip
    (found,) = api.search(body).json()["payments"]
    assert found["payment_data"]["payment_status"] == "CONFIRMED"


def test_cents_56_answers_busy_and_stores_nothing(api, autopilot_t1, control):
    response = api.create_payment(payment_amount="152056", terminals_list=ONLY_T1)
    assert_error(response, 409, "La terminal tiene una operación pendiente")
    assert control.get(f"terminals/{T1}")["pending"] == []
    assert not control.get(f"terminals/{T1}")["busy"]


def test_qr_and_brand_restricted_intentions_confirm_accordingly(api, autopilot_t1, clock):
    payment_id = _create(api, "5000", terminal_operation_method="QR_CODE")
    clock.shift(3)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert (data["payment_status"], data["card_type"]) == ("CONFIRMED", "QR_CODE")

    payment_id = _create(api, "5000", card_brand_product="MC")
    clock.shift(3)
    data = api.get_payment(payment_id).json()["payment_data"]
    assert (data["payment_status"], data["card_brand_product"]) == ("CONFIRMED", "MC")


def test_refund_cents_rules_and_reversal_confirms(api, autopilot_t1, clock):
    refund = api.create_refund(refund_amount="1051", terminals_list=ONLY_T1)
    refund_id = refund.json()["refund_data"]["refund_id"]
    clock.shift(3)
    assert api.get_refund(refund_id).json()["refund_data"]["refund_status"] == "DECLINED"

    payment_id = _create(api, "2000")
    clock.shift(3)
    reversal = api.create_reversal(payment_id, terminals_list=ONLY_T1)
    reversal_id = reversal.json()["reversal_data"]["payment_id"]
    clock.shift(1.5)
    assert api.get_reversal(reversal_id).json()["reversal_data"]["reversal_status"] == (
        "PROCESSING_REVERSAL"
    )
    clock.shift(1.5)
    assert api.get_reversal(reversal_id).json()["reversal_data"]["reversal_status"] == "REVERSED"


def test_person_can_take_over_from_the_autopilot(api, autopilot_t1, control, clock):
    payment_id = _create(api, "7000")
    control.pick(T1, payment_id)
    clock.shift(60)
    assert _status(api, payment_id) == "PROCESSING_PAYMENT"
    control.pay(T1, "naranja")
    assert api.get_payment(payment_id).json()["payment_data"]["card_brand"] == "NARANJA"


def test_global_autopilot_and_terminal_override(api, control, clock):
    response = control.put(
        "autopilot", {"enabled": True, "pick_delay_ms": 100, "processing_ms": 200}
    )
    assert response.json() == {
        "enabled": True, "pick_delay_ms": 100, "processing_ms": 200, "stuck_processing_ms": 10000,
    }  # fmt: skip
    assert control.put(f"terminals/{T2}/autopilot", {"enabled": False}).status_code == 200

    on_t1 = _create(api, "1000")
    on_t2 = api.create_payment(terminals_list=[{"terminal_id": T2}]).json()["payment_data"]
    clock.shift(0.3)
    assert _status(api, on_t1) == "CONFIRMED"
    assert _status(api, on_t2["payment_id"]) == "PAYMENT_REQUEST"

    assert control.put(f"terminals/{T2}/autopilot", {"enabled": None}).json()["effective"][
        "enabled"
    ]
    assert_error(control.put("autopilot", {"enabled": "yes"}), 400, "enabled")


def test_settlement_needs_no_operator(api, clock):
    settlement_id = api.create_settlement(T2).json()["settlements_data"]["settlement_id"]
    clock.shift(1)
    data = api.get_settlement(settlement_id).json()["settlements_data"]
    assert data["settlement_status"] == "CONFIRMED"
    assert data["merchant_receipt_detail"].endswith("TOTAL       CANT  0  $       0,00")
