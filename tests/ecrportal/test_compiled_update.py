"""`CompiledUpdate`: what `filter(...).update(...)` changes, from a statement the ORM compiles once
per connection and set of columns; the filters guard it; expressions go through `update()`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecrportal import compiled_update
from ecrportal.compiled_query import concrete_columns
from ecrportal.compiled_update import CompiledUpdate
from tests import factories
from transactions.api.models import IdempotencyRecord
from transactions.models import Intent
from transactions.states import State

pytestmark = pytest.mark.django_db


def _row(model, pk) -> dict:
    row = model.objects.filter(pk=pk).values_list(*concrete_columns(model)).get()
    return dict(zip(concrete_columns(model), row, strict=True))


def _two(store, terminal):
    return [
        factories.make_intent(store, offered_terminals=[terminal], state=State.PENDING)
        for _ in range(2)
    ]


def test_changes_what_update_changes(store_a, terminal_a):
    mine, theirs = _two(store_a, terminal_a)
    now = timezone.now()
    values = {
        "state": State.PROCESSING,
        "updated_at": now,
        "terminal": terminal_a,  # a related object: its key
        "taken_at": now,
        "provider_status": "PROCESSING",
        "next_poll_at": None,  # a None goes in as a parameter, not compiled into the SQL
    }
    update = CompiledUpdate(Intent, where=("pk", "state"))
    assert update.update(where={"pk": mine.pk, "state": State.PENDING}, values=values) == 1
    assert Intent.objects.filter(pk=theirs.pk, state=State.PENDING).update(**values) == 1
    ours, orms = _row(Intent, mine.pk), _row(Intent, theirs.pk)
    assert ours["terminal_id"] == terminal_a.pk and ours["next_poll_at"] is None
    different = {"id", "public_id", "ecr_transaction_id", "provider_id", "created_at"}
    assert {k: v for k, v in ours.items() if k not in different} == {
        k: v for k, v in orms.items() if k not in different
    }


def test_the_guard_holds(store_a, terminal_a):
    intent, _ = _two(store_a, terminal_a)
    before = _row(Intent, intent.pk)
    update = CompiledUpdate(Intent, where=("pk", "state"))
    changed = update.update(
        where={"pk": intent.pk, "state": State.PROCESSING}, values={"state": State.APPROVED}
    )
    assert changed == 0
    assert _row(Intent, intent.pk) == before


def test_compiled_once_per_connection_and_columns(store_a, terminal_a, monkeypatch):
    first, second = _two(store_a, terminal_a)
    compiled = []
    real = compiled_update._Statement.__init__

    def counting(self, *args):
        compiled.append(args[-1])
        real(self, *args)

    monkeypatch.setattr(compiled_update._Statement, "__init__", counting)
    update = CompiledUpdate(Intent, where=("pk",))
    later = timezone.now() + timedelta(minutes=5)
    with CaptureQueriesContext(connection) as queries:
        update.update(where={"pk": first.pk}, values={"next_poll_at": None})
        update.update(where={"pk": second.pk}, values={"next_poll_at": later})
        update.update(where={"pk": first.pk}, values={"needs_attention": True})
    assert compiled == [("next_poll_at",), ("needs_attention",)]
    assert len(queries) == 3
    assert Intent.objects.get(pk=first.pk).next_poll_at is None
    assert Intent.objects.get(pk=first.pk).needs_attention is True
    assert Intent.objects.get(pk=second.pk).next_poll_at == later


def test_a_json_value_and_its_null(store_a):
    pos_client, _ = factories.make_pos_client(store_a)
    record = IdempotencyRecord.objects.create(
        pos_client=pos_client, key="k", method="POST", path="/p", fingerprint="f"
    )
    update = CompiledUpdate(IdempotencyRecord, where=("pk",))
    body = {"id": "x", "amount": "10.00", "nested": [1, None, "ñ"]}
    update.update(where={"pk": record.pk}, values={"response_body": body, "response_status": 201})
    record.refresh_from_db()
    assert record.response_body == body and record.response_status == 201
    update.update(where={"pk": record.pk}, values={"response_body": None, "response_status": 409})
    record.refresh_from_db()
    assert record.response_body is None and record.response_status == 409


def test_an_expression_goes_through_update(store_a, terminal_a):
    intent, _ = _two(store_a, terminal_a)
    update = CompiledUpdate(Intent, where=("pk",))
    update.update(where={"pk": intent.pk}, values={"installments": 2})
    update.update(where={"pk": intent.pk}, values={"installments": F("installments") + 1})
    assert Intent.objects.get(pk=intent.pk).installments == 3


def test_other_filters_are_refused(store_a, terminal_a):
    intent, _ = _two(store_a, terminal_a)
    update = CompiledUpdate(Intent, where=("pk", "state"))
    with pytest.raises(AssertionError):
        update.update(where={"pk": intent.pk}, values={"needs_attention": True})
