"""Valid requests of every endpoint against the simulator over real HTTP (live server)."""

import json
import threading
import time

import pytest

from tests.transactions.api.support import live_post
from transactions.models import Intent
from transactions.webhooks.signing import webhook_verify

pytestmark = pytest.mark.django_db(transaction=True)


def _pay(live_api, terminal, **extra):
    response = live_post(
        live_api, "/payments", {"terminal": str(terminal.public_id), "amount": "1500.00", **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _approved_payment(live_api, sim, terminal, **extra) -> dict:
    created = _pay(live_api, terminal, **extra)
    sim.pick_and_pay(terminal.terminal_id)
    final = live_api.get(f"/intents/{created['id']}", params={"wait": 10}).json()
    assert final["state"] == "approved", final
    return final


def test_payment_then_long_poll_learns_the_outcome_within_a_second(live_api, sim, terminal_a):
    created = _pay(live_api, terminal_a, reference="PEDIDO-1", installments=3, brand="VI")
    assert created["state"] == "pending"
    assert created["provider_status"] == "PAYMENT_REQUEST"
    assert created["amount"] == "1500.00"
    assert created["offered_terminals"][0]["terminal_id"] == terminal_a.terminal_id
    assert created["links"]["cancel"].endswith("/cancel")

    answer = {}

    def wait():
        started = time.monotonic()
        answer["response"] = live_api.get(f"/intents/{created['id']}", params={"wait": 15})
        answer["at"] = time.monotonic()
        answer["took"] = answer["at"] - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    assert "response" not in answer  # still waiting: the terminal has not paid
    sim.pick(terminal_a.terminal_id)
    sim.pay(terminal_a.terminal_id, card="visa_credito")
    paid_at = time.monotonic()
    waiter.join(20)

    # The long poll answers on the outcome, not at the end of its 15 s wait. The bound is loose
    # on purpose (a busy 2-core CI machine); bench/polling.py measures the real lag (p95 < 1 s).
    assert answer["at"] - paid_at < 3.0, answer
    body = answer["response"].json()
    assert answer["response"].status_code == 200
    assert body["state"] == "approved" and body["is_final"] is True
    assert body["provider_status"] == "CONFIRMED"
    assert body["terminal"]["terminal_id"] == terminal_a.terminal_id
    assert body["card"]["last_four"] and body["card"]["brand"]
    assert "bin" not in body["card"]
    assert body["authorization_code"] and body["ticket_number"]
    assert body["receipts"]["client"]
    assert body["finished_at"]
    assert "reversal" in body["links"]


def test_wait_ends_with_the_current_state_when_nothing_happens(live_api, sim, terminal_a):
    created = _pay(live_api, terminal_a)
    started = time.monotonic()
    body = live_api.get(f"/intents/{created['id']}", params={"wait": 1}).json()
    assert 0.9 < time.monotonic() - started < 5
    assert body["state"] == "pending"


def test_cancel_a_pending_payment(live_api, sim, terminal_a):
    created = _pay(live_api, terminal_a)
    response = live_post(live_api, f"/intents/{created['id']}/cancel", {})
    assert response.status_code == 200, response.text
    assert response.json()["state"] in ("cancelling", "cancelled")
    final = live_api.get(f"/intents/{created['id']}", params={"wait": 10}).json()
    assert final["state"] == "cancelled"


def test_second_payment_on_a_busy_terminal_is_409(live_api, sim, terminal_a):
    _pay(live_api, terminal_a)
    response = live_post(
        live_api, "/payments", {"terminal": str(terminal_a.public_id), "amount": "10.00"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "terminal_busy"
    assert Intent.objects.count() == 1


def test_reversal_of_an_approved_payment(live_api, sim, terminal_a):
    payment = _approved_payment(live_api, sim, terminal_a)
    response = live_post(live_api, f"/payments/{payment['id']}/reversal", {"reference": "AN-1"})
    assert response.status_code == 201, response.text
    reversal = response.json()
    assert reversal["kind"] == "reversal"
    assert reversal["original_id"] == payment["id"]
    assert reversal["state"] == "pending"


def test_refund_against_a_payment(live_api, sim, terminal_a):
    payment = _approved_payment(live_api, sim, terminal_a)
    response = live_post(
        live_api,
        "/refunds",
        {"terminal": str(terminal_a.public_id), "amount": "500.00", "original": payment["id"]},
    )
    assert response.status_code == 201, response.text
    refund = response.json()
    assert (refund["kind"], refund["amount"], refund["original_id"]) == (
        "refund",
        "500.00",
        payment["id"],
    )


def test_settlement(live_api, sim, terminal_a):
    empty = live_post(
        live_api, "/settlements", {"terminal": str(terminal_a.public_id), "print_receipt": False}
    )
    assert empty.status_code == 409, empty.text
    assert empty.json()["code"] == "batch_empty"
    assert "vacío" in empty.json()["detail"]
    _approved_payment(live_api, sim, terminal_a)
    response = live_post(
        live_api, "/settlements", {"terminal": str(terminal_a.public_id), "print_receipt": False}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "settlement" and body["amount"] is None
    final = live_api.get(f"/intents/{body['id']}", params={"wait": 10}).json()
    assert final["state"] == "approved"


def test_terminals_show_live_state(live_api, sim, terminal_a):
    assert live_api.get("/terminals").json()[0]["state"] == "idle"
    created = _pay(live_api, terminal_a)
    (terminal,) = live_api.get("/terminals").json()
    assert terminal["state"] == "busy"
    assert terminal["current_intent"]["id"] == created["id"]


def test_list_filters_and_pagination(live_api, sim, terminal_a):
    first = _approved_payment(live_api, sim, terminal_a, reference="R-1")
    second = _pay(live_api, terminal_a, reference="R-2")
    listing = live_api.get("/intents").json()
    assert listing["count"] == 2
    assert [i["id"] for i in listing["results"]] == [second["id"], first["id"]]
    assert [
        i["id"] for i in live_api.get("/intents", params={"reference": "R-1"}).json()["results"]
    ] == [first["id"]]
    assert live_api.get("/intents", params={"state": "approved"}).json()["count"] == 1
    assert live_api.get("/intents", params={"kind": "refund"}).json()["count"] == 0
    assert (
        live_api.get("/intents", params={"terminal": str(terminal_a.public_id)}).json()["count"]
        == 2
    )
    page = live_api.get("/intents", params={"limit": 1, "offset": 1}).json()
    assert [i["id"] for i in page["results"]] == [first["id"]] and page["previous"]
    future = live_api.get("/intents", params={"created_from": "2999-01-01T00:00:00Z"}).json()
    assert future["count"] == 0


def test_webhook_on_final_state_signed(live_api, sim, terminal_a, receiver):
    registered = live_post(live_api, "/webhook", {"url": receiver.url})
    assert registered.status_code == 201, registered.text
    secret = registered.json()["secret"]
    payment = _approved_payment(live_api, sim, terminal_a)

    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    (request,) = receiver.requests
    assert webhook_verify(
        secret=secret, body=request["body"], header=request["headers"]["X-ECR-Signature"]
    )
    event = json.loads(request["body"])
    assert event["event"] == "intent.final"
    assert event["data"]["id"] == payment["id"] and event["data"]["state"] == "approved"
    assert request["headers"]["X-ECR-Delivery"] == event["id"]
