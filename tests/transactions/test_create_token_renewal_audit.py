"""Issue 11 item 7: a create answered 401 is sent again after renewing the token (a 401 is
refused before processing), the refused attempt is in the provider-call audit, and the
provider counts one create."""

from decimal import Decimal

import pytest

from transactions.gateway import gateway_for
from transactions.models import GatewayCall
from transactions.services import payment_create
from transactions.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_create_refused_with_401_is_audited_and_created_once(
    sim, store_a, terminal_a, credential
):
    gateway_for(credential).token()
    sim.call("POST", "tokens/revoke")

    intent = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("100.00"), reference="ORD-401"
    )

    assert intent.state == State.PENDING
    audit = list(
        GatewayCall.objects.filter(intent=intent, operation="payment_create")
        .order_by("pk")
        .values_list("http_status", "outcome")
    )
    assert audit == [(401, "retryable"), (200, "ok")]
    counters = sim.counters()
    assert counters["creates_by_ecr_transaction_id"] == {"ORD-401": 1}
    assert counters["creates_total"] == 1
