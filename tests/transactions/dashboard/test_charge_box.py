"""Issue 12 items 6 and 9: the charge box on the terminal page.

6: after a cancel, an approval or a decline the box offers "Nuevo cobro" (an empty form swapped
in place), and "Cancelación pedida." lives in the box, not in the session where it would show up
on the next, unrelated page.
9: one truth per page: when the box sees its intent change it answers `HX-Trigger`, and the
state box and today's list (which read the same ledger) refresh on that event at once.
"""

import re

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions import services
from transactions.dashboard.views.common import live_box_version
from transactions.models import Intent
from transactions.states import State

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def no_provider(monkeypatch):
    """The boxes refresh live intents from the provider; here the ledger is the truth."""
    monkeypatch.setattr(services, "intent_refresh", lambda *, intent, wait=0: intent)


def _live(client, intent, seen=None, shown=None):
    url = reverse("dashboard:intent_live", args=[intent.public_id])
    params = {"seen": seen} if seen else {}
    if shown:
        params["shown"] = shown
    return client.get(url, params, headers=HTMX)


def _shown(response) -> str:
    """The version the box asks its next poll with (`shown=`), from its hx-get."""
    match = re.search(r"[?&]amp;shown=([0-9a-f]+)", response.content.decode())
    assert match, "a live box says which version it shows"
    return match.group(1)


@pytest.mark.parametrize("state", [State.APPROVED, State.DECLINED, State.CANCELLED])
def test_a_finished_charge_offers_nuevo_cobro(client_for, cashier_a, store_a, terminal_a, state):
    # Cancelled before any terminal took it: it has no terminal of its own, only the offer.
    intent = make_intent(
        store_a,
        state=state,
        terminal=terminal_a if state != State.CANCELLED else None,
        offered_terminals=[terminal_a],
    )
    body = _live(client_for(cashier_a), intent).content.decode()
    assert 'data-action="new-charge"' in body
    assert reverse("dashboard:terminal_charge", args=[terminal_a.public_id]) in body


def test_nuevo_cobro_swaps_back_an_empty_form(client_for, cashier_a, terminal_a):
    response = client_for(cashier_a).get(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]), headers=HTMX
    )
    body = response.content.decode()
    assert "charge-form" in body and 'data-action="charge"' in body
    assert 'name="amount"' in body and 'name="amount" value' not in body


def test_a_live_charge_offers_no_nuevo_cobro(client_for, cashier_a, store_a, terminal_a):
    intent = make_intent(store_a, state=State.PENDING, terminal=terminal_a)
    assert 'data-action="new-charge"' not in _live(client_for(cashier_a), intent).content.decode()


def test_cancel_notice_stays_in_the_box(client_for, cashier_a, store_a, terminal_a, monkeypatch):
    intent = make_intent(store_a, state=State.PENDING, terminal=terminal_a)
    monkeypatch.setattr(services, "intent_cancel", lambda *, intent, user: intent)
    client = client_for(cashier_a)
    response = client.post(
        reverse("dashboard:intent_cancel", args=[intent.public_id]), {"from": "live"}, headers=HTMX
    )
    assert "Cancelación pedida." in response.content.decode()
    # ...and nowhere later: no django message was left in the session.
    for url in [reverse("dashboard:home"), reverse("dashboard:intent_list")]:
        assert "Cancelación pedida." not in client.get(url).content.decode()


def test_a_refused_cancel_says_why_in_the_box(
    client_for, cashier_a, store_a, terminal_a, monkeypatch
):
    from transactions.errors import Code, IntentRuleError

    intent = make_intent(store_a, state=State.PENDING, terminal=terminal_a)

    def refuse(*, intent, user):
        raise IntentRuleError(Code.NOT_CANCELLABLE, "Ya no se puede cancelar.")

    monkeypatch.setattr(services, "intent_cancel", refuse)
    client = client_for(cashier_a)
    response = client.post(
        reverse("dashboard:intent_cancel", args=[intent.public_id]), {"from": "live"}, headers=HTMX
    )
    assert "Ya no se puede cancelar." in response.content.decode()
    assert "Ya no se puede cancelar." not in client.get(reverse("dashboard:home")).content.decode()


def test_the_box_announces_a_change_to_the_page(client_for, cashier_a, store_a, terminal_a):
    intent = make_intent(store_a, state=State.APPROVED, terminal=terminal_a)
    client = client_for(cashier_a)
    changed = _live(client, intent, seen=State.PROCESSING)
    assert changed["HX-Trigger"] == "terminal-changed"
    still = make_intent(store_a, state=State.PROCESSING, terminal=terminal_a)
    assert "HX-Trigger" not in _live(client, still, seen=State.PROCESSING)
    # The polling box says what it shows, so the server can tell.
    assert f"?seen={State.PROCESSING}" in _live(client, still, seen="processing").content.decode()


def test_a_poll_that_would_show_the_same_box_answers_204(
    client_for, cashier_a, store_a, terminal_a
):
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    client = client_for(cashier_a)
    first = _live(client, intent)
    assert first.status_code == 200
    shown = _shown(first)
    # Nothing changed: no box to swap, so the one on the screen (and its Cancelar) stays put.
    same = _live(client, intent, seen=State.PENDING, shown=shown)
    assert same.status_code == 204 and same.content == b""
    assert "HX-Trigger" not in same
    # Anything the box shows that changes sends the new box: the attention badge...
    Intent.objects.filter(pk=intent.pk).update(needs_attention=True, attention_reason="Trabada")
    intent.refresh_from_db()
    flagged = _live(client, intent, seen=State.PENDING, shown=shown)
    assert flagged.status_code == 200 and "Requiere atención" in flagged.content.decode()
    # ...the state (and the page's other boxes are told)...
    Intent.objects.filter(pk=intent.pk).update(state=State.CANCELLING)
    intent.refresh_from_db()
    moved = _live(client, intent, seen=State.PENDING, shown=_shown(flagged))
    assert moved.status_code == 200 and moved["HX-Trigger"] == "terminal-changed"
    # ...and a final box is always sent.
    Intent.objects.filter(pk=intent.pk).update(state=State.CANCELLED)
    intent.refresh_from_db()
    final = _live(client, intent, seen=State.CANCELLED, shown=_shown(moved))
    assert final.status_code == 200 and 'data-state="cancelled"' in final.content.decode()


def test_the_buttons_a_person_may_press_are_part_of_the_version(
    client_for, cashier_a, store_a, terminal_a
):
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    assert live_box_version(intent, {"cancel"}) != live_box_version(intent, set())
    assert live_box_version(intent, {"cancel"}) == live_box_version(intent, {"cancel"})


def test_the_other_boxes_listen_for_the_change(client_for, cashier_a, terminal_a):
    page = client_for(cashier_a).get(
        reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
    )
    body = page.content.decode()
    assert 'id="terminal-live"' in body and 'id="terminal-today"' in body
    assert body.count("terminal-changed from:body") == 2


def test_after_the_change_every_box_reads_the_same(client_for, cashier_a, store_a, terminal_a):
    """What the boxes show once the event fired: the approval everywhere, the terminal free."""
    intent = make_intent(store_a, state=State.APPROVED, terminal=terminal_a)
    client = client_for(cashier_a)
    live = client.get(reverse("dashboard:terminal_live", args=[terminal_a.public_id]))
    assert 'data-terminal-state="idle"' in live.content.decode()
    today = client.get(reverse("dashboard:terminal_today", args=[terminal_a.public_id]))
    assert 'data-state="approved"' in today.content.decode()
    assert str(intent.public_id) in today.content.decode()


def test_the_terminal_page_resumes_the_charge_in_progress(
    client_for, cashier_a, store_a, terminal_a
):
    """A cashier who reloads mid-charge follows (and can cancel) it, not a blank form."""
    intent = make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    url = reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
    body = client_for(cashier_a).get(url).content.decode()
    assert f'id="intent-live-{intent.public_id}"' in body
    assert 'data-action="cancel"' in body
    assert 'data-action="charge"' not in body


def test_the_terminal_page_offers_the_form_when_nothing_is_in_progress(
    client_for, cashier_a, store_a, terminal_a
):
    make_intent(store_a, state=State.APPROVED, terminal=terminal_a)
    url = reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
    body = client_for(cashier_a).get(url).content.decode()
    assert 'data-action="charge"' in body
    assert "intent-live-" not in body


def test_the_charge_in_progress_is_not_shown_to_who_cannot_charge(
    client_for, finance, store_a, terminal_a
):
    make_intent(store_a, state=State.PENDING, offered_terminals=[terminal_a])
    url = reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
    body = client_for(finance).get(url).content.decode()
    assert "intent-live-" not in body
