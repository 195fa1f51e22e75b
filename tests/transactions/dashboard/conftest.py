"""Dashboard fixtures: ledger rows made directly (for pages that only read), and helpers."""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from transactions.models import GatewayCall, Intent, IntentEvent
from transactions.states import Kind, State

_seq = itertools.count(1)


def make_intent(store, credential, terminal=None, **kw) -> Intent:
    """An intent row as the services would have left it (no provider involved)."""
    n = next(_seq)
    kw.setdefault("kind", Kind.PAYMENT)
    kw.setdefault("state", State.APPROVED)
    kw.setdefault("amount", Decimal("1000.00"))
    if kw["state"] == State.APPROVED and kw["kind"] == Kind.PAYMENT:
        kw.setdefault("card_brand", "VISA")
        kw.setdefault("card_brand_code", "VI")
        kw.setdefault("card_last_four", f"{n % 10000:04d}")
        kw.setdefault("authorization_code", f"A{n:05d}")
        kw.setdefault("ticket_number", str(n))
        kw.setdefault("batch_number", 1)
        kw.setdefault("provider_id", f"prov-{n}")
        kw.setdefault("provider_status", "CONFIRMED")
    if kw["state"] in (State.APPROVED, State.DECLINED, State.FAILED, State.CANCELLED):
        kw.setdefault("finished_at", timezone.now())
    intent = Intent.objects.create(store=store, credential=credential, terminal=terminal, **kw)
    if terminal is not None:
        intent.offered_terminals.set([terminal])
    IntentEvent.objects.create(
        intent=intent, type=IntentEvent.Type.CREATED, to_state=State.CREATED, actor_label="test"
    )
    GatewayCall.objects.create(
        credential=credential,
        intent=intent,
        operation="payment_create",
        method="POST",
        path="/payments",
        http_status=201,
        outcome=GatewayCall.Outcome.OK,
        duration_ms=12,
    )
    return intent


@pytest.fixture
def intent_factory(credential):
    def _make(store, terminal=None, **kw):
        return make_intent(store, credential, terminal, **kw)

    return _make


@pytest.fixture
def payment_a(store_a, terminal_a, intent_factory):
    """An approved Visa payment on terminal A, batch still open."""
    return intent_factory(store_a, terminal_a, amount=Decimal("1234.56"))


@pytest.fixture
def payment_b(store_b, terminal_b, intent_factory):
    return intent_factory(store_b, terminal_b, amount=Decimal("500.00"))
