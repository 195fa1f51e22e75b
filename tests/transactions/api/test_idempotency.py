"""Idempotency-Key: replays, reuse with another body, a request in progress, expiry, release.

The lifecycle service is replaced by a fake that writes an intent and counts its calls: these
tests are about the API layer. The concurrent test on PostgreSQL uses the real services and the
simulator over HTTP (see test_concurrency_postgres.py).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_intent
from tests.transactions.api.support import post
from transactions import services
from transactions.api.idempotency import idempotency_prune
from transactions.api.models import IdempotencyRecord
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent


@pytest.fixture
def fake_create(monkeypatch, store_a, terminal_a, credential):
    calls = []

    def payment_create(*, store, terminals, amount, pos_client, **kwargs):
        calls.append(kwargs)
        return make_intent(
            store,
            terminal=terminals[0],
            amount=amount,
            requested_by_pos=pos_client,
            reference=kwargs.get("reference", ""),
        )

    monkeypatch.setattr(services, "payment_create", payment_create)
    return calls


def _body(terminal, **extra):
    return {"terminal": str(terminal.public_id), "amount": "1500.00", **extra}


def test_post_without_key_is_400(api_a, terminal_a, fake_create):
    response = api_a.post("/api/v1/payments", _body(terminal_a), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_missing"
    assert fake_create == [] and Intent.objects.count() == 0


@pytest.mark.parametrize("key", ["with space", "x" * 256, "ñandú"])
def test_malformed_key_is_400(api_a, terminal_a, fake_create, key):
    response = api_a.post(
        "/api/v1/payments", _body(terminal_a), format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"


def test_replay_returns_the_first_answer_and_creates_nothing(api_a, terminal_a, fake_create):
    first = post(api_a, "/payments", _body(terminal_a, reference="P-1"), key="order-1")
    assert first.status_code == 201
    # Same body, other key order: the same request.
    again = post(api_a, "/payments", {"reference": "P-1", **_body(terminal_a)}, key="order-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert len(fake_create) == 1
    assert Intent.objects.count() == 1
    record = IdempotencyRecord.objects.get(key="order-1")
    assert record.state == "done" and record.intent.public_id == Intent.objects.get().public_id


def test_same_key_other_body_is_422(api_a, terminal_a, fake_create):
    assert post(api_a, "/payments", _body(terminal_a), key="order-2").status_code == 201
    response = post(api_a, "/payments", _body(terminal_a, amount="1500.01"), key="order-2")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert len(fake_create) == 1


def test_same_key_other_endpoint_is_422(api_a, terminal_a, fake_create):
    assert post(api_a, "/payments", _body(terminal_a), key="order-3").status_code == 201
    response = post(api_a, "/settlements", {"terminal": str(terminal_a.public_id)}, key="order-3")
    assert response.json()["code"] == "idempotency_key_reused"


def test_keys_are_per_pos_client(api_a, key_a, store_a, terminal_a, fake_create):
    from rest_framework.test import APIClient

    from tests import factories

    _, other_raw = factories.make_pos_client(store_a, name="Otra caja")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_raw}")
    assert post(api_a, "/payments", _body(terminal_a), key="shared").status_code == 201
    assert post(other, "/payments", _body(terminal_a), key="shared").status_code == 201
    assert len(fake_create) == 2


def test_request_in_progress_is_409(api_a, key_a, terminal_a, fake_create):
    from transactions.api.idempotency import request_fingerprint

    body = _body(terminal_a)
    IdempotencyRecord.objects.create(
        pos_client=key_a[0],
        key="busy",
        method="POST",
        path="/api/v1/payments",
        fingerprint=request_fingerprint(method="POST", path="/api/v1/payments", data=body),
    )
    response = post(api_a, "/payments", body, key="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert response["Retry-After"] == "1"
    assert fake_create == []


def test_validation_errors_release_the_key(api_a, terminal_a, fake_create):
    bad = post(api_a, "/payments", _body(terminal_a, amount="-5"), key="fix-me")
    assert bad.json()["code"] == "amount_invalid"
    assert not IdempotencyRecord.objects.filter(key="fix-me").exists()
    good = post(api_a, "/payments", _body(terminal_a), key="fix-me")
    assert good.status_code == 201


def test_rule_errors_are_the_keys_answer(api_a, terminal_a, fake_create, monkeypatch):
    def in_use(**kwargs):
        raise IntentRuleError(Code.REFERENCE_IN_USE, "En uso.", field="reference")

    monkeypatch.setattr(services, "payment_create", in_use)
    first = post(api_a, "/payments", _body(terminal_a), key="busy-once")
    assert first.status_code == 409 and first.json()["code"] == "reference_in_use"
    # The reference is free now, but this key's answer was given: the same refusal comes back.
    monkeypatch.undo()
    replay = post(api_a, "/payments", _body(terminal_a), key="busy-once")
    assert replay.status_code == 409
    assert replay.json() == first.json()
    assert replay["Content-Type"] == "application/problem+json"
    assert replay["Idempotent-Replayed"] == "true"


def test_an_unexpected_error_that_created_nothing_frees_the_key(
    api_a, terminal_a, monkeypatch, fake_create
):
    real_fake = services.payment_create

    def boom(**kwargs):
        raise RuntimeError("gateway exploded")

    monkeypatch.setattr(services, "payment_create", boom)
    first = post(api_a, "/payments", _body(terminal_a), key="boom")
    assert first.status_code == 500
    assert first.json()["code"] == "internal_error"
    assert "exploded" not in first.content.decode()
    assert not IdempotencyRecord.objects.filter(key="boom").exists()
    # The fault passes: the same key now runs, instead of replaying a 500 for 48 hours.
    monkeypatch.setattr(services, "payment_create", real_fake)
    retry = post(api_a, "/payments", _body(terminal_a), key="boom")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert len(fake_create) == 1


def test_deeply_nested_json_is_a_400_not_a_crash(api_a, terminal_a, fake_create):
    response = api_a.post(
        "/api/v1/payments",
        data="[" * 5000 + "]" * 5000,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="deep",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert Intent.objects.count() == 0


def test_keys_live_48_hours_then_count_as_new(api_a, terminal_a, fake_create):
    assert post(api_a, "/payments", _body(terminal_a), key="old").status_code == 201
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=47)
    )
    assert post(api_a, "/payments", _body(terminal_a), key="old")["Idempotent-Replayed"] == "true"
    assert idempotency_prune() == 0
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=49)
    )
    again = post(api_a, "/payments", _body(terminal_a), key="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert len(fake_create) == 2


def test_prune_deletes_old_keys_only(api_a, terminal_a, fake_create):
    post(api_a, "/payments", _body(terminal_a), key="a")
    post(api_a, "/payments", _body(terminal_a), key="b")
    IdempotencyRecord.objects.filter(key="a").update(
        created_at=timezone.now() - timedelta(hours=49)
    )
    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]


def test_a_request_that_died_mid_call_is_answered_with_its_intent(
    api_a, sim, terminal_a, monkeypatch
):
    """The POS's request dies after the intent row was committed (worker killed mid-call): a
    replay answers that intent instead of 409 forever, and nothing is sent twice."""
    from transactions.api.models import IdempotencyRecord
    from transactions.gateway import PrismaGateway

    def dying_create(self, **kw):
        raise SystemExit("worker killed")

    monkeypatch.setattr(PrismaGateway, "payment_create", dying_create)
    body = {"terminal": str(terminal_a.public_id), "amount": "15.00"}
    with pytest.raises(SystemExit):
        post(api_a, "/payments", body, key="died-1")
    record = IdempotencyRecord.objects.get(key="died-1")
    assert record.state == IdempotencyRecord.State.IN_PROGRESS
    intent = Intent.objects.get()
    assert record.intent_id == intent.pk

    replay = post(api_a, "/payments", body, key="died-1")
    assert replay.status_code == 201
    assert replay.json()["id"] == str(intent.public_id)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert Intent.objects.count() == 1


def test_an_abandoned_claim_that_created_nothing_is_forgotten(api_a, sim, terminal_a):
    from datetime import timedelta

    from django.utils import timezone

    from transactions.api.models import IdempotencyRecord

    body = {"terminal": str(terminal_a.public_id), "amount": "15.00"}
    first = post(api_a, "/payments", body, key="k-ab")
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="k-ab").update(
        state=IdempotencyRecord.State.IN_PROGRESS,
        intent=None,
        created_at=timezone.now() - timedelta(minutes=10),
    )
    Intent.objects.all().delete()
    sim.call("POST", "reset")  # the provider forgets it too: this is a fresh start
    again = post(api_a, "/payments", body, key="k-ab")
    assert again.status_code == 201, again.json()
    assert Intent.objects.count() == 1


def test_a_provider_refusal_keeps_the_key_pointing_at_the_failed_intent(
    api_a, terminal_a, credential, monkeypatch
):
    """The refusal is the key's answer, and the record still names the intent the create left
    (failed): an operator following the key finds what happened at the provider."""
    from transactions.gateway import GatewayError, PrismaGateway
    from transactions.states import State

    def refused(self, **kwargs):
        raise GatewayError("Terminal inexistente", http_status=400, operation="payment_create")

    monkeypatch.setattr(PrismaGateway, "payment_create", refused)
    response = post(api_a, "/payments", _body(terminal_a, reference="P-REF"), key="refused-1")
    assert response.status_code == 422
    failed = Intent.objects.get()
    assert failed.state == State.FAILED
    record = IdempotencyRecord.objects.get(key="refused-1")
    assert record.state == IdempotencyRecord.State.DONE
    assert record.intent_id == failed.pk


@pytest.mark.django_db(transaction=True)
def test_a_claim_outside_a_transaction_is_one_statement_that_commits_itself(key_a):
    """Every request runs in autocommit: the claim is its INSERT alone (no BEGIN, SAVEPOINT or
    COMMIT round trips), committed by itself, and a second claim of the key finds it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from transactions.api.idempotency import idempotency_claim

    pos_client, _ = key_a
    claim = {
        "pos_client": pos_client,
        "key": "k-autocommit",
        "method": "post",
        "path": "/p",
        "fingerprint": "f",
    }
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as ctx:
        record, claimed = idempotency_claim(**claim)
    assert claimed
    statements = [q["sql"] for q in ctx.captured_queries]
    assert len(statements) == 1 and statements[0].upper().startswith("INSERT"), statements
    assert IdempotencyRecord.objects.get(key="k-autocommit").pk == record.pk  # committed
    again, claimed_again = idempotency_claim(**claim)
    assert not claimed_again and again.pk == record.pk
