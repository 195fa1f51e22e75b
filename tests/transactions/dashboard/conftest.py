"""Dashboard fixtures: approved payments of store A and B, written directly (for pages that
only read). Rows of other shapes come from `tests.factories.make_intent`."""

from decimal import Decimal

import pytest

from tests.factories import make_intent
from transactions.models import GatewayCall, IntentEvent
from transactions.states import State


@pytest.fixture
def payment_a(store_a, terminal_a, credential):
    """An approved Visa payment on terminal A, batch still open, with the creation event and the
    provider call a real create leaves behind (the detail page shows both)."""
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("1234.56")
    )
    IntentEvent.objects.create(
        intent=payment, type=IntentEvent.Type.CREATED, to_state=State.CREATED, actor_label="test"
    )
    GatewayCall.objects.create(
        credential=credential,
        intent=payment,
        operation="payment_create",
        method="POST",
        path="/payments",
        http_status=201,
        outcome=GatewayCall.Outcome.OK,
        duration_ms=12,
    )
    return payment


@pytest.fixture
def payment_b(store_b, terminal_b, credential):
    return make_intent(store_b, terminal=terminal_b, state=State.APPROVED, amount=Decimal("500.00"))
