"""Issue 11 item 6: a GatewayCall row that cannot be written (the database failed) never fails
the provider call, and is never lost silently: logged at error level with its operation and
intent, and counted."""

import logging
from decimal import Decimal

import httpx
from django.db import OperationalError

from tests.transactions.gateway.support import GW_CUIT
from transactions.gateway import PaymentRequest, client
from transactions.models import GatewayCall

PAY = "/v1/paystore_terminals/terminal_payments/payments"
PID = "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10"


def test_a_call_whose_row_cannot_be_written_is_logged_at_error_level_and_counted(
    fake_gateway, fake_prisma, monkeypatch, caplog
):
    fake_prisma.on(
        "POST",
        PAY,
        httpx.Response(
            200,
            json={
                "payment_request_data": {"ecr_transaction_id": "REF-1"},
                "payment_data": {"payment_id": PID, "payment_status": "PAYMENT_REQUEST"},
            },
        ),
    )
    gateway = fake_gateway()
    gateway.token()

    class DatabaseDown:
        def save(self, row):
            assert isinstance(row, GatewayCall)
            raise OperationalError("server closed the connection unexpectedly")

    # Where the row is written (`client._store_call`, through its compiled INSERT).
    monkeypatch.setattr(client, "_call_insert", lambda model: DatabaseDown())
    before = client.UNRECORDED_CALLS.count
    with caplog.at_level(logging.ERROR, logger="transactions.gateway"):
        answer = gateway.payment_create(
            cuit=GW_CUIT,
            request=PaymentRequest(
                amount=Decimal("10.00"), terminal_ids=["38011128"], menu_text="Pedido 1"
            ),
            intent_id=4242,
        )

    assert answer.provider_id == PID  # the call itself succeeded
    assert client.UNRECORDED_CALLS.count == before + 1
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert "operation=payment_create" in message and "intent=4242" in message
    assert "http_status=200" in message and "outcome=ok" in message
