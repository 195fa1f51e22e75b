"""Webhook services: URL rules through the address policy, pausing and resuming an endpoint."""

from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from transactions.webhooks import delivery
from transactions.webhooks.models import WebhookDelivery
from transactions.webhooks.services import (
    WebhookUrlInvalid,
    webhook_endpoint_register,
    webhook_endpoint_set_active,
    webhook_url_check,
)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.TESTING = False


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # `*.localhost` always names this machine (RFC 6761); it was accepted before the one
        # address policy and only refused at delivery.
        ("https://caja.localhost/hook", "La URL no puede apuntar a este servidor."),
        ("https://localhost./hook", "La URL no puede apuntar a este servidor."),
        ("https://[::1]/hook", "La URL no puede apuntar a este servidor."),
        ("https://[::ffff:10.0.0.5]/hook", "La URL no puede apuntar a una red privada."),
        ("https://[fe80::1%25eth0]/hook", "La URL no puede apuntar a una red privada."),
        ("https://169.254.169.254/latest", "La URL no puede apuntar a una red privada."),
    ],
)
def test_urls_of_this_machine_or_a_private_network_are_refused(production, url, message):
    with pytest.raises(WebhookUrlInvalid) as refused:
        webhook_url_check(url)
    assert str(refused.value) == message


def test_public_https_urls_pass(production):
    assert webhook_url_check("https://93.184.216.34/hook") == "https://93.184.216.34/hook"
    assert webhook_url_check("https://pos.example.com:8443/x") == "https://pos.example.com:8443/x"


def test_plain_http_to_a_local_name_is_allowed_in_development(settings):
    settings.DEBUG = True
    assert webhook_url_check("http://caja.localhost:8080/hook")
    with pytest.raises(WebhookUrlInvalid):
        webhook_url_check("http://pos.example.com/hook")


@pytest.fixture
def endpoint(store_a):
    pos_client, _ = factories.make_pos_client(store_a)
    endpoint, _secret = webhook_endpoint_register(
        pos_client=pos_client, url="https://pos.example.com/hook"
    )
    return endpoint


def test_pause_and_resume_change_the_row_once(endpoint, owner):
    assert webhook_endpoint_set_active(endpoint=endpoint, active=False, user=owner) is True
    assert endpoint.active is False
    assert webhook_endpoint_set_active(endpoint=endpoint, active=False, user=owner) is False
    assert webhook_endpoint_set_active(endpoint=endpoint, active=True, user=owner) is True
    endpoint.refresh_from_db()
    assert endpoint.active is True


def test_a_stale_copy_does_not_undo_a_pause(endpoint, owner):
    stale = type(endpoint).objects.get(pk=endpoint.pk)
    webhook_endpoint_set_active(endpoint=endpoint, active=False, user=owner)
    assert webhook_endpoint_set_active(endpoint=stale, active=False, user=owner) is False
    assert stale.active is False


def test_a_paused_endpoint_gets_its_pending_deliveries_cancelled(
    endpoint, store_a, terminal_a, credential, owner
):
    intent = factories.make_intent(
        store_a, credential=credential, state="approved", amount=Decimal("10.00")
    )
    pending = WebhookDelivery.objects.create(
        endpoint=endpoint,
        intent=intent,
        event="intent.final",
        intent_state="approved",
        payload={"x": 1},
        next_attempt_at=timezone.now(),
    )
    webhook_endpoint_set_active(endpoint=endpoint, active=False, user=owner)
    assert delivery.webhook_deliver(delivery_id=pending.pk) is True
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == ("cancelled", 0)
