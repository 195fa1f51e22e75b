"""The dashboard against the simulator over real HTTP: charge, approve live, reverse, close."""

import time

import pytest
from django.urls import reverse

from tests.transactions.support import approved_payment
from transactions.models import Batch, Intent
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


def _poll(client, url, until, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url, headers=HTMX).content.decode()
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_charge_approve_reverse(sim, client_for, manager_a, terminal_a):
    client = client_for(manager_a)
    response = client.post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]),
        {"amount": "1.500,00", "installments": "1", "brand": "", "method": "card"},
        headers=HTMX,
    )
    assert response.status_code == 200
    payment = Intent.objects.get(kind=Kind.PAYMENT)
    assert payment.state == State.PENDING
    assert 'data-state="pending"' in response.content.decode()

    sim.pick_and_pay(terminal_a.terminal_id, card="visa_credito")
    live_url = reverse("dashboard:intent_live", args=[payment.public_id])
    body = _poll(client, live_url, lambda b: 'data-state="approved"' in b)
    assert 'data-state="approved"' in body
    assert "hx-trigger" not in body  # polling stops on a final state

    page = client.get(reverse("dashboard:intent_detail", args=[payment.public_id])).content.decode()
    assert 'data-action="reverse"' in page
    response = client.post(
        reverse("dashboard:intent_reverse", args=[payment.public_id]), {"confirmar": "1"}
    )
    reversal = Intent.objects.get(kind=Kind.REVERSAL)
    assert response.url == reverse("dashboard:intent_detail", args=[reversal.public_id])
    sim.pick_and_pay(terminal_a.terminal_id)
    panel = _poll(
        client,
        reverse("dashboard:intent_panel", args=[reversal.public_id]),
        lambda b: 'data-state="approved"' in b,
    )
    assert 'data-state="approved"' in panel
    home = client.get("/").content.decode()
    assert '<span class="tile-value" data-kpi="net">$ 0,00</span>' in home


def test_cancel_while_waiting(sim, client_for, cashier_a, terminal_a):
    client = client_for(cashier_a)
    client.post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]),
        {"amount": "100", "installments": "1", "method": "card"},
        headers=HTMX,
    )
    payment = Intent.objects.get(kind=Kind.PAYMENT)
    response = client.post(
        reverse("dashboard:intent_cancel", args=[payment.public_id]),
        {"from": "live"},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = _poll(
        client,
        reverse("dashboard:intent_live", args=[payment.public_id]),
        lambda b: 'data-state="cancelled"' in b,
    )
    assert 'data-state="cancelled"' in body


def test_store_batch_close_shows_progress_and_tickets(sim, client_for, owner, store_a, terminal_a):
    approved_payment(sim, store_a, terminal_a)
    client = client_for(owner)
    response = client.post(
        reverse("dashboard:batch_close_store", args=[store_a.public_id]),
        {"confirmar": "1"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert "<progress" in body
    settlement = Intent.objects.get(kind=Kind.SETTLEMENT)
    url = reverse("dashboard:batch_progress") + f"?i={settlement.public_id}"
    body = _poll(client, url, lambda b: 'data-finished="true"' in b, timeout=15)
    assert 'data-finished="true"' in body
    assert '<progress value="1" max="1">' in body
    assert "data-ticket" in body
    assert Batch.objects.filter(terminal=terminal_a, settlement=settlement).exists()
