"""When the key's answer cannot be stored, the key is not left "in progress" for minutes."""

import pytest
from django.db import DatabaseError

from tests.factories import make_intent, make_terminal
from tests.transactions.api.support import post
from transactions.api.models import IdempotencyRecord
from transactions.states import State

pytestmark = pytest.mark.django_db


def test_a_refusal_whose_answer_cannot_be_stored_frees_its_key(
    api_a, store_a, terminal_a, credential, monkeypatch
):
    # A live payment holds the reference: the next create is refused (final, no intent).
    make_intent(store_a, terminal=terminal_a, state=State.PENDING, reference="PED-1")
    other = make_terminal(store_a)

    def database_gone(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr("transactions.api.views.base.idempotency_finish", database_gone)
    body = {"terminal": str(other.public_id), "amount": "10.00", "reference": "PED-1"}
    response = post(api_a, "/payments", body, key="k-finish")
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert not IdempotencyRecord.objects.filter(key="k-finish").exists(), (
        "the key is free: a retry runs again instead of getting 409 in progress"
    )
