"""What clients that ran against the real API send is accepted (issue 11, item 21): booleans in
the query as `true`, `True` or `1`; `print_copies` as a number of copies; unknown fields ignored.
The portal's gateway keeps sending the contract's canonical forms."""

import pytest

from simulator import validation
from tests.simulator.support import SETTLEMENTS, T2, payment_body

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_settlement_print_receipt_in_the_shapes_clients_send(api, sent, kept):
    response = api.call("POST", SETTLEMENTS, query=api.q(terminal_id=T2, print_receipt=sent))
    assert response.status_code == 200, response.content
    assert response.json()["settlements_data"]["print_receipt"] is kept


@pytest.mark.parametrize("sent", ["yes", "TRUE", "2", ""])
def test_other_query_booleans_are_still_refused(api, sent):
    response = api.call("POST", SETTLEMENTS, query=api.q(terminal_id=T2, print_receipt=sent))
    assert response.status_code == 400
    assert "print_receipt" in response.json()["errors"][0]["title"]


@pytest.mark.parametrize(
    ("sent", "meant"),
    [(0, "NONE"), (1, "MERCHANT_ONLY"), (2, "BOTH"), ("2", "BOTH"), ("BOTH", "BOTH")],
)
def test_print_copies_as_a_number_of_copies(api, sim_credential, sent, meant):
    body = payment_body(print_copies=sent)
    assert (
        validation.payment_request(body["payment_request_data"], sim_credential)["print_copies"]
        == meant
    )
    assert api.create_payment(body).status_code == 200


@pytest.mark.parametrize("sent", [3, -1, True, 1.0, "both", "٢"])
def test_print_copies_out_of_range_is_refused(api, sent):
    response = api.create_payment(payment_body(print_copies=sent))
    assert response.status_code == 400
    assert "print_copies" in response.json()["errors"][0]["title"]


def test_unknown_fields_are_ignored(api):
    body = payment_body(
        payment_type="COMPRA", print_preview=True, is_tip=False, currency_code="032",
        merchant_group_code="1238494234", some_future_field={"nested": [1, 2]},
    )  # fmt: skip
    body["client_trace"] = "abc"
    created = api.create_payment(body)
    assert created.status_code == 200, created.content


def test_a_refund_with_a_number_of_copies_and_an_unknown_field(api):
    refund = api.create_refund(refund_amount="1000", print_copies=1, unknown="x")
    assert refund.status_code == 200, refund.content
