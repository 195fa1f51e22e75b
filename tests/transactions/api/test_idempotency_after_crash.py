"""Issue 11 item 1: a crash or a database cut mid-request never locks the Idempotency-Key.

The request's database connection dies (a backend terminated, the network cut): the error path
must free the key on a new connection, or keep it pointing at the intent the request committed,
so the POS's retry with the same key gets that intent or creates it (never a 409 for minutes).
"""

import pytest
from django.db import OperationalError, connection

from tests.transactions.api.support import post
from transactions import services
from transactions.api import views
from transactions.api.models import IdempotencyRecord
from transactions.events import Actor
from transactions.models import Intent
from transactions.services.pipeline import create_row
from transactions.states import Kind

# The request's own connection is closed under it: no test transaction may wrap the request.
pytestmark = pytest.mark.django_db(transaction=True)


def _cut_the_database():
    """What a terminated backend looks like to the request: its connection answers nothing."""
    connection.ensure_connection()
    connection.connection.close()
    connection.errors_occurred = True
    raise OperationalError("server closed the connection unexpectedly")


def _create(*, store, terminals, amount, pos_client, **kwargs):
    return create_row(
        store=store,
        terminals=terminals,
        credential=kwargs["credential"],
        actor=Actor(pos_client=pos_client),
        kind=Kind.PAYMENT,
        amount=amount,
        reference=kwargs.get("reference", ""),
    )


@pytest.fixture
def api(api_a):
    api_a.raise_request_exception = False
    return api_a


def _body(terminal):
    return {"terminal": str(terminal.public_id), "amount": "1500.00", "reference": "CUT-1"}


def test_a_database_cut_before_any_intent_frees_the_key_and_the_retry_creates(
    api, terminal_a, credential, monkeypatch
):
    def cut(**kwargs):
        _cut_the_database()

    monkeypatch.setattr(services, "payment_create", cut)
    first = post(api, "/payments", _body(terminal_a), key="cut-before")
    assert first.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="cut-before").exists()

    monkeypatch.setattr(
        services, "payment_create", lambda **kw: _create(credential=credential, **kw)
    )
    retry = post(api, "/payments", _body(terminal_a), key="cut-before")
    assert retry.status_code == 201, retry.content
    assert "Idempotent-Replayed" not in retry
    assert Intent.objects.count() == 1


def test_a_database_cut_after_the_intent_was_committed_answers_that_intent(
    api, terminal_a, credential, monkeypatch
):
    created = []

    def create_then_cut(**kwargs):
        created.append(_create(credential=credential, **kwargs))
        _cut_the_database()

    monkeypatch.setattr(services, "payment_create", create_then_cut)
    first = post(api, "/payments", _body(terminal_a), key="cut-after")
    assert first.status_code == 500
    record = IdempotencyRecord.objects.get(key="cut-after")
    assert record.intent_id == created[0].pk

    retry = post(api, "/payments", _body(terminal_a), key="cut-after")
    assert retry.status_code == 201
    assert retry.json()["id"] == str(created[0].public_id)
    assert retry["Idempotent-Replayed"] == "true"
    assert Intent.objects.count() == 1


def test_a_cut_between_the_intent_insert_and_the_key_link_leaves_neither(
    api, terminal_a, credential, monkeypatch
):
    # The link is written in the intent's own transaction: a failure there rolls back the
    # intent too, so there is never an intent without its key (the retry then creates it).
    monkeypatch.setattr(
        services, "payment_create", lambda **kw: _create(credential=credential, **kw)
    )

    def link_fails(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views.base, "idempotency_link", link_fails)
    first = post(api, "/payments", _body(terminal_a), key="cut-link")
    assert first.status_code == 500
    assert Intent.objects.count() == 0
    assert not IdempotencyRecord.objects.filter(key="cut-link").exists()

    monkeypatch.undo()
    monkeypatch.setattr(
        services, "payment_create", lambda **kw: _create(credential=credential, **kw)
    )
    retry = post(api, "/payments", _body(terminal_a), key="cut-link")
    assert retry.status_code == 201
    assert Intent.objects.count() == 1
    assert IdempotencyRecord.objects.get(key="cut-link").intent_id == Intent.objects.get().pk
