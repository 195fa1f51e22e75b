"""A watcher's re-read of its intent (`polling.intent_reload`): one compiled statement that
brings every column that can change, as the ORM would convert it, and keeps what never changes
(and the objects loaded with it)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_intent, make_store, make_terminal
from transactions.models import Intent
from transactions.polling import _VOLATILE_COLUMNS, POLL_RELATED, intent_reload
from transactions.states import State

pytestmark = pytest.mark.django_db


def _watched(intent: Intent) -> Intent:
    return Intent.objects.select_related(*POLL_RELATED).get(pk=intent.pk)


def test_a_reload_reads_what_changed_as_the_orm_reads_it():
    store = make_store()
    terminal = make_terminal(store)
    row = make_intent(store, offered_terminals=[terminal])
    watched = _watched(row)
    moment = timezone.now()
    Intent.objects.filter(pk=row.pk).update(
        state=State.APPROVED,
        provider_status="CONFIRMED",
        provider_status_at=moment,
        authorized_amount=Decimal("1520.50"),
        batch_number=7,
        terminal=terminal,
        taken_at=moment,
        unknown_status=True,
    )
    with CaptureQueriesContext(connection) as queries:
        intent_reload(watched)
    assert len(queries) == 1
    fresh = Intent.objects.get(pk=row.pk)
    for name in _VOLATILE_COLUMNS:
        assert getattr(watched, name) == getattr(fresh, name), name
    assert isinstance(watched.authorized_amount, Decimal)
    assert watched.terminal == terminal, "the terminal that took it is loaded when first used"


def test_a_reload_keeps_the_loaded_relations_while_they_do_not_change():
    store = make_store()
    terminal = make_terminal(store)
    row = make_intent(store, terminal=terminal)
    watched = _watched(row)
    Intent.objects.filter(pk=row.pk).update(provider_status="PROCESSING")
    intent_reload(watched)
    with CaptureQueriesContext(connection) as queries:
        assert watched.store.merchant.cuit and watched.credential.pk and watched.terminal
    assert len(queries) == 0
    assert watched.provider_status == "PROCESSING"


def test_a_reload_of_a_deleted_intent_says_so():
    row = make_intent(make_store())
    Intent.objects.filter(pk=row.pk).delete()
    with pytest.raises(Intent.DoesNotExist):
        intent_reload(row)
