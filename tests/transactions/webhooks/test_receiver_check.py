"""Webhook work after an intent ends happens only when its POS client has a receiver."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from transactions.models import Intent
from transactions.states import State
from transactions.transitions import intent_transition
from transactions.webhooks.models import WebhookDelivery
from transactions.webhooks.services import (
    webhook_endpoint_delete,
    webhook_endpoint_register,
    webhook_endpoint_set_active,
    webhook_receiver_exists,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    tasks: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: tasks.append(a))
    return tasks


@pytest.fixture
def pos_client(store_a):
    client, _key = factories.make_pos_client(store_a, name="Caja 1")
    return client


def _processing(store, terminal, credential, pos_client=None) -> Intent:
    return factories.make_intent(
        store,
        terminal=terminal,
        credential=credential,
        state=State.PROCESSING,
        amount=Decimal("10.00"),
        requested_by_pos=pos_client,
    )


def _approve(intent, capture):
    with capture(execute=True):
        assert intent_transition(intent, to_state=State.APPROVED)


def test_no_receiver_means_no_delivery_no_task_and_no_reread(
    store_a, terminal_a, credential, pos_client, queued, django_capture_on_commit_callbacks
):
    intent = _processing(store_a, terminal_a, credential, pos_client)
    webhook_receiver_exists(pos_client_id=pos_client.pk)  # the flag is cached
    with CaptureQueriesContext(connection) as queries:
        _approve(intent, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()
    assert queued == []
    # The change and its event, and the approved-payment check; no webhook lookups.
    assert not [q for q in queries if "webhook" in q["sql"].lower()]


def test_an_intent_without_a_pos_client_asks_nothing(
    store_a, terminal_a, credential, queued, django_capture_on_commit_callbacks
):
    intent = _processing(store_a, terminal_a, credential)
    with CaptureQueriesContext(connection) as queries:
        _approve(intent, django_capture_on_commit_callbacks)
    assert not [q for q in queries if "webhook" in q["sql"].lower()]
    assert queued == []


def test_a_receiver_gets_its_delivery(
    store_a, terminal_a, credential, pos_client, queued, django_capture_on_commit_callbacks
):
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is False  # cached "no"
    webhook_endpoint_register(pos_client=pos_client, url="https://pos.example.com/hook")
    intent = _processing(store_a, terminal_a, credential, pos_client)
    _approve(intent, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.intent_id, delivery.event, delivery.intent_state) == (
        intent.pk,
        "intent.final",
        State.APPROVED,
    )
    assert len(queued) == 1


def test_pausing_resuming_and_deleting_clear_the_flag(pos_client):
    endpoint, _secret = webhook_endpoint_register(
        pos_client=pos_client, url="https://pos.example.com/hook"
    )
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is True
    webhook_endpoint_set_active(endpoint=endpoint, active=False)
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is False
    webhook_endpoint_set_active(endpoint=endpoint, active=True)
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is True
    webhook_endpoint_delete(pos_client=pos_client)
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is False


def test_an_endpoint_written_outside_the_services_clears_the_flag(pos_client):
    from transactions.webhooks.models import WebhookEndpoint

    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is False
    WebhookEndpoint.objects.create(pos_client=pos_client, url="https://pos.example.com/h")
    assert webhook_receiver_exists(pos_client_id=pos_client.pk) is True
