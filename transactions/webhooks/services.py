"""Writes of the webhooks: register, delete, pause or resume an endpoint; enqueue deliveries.

This module never speaks HTTP: `transactions.webhooks.delivery` sends (through
`transactions.gateway.outbound`). The signature recipe is `transactions.webhooks.signing`.
"""

import logging
import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import IntegrityError, transaction
from django.utils import timezone

from stores.address_policy import Reach, host_reach
from transactions.intent_document import intent_document
from transactions.models import Intent
from transactions.webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

EVENTS = (
    "intent.final",
    "intent.in_doubt",
    # Maker-checker (issue 15, `services.approvals`): a refund or reversal that waited for a
    # second person was approved (and is sent now), rejected or withdrawn, or expired.
    "intent.approval_approved",
    "intent.approval_rejected",
    "intent.approval_expired",
)
# The django-q2 task of one attempt; a stored string, kept stable (see tasks_webhooks).
DELIVER_TASK = "transactions.tasks_webhooks.webhook_deliver_task"
# How long a POS client's "has a receiver" flag is trusted without a change that clears it.
RECEIVER_FLAG_SECONDS = 300


class WebhookUrlInvalid(ValueError):
    """The URL may not receive webhooks; the message is Spanish and safe to show."""


def loopback_http_allowed() -> bool:
    """Plain http (to loopback only) is for development and tests, never production."""
    return bool(settings.DEBUG or getattr(settings, "TESTING", False))


def webhook_url_check(url: str) -> str:
    """Accepts https URLs with a public host; http only to loopback in development.

    The address policy (`stores.address_policy`) refuses IP literals in private, link-local or
    reserved ranges and `localhost` names outside development (a POS key must not make the
    portal call its own network). Host names are checked again at delivery time.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        raise WebhookUrlInvalid("La URL debe ser https://host/ruta.")
    if parts.username or parts.password:
        raise WebhookUrlInvalid("La URL no puede llevar usuario ni clave.")
    reach = host_reach(host)
    is_loopback = reach is Reach.LOOPBACK
    if parts.scheme == "http" and not (is_loopback and loopback_http_allowed()):
        raise WebhookUrlInvalid("La URL debe usar https (http solo a localhost en desarrollo).")
    if is_loopback and not loopback_http_allowed():
        raise WebhookUrlInvalid("La URL no puede apuntar a este servidor.")
    if reach is Reach.INTERNAL:
        raise WebhookUrlInvalid("La URL no puede apuntar a una red privada.")
    return url


def _receiver_flag_key(pos_client_id: int) -> str:
    return f"ecr:webhook-receiver:{pos_client_id}"


def _receiver_flag_is_cheap() -> bool:
    """Redis (or memory in tests) answers the flag without the database; the database cache
    would cost what the direct lookup costs, so with it the lookup is made every time."""
    return not isinstance(caches["default"], DatabaseCache)


def webhook_receiver_exists(*, pos_client_id: int | None) -> bool:
    """Whether the POS client has an active webhook: the cheap check before any enqueue work.

    Most intents have none (a dashboard's, or a POS without a webhook), and every intent that
    becomes final asks. The answer is kept in the shared cache per POS client and cleared by
    every write of an endpoint here (register, delete, pause, resume). A stale "yes" only costs
    the full check in `webhook_enqueue_for_intent`; a stale "no" cannot outlive those writes.
    """
    if pos_client_id is None:
        return False
    cheap = _receiver_flag_is_cheap()
    if cheap:
        cached = cache.get(_receiver_flag_key(pos_client_id))
        if cached is not None:
            return bool(cached)
    exists = WebhookEndpoint.objects.filter(pos_client_id=pos_client_id, active=True).exists()
    if cheap:
        cache.set(_receiver_flag_key(pos_client_id), exists, timeout=RECEIVER_FLAG_SECONDS)
    return exists


def _receiver_changed(pos_client_id: int) -> None:
    """Clears the POS client's flag now and again after commit (a check made meanwhile from the
    old rows must not keep a stale answer)."""
    if not _receiver_flag_is_cheap():
        return
    key = _receiver_flag_key(pos_client_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def webhook_receiver_forget(sender, instance, **kwargs) -> None:
    """Signal receiver (post_save / post_delete of an endpoint, connected in `apps.py`): a row
    written outside these services (shell, data migration) clears the flag too."""
    _receiver_changed(instance.pos_client_id)


def webhook_endpoint_register(*, pos_client, url: str) -> tuple[WebhookEndpoint, str]:
    """Registers (or replaces) the POS client's webhook, active; returns (endpoint, secret).

    The secret is returned only here: it is stored encrypted and never shown again.
    """
    webhook_url_check(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.filter(pos_client=pos_client).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(pos_client=pos_client)
    endpoint.url = url
    endpoint.active = True
    endpoint.set_secret(secret)
    endpoint.save()
    _receiver_changed(endpoint.pos_client_id)
    return endpoint, secret


def webhook_endpoint_delete(*, pos_client) -> bool:
    """Removes the POS client's webhook (pending deliveries go with it). True if there was one."""
    deleted, _ = WebhookEndpoint.objects.filter(pos_client=pos_client).delete()
    _receiver_changed(pos_client.pk)
    return deleted > 0


def webhook_endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, user=None) -> bool:
    """Pauses (`active=False`) or resumes deliveries to an endpoint. Returns whether it changed.

    Guarded: the row changes only if it is not already in the asked state, so a double click
    or two owners at once change it once. A paused endpoint's pending deliveries are cancelled
    when their next attempt comes up (`delivery.webhook_deliver`). Whether `user` may do this is
    the caller's check; the user is logged.
    """
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=not active).update(
        active=active, updated_at=timezone.now()
    )
    endpoint.refresh_from_db(fields=["active", "updated_at"])
    _receiver_changed(endpoint.pos_client_id)
    if changed:
        logger.info(
            "webhook %s %s by %s",
            endpoint.public_id,
            "resumed" if active else "paused",
            getattr(user, "username", None) or "system",
        )
    return changed == 1


def webhook_enqueue_for_intent(*, intent_id: int, event: str) -> None:
    """Schedules delivery of the intent's current state to its POS client's webhook, if any.

    Called by the lifecycle services (inside `transaction.on_commit`) whenever an intent becomes
    final or in doubt. `event` is `intent.final` or `intent.in_doubt`. Safe to call twice for
    the same change: one delivery per (endpoint, intent, event, state).
    """
    intent = (
        Intent.objects.select_related("terminal", "original", "requested_by_pos")
        .filter(pk=intent_id)
        .first()
    )
    if intent is None or intent.requested_by_pos is None:
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
    payload = webhook_event_body(delivery_id=delivery_id, event=event, intent=intent, at=now)
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
    transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.pk))


def webhook_event_body(*, delivery_id: uuid.UUID, event: str, intent: Intent, at) -> dict:
    """The JSON a delivery sends: its id, the event, when it happened and the intent's document
    (the same as `GET /api/v1/intents/{id}`), frozen when the event happened."""
    return {
        "id": str(delivery_id),
        "event": event,
        "created_at": at.isoformat(),
        "data": intent_document(intent=intent),
    }


def webhook_delivery_enqueue(*, delivery_id: int) -> None:
    """Queues one attempt of the delivery (django-q2 takes the id, never the row)."""
    from django_q.tasks import async_task

    async_task(
        DELIVER_TASK,
        delivery_id,
        task_name=f"webhook-{delivery_id}",
        q_options={"timeout": 30},
    )
