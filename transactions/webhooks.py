"""Webhooks to POS clients: registration, signing, and enqueueing deliveries on final states.

The delivery lives in `transactions.tasks_webhooks` (HTTP through `transactions.gateway.outbound`);
this module never speaks HTTP.

Verifying a webhook (the recipe in the OpenAPI description and docs/api.md):

    header = request.headers["X-ECR-Signature"]          # "t=1732712345,v1=5f2b...e1"
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + raw_body          # the raw bytes, before any JSON parsing
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300

Deliveries are at least once: receivers deduplicate by `X-ECR-Delivery` (or the body's `id`).
"""

import hashlib
import hmac
import ipaddress
import secrets
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

SIGNATURE_HEADER = "X-ECR-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
EVENTS = ("intent.final", "intent.in_doubt")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class WebhookUrlInvalid(ValueError):
    """The URL may not receive webhooks; the message is Spanish and safe to show."""


def webhook_sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-ECR-Signature` value for these exact body bytes: `t=<unix ts>,v1=<hex hmac>`."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def webhook_verify(
    *, secret: str, body: bytes, header: str, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """The receiver's side of the recipe above (used by the tests and the example client)."""
    try:
        parts = dict(item.strip().split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def loopback_http_allowed() -> bool:
    """Plain http (to loopback only) is for development and tests, never production."""
    return bool(settings.DEBUG or getattr(settings, "TESTING", False))


def webhook_url_check(url: str) -> str:
    """Accepts https URLs with a public host; http only to loopback in development.

    IP literals in private, link-local or reserved ranges are refused (a POS key must not make
    the portal call its own network). Host names are checked again at delivery time.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        raise WebhookUrlInvalid("La URL debe ser https://host/ruta.")
    if parts.username or parts.password:
        raise WebhookUrlInvalid("La URL no puede llevar usuario ni clave.")
    is_loopback = host in LOOPBACK_HOSTS or _is_loopback_ip(host)
    if parts.scheme == "http" and not (is_loopback and loopback_http_allowed()):
        raise WebhookUrlInvalid("La URL debe usar https (http solo a localhost en desarrollo).")
    if is_loopback and not loopback_http_allowed():
        raise WebhookUrlInvalid("La URL no puede apuntar a este servidor.")
    if not is_loopback:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return url
        if not address.is_global:
            raise WebhookUrlInvalid("La URL no puede apuntar a una red privada.")
    return url


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_endpoint_register(*, pos_client, url: str):
    """Registers (or replaces) the POS client's webhook; returns (endpoint, secret).

    The secret is returned only here: it is stored encrypted and never shown again.
    """
    from transactions.api.models import WebhookEndpoint

    webhook_url_check(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.filter(pos_client=pos_client).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(pos_client=pos_client)
    endpoint.url = url
    endpoint.active = True
    endpoint.set_secret(secret)
    endpoint.save()
    return endpoint, secret


def webhook_endpoint_delete(*, pos_client) -> bool:
    """Removes the POS client's webhook (pending deliveries go with it). True if there was one."""
    from transactions.api.models import WebhookEndpoint

    deleted, _ = WebhookEndpoint.objects.filter(pos_client=pos_client).delete()
    return deleted > 0


def webhook_enqueue_for_intent(*, intent_id: int, event: str) -> None:
    """Schedules delivery of the intent's current state to its POS client's webhook, if any.

    Called by the lifecycle services (inside `transaction.on_commit`) whenever an intent becomes
    final or in doubt. `event` is `intent.final` or `intent.in_doubt`. Safe to call twice for
    the same change: one delivery per (endpoint, intent, event, state).
    """
    from transactions.api.models import WebhookDelivery, WebhookEndpoint
    from transactions.api.serializers import intent_webhook_payload
    from transactions.models import Intent

    intent = (
        Intent.objects.select_related("terminal", "original", "requested_by_pos")
        .filter(pk=intent_id)
        .first()
    )
    if intent is None or intent.requested_by_pos_id is None:
        return
    if intent.requested_by_pos.revoked_at is not None:
        return
    endpoint = WebhookEndpoint.objects.filter(
        pos_client_id=intent.requested_by_pos_id, active=True
    ).first()
    if endpoint is None:
        return
    delivery_id = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(delivery_id),
        "event": event,
        "created_at": now.isoformat(),
        "data": intent_webhook_payload(intent=intent),
    }
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                public_id=delivery_id,
                endpoint=endpoint,
                intent=intent,
                event=event,
                intent_state=intent.state,
                payload=payload,
                next_attempt_at=now,
            )
    except IntegrityError:
        return  # this change was already enqueued
    transaction.on_commit(lambda: _enqueue_delivery(delivery.pk))


def _enqueue_delivery(delivery_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "transactions.tasks_webhooks.webhook_deliver_task",
        delivery_id,
        task_name=f"webhook-{delivery_id}",
        q_options={"timeout": 30},
    )
