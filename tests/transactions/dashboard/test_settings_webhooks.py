"""Settings: the webhooks POS clients registered, listed and paused by the owner only."""

import pytest
from django.urls import reverse

from tests import factories
from transactions.webhooks.models import WebhookEndpoint
from transactions.webhooks.services import webhook_endpoint_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(store_a):
    pos_client, _ = factories.make_pos_client(store_a, name="Caja web")
    endpoint, _secret = webhook_endpoint_register(
        pos_client=pos_client, url="https://pos.example.com/hook"
    )
    return endpoint


def _toggle(client, endpoint):
    return client.post(reverse("dashboard:webhook_toggle", args=[endpoint.public_id]))


def test_the_owner_sees_the_webhooks_and_pauses_and_resumes_one(client_for, owner, endpoint):
    client = client_for(owner)
    body = client.get(reverse("dashboard:settings")).content.decode()
    assert "https://pos.example.com/hook" in body and "Caja web" in body
    assert "todavía no están disponibles" not in body
    assert _toggle(client, endpoint).status_code == 302
    assert WebhookEndpoint.objects.get().active is False
    assert _toggle(client, endpoint).status_code == 302
    assert WebhookEndpoint.objects.get().active is True


@pytest.mark.parametrize(("persona", "status"), [("manager_a", 403), ("cashier_a", 403)])
def test_other_roles_cannot_pause_a_webhook(client_for, request, endpoint, persona, status):
    assert _toggle(client_for(request.getfixturevalue(persona)), endpoint).status_code == status
    assert WebhookEndpoint.objects.get().active is True


def test_a_webhook_of_another_merchant_is_404(client_for, owner):
    pos_client, _ = factories.make_pos_client(factories.make_store())
    other, _secret = webhook_endpoint_register(pos_client=pos_client, url="https://x.example/h")
    assert _toggle(client_for(owner), other).status_code == 404
    assert _toggle(client_for(factories.make_user()), other).status_code == 404
    assert WebhookEndpoint.objects.get(pk=other.pk).active is True
