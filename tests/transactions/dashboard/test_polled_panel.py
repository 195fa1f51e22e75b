"""The intent page's live panel polls itself every second; it is swapped only when what it shows
changed (204 otherwise), so its buttons stay under the finger and nothing typed is wiped."""

import re

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions import services
from transactions.models import GatewayCall, Intent, IntentEvent
from transactions.states import State

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def no_provider(monkeypatch):
    """The panel refreshes a live intent from the provider; here the ledger is the truth."""
    monkeypatch.setattr(services, "intent_refresh", lambda *, intent, wait=0: intent)


def _poll(client, intent, shown=None):
    url = reverse("dashboard:intent_panel", args=[intent.public_id])
    return client.get(url, {"shown": shown} if shown else {}, headers=HTMX)


def _shown(response) -> str:
    match = re.search(r'hx-get="[^"]*\?shown=([0-9a-f]{12})"', response.content.decode())
    assert match, "a polled panel says which version it shows"
    return match.group(1)


def test_the_panel_answers_204_until_something_it_shows_changes(
    client_for, manager_a, store_a, terminal_a
):
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    client = client_for(manager_a)
    first = _poll(client, intent)
    assert first.status_code == 200 and 'data-action="cancel"' in first.content.decode()
    shown = _shown(first)
    # Same panel (only its CSRF tokens would differ): nothing to swap.
    again = _poll(client, intent, shown)
    assert again.status_code == 204 and again.content == b""
    # A new line in its history is a change...
    IntentEvent.objects.create(
        intent=intent, type=IntentEvent.Type.NOTE, message="Llamó el cliente"
    )
    noted = _poll(client, intent, shown)
    assert noted.status_code == 200 and "Llamó el cliente" in noted.content.decode()
    assert _poll(client, intent, _shown(noted)).status_code == 204
    # ...so is a provider call row, and the state.
    GatewayCall.objects.create(
        credential=intent.credential,
        intent=intent,
        operation="payment_get",
        method="GET",
        path="/x",
        http_status=500,
        outcome=GatewayCall.Outcome.ERROR,
        duration_ms=12,
        error="boom",
    )
    called = _poll(client, intent, _shown(noted))
    assert called.status_code == 200 and "boom" in called.content.decode()
    Intent.objects.filter(pk=intent.pk).update(state=State.CANCELLING)
    moved = _poll(client, intent, _shown(called))
    assert moved.status_code == 200 and 'data-state="cancelling"' in moved.content.decode()


def test_the_intent_page_starts_the_polling_without_a_version(
    client_for, manager_a, store_a, terminal_a
):
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    page = client_for(manager_a).get(reverse("dashboard:intent_detail", args=[intent.public_id]))
    panel = reverse("dashboard:intent_panel", args=[intent.public_id])
    assert f'hx-get="{panel}" hx-trigger="every 1s"' in page.content.decode()
