"""django-q2 tasks of the POS API: deliver webhooks, sweep due retries, prune idempotency keys.

Tasks take ids only and are safe to run twice: a delivery is claimed by a conditional UPDATE
(`status = pending`, due, not claimed) that must change exactly one row, so two workers never
send the same attempt. django-q2 has no delayed tasks: a failed attempt sets `next_attempt_at`
(exponential backoff) and `webhook_retry_sweep`, scheduled every minute, enqueues what is due.
"""

import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.db.models import F, Q
from django.utils import timezone

from transactions.api.models import WebhookAttempt, WebhookDelivery
from transactions.gateway import outbound
from transactions.gateway.outbound import HttpClient
from transactions.webhooks import (
    SIGNATURE_HEADER,
    loopback_http_allowed,
    webhook_sign,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
# Longer than one attempt can take (timeout below), shorter than a worker's task timeout.
CLAIM_FOR = timedelta(seconds=60)


def retry_delay(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 30 s, 1 min, 2 min, ... capped at one hour."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def _client() -> HttpClient:
    """The HTTP client for deliveries (tests replace it to inject a transport)."""
    return outbound.new_client()


def _destination(url: str) -> tuple[str, str]:
    """(error, address): why the URL's host may not be called now ("" if it may), and the
    address checked. It must resolve to public addresses only, or to loopback in development.
    Checked at every attempt because DNS changes; the request then goes to that very address
    (see `_pinned`), so a second lookup cannot swap in a private one (DNS rebinding)."""
    host = (urlsplit(url).hostname or "").lower()
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"no se pudo resolver {host}: {exc.strerror or exc}", ""
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_global:
            continue
        if address.is_loopback and loopback_http_allowed():
            continue
        return f"destino no permitido ({address})", ""
    return "", infos[0][4][0].split("%")[0]


def _pinned(url: str, address: str) -> tuple[str, dict, dict]:
    """The URL rewritten to the checked address, with the Host header and the TLS server name
    (certificate check) of the original host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned_url = parts._replace(netloc=netloc).geturl()
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return pinned_url, {"Host": host_header}, {"sni_hostname": host}


def _attempt(delivery, endpoint, client: HttpClient | None) -> tuple[int | None, str]:
    """Signs and sends one attempt. Returns (HTTP status or None, error text or "")."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: webhook_sign(secret=endpoint.get_secret(), body=body),
        "X-ECR-Event": delivery.event,
        "X-ECR-Delivery": str(delivery.public_id),
    }
    error, address = _destination(endpoint.url)
    if error:
        return None, error
    owns_client = client is None
    http = client or _client()
    url, host_header, extensions = _pinned(endpoint.url, address)
    try:
        status_code, error = outbound.post(
            http, url, body=body, headers={**headers, **host_header}, extensions=extensions
        )
    finally:
        if owns_client:
            http.close()
    if status_code is not None and not 200 <= status_code < 300:
        return status_code, f"HTTP {status_code}"
    return status_code, error


def webhook_deliver(*, delivery_id: int, client: HttpClient | None = None) -> bool:
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
        status_code, error = _attempt(delivery, endpoint, client)
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
    fields = {"claimed_until": None, "last_status_code": status_code, "last_error": error[:300]}
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


def webhook_deliver_task(delivery_id: int) -> bool:
    """django-q2 entry point: one attempt of one delivery."""
    return webhook_deliver(delivery_id=delivery_id)


def webhook_retry_sweep(limit: int = 200) -> int:
    """Enqueues the deliveries whose next attempt is due. Scheduled every minute."""
    from django_q.tasks import async_task

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
        async_task(
            "transactions.tasks_webhooks.webhook_deliver_task",
            delivery_id,
            task_name=f"webhook-{delivery_id}",
            q_options={"timeout": 30},
        )
    return len(due)


def idempotency_prune_task() -> int:
    """Deletes idempotency keys older than 48 h. Scheduled daily."""
    from transactions.api.idempotency import idempotency_prune

    return idempotency_prune()
