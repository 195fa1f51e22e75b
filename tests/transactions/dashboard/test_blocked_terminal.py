"""Issue 12 item 3: a charge the provider never received blocks the terminal.

The busy refusal links to the blocking operation and says who can act (by role); the cashier's
page does not tell a cashier to do what the role forbids; a manager can close it as "No recibida
por Prisma" after the provider's search (audited), keeping the POS reference reserved unless the
manager explicitly releases it. The API side: `api/test_busy_blocking_intent.py`."""

import pytest
from django.db import IntegrityError
from django.urls import reverse

from tests.factories import make_intent
from transactions import resolver
from transactions.gateway.errors import GatewayError
from transactions.gateway.types import IntentAnswer
from transactions.models import Intent, IntentEvent
from transactions.states import Kind, Resolution, State

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
CHARGE = {"amount": "1500", "installments": "1", "method": "card"}


@pytest.fixture
def doubt(store_a, terminal_a, credential):
    """A fresh in-doubt create on terminal A (it holds the terminal: it may be on its screen)."""
    return make_intent(
        store_a,
        state=State.IN_DOUBT,
        offered_terminals=[terminal_a],
        reference="PED-7",
        ecr_transaction_id="PED-7",
    )


def test_the_busy_refusal_links_to_the_blocking_operation(client_for, cashier_a, terminal_a, doubt):
    response = client_for(cashier_a).post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]), CHARGE, headers=HTMX
    )
    body = response.content.decode()
    assert "La terminal 11111111 tiene una operación pendiente." in body
    assert reverse("dashboard:intent_detail", args=[doubt.public_id]) in body
    assert "La puede resolver un dueño o un encargado" in body
    assert Intent.objects.filter(kind=Kind.PAYMENT).count() == 1


def test_the_cashier_is_not_told_to_resolve_by_hand(client_for, cashier_a, doubt):
    Intent.objects.filter(pk=doubt.pk).update(
        needs_attention=True, attention_reason="No se encontró en Prisma: confirmar en la terminal"
    )
    body = (
        client_for(cashier_a)
        .get(reverse("dashboard:intent_detail", args=[doubt.public_id]))
        .content.decode()
    )
    assert "resolver a mano" not in body.lower()
    assert "Tu rol no permite resolverla: avisale a un dueño o un encargado." in body
    assert 'data-action="resolve"' not in body and 'data-action="not-received"' not in body


def test_the_manager_sees_the_not_received_action(client_for, manager_a, doubt):
    body = (
        client_for(manager_a)
        .get(reverse("dashboard:intent_detail", args=[doubt.public_id]))
        .content.decode()
    )
    assert 'data-action="not-received"' in body
    assert "Tu rol no permite" not in body


def _close(client, intent, **data):
    return client.post(
        reverse("dashboard:intent_not_received", args=[intent.public_id]),
        {"reason": "El cliente no vio nada en la terminal", **data},
    )


def test_not_received_after_the_search_keeps_the_reference(
    client_for, manager_a, doubt, monkeypatch, store_a
):
    searched = []
    monkeypatch.setattr(resolver, "_candidates", lambda intent: searched.append(intent.pk) or [])
    response = _close(client_for(manager_a), doubt)
    assert response.status_code == 302
    assert searched == [doubt.pk], "the provider is asked once more"
    doubt.refresh_from_db()
    assert (doubt.state, doubt.resolution, doubt.reference_held) == (
        State.FAILED,
        Resolution.NOT_RECEIVED,
        True,
    )
    assert doubt.status_label == "No recibida por Prisma"
    event = doubt.events.get(type=IntentEvent.Type.RESOLVED)
    assert event.actor_user == manager_a
    assert "No recibida por Prisma" in event.message and "sigue reservada" in event.message
    # The order cannot be charged again while the reference is held...
    with pytest.raises(IntegrityError):
        make_intent(store_a, state=State.PENDING, reference="PED-7")


def test_the_reference_is_released_only_by_choice(client_for, manager_a, doubt, store_a):
    doubt_closed = doubt
    Intent.objects.filter(pk=doubt.pk).update(
        state=State.FAILED, resolution=Resolution.NOT_RECEIVED, reference_held=True
    )
    url = reverse("dashboard:intent_release_reference", args=[doubt_closed.public_id])
    client = client_for(manager_a)
    assert client.post(url).status_code == 200  # asks first
    assert Intent.objects.get(pk=doubt.pk).reference_held
    assert client.post(url, {"confirmar": "1"}).status_code == 302
    doubt.refresh_from_db()
    assert not doubt.reference_held
    assert doubt.events.filter(type=IntentEvent.Type.RESOLVED, actor_user=manager_a).exists()
    make_intent(store_a, state=State.PENDING, reference="PED-7")  # now it can be charged


def test_releasing_at_once_frees_the_reference(client_for, manager_a, doubt, monkeypatch, store_a):
    monkeypatch.setattr(resolver, "_candidates", lambda intent: [])
    _close(client_for(manager_a), doubt, release_reference="on")
    doubt.refresh_from_db()
    assert doubt.resolution == Resolution.NOT_RECEIVED and not doubt.reference_held
    make_intent(store_a, state=State.PENDING, reference="PED-7")


def test_found_at_the_provider_it_is_adopted_not_closed(client_for, manager_a, doubt, monkeypatch):
    answer = IntentAnswer(
        kind=Kind.PAYMENT, provider_id="prov-found", status="PAYMENT_REQUEST", reference="PED-7"
    )
    monkeypatch.setattr(resolver, "_candidates", lambda intent: [answer])
    client = client_for(manager_a)
    response = _close(client, doubt)
    assert response.status_code == 302
    doubt.refresh_from_db()
    assert (doubt.state, doubt.provider_id, doubt.resolution) == (State.PENDING, "prov-found", "")
    assert "Prisma sí tiene esta intención" in client.get(response.url).content.decode()


def test_a_failed_search_closes_nothing(client_for, manager_a, doubt, monkeypatch):
    def down(intent):
        raise GatewayError("503", http_status=503, retryable=True)

    monkeypatch.setattr(resolver, "_candidates", down)
    response = _close(client_for(manager_a), doubt)
    assert response.status_code == 422
    assert "No se pudo buscar en Prisma" in response.content.decode()
    doubt.refresh_from_db()
    assert doubt.state == State.IN_DOUBT and doubt.resolution == ""


def test_not_received_needs_a_reason(client_for, manager_a, doubt, monkeypatch):
    monkeypatch.setattr(resolver, "_candidates", lambda intent: [])
    response = _close(client_for(manager_a), doubt, reason="")
    assert response.status_code == 422
    doubt.refresh_from_db()
    assert doubt.state == State.IN_DOUBT


def test_a_cashier_cannot_close_it(client_for, cashier_a, doubt, monkeypatch):
    monkeypatch.setattr(resolver, "_candidates", lambda intent: [])
    assert _close(client_for(cashier_a), doubt).status_code == 403
    doubt.refresh_from_db()
    assert doubt.state == State.IN_DOUBT


def test_resolve_without_a_ticket_for_a_charge_that_never_happened(client_for, manager_a, doubt):
    """The resolution form no longer asks for a ticket that does not exist: only "Aprobada"
    needs evidence."""
    response = client_for(manager_a).post(
        reverse("dashboard:intent_resolve", args=[doubt.public_id]),
        {"outcome": "declined", "evidence": "", "reason": "No pasó la tarjeta"},
    )
    assert response.status_code == 302
    doubt.refresh_from_db()
    assert (doubt.state, doubt.resolution) == (State.DECLINED, Resolution.BY_HAND)


@pytest.mark.parametrize("route", ["batch_close_terminal", "batch_close_store"])
def test_the_batch_close_refusal_links_to_the_blocking_operation(
    client_for, manager_a, terminal_a, store_a, doubt, route
):
    """Closing a lote on a terminal held by an operation says so and links to that operation,
    as the charge form does (issue 12 item 3, on the batch page)."""
    target = terminal_a if route == "batch_close_terminal" else store_a
    data = {"confirmar": "1"} if route == "batch_close_store" else {}
    response = client_for(manager_a).post(
        reverse(f"dashboard:{route}", args=[target.public_id]), data, headers=HTMX
    )
    body = response.content.decode()
    assert "tiene una operación pendiente" in body, body
    assert f'data-blocking-intent="{doubt.public_id}"' in body
    assert reverse("dashboard:intent_detail", args=[doubt.public_id]) in body
    assert not Intent.objects.filter(kind=Kind.SETTLEMENT).exists()
