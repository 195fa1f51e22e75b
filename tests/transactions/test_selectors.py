"""Reads: terminal live state, actions per role, scoping."""

import pytest
from django.http import Http404

from tests import factories
from tests.factories import make_intent
from transactions.models import Intent
from transactions.selectors import (
    intent_actions_for_user,
    intent_get_for_user,
    terminal_live_state,
    terminal_states_for_store,
)
from transactions.states import State

pytestmark = pytest.mark.django_db


def test_terminal_states_agree_between_store_and_single_views(store_a, terminal_a, credential):
    idle = factories.make_terminal(store_a)
    disabled = factories.make_terminal(store_a, enabled=False)
    busy = make_intent(
        store_a,
        credential=credential,
        state=State.PROCESSING,
        offered_terminals=[terminal_a],
        needs_attention=True,
    )
    states = {s.terminal.pk: s for s in terminal_states_for_store(store=store_a)}
    assert states[terminal_a.pk].state == "busy"
    assert states[terminal_a.pk].current_intent == busy
    assert states[terminal_a.pk].stuck_count == 1
    assert states[idle.pk].state == "idle"
    assert states[disabled.pk].state == "disabled"
    single = terminal_live_state(terminal=terminal_a)
    assert (single.state, single.stuck_count) == ("busy", 1)
    Intent.objects.filter(pk=busy.pk).update(state=State.APPROVED)
    assert terminal_live_state(terminal=terminal_a).state == "idle"
    assert terminal_live_state(terminal=terminal_a).stuck_count == 0


def test_actions_follow_the_role(store_a, terminal_a, credential, manager_a, cashier_a, finance):
    approved = make_intent(
        store_a,
        credential=credential,
        terminal=terminal_a,
        state=State.APPROVED,
        card_brand_code="VI",
        batch_number=5,
    )
    assert intent_actions_for_user(intent=approved, user=manager_a) == {"reverse", "refund"}
    assert intent_actions_for_user(intent=approved, user=cashier_a) == set()
    assert intent_actions_for_user(intent=approved, user=finance) == set()
    pending = make_intent(
        store_a, credential=credential, offered_terminals=[factories.make_terminal(store_a)]
    )
    assert intent_actions_for_user(intent=pending, user=cashier_a) == {"cancel"}
    doubt = make_intent(
        store_a,
        credential=credential,
        state=State.IN_DOUBT,
        offered_terminals=[factories.make_terminal(store_a)],
        provider_id="",
    )
    assert intent_actions_for_user(intent=doubt, user=manager_a) == {"resolve", "not_received"}
    assert intent_actions_for_user(intent=doubt, user=cashier_a) == set()
    # Known to the provider and flagged: a person may acknowledge it, never settle it by hand.
    flagged = make_intent(
        store_a,
        credential=credential,
        state=State.PROCESSING,
        offered_terminals=[factories.make_terminal(store_a)],
        needs_attention=True,
    )
    assert intent_actions_for_user(intent=flagged, user=manager_a) == {"cancel", "acknowledge"}


def test_intents_outside_the_users_stores_are_404(
    store_b, terminal_b, credential, manager_a, owner
):
    other = make_intent(store_b, credential=credential, offered_terminals=[terminal_b])
    with pytest.raises(Http404):
        intent_get_for_user(user=manager_a, public_id=other.public_id)
    with pytest.raises(Http404):
        intent_get_for_user(user=manager_a, public_id="not-a-uuid")
    assert intent_get_for_user(user=owner, public_id=other.public_id) == other
