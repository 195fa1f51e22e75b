"""Delivering webhooks: one attempt of one delivery, and the sweep of retries that are due.

Safe to run twice: a delivery is claimed by a conditional UPDATE (`status = pending`, due, not
claimed) that must change exactly one row, so two workers never send the same attempt.
django-q2 has no delayed tasks: a failed attempt sets `next_attempt_at` (exponential backoff)
and `webhook_retry_sweep`, scheduled every minute, enqueues what is due.

The host is checked by `stores.address_policy` at every attempt (DNS changes) and the request
goes to the address that was checked (`transactions.gateway.outbound.post_webhook` pins it).
"""

import json
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.db.models import F, Q
from django.utils import timezone

from stores.address_policy import resolve_allowed
from transactions.gateway import outbound
from transactions.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from transactions.webhooks.services import loopback_http_allowed, webhook_delivery_enqueue
from transactions.webhooks.signing import SIGNATURE_HEADER, webhook_sign

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
# Longer than one attempt can take (the gateway's timeout), shorter than a worker's task timeout.
CLAIM_FOR = timedelta(seconds=60)


def retry_delay(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 30 s, 1 min, 2 min, ... capped at one hour."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def _attempt(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> tuple[int | None, str]:
    """Signs and sends one attempt. Returns (HTTP status or None, error text or "")."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: webhook_sign(secret=endpoint.get_secret(), body=body),
        "X-ECR-Event": delivery.event,
        "X-ECR-Delivery": str(delivery.public_id),
    }
    host = (urlsplit(endpoint.url).hostname or "").lower()
    error, address = resolve_allowed(host, allow_loopback=loopback_http_allowed())
    if error:
        return None, error
    answer = outbound.post_webhook(endpoint.url, address=address, body=body, headers=headers)
    if answer.status_code is not None and not 200 <= answer.status_code < 300:
        return answer.status_code, f"HTTP {answer.status_code}"
    return answer.status_code, answer.error


def webhook_deliver(*, delivery_id: int) -> bool:
    """Makes one attempt of a due delivery. Returns whether there was work to do."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint", "endpoint__pos_client").get(
        pk=delivery_id
    )
    endpoint = delivery.endpoint
    if not endpoint.active or endpoint.pos_client.revoked_at is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.CANCELLED,
            claimed_until=None,
            attempts=F("attempts") - 1,
            last_error="cliente POS revocado o webhook desactivado",
        )
        return True

    status_code: int | None = None
    started = time.monotonic()
    try:
        status_code, error = _attempt(delivery, endpoint)
    except Exception as exc:  # noqa: BLE001 - any failure is this attempt's error, then retried
        logger.exception("webhook delivery %s failed unexpectedly", delivery.pk)
        error = f"error interno: {exc.__class__.__name__}"
    duration_ms = int((time.monotonic() - started) * 1000)
    attempt_number = delivery.attempts
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=attempt_number,
        status_code=status_code,
        error=error[:300],
        duration_ms=duration_ms,
    )
    done = timezone.now()
    fields: dict[str, object] = {
        "claimed_until": None,
        "last_status_code": status_code,
        "last_error": error[:300],
    }
    if not error:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=done)
    elif attempt_number >= MAX_ATTEMPTS:
        fields.update(status=WebhookDelivery.Status.FAILED)
        logger.warning(
            "webhook %s failed after %s attempts: %s", delivery.pk, attempt_number, error
        )
    else:
        fields.update(next_attempt_at=done + retry_delay(attempt_number))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return True


def webhook_retry_sweep(*, limit: int = 200) -> int:
    """Enqueues the deliveries whose next attempt is due; returns how many."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_delivery_enqueue(delivery_id=delivery_id)
    return len(due)
