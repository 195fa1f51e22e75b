"""Money controls (issue 15) through the POS API: `202` and `approval_pending` above the store's
threshold (replayed as such), withdrawal by the POS, webhooks on approval and rejection, key
permissions, refunds without an original, refund windows, the daily limit, cash-back and QR
benefits, each refusal a problem+json with its code; and the OpenAPI document of the flow."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import yaml
from django.utils import timezone

from stores.services import pos_client_create
from tests.factories import make_intent
from tests.transactions.api.support import API, api_client, post
from tests.transactions.support import set_money_controls
from transactions.models import ApprovalRequest, GatewayCall, Intent
from transactions.services import approval_reject
from transactions.states import State

pytestmark = pytest.mark.django_db


def _problem(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    if field:
        assert field in [e["field"] for e in body["errors"]], body
    return body


@pytest.fixture
def payment(store_a, terminal_a, credential):
    return make_intent(store_a, terminal=terminal_a, credential=credential, state=State.APPROVED)


def _refund(api, terminal, payment, amount="600.00", **extra):
    body = {"terminal": str(terminal.public_id), "amount": amount}
    if payment is not None:
        body["original"] = str(payment.public_id)
    return post(api, "/refunds", body, **extra)


def test_a_refund_above_the_threshold_answers_202_and_waits(api_a, store_a, terminal_a, payment):
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    response = _refund(api_a, terminal_a, payment, key="dev-1")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "approval_pending" and not body["is_final"]
    assert body["approval_expires_at"] and body["provider_id"] == ""
    assert response["Location"] == body["links"]["self"]
    assert "cancel" in body["links"]
    assert not GatewayCall.objects.exists()
    replay = _refund(api_a, terminal_a, payment, key="dev-1")
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == body["id"]
    read = api_a.get(f"{API}/intents/{body['id']}", {"wait": 1})
    assert read.status_code == 200 and read.json()["state"] == "approval_pending"
    assert not GatewayCall.objects.exists()


def test_a_reversal_above_the_threshold_answers_202(api_a, store_a, payment):
    set_money_controls(store_a, reversal_approval_threshold=Decimal("10.00"))
    response = post(api_a, f"/payments/{payment.public_id}/reversal", {})
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "approval_pending"
    assert response.json()["kind"] == "reversal"


def test_the_pos_withdraws_a_pending_request(api_a, store_a, terminal_a, payment):
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    refund = _refund(api_a, terminal_a, payment).json()
    response = post(api_a, f"/intents/{refund['id']}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    assert ApprovalRequest.objects.get().status == ApprovalRequest.Status.REJECTED


def test_webhooks_tell_the_pos_of_a_rejection(
    api_a, store_a, terminal_a, payment, owner, receiver, django_capture_on_commit_callbacks
):
    assert post(api_a, "/webhook", {"url": receiver.url}).status_code == 201
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    refund = Intent.objects.get(public_id=_refund(api_a, terminal_a, payment).json()["id"])
    with django_capture_on_commit_callbacks(execute=True):
        approval_reject(intent=refund, user=owner, note="no")
    events = [json.loads(r["body"])["event"] for r in receiver.requests]
    assert sorted(events) == ["intent.approval_rejected", "intent.final"]
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    (rejected,) = [b for b in bodies if b["event"] == "intent.approval_rejected"]
    assert rejected["data"]["state"] == "cancelled"


def test_below_the_threshold_nothing_changes_in_the_answer(
    api_a, store_a, terminal_a, payment, monkeypatch
):
    """Below the threshold the create is sent as before (`201`): here the provider is not
    reachable, so it answers the usual provider refusal, never a 202."""
    set_money_controls(store_a, refund_approval_threshold=Decimal("5000.00"))
    response = _refund(api_a, terminal_a, payment)
    assert response.status_code in (201, 503), response.content
    assert not ApprovalRequest.objects.exists()


# --- Key permissions and refunds without an original ----------------------------------------


@pytest.fixture
def charge_only(store_a):
    client, raw = pos_client_create(
        store=store_a,
        name="Solo cobra",
        permissions={
            "can_cancel": False,
            "can_reverse": False,
            "can_refund": False,
            "can_close_batch": False,
        },
    )
    return api_client(raw)


def test_a_charge_only_key_is_refused_everything_else(charge_only, store_a, terminal_a, payment):
    pending = make_intent(store_a, terminal=terminal_a, state=State.PENDING)
    for response in [
        _refund(charge_only, terminal_a, payment),
        post(charge_only, f"/payments/{payment.public_id}/reversal", {}),
        post(charge_only, "/settlements", {"terminal": str(terminal_a.public_id)}),
        post(charge_only, f"/intents/{pending.public_id}/cancel"),
    ]:
        _problem(response, 403, "key_action_not_allowed")
    assert Intent.objects.count() == 2
    assert not GatewayCall.objects.exists()


def test_a_refund_without_original_needs_a_configured_key(api_a, terminal_a):
    _problem(_refund(api_a, terminal_a, None), 403, "unreferenced_refund_not_allowed", "original")


# --- Refund windows and the daily limit -----------------------------------------------------


def test_an_old_payment_is_refused_with_the_window(api_a, store_a, terminal_a):
    set_money_controls(store_a, refund_window_days={"VISA": 10})
    old = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        finished_at=timezone.now() - timedelta(days=11),
    )
    body = _problem(_refund(api_a, terminal_a, old), 422, "refund_window_expired", "original")
    assert "10 días" in body["detail"]


def test_the_daily_limit_is_refused(api_a, store_a, terminal_a, payment):
    set_money_controls(store_a, daily_refund_limit=Decimal("100.00"))
    _problem(
        _refund(api_a, terminal_a, payment, amount="100.01"),
        422,
        "daily_refund_limit_exceeded",
        "amount",
    )


# --- Cash-back and QR benefits --------------------------------------------------------------


def _pay(api, terminal, **fields):
    return post(
        api, "/payments", {"terminal": str(terminal.public_id), "amount": "100.00", **fields}
    )


def test_cashback_and_qr_benefit_refusals(api_a, store_a, terminal_a):
    _problem(_pay(api_a, terminal_a, change_amount="10.00"), 422, "cashback_not_allowed")
    set_money_controls(store_a, cashback_max=Decimal("50.00"))
    _problem(
        _pay(api_a, terminal_a, change_amount="50.01"),
        422,
        "cashback_limit_exceeded",
        "change_amount",
    )
    _problem(
        _pay(api_a, terminal_a, change_amount="10.00", method="qr"), 422, "cashback_not_allowed"
    )
    _problem(_pay(api_a, terminal_a, change_amount=10), 400, "amount_invalid", "change_amount")
    _problem(_pay(api_a, terminal_a, qr_benefit_code=True), 422, "qr_benefit_not_allowed")
    assert not Intent.objects.exists()


# --- The OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_describes_the_approval_flow(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    refunds = schema["paths"]["/api/v1/refunds"]["post"]
    reversal = schema["paths"]["/api/v1/payments/{public_id}/reversal"]["post"]
    for operation in (refunds, reversal):
        assert "202" in operation["responses"]
        assert "approval_pending" in operation["description"]
    intent = schema["components"]["schemas"]["IntentOutput"]
    assert {"change_amount", "qr_benefit_code", "approval_expires_at"} <= set(intent["properties"])
    assert "approval_pending" in json.dumps(intent["properties"]["state"]) + json.dumps(
        schema["components"]["schemas"]
    )
    payment_input = schema["components"]["schemas"]["PaymentInputRequest"]["properties"]
    assert {"change_amount", "qr_benefit_code"} <= set(payment_input)
    assert "intent.approval_approved" in schema["info"]["description"]
