"""Issue 11 item 9: one definition of a busy terminal. `GET /api/v1/terminals`, the dashboard's
terminal state and the create's busy check agree: a stale in-doubt create (not found within its
fast search window, so on no screen) does not make the terminal busy; a fresh one does."""

from datetime import timedelta

import pytest

from tests.factories import make_intent
from transactions import selectors
from transactions.models import Intent
from transactions.services.pipeline import busy_terminals
from transactions.states import State

pytestmark = pytest.mark.django_db


def _in_doubt_on(terminal, *, age_seconds: int) -> Intent:
    intent = make_intent(terminal.store, state=State.IN_DOUBT, offered_terminals=[terminal])
    Intent.objects.filter(pk=intent.pk).update(
        created_at=intent.created_at - timedelta(seconds=age_seconds)
    )
    return intent


def _api_state(api, terminal) -> dict:
    (row,) = [t for t in api.get("/api/v1/terminals").json() if t["id"] == str(terminal.public_id)]
    return row


def test_a_stale_in_doubt_create_leaves_the_terminal_free_everywhere(api_a, terminal_a):
    intent = _in_doubt_on(terminal_a, age_seconds=180)

    assert busy_terminals([terminal_a]) == []  # a create is accepted...
    row = _api_state(api_a, terminal_a)
    assert row["state"] == "idle" and row["current_intent"] is None  # ...and the API says so
    live = selectors.terminal_live_state(terminal=terminal_a)  # the dashboard's card
    assert live.state == "idle" and live.current_intent is None
    Intent.objects.filter(pk=intent.pk).update(needs_attention=True)
    assert selectors.terminal_live_state(terminal=terminal_a).stuck_count == 1


def test_a_fresh_in_doubt_create_keeps_the_terminal_busy_everywhere(api_a, terminal_a):
    intent = _in_doubt_on(terminal_a, age_seconds=30)

    assert busy_terminals([terminal_a]) == [terminal_a]
    row = _api_state(api_a, terminal_a)
    assert row["state"] == "busy" and row["current_intent"]["id"] == str(intent.public_id)
    assert selectors.terminal_live_state(terminal=terminal_a).state == "busy"


def test_a_stale_doubt_does_not_hide_a_live_intent_behind_it(api_a, terminal_a):
    _in_doubt_on(terminal_a, age_seconds=600)
    pending = make_intent(terminal_a.store, state=State.PENDING, offered_terminals=[terminal_a])

    row = _api_state(api_a, terminal_a)
    assert row["state"] == "busy" and row["current_intent"]["id"] == str(pending.public_id)
    assert busy_terminals([terminal_a]) == [terminal_a]
