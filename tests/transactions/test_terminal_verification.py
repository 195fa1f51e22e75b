"""Issue 12 item 11: a terminal reads "sin verificar" until it has taken an intention (the
contract has no call to ask the provider about a terminal), and what the provider is known to
allow is checked when one is added (its sandbox takes one fictitious terminal only)."""

import pytest
from django.urls import reverse

from stores.models import Environment, Terminal
from tests import factories
from tests.factories import make_intent
from transactions.states import State
from transactions.transitions import intent_transition

pytestmark = pytest.mark.django_db


def test_a_new_terminal_is_unverified_until_it_takes_an_intention(store_a, terminal_a):
    assert terminal_a.verified_at is None
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    assert intent_transition(intent, to_state=State.PROCESSING, fields={"terminal": terminal_a})
    terminal_a.refresh_from_db()
    first = terminal_a.verified_at
    assert first is not None
    # Later intentions do not move it.
    other = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    intent_transition(
        other, to_state=State.PROCESSING, fields={"terminal": terminal_a, "taken_at": first}
    )
    terminal_a.refresh_from_db()
    assert terminal_a.verified_at == first


def test_an_intention_nobody_took_verifies_nothing(store_a, terminal_a):
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    intent_transition(intent, to_state=State.CANCELLED)
    terminal_a.refresh_from_db()
    assert terminal_a.verified_at is None


def test_the_pages_say_sin_verificar(client_for, owner, terminal_a):
    client = client_for(owner)
    page = client.get(reverse("dashboard:terminal_detail", args=[terminal_a.public_id]))
    assert "data-terminal-unverified" in page.content.decode()
    assert "data-terminal-unverified" in client.get(reverse("dashboard:settings")).content.decode()
    assert "data-terminal-unverified" in client.get(reverse("dashboard:home")).content.decode()
    Terminal.objects.filter(pk=terminal_a.pk).update(verified_at="2026-01-01T12:00:00Z")
    page = client.get(reverse("dashboard:terminal_detail", args=[terminal_a.public_id]))
    assert "data-terminal-unverified" not in page.content.decode()


def test_adding_a_terminal_says_it_is_unverified(client_for, owner, store_a):
    client = client_for(owner)
    response = client.post(
        reverse("dashboard:terminal_create"),
        {"store": store_a.pk, "terminal_id": "33333333", "label": "Caja 3", "enabled": "on"},
        follow=True,
    )
    assert "sin verificar" in response.content.decode()
    assert Terminal.objects.get(terminal_id="33333333").verified_at is None


def test_a_sandbox_store_takes_only_the_sandbox_terminal(client_for, owner, merchant):
    sandbox = factories.make_store(merchant, environment=Environment.SANDBOX)
    client = client_for(owner)
    url = reverse("dashboard:terminal_create")
    response = client.post(url, {"store": sandbox.pk, "terminal_id": "44444444"})
    assert response.status_code == 422
    assert "solo acepta la terminal 12345678" in response.content.decode()
    assert not Terminal.objects.filter(terminal_id="44444444").exists()
    response = client.post(url, {"store": sandbox.pk, "terminal_id": "12345678"})
    assert response.status_code == 302
