"""Webhooks: registration rules, signature recipe, retries with backoff, revoked clients.

End to end from the POS API: endpoints are registered through it, so these tests live beside
its fixtures. They cover `transactions/webhooks/delivery.py` and `signing.py`; the services'
rules and the payload are in tests/transactions/webhooks/.
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from stores.services import pos_client_revoke
from tests.factories import make_intent
from tests.transactions.api.support import API, post
from transactions import tasks_webhooks
from transactions.api.models import IdempotencyRecord
from transactions.webhooks import delivery as webhook_delivery
from transactions.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from transactions.webhooks.services import webhook_enqueue_for_intent
from transactions.webhooks.signing import webhook_sign, webhook_verify


def _verify_like_the_docs(secret: str, raw_body: bytes, header: str) -> bool:
    """The recipe of the API description, verbatim."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def endpoint_a(api_a, receiver):
    response = post(api_a, "/webhook", {"url": receiver.url})
    assert response.status_code == 201, response.content
    endpoint = WebhookEndpoint.objects.get()
    endpoint.secret_plain = response.json()["secret"]
    return endpoint


@pytest.fixture
def final_intent(store_a, terminal_a, credential, key_a):
    return make_intent(
        store_a,
        terminal=terminal_a,
        state="approved",
        requested_by_pos=key_a[0],
        card_last_four="4242",
        card_brand="VISA",
    )


def _enqueue(intent, django_capture_on_commit_callbacks, event="intent.final"):
    with django_capture_on_commit_callbacks(execute=True):
        webhook_enqueue_for_intent(intent_id=intent.pk, event=event)


def test_register_shows_the_secret_once(api_a, receiver):
    first = post(api_a, "/webhook", {"url": receiver.url}, key="hook-1")
    assert first.status_code == 201
    secret = first.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    endpoint = WebhookEndpoint.objects.get()
    assert secret not in endpoint.secret_encrypted and endpoint.get_secret() == secret
    replay = post(api_a, "/webhook", {"url": receiver.url}, key="hook-1")
    assert replay.status_code == 201 and replay.json()["secret"] is None
    shown = api_a.get(f"{API}/webhook").json()
    assert shown["url"] == receiver.url and "secret" not in shown
    stored = list(IdempotencyRecord.objects.values_list("response_body", flat=True))
    assert secret not in json.dumps(stored)


def test_register_again_replaces_url_and_secret(api_a, receiver):
    one = post(api_a, "/webhook", {"url": receiver.url}).json()
    two = post(api_a, "/webhook", {"url": "https://pos.example.com/hook"}).json()
    assert one["id"] == two["id"] and one["secret"] != two["secret"]
    assert WebhookEndpoint.objects.get().url == "https://pos.example.com/hook"


@pytest.mark.parametrize(
    "url",
    [
        "http://pos.example.com/hook",  # plain http outside loopback
        "ftp://pos.example.com/hook",
        "https://10.0.0.5/hook",  # private network
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://user:pass@pos.example.com/hook",
        "not a url",
    ],
)
def test_register_refuses_unsafe_urls(api_a, url):
    response = post(api_a, "/webhook", {"url": url})
    assert response.status_code == 400
    assert response.json()["code"] in ("webhook_url_invalid", "validation_error")
    assert not WebhookEndpoint.objects.exists()


def test_http_loopback_refused_in_production(api_a, settings):
    settings.DEBUG = False
    settings.TESTING = False
    response = post(api_a, "/webhook", {"url": "http://127.0.0.1:9/hook"})
    assert response.json()["code"] == "webhook_url_invalid"


def test_get_and_delete(api_a, api_b, endpoint_a):
    assert api_b.get(f"{API}/webhook").status_code == 404
    assert api_b.delete(f"{API}/webhook").status_code == 404
    assert api_a.delete(f"{API}/webhook").status_code == 204
    assert api_a.get(f"{API}/webhook").status_code == 404
    assert api_a.delete(f"{API}/webhook").status_code == 404


def test_signature_helpers_agree_with_the_recipe():
    body = b'{"a":1}'
    header = webhook_sign(secret="s3cret", body=body)
    assert _verify_like_the_docs("s3cret", body, header)
    assert webhook_verify(secret="s3cret", body=body, header=header)
    assert not webhook_verify(secret="other", body=body, header=header)
    assert not webhook_verify(secret="s3cret", body=body + b" ", header=header)
    old = webhook_sign(secret="s3cret", body=body, timestamp=int(time.time()) - 3600)
    assert not webhook_verify(secret="s3cret", body=body, header=old)
    assert not webhook_verify(secret="s3cret", body=body, header="garbage")


def test_delivery_is_signed_and_logged(
    endpoint_a, final_intent, receiver, django_capture_on_commit_callbacks
):
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    (request,) = receiver.requests
    headers = request["headers"]
    assert _verify_like_the_docs(
        endpoint_a.secret_plain, request["body"], headers["X-ECR-Signature"]
    )
    event = json.loads(request["body"])
    assert event["event"] == headers["X-ECR-Event"] == "intent.final"
    assert event["data"]["id"] == str(final_intent.public_id)
    assert event["data"]["card"]["last_four"] == "4242"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert str(delivery.public_id) == headers["X-ECR-Delivery"] == event["id"]
    assert WebhookAttempt.objects.get().status_code == 200


def test_enqueue_twice_for_the_same_change_delivers_once(
    endpoint_a, final_intent, receiver, django_capture_on_commit_callbacks
):
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1


def test_in_doubt_then_final_are_two_events(
    endpoint_a, store_a, terminal_a, key_a, receiver, django_capture_on_commit_callbacks
):
    intent = make_intent(store_a, terminal=terminal_a, state="in_doubt", requested_by_pos=key_a[0])
    _enqueue(intent, django_capture_on_commit_callbacks, event="intent.in_doubt")
    intent.state = "approved"
    intent.save()
    _enqueue(intent, django_capture_on_commit_callbacks)
    events = [json.loads(r["body"]) for r in receiver.requests]
    assert [(e["event"], e["data"]["state"]) for e in events] == [
        ("intent.in_doubt", "in_doubt"),
        ("intent.final", "approved"),
    ]


def test_failing_receiver_is_retried_with_backoff(
    endpoint_a, final_intent, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503]
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    first_delay = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=20) < first_delay <= timedelta(seconds=30)

    # Not due yet: the sweep does nothing.
    assert tasks_webhooks.webhook_retry_sweep() == 0
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert tasks_webhooks.webhook_retry_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=50)  # doubled

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    tasks_webhooks.webhook_retry_sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at is not None) == (
        "delivered",
        3,
        True,
    )
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1  # every attempt sends the same document


def test_unreachable_receiver_gives_up_after_max_attempts(
    endpoint_a, final_intent, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.update(url="http://127.0.0.1:9/closed")
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    for _ in range(webhook_delivery.MAX_ATTEMPTS + 2):
        WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        tasks_webhooks.webhook_retry_sweep()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", webhook_delivery.MAX_ATTEMPTS)
    assert delivery.attempt_log.count() == webhook_delivery.MAX_ATTEMPTS
    assert "ConnectError" in delivery.last_error


def test_backoff_is_bounded():
    delays = [webhook_delivery.retry_delay(n) for n in range(1, 12)]
    assert delays[0] == timedelta(seconds=30)
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=1)


def test_no_delivery_to_a_revoked_client(
    endpoint_a, final_intent, key_a, receiver, django_capture_on_commit_callbacks
):
    pos_client_revoke(client=key_a[0])
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_pending_retry_is_dropped_when_the_client_is_revoked(
    endpoint_a, final_intent, key_a, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    pos_client_revoke(client=key_a[0])
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    tasks_webhooks.webhook_retry_sweep()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == "cancelled"


def test_no_webhook_for_intents_from_the_dashboard(
    endpoint_a, store_a, terminal_a, receiver, django_capture_on_commit_callbacks
):
    intent = make_intent(store_a, terminal=terminal_a, state="approved")
    _enqueue(intent, django_capture_on_commit_callbacks)
    assert receiver.requests == []


def test_a_delivery_is_not_sent_twice_at_once(endpoint_a, final_intent, receiver):
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint_a,
        intent=final_intent,
        event="intent.final",
        intent_state="approved",
        payload={"x": 1},
        next_attempt_at=timezone.now(),
        claimed_until=timezone.now() + timedelta(seconds=60),
    )
    assert webhook_delivery.webhook_deliver(delivery_id=delivery.pk) is False
    assert receiver.requests == []


def test_webhook_schedules_are_created_idempotently(db):
    from django_q.models import Schedule

    from transactions.schedules import schedules_ensure

    schedules_ensure()
    schedules_ensure()
    funcs = list(Schedule.objects.values_list("func", flat=True))
    assert funcs.count("transactions.tasks_webhooks.idempotency_prune_task") == 1
    assert funcs.count("transactions.tasks_webhooks.webhook_retry_sweep") == 1


def test_delivery_goes_to_the_address_that_was_checked(
    endpoint_a, final_intent, monkeypatch, django_capture_on_commit_callbacks
):
    """DNS rebinding: the host is resolved once, checked, and the request pinned to that
    address with the original Host and TLS server name; a second lookup is never made."""
    import socket

    import httpx

    from transactions.gateway import outbound

    WebhookEndpoint.objects.update(url="https://hooks.example.com:8443/ecr")
    lookups = []

    def fake_getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200)

    with outbound.webhook_transport_for_tests(httpx.MockTransport(handler)):
        _enqueue(final_intent, django_capture_on_commit_callbacks)
    (request,) = seen
    assert request.url.host == "93.184.216.34" and request.url.port == 8443
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert lookups == ["hooks.example.com"]
    assert WebhookDelivery.objects.get().status == "delivered"


def test_key_rotation_reencrypts_webhook_secrets_too(endpoint_a):
    """Dropping the old key after `rotate_encryption_keys` must not strand webhook secrets."""
    from cryptography.fernet import Fernet
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    old_keys = list(settings.ECR_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    with override_settings(ECR_ENCRYPTION_KEYS=[new_key, *old_keys]):
        call_command("rotate_encryption_keys")
    with override_settings(ECR_ENCRYPTION_KEYS=[new_key]):
        assert WebhookEndpoint.objects.get().get_secret() == endpoint_a.secret_plain


def test_an_unreadable_secret_is_a_failed_attempt_not_a_stuck_delivery(
    endpoint_a, final_intent, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.update(secret_encrypted="not-a-fernet-token")
    _enqueue(final_intent, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.claimed_until is None
    assert delivery.attempts == 1 and "SecretUnreadable" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
