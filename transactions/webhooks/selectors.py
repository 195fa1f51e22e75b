"""Reads of webhook endpoints. Scoping (which stores a user may see) is the caller's: it passes
the stores or the POS client it already resolved."""

from django.db.models import QuerySet

from transactions.webhooks.models import WebhookEndpoint


def webhook_endpoint_for_pos_client(*, pos_client) -> WebhookEndpoint | None:
    """The POS client's endpoint, or None when it registered none."""
    return WebhookEndpoint.objects.filter(pos_client=pos_client).first()


def webhook_endpoint_list_for_stores(*, stores) -> QuerySet[WebhookEndpoint]:
    """The endpoints of the POS clients of these stores, with client and store loaded."""
    return WebhookEndpoint.objects.filter(pos_client__store__in=stores).select_related(
        "pos_client", "pos_client__store"
    )
