"""A create's answer, its provider-call row and the key's answer commit in one transaction after
the provider call; when that transaction fails nothing is lost that the guarantees need."""

import httpx
import pytest
from django.db import DatabaseError

from tests.transactions.api.support import API, PAY, post
from transactions.api.models import IdempotencyRecord
from transactions.models import GatewayCall, Intent
from transactions.states import State

pytestmark = pytest.mark.django_db


def _body(terminal, reference="ONE-1"):
    return {"terminal": str(terminal.public_id), "amount": "250.00", "reference": reference}


def test_when_the_answers_transaction_fails_the_call_is_recorded_and_the_key_kept(
    api_a, terminal_a, fake_provider, monkeypatch
):
    def database_gone(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr("transactions.api.views.base.idempotency_finish", database_gone)
    response = post(api_a, "/payments", _body(terminal_a), key="k-answer-lost")
    assert response.status_code == 500

    intent = Intent.objects.get(reference="ONE-1")
    # The answer rolled back with the key's answer: the row stays as committed before the call,
    # and the sweeper resolves it after its grace period (never sent again).
    assert intent.state == State.CREATED and intent.provider_id == ""
    # The call happened: its row is written on its own, once.
    calls = GatewayCall.objects.filter(intent=intent, operation="payment_create")
    assert calls.count() == 1 and calls.get().outcome == "ok"
    # The key stays linked to the intent: a replay answers it instead of creating another.
    record = IdempotencyRecord.objects.get(key="k-answer-lost")
    assert record.state == IdempotencyRecord.State.IN_PROGRESS and record.intent_id == intent.pk
    monkeypatch.undo()
    replay = post(api_a, "/payments", _body(terminal_a), key="k-answer-lost")
    assert replay.status_code == 201 and replay.json()["id"] == str(intent.public_id)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(fake_provider.business_requests()) == 1, "the provider was asked once"


def test_a_refused_create_records_its_call_with_the_failure(api_a, terminal_a, fake_provider):
    fake_provider.on(
        "POST", PAY, lambda request: httpx.Response(400, json={"message": "monto inválido"})
    )
    response = post(api_a, "/payments", _body(terminal_a, "REF-400"), key="k-refused")
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "provider_rejected"
    intent = Intent.objects.get(reference="REF-400")
    assert intent.state == State.FAILED
    call = GatewayCall.objects.get(intent=intent, operation="payment_create")
    assert call.http_status == 400 and call.outcome != "ok"
    # The refusal is the key's answer: a replay gets it again without calling the provider.
    replay = post(api_a, "/payments", _body(terminal_a, "REF-400"), key="k-refused")
    assert replay.status_code == 422 and replay.headers["Idempotent-Replayed"] == "true"
    assert len(fake_provider.business_requests()) == 1


def test_same_key_same_body_same_intent_other_body_refused(api_a, terminal_a, fake_provider):
    first = post(api_a, "/payments", _body(terminal_a, "SAME-1"), key="k-same")
    again = post(api_a, "/payments", _body(terminal_a, "SAME-1"), key="k-same")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = post(api_a, "/payments", _body(terminal_a, "SAME-2"), key="k-same")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert api_a.get(f"{API}/intents/{first.json()['id']}").json() == first.json()
