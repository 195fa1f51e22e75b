"""Thin views of the POS API, one module per resource: authenticate, parse, call a service or
selector, serialize. `base` holds what they share (auth, throttle, idempotent POST)."""

from transactions.api.views.creates import (
    PaymentCreateView,
    PaymentReversalView,
    RefundCreateView,
    SettlementCreateView,
)
from transactions.api.views.intents import IntentCancelView, IntentDetailView, IntentListView
from transactions.api.views.terminals import PingView, TerminalListView
from transactions.api.views.webhooks import WebhookView

__all__ = [
    "IntentCancelView",
    "IntentDetailView",
    "IntentListView",
    "PaymentCreateView",
    "PaymentReversalView",
    "PingView",
    "RefundCreateView",
    "SettlementCreateView",
    "TerminalListView",
    "WebhookView",
]
