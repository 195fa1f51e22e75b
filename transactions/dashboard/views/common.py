"""Small helpers shared by the dashboard views."""

import logging

from django.http import HttpRequest

from transactions import services
from transactions.gateway.errors import GatewayError
from transactions.models import Intent

logger = logging.getLogger(__name__)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def refresh_quietly(intent: Intent) -> Intent:
    """Asks the provider for news of a live intent; on a provider failure shows what the ledger
    knows (the sweeper keeps trying, and the page polls again in a second)."""
    if intent.is_final:
        return intent
    try:
        return services.intent_refresh(intent=intent, wait=0)
    except GatewayError as exc:
        logger.info("refresh of %s failed: %r", intent.public_id, exc)
        return intent
