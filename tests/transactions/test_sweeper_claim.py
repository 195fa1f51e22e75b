"""The sweeper's claim: one statement compiled once per connection, whose rows load the intent
with what its poll reads exactly as the ORM's `select_related` loads them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecrportal.compiled_query import concrete_columns
from tests import factories
from transactions import sweeper
from transactions.models import Intent
from transactions.polling import POLL_RELATED
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def _columns(instance) -> dict:
    return {name: getattr(instance, name) for name in concrete_columns(type(instance))}


@pytest.fixture
def due(store_a, terminal_a):
    """A payment a terminal took and one no terminal took yet, both due."""
    past = timezone.now() - timedelta(seconds=5)
    taken = factories.make_intent(
        store_a, terminal=terminal_a, state=State.PROCESSING, next_poll_at=past
    )
    offered = factories.make_intent(
        store_a, offered_terminals=[terminal_a], state=State.PENDING, next_poll_at=past
    )
    return taken, offered


def test_a_claimed_intent_is_what_select_related_loads(due):
    claimed = {intent.pk: intent for intent in sweeper.claim_due_intents(limit=10)}
    assert set(claimed) == {due[0].pk, due[1].pk}
    for pk, intent in claimed.items():
        expected = Intent.objects.select_related(*POLL_RELATED).get(pk=pk)
        # The claim moved the poll to its next slot; everything else is as the ORM reads it.
        assert intent.next_poll_at > timezone.now()
        assert {**_columns(intent), "next_poll_at": None} == {
            **_columns(expected),
            "next_poll_at": None,
        }
        with CaptureQueriesContext(connection) as queries:
            store, merchant, credential = intent.store, intent.store.merchant, intent.credential
            terminal = intent.terminal
        assert queries.captured_queries == []
        assert _columns(store) == _columns(expected.store)
        assert _columns(merchant) == _columns(expected.store.merchant)
        assert _columns(credential) == _columns(expected.credential)
        if expected.terminal is None:
            assert terminal is None
        else:
            assert _columns(terminal) == _columns(expected.terminal)
    assert claimed[due[0].pk].terminal is not None
    assert claimed[due[1].pk].terminal is None


def test_the_claim_is_compiled_once_per_connection(due, monkeypatch):
    built = []
    real = sweeper._due_queryset

    def counting(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeper, "_due_queryset", counting)
    statement = sweeper._claim_statement(7)
    statement._local.__dict__.clear()  # as on a connection that never claimed
    assert len(sweeper.claim_due_intents(limit=7)) == 2
    Intent.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert len(sweeper.claim_due_intents(limit=7)) == 2
    assert len(built) == 1


def test_the_claim_takes_at_most_its_limit_the_most_overdue_first(store_a, terminal_a):
    now = timezone.now()
    intents = [
        factories.make_intent(
            store_a, offered_terminals=[terminal_a], next_poll_at=now - timedelta(seconds=s)
        )
        for s in (1, 30, 10)
    ]
    claimed = sweeper.claim_due_intents(limit=2)
    assert [i.pk for i in claimed] == [intents[1].pk, intents[2].pk]
    assert [i.pk for i in sweeper.claim_due_intents(limit=2)] == [intents[0].pk]
