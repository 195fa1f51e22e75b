"""django-q2 entry points of the POS API: deliver webhooks, sweep due retries, prune idempotency
keys. Thin: they take ids only and call the services (the work is `transactions.webhooks.delivery`
and `transactions.api.idempotency`).

Their dotted paths are stored in `django_q` schedules (`transactions.schedules`) and in tasks
already queued, so they stay here under these names.
"""

from transactions.webhooks import delivery


def webhook_deliver_task(delivery_id: int) -> bool:
    """One attempt of one delivery."""
    return delivery.webhook_deliver(delivery_id=delivery_id)


def webhook_retry_sweep(limit: int = 200) -> int:
    """Enqueues the deliveries whose next attempt is due. Scheduled every minute."""
    return delivery.webhook_retry_sweep(limit=limit)


def idempotency_prune_task() -> int:
    """Deletes idempotency keys older than 48 h. Scheduled daily."""
    from transactions.api.idempotency import idempotency_prune

    return idempotency_prune()
