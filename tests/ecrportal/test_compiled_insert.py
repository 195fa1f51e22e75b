"""`CompiledInsert`: the row `save()` writes, from a statement the ORM compiles once per
connection; `save()` itself where the SQL would depend on the instance or the model saves its own
way; database errors as the ORM raises them."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext

from ecrportal import compiled_insert
from ecrportal.compiled_insert import CompiledInsert
from ecrportal.compiled_query import concrete_columns
from tests import factories
from transactions.api.models import IdempotencyRecord
from transactions.models import IntentEvent

pytestmark = pytest.mark.django_db


def _row(model, pk) -> dict:
    return dict(
        zip(
            concrete_columns(model),
            model.objects.filter(pk=pk).values_list(*concrete_columns(model)).get(),
            strict=True,
        )
    )


def _event(intent, message="nota") -> IntentEvent:
    return IntentEvent(
        intent=intent,
        type=IntentEvent.Type.NOTE,
        from_state=intent.state,
        to_state=intent.state,
        message=message,
        raw={"a": [1, "dos"]},
        actor_label="sistema",
    )


def test_writes_the_row_save_writes(store_a, terminal_a):
    intent = factories.make_intent(store_a, terminal=terminal_a)
    compiled = CompiledInsert(IntentEvent).save(_event(intent))
    saved = _event(intent)
    saved.save()
    assert compiled.pk is not None and compiled.pk != saved.pk
    assert not compiled._state.adding and compiled._state.db == "default"
    assert compiled.created_at is not None  # auto_now_add, filled as save() fills it
    mine, theirs = _row(IntentEvent, compiled.pk), _row(IntentEvent, saved.pk)
    for row in (mine, theirs):
        row.pop("id"), row.pop("created_at")
    assert mine == theirs
    assert IntentEvent.objects.get(pk=compiled.pk).created_at == compiled.created_at


def test_compiled_once_per_connection(store_a, terminal_a, monkeypatch):
    intent = factories.make_intent(store_a, terminal=terminal_a)
    insert = CompiledInsert(IntentEvent)
    compiled = []
    real = compiled_insert._Statement.__init__

    def counting(self, *args):
        compiled.append(1)
        real(self, *args)

    monkeypatch.setattr(compiled_insert._Statement, "__init__", counting)
    with CaptureQueriesContext(connection) as queries:
        events = [insert.save(_event(intent, message=f"nota {n}")) for n in range(3)]
    assert len(compiled) == 1
    assert len(queries) == 3
    saved = IntentEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("pk")
    assert [e.message for e in saved] == [
        "nota 0",
        "nota 1",
        "nota 2",
    ]


def test_an_expression_value_is_saved_by_save(store_a, terminal_a):
    intent = factories.make_intent(store_a, terminal=terminal_a)
    insert = CompiledInsert(IntentEvent)
    insert.save(_event(intent))  # compiled with plain values first
    event = insert.save(
        IntentEvent(intent=intent, type=IntentEvent.Type.NOTE, message=Upper(Value("alto")))
    )
    assert IntentEvent.objects.get(pk=event.pk).message == "ALTO"


def test_a_model_with_its_own_save_is_saved_by_it(store_a, terminal_a, monkeypatch):
    intent = factories.make_intent(store_a, terminal=terminal_a)
    calls = []
    real = IntentEvent.save

    def own_save(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(IntentEvent, "save", own_save)
    event = CompiledInsert(IntentEvent).save(_event(intent))
    assert calls == [{"force_insert": True, "using": "default"}]
    assert IntentEvent.objects.filter(pk=event.pk).exists()


def test_a_duplicate_raises_integrity_error_and_writes_nothing(store_a):
    key = "k-1"
    pos_client, _ = factories.make_pos_client(store_a)
    insert = CompiledInsert(IdempotencyRecord)

    def record():
        return IdempotencyRecord(
            pos_client=pos_client, key=key, method="POST", path="/p", fingerprint="f"
        )

    insert.save(record())
    with pytest.raises(IntegrityError), transaction.atomic():
        insert.save(record())
    assert IdempotencyRecord.objects.filter(pos_client=pos_client, key=key).count() == 1


def test_a_failed_insert_marks_the_enclosing_block_for_rollback_as_save_does(store_a):
    pos_client, _ = factories.make_pos_client(store_a)
    insert = CompiledInsert(IdempotencyRecord)

    def record():
        return IdempotencyRecord(
            pos_client=pos_client, key="k-2", method="POST", path="/p", fingerprint="f"
        )

    insert.save(record())
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert.save(record())
        assert transaction.get_connection().needs_rollback
